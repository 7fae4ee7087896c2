// Paging cursors: opaque to clients, they hold where a page ended (the last
// key read) with a tag naming the list they belong to, so a cursor from one
// list is refused by another rather than misread.

import { InvalidCursorError } from '../errors.js';

/** Cursor tags: which list a cursor belongs to. */
export const Tag = { inst: 105, hostInst: 104, apps: 97, hosts: 115, history: 72, hostHistory: 71 } as const;

export function encodeCursor(tag: number, key: Uint8Array): string {
  const b = Buffer.allocUnsafe(key.length + 1);
  b[0] = tag;
  b.set(key, 1);
  return b.toString('base64url');
}

export function decodeCursor(cursor: string, tag: number): Buffer {
  const b = Buffer.from(cursor, 'base64url');
  if (b.length < 2 || b[0] !== tag || b.toString('base64url') !== cursor) throw new InvalidCursorError('does not belong to this query');
  return b.subarray(1);
}
