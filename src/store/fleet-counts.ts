// The writer's in-memory counts behind the app and host summaries:
//
// - per host: apps on it, instances, stale instances, and which apps (the
//   host summary lists them, which is how version/?host=H finds the
//   host's instances);
// - per app: hosts running it, instances, stale instances, and per version
//   the same two counts (what GET app/A and /metrics report);
// - per host/app pair: instances (a pair appearing or vanishing changes a
//   host's app_count and an app's host_count).
//
// Every change marks the summary dirty; the writer rewrites dirty summaries
// in its next batch. Versions are interned per app (an instance keeps a
// small version id), so counting a change needs no string work.

import type { KeyIndex } from './key-index.js';

// Host and app summary columns (KeyIndex cols of the hosts and apps indexes).
/** Host: apps on it. App: hosts running it. */
export const PEERS = 0;
export const INSTANCES = 1;
export const STALE = 2;
/** Host: first pair node + 1 of its app list (0 = none). */
export const PAIR_HEAD = 3;
/** Host: its history bucket (history.ts). */
export const BUCKET = 4;
export const SUMMARY_COLUMNS = 5;

export interface VersionCount {
  app: number;
  /** The version as JSON string content (as stored). */
  json: Buffer;
  count: number;
  stale: number;
}

/**
 * Host/app pairs: instance count per pair, as each host's list of nodes in
 * typed arrays (a Map would cost an object per pair, and a host has few
 * apps: walking its list is cheaper than hashing).
 */
class Pairs {
  #app = new Int32Array(1024);
  #count = new Int32Array(1024);
  #next = new Int32Array(1024);
  #free: number[] = [];
  #used = 0;

  /** The node (+1) of the pair, or 0. */
  #find(hosts: KeyIndex, host: number, app: number): number {
    for (let n = hosts.cols[PAIR_HEAD]![host]!; n !== 0; n = this.#next[n - 1]!) if (this.#app[n - 1] === app) return n;
    return 0;
  }

