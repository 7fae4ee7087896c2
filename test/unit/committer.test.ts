// The committer's open: a store of another layout is refused with a coded
// StoreLayoutError naming both layouts; a folder whose name has a dot opens as a
// folder (not a file name); and a batch's operations reach LMDB.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { BatchWriter } from '../../src/store/batch.js';
import { blockKey } from '../../src/store/history.js';
import { StoreLayoutError } from '../../src/errors.js';
import { Committer } from '../../src/store/committer.js';
import { DATA_FILE, DB, DbId, SCHEMA_VERSION, envOptions } from '../../src/store/layout.js';

let base: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'partisci-committer-'));
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** Opens the folder with lmdb directly, runs fn on the root, closes. */
async function withEnv(path: string, fn: (env: ReturnType<typeof open>) => void): Promise<void> {
  const env = open(envOptions(path));
  try {
    fn(env);
  } finally {
    await env.close();
  }
}

/** What open() threw, or null. */
function openError(path: string): unknown {
  try {
    const c = new Committer(path);
    void c.close();
    return null;
  } catch (err) {
    return err;
  }
}

describe('schema', () => {
  test('a store whose meta says schema 1 is refused: StoreLayoutError, code STORE_LAYOUT, naming both layouts', async () => {
    const path = join(base, 'old');
    mkdirSync(path);
    await withEnv(path, (env) => env.openDB('meta', { encoding: 'json' }).putSync('schema', 1));
    const err = openError(path);
    expect(err).toBeInstanceOf(StoreLayoutError);
    expect(err).toMatchObject({ name: 'StoreLayoutError', code: 'STORE_LAYOUT' });
    expect((err as Error).message).toBe(`${path} has data layout 1; this partiscid reads layout ${SCHEMA_VERSION} (see README: upgrading)`);
    expect(SCHEMA_VERSION).toBe(2);
  });

  test('a later layout is refused the same way', async () => {
    const path = join(base, 'newer');
    mkdirSync(path);
    await withEnv(path, (env) => env.openDB('meta', { encoding: 'json' }).putSync('schema', 3));
    expect(openError(path)).toMatchObject({
      code: 'STORE_LAYOUT',
      message: `${path} has data layout 3; this partiscid reads layout 2 (see README: upgrading)`,
    });
  });

  test('data without any schema is refused as an unknown layout', async () => {
    const path = join(base, 'unknown');
    mkdirSync(path);
    await withEnv(path, (env) => env.openDB(DB.inst, { keyEncoding: 'binary', encoding: 'binary' }).putSync(Buffer.from('k'), Buffer.from('v')));
    expect(openError(path)).toMatchObject({ name: 'StoreLayoutError', code: 'STORE_LAYOUT', message: `${path} holds data of an unknown layout` });
  });

  test('an empty folder becomes a store of this layout, and opens again', async () => {
    const path = join(base, 'fresh');
    mkdirSync(path);
    const c = new Committer(path);
    await c.close();
    await withEnv(path, (env) => {
      expect(env.openDB('meta', { keyEncoding: 'binary', encoding: 'binary' }).getBinary(Buffer.from('schema'))?.toString()).toBe(String(SCHEMA_VERSION));
    });
    expect(openError(path)).toBeNull();
  });
});

describe('folder names with a dot', () => {
  test('an existing empty directory named partisci.d opens as a folder: the data file goes inside', async () => {
    const path = join(base, 'partisci.d');
    mkdirSync(path);
    const c = new Committer(path);
    try {
      expect(c.path).toBe(path);
      expect(statSync(path).isDirectory()).toBe(true);
      expect(existsSync(join(path, DATA_FILE))).toBe(true);
      // Nothing next to it: lmdb did not take partisci.d for a file name.
      expect(readdirSync(base)).toEqual(['partisci.d']);
      const w = new BatchWriter(64);
      w.put(DbId.apps, Buffer.from('a\0'), Buffer.from('x'));
      const { buffer, length } = w.take();
      c.commit({ buffer, length, pruneBefore: 0, bytesBound: 1 << 22 });
      c.release();
    } finally {
      await c.close();
    }
    await withEnv(path, (env) => {
      expect(env.openDB(DB.apps, { keyEncoding: 'binary', encoding: 'binary' }).getBinary(Buffer.from('a\0'))?.toString()).toBe('x');
    });
  });
});

