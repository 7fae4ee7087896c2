// What a committed batch changed, as change-feed events: read back from the
// batch itself (batch.ts) on the main thread, after the commit. First
// sights, version changes and removals are the batch's history entries
// (its per-app blocks); a clear is its clear of `inst`; instances that
// turned stale travel as notes.

import type { ChangeEvent, KnownVersion, StoredVersion } from '../api/types.js';
import { ChangeKind, OpKind, eachOp } from './batch.js';
import { EntryFlag, entryOffsets, newEntryView, readEntry, type EntryView } from './history.js';
import { jsonText } from './json-text.js';
import { DbId } from './layout.js';

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
        events.push(eventOf(view));
      }
    } else if (op.kind === OpKind.note && op.extra[0] === ChangeKind.stale) {
      events.push({ type: 'stale', version: JSON.parse(utf8.decode(op.extra.subarray(1))) as KnownVersion & { status: 'stale' } });
    }
  });
  return events;
}

function eventOf(e: EntryView): ChangeEvent {
  const base = { app: jsonText(e.app), app_id: jsonText(e.appId), host: jsonText(e.host) };
  const labels = e.labels.length === 0 ? {} : { labels: JSON.parse(utf8.decode(e.labels)) as Record<string, string> };
  if ((e.flags & EntryFlag.removed) !== 0) {
    const version: KnownVersion = { ...base, instance: e.instance, ver: jsonText(e.prevVer), ...labels, last_update: e.time };
    return { type: 'removed', version, reason: (e.flags & EntryFlag.trimmed) !== 0 ? 'trim' : 'delete' };
  }
  const version: StoredVersion = { ...base, host_ip: jsonText(e.hostIp), instance: e.instance, ver: jsonText(e.ver), ...labels, last_update: e.time };
  if ((e.flags & EntryFlag.first) !== 0) return { type: 'new', version };
  if ((e.flags & EntryFlag.labels) !== 0) return { type: 'labels', version };
  return { type: 'changed', version, old_ver: jsonText(e.prevVer) };
}

export type { ChangeEvent };