  /** Adds one instance to the pair; returns true if the pair is new. */
  add(hosts: KeyIndex, host: number, app: number): boolean {
    const found = this.#find(hosts, host, app);
    if (found !== 0) {
      this.#count[found - 1]!++;
      return false;
    }
    const node = this.#free.pop() ?? this.#used++;
    if (node >= this.#app.length) this.#grow();
    this.#app[node] = app;
    this.#count[node] = 1;
    this.#next[node] = hosts.cols[PAIR_HEAD]![host]!;
    hosts.cols[PAIR_HEAD]![host] = node + 1;
    return true;
  }

  /** Removes one instance from the pair; returns true if the pair is gone. */
  remove(hosts: KeyIndex, host: number, app: number): boolean {
    const found = this.#find(hosts, host, app);
    if (found === 0) return false;
    const node = found - 1;
    if (--this.#count[node]! > 0) return false;
    const head = hosts.cols[PAIR_HEAD]!;
    if (head[host] === found) {
      head[host] = this.#next[node]!;
    } else {
      let at = head[host]! - 1;
      while (this.#next[at] !== found) at = this.#next[at]! - 1;
      this.#next[at] = this.#next[node]!;
    }
    this.#free.push(node);
    return true;
  }

  appsOf(hosts: KeyIndex, host: number, out: number[] = []): number[] {
    out.length = 0;
    for (let n = hosts.cols[PAIR_HEAD]![host]!; n !== 0; n = this.#next[n - 1]!) out.push(this.#app[n - 1]!);
    return out;
  }

  #grow(): void {
    const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.#app = grow(this.#app);
    this.#count = grow(this.#count);
    this.#next = grow(this.#next);
  }
}

/** Whether a equals src[at, at+len). */
function bytesEqualAt(a: Uint8Array, src: Uint8Array, at: number, len: number): boolean {
  if (a.length !== len) return false;
  for (let i = 0; i < len; i++) if (a[i] !== src[at + i]) return false;
  return true;
}

export class FleetCounts {
  readonly hosts: KeyIndex;
  readonly apps: KeyIndex;
  /** Summaries to rewrite in the next batch. */
  readonly dirtyHosts = new Set<number>();
  readonly dirtyApps = new Set<number>();
  readonly #pairs = new Pairs();
  readonly #versionIds = new Map<string, number>();
  readonly #versions: (VersionCount | undefined)[] = [];
  readonly #freeVersionIds: number[] = [];
  readonly #lastVersion: number[] = [];

  constructor(hosts: KeyIndex, apps: KeyIndex) {
    this.hosts = hosts;
    this.apps = apps;
  }

  /** The id of an app's version, ver's JSON content being src[start, end) (interned; created with count 0). */
  versionId(app: number, src: Uint8Array, start = 0, end = src.length): number {
    // The version an app's last update named: in a rollout, the next one
    // usually names it too, and comparing bytes beats building a string.
    const last = this.#lastVersion[app];
    if (last !== undefined) {
      const v = this.#versions[last];
      if (v !== undefined && v.app === app && bytesEqualAt(v.json, src, start, end - start)) return last;
    }
    const name = `${app}:${Buffer.from(src.buffer, src.byteOffset + start, end - start).toString('latin1')}`;
    let id = this.#versionIds.get(name);
    if (id === undefined) {
      id = this.#freeVersionIds.pop() ?? this.#versions.length;
      this.#versions[id] = { app, json: Buffer.from(src.subarray(start, end)), count: 0, stale: 0 };
      this.#versionIds.set(name, id);
    }
    this.#lastVersion[app] = id;
    return id;
  }

  version(id: number): VersionCount {
    return this.#versions[id]!;
  }

  /** The versions of an app with at least one instance. */
  versionsOf(app: number): VersionCount[] {
    return this.#versions.filter((v): v is VersionCount => v !== undefined && v.app === app && v.count > 0);
  }

  /** The app slots on a host (in no particular order), into `out` if given (emptied first). */
  appsOf(host: number, out?: number[]): number[] {
    return this.#pairs.appsOf(this.hosts, host, out);
  }

  /** Counts a new instance. Returns whether the host/app pair is new. */
  add(host: number, app: number, version: number): boolean {
    const newPair = this.#pairs.add(this.hosts, host, app);
    if (newPair) {
      this.hosts.cols[PEERS]![host]!++;
      this.apps.cols[PEERS]![app]!++;
    }
    this.hosts.cols[INSTANCES]![host]!++;
    this.apps.cols[INSTANCES]![app]!++;
    this.#versions[version]!.count++;
    this.#dirty(host, app);
    return newPair;
  }

  /** Uncounts an instance. Returns whether its host and its app are now empty. */
  remove(host: number, app: number, version: number, stale: boolean): { hostEmpty: boolean; appEmpty: boolean } {
    if (this.#pairs.remove(this.hosts, host, app)) {
      this.hosts.cols[PEERS]![host]!--;
      this.apps.cols[PEERS]![app]!--;
    }
    this.hosts.cols[INSTANCES]![host]!--;
    this.apps.cols[INSTANCES]![app]!--;
    if (stale) {
      this.hosts.cols[STALE]![host]!--;
      this.apps.cols[STALE]![app]!--;
    }
    this.#uncountVersion(version, stale);
    this.#dirty(host, app);
    return { hostEmpty: this.hosts.cols[INSTANCES]![host] === 0, appEmpty: this.apps.cols[INSTANCES]![app] === 0 };
  }

  /** Moves an instance from one version of its app to another. */
  changeVersion(app: number, from: number, to: number, stale: boolean): void {
    this.#uncountVersion(from, stale);
    this.#versions[to]!.count++;
    if (stale) this.#versions[to]!.stale++;
    this.dirtyApps.add(app);
  }

  /** An instance became stale (or up again). */
  setStale(host: number, app: number, version: number, stale: boolean): void {
    const d = stale ? 1 : -1;
    this.hosts.cols[STALE]![host]! += d;
    this.apps.cols[STALE]![app]! += d;
    this.#versions[version]!.stale += d;
    this.#dirty(host, app);
  }

  /** Marks every summary dirty (after loading: the stored counts are recomputed). */
  markAllDirty(): void {
    for (let h = 0; h < this.hosts.highWater; h++) if (this.hosts.state[h] === 1) this.dirtyHosts.add(h);
    for (let a = 0; a < this.apps.highWater; a++) if (this.apps.state[a] === 1) this.dirtyApps.add(a);
  }

  #uncountVersion(id: number, stale: boolean): void {
    const v = this.#versions[id]!;
    v.count--;
    if (stale) v.stale--;
    if (v.count === 0) {
      this.#versionIds.delete(`${v.app}:${v.json.toString('latin1')}`);
      this.#versions[id] = undefined;
      this.#freeVersionIds.push(id);
    }
  }

  #dirty(host: number, app: number): void {
    this.dirtyApps.add(app);
    this.dirtyHosts.add(host);
  }
}