describe('commit', () => {
  test('put, del and clear reach their databases; a note writes nothing', async () => {
    const path = join(base, 'ops');
    mkdirSync(path);
    const c = new Committer(path);
    try {
      const first = new BatchWriter(64);
      first.put(DbId.inst, Buffer.from('k1'), Buffer.from('v1'));
      first.put(DbId.inst, Buffer.from('k2'), Buffer.from('v2'));
      first.put(DbId.hosts, Buffer.from('h\0'), Buffer.from('H'));
      first.put(DbId.appvers, Buffer.from('a\0'), Buffer.from('[]'));
      first.note(DbId.inst, Buffer.from('k3'), Buffer.from([6]));
      let b = first.take();
      c.commit({ buffer: b.buffer, length: b.length, pruneBefore: 0, bytesBound: 1 << 22 });
      const second = new BatchWriter(64);
      second.del(DbId.inst, Buffer.from('k1'));
      second.clear(DbId.hosts);
      second.put(DbId.hosts, Buffer.from('g\0'), Buffer.from('G'));
      b = second.take();
      c.commit({ buffer: b.buffer, length: b.length, pruneBefore: 0, bytesBound: 1 << 22 });
      c.release();
    } finally {
      await c.close();
    }
    await withEnv(path, (env) => {
      const rows = (name: string): string[] =>
        [...env.openDB(name, { keyEncoding: 'binary', encoding: 'binary' }).getRange({})].map(
          ({ key, value }) => `${(key as Buffer).toString()}=${(value as Buffer).toString()}`,
        );
      expect(rows(DB.inst)).toEqual(['k2=v2']);
      expect(rows(DB.hosts)).toEqual(['g\0=G']);
      expect(rows(DB.appvers)).toEqual(['a\0=[]']);
    });
  });

  test('puts of one key in one run end with the later value, in one commit or in parts split inside the run', async () => {
    const path = join(base, 'order');
    mkdirSync(path);
    const c = new Committer(path);
    const batch = (): { buffer: ArrayBuffer; length: number; pruneBefore: number; bytesBound: number } => {
      const w = new BatchWriter(64);
      w.put(DbId.inst, Buffer.from('k'), Buffer.from('v1'));
      w.put(DbId.inst, Buffer.from('j'), Buffer.from('J'));
      w.del(DbId.inst, Buffer.from('k'));
      w.put(DbId.inst, Buffer.from('z'), Buffer.from('Z'));
      w.put(DbId.inst, Buffer.from('k'), Buffer.from('v2'));
      w.put(DbId.inst, Buffer.from('a'), Buffer.from('A'));
      w.put(DbId.inst, Buffer.from('k'), Buffer.from('v3'));
      const { buffer, length } = w.take();
      return { buffer, length, pruneBefore: 0, bytesBound: 1 << 22 };
    };
    const rows = (): string[] => {
      const out: string[] = [];
      // Read through a second handle after each step (the committer's env is the same process's).
      const env = open(envOptions(path));
      for (const { key, value } of env.openDB(DB.inst, { keyEncoding: 'binary', encoding: 'binary' }).getRange({})) {
        out.push(`${(key as Buffer).toString()}=${(value as Buffer).toString()}`);
      }
      void env.close();
      return out;
    };
    try {
      const whole = batch();
      expect(c.commit(whole).end).toBe(whole.length);
      expect(rows()).toEqual(['a=A', 'j=J', 'k=v3', 'z=Z']);
      // The same batch in parts of 2 operations: the first part ends inside
      // the run after the del, the last holds the final put alone.
      const parts = batch();
      const seen: string[][] = [];
      for (let from = 0; from < parts.length; ) {
        from = c.commit(parts, { from, ops: 2 }).end;
        seen.push(rows());
      }
      expect(seen).toEqual([
        ['a=A', 'j=J', 'k=v1', 'z=Z'],
        ['a=A', 'j=J', 'z=Z'],
        ['a=A', 'j=J', 'k=v2', 'z=Z'],
        ['a=A', 'j=J', 'k=v3', 'z=Z'],
      ]);
      c.release();
    } finally {
      await c.close();
    }
  });

  test('history pruning deletes blocks whose newest entry is older than the cutoff, then reads nothing until the cutoff can reach a kept block', async () => {
    const path = join(base, 'prune');
    mkdirSync(path);
    const c = new Committer(path);
    /** A history block of no entries whose newest entry is at `newest` (the header is all pruning reads). */
    const block = (newest: number): Buffer => {
      const b = Buffer.alloc(16);
      b.writeUInt32LE(0, 0);
      b.writeUInt32LE(newest, 4);
      b.writeUInt32LE(newest, 8);
      return b;
    };
    const commit = (blocks: [string, number, number][], pruneBefore: number): number => {
      const w = new BatchWriter(64);
      for (const [app, id, newest] of blocks) w.put(DbId.history, blockKey(Buffer.from(`${app}\0`), id), block(newest));
      // An operation of its own, so that a batch without blocks is not empty.
      w.put(DbId.meta, Buffer.from('test'), Buffer.from('x'));
      const { buffer, length } = w.take();
      return c.commit({ buffer, length, pruneBefore, bytesBound: 1 << 22 }).pruned;
    };
    const kept = (): string[] => {
      const env = open(envOptions(path));
      const out = [...env.openDB(DB.history, { keyEncoding: 'binary', encoding: 'binary' }).getRange({})].map(
        ({ key, value }) =>
          `${(key as Buffer).subarray(0, 1).toString()}${(key as Buffer).readUInt32BE((key as Buffer).length - 4)}@${(value as Buffer).readUInt32LE(8)}`,
      );
      void env.close();
      return out;
    };
    try {
      expect(
        commit(
          [
            ['a', 1, 100],
            ['a', 2, 1000],
            ['b', 3, 200],
            ['b', 4, 2000],
          ],
          0,
        ),
      ).toBe(0);
      expect(kept()).toEqual(['a1@100', 'a2@1000', 'b3@200', 'b4@2000']);
      // Cutoff 500: the blocks of 100 and 200 go; the pass keeps 1000 as its oldest.
      expect(commit([], 500)).toBe(2);
      expect(kept()).toEqual(['a2@1000', 'b4@2000']);
      // A block older than anything kept (as a cluster node may write): while
      // the cutoff has not passed 1000, no pass runs and it stays.
      expect(commit([['c', 5, 300]], 600)).toBe(0);
      expect(commit([], 1000)).toBe(0);
      expect(kept()).toEqual(['a2@1000', 'b4@2000', 'c5@300']);
      // Past 1000: a pass again, which finds both.
      expect(commit([], 1001)).toBe(2);
      expect(kept()).toEqual(['b4@2000']);
      c.release();
    } finally {
      await c.close();
    }
  });
});
