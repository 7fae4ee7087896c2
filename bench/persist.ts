// Committing a StoreWriter until it has persisted everything it absorbed.
//
// "Everything" is: no instance waiting (backlog.instances) and no history
// entry waiting. The writer does not expose the second alone, only inside
// backlog.bytes, which can stay above zero after all is written (arena
// bytes of a superseded record that a compaction kept: see the report), so
// "bytes reached 0" may never come. Instead: commit until no instance
// waits and a commit no longer shrinks the backlog.

import type { StoreWriter } from '../src/store/writer.js';

/** Commits until everything absorbed is persisted; returns the number of commits. */
export function persistAll(writer: StoreWriter, final = false, size?: number): number {
  let commits = 0;
  for (;;) {
    const before = writer.backlog.bytes;
    if (writer.backlog.instances === 0 && before === 0) return commits;
    writer.commit(Date.now(), final, size);
    commits++;
    if (writer.backlog.instances === 0 && writer.backlog.bytes >= before) return commits;
  }
}
