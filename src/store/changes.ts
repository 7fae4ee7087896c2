// What a committed batch changed, as change-feed events: read back from the
// batch itself (batch.ts) on the main thread, after the commit. First
// sights, version changes and removals are the batch's history entries
// (its per-app blocks); a clear is its clear of `inst`; instances that
// turned stale travel as notes.

import { ChangeKind, OpKind, eachOp } from './batch.js';
import { EntryFlag, entryOffsets, newEntryView, readEntry } from './history.js';
import { DbId } from './layout.js';

export type ChangeEvent =
  | { type: 'new'; version: Record<string, unknown> }
  | { type: 'changed'; version: Record<string, unknown>; old_ver: string }
  | { type: 'removed'; version: Record<string, unknown>; reason: 'trim' | 'delete' }
  | { type: 'stale'; version: Record<string, unknown> }
  | { type: 'cleared' };

interface Entry {
  app: string;
  app_id: string;
  host: string;
  host_ip: string | null;
  instance: number;
  ver: string | null;
  prev_ver: string | null;
  time: number;
}

const utf8 = new TextDecoder();

export function changesOf(buffer: ArrayBuffer, length: number): ChangeEvent[] {
  const events: ChangeEvent[] = [];
  const view = newEntryView();
  eachOp(buffer, length, (op) => {
    if (op.kind === OpKind.clear && op.db === DbId.inst) {
      events.push({ type: 'cleared' });
    } else if (op.kind === OpKind.put && op.db === DbId.history) {
      for (const at of entryOffsets(op.value)) {
        readEntry(op.value, at, view);
        events.push(eventOf(JSON.parse(utf8.decode(view.json)) as Entry, view.flags));
      }
    } else if (op.kind === OpKind.note && op.extra[0] === ChangeKind.stale) {
      events.push({ type: 'stale', version: JSON.parse(utf8.decode(op.extra.subarray(1))) as Record<string, unknown> });
    }
  });
  return events;
}

function eventOf(e: Entry, flags: number): ChangeEvent {
  if ((flags & EntryFlag.removed) !== 0) {
    const version = { app: e.app, app_id: e.app_id, host: e.host, instance: e.instance, ver: e.prev_ver, last_update: e.time };
    return { type: 'removed', version, reason: (flags & EntryFlag.trimmed) !== 0 ? 'trim' : 'delete' };
  }
  const version = { app: e.app, app_id: e.app_id, host: e.host, host_ip: e.host_ip, instance: e.instance, ver: e.ver, last_update: e.time };
  return e.prev_ver === null ? { type: 'new', version } : { type: 'changed', version, old_ver: e.prev_ver };
}
