// The writer's in-memory counts behind the app and host summaries:
//
// - per host: apps on it, instances, stale instances;
// - per app: hosts running it, instances, stale instances, and per version
//   the same two counts (what GET app/A and /metrics report);
// - per host/app pair: instances (a pair appearing or vanishing changes a
//   host's app_count and an app's host_count).
//
// Every change marks the summary dirty; the writer rewrites dirty summaries
// at its next commit. Versions are interned per app (an instance keeps a
// small version id), so counting a change needs no string work.

import type { KeyIndex } from './key-index.js';

// Host and app summary columns (KeyIndex cols of the hosts and apps indexes).
/** Host: apps on it. App: hosts running it. */
export const PEERS = 0;
export const INSTANCES = 1;
export const STALE = 2;
export const SUMMARY_COLUMNS = 3;

const PAIR_SHIFT = 2 ** 22; // pair key = host slot * PAIR_SHIFT + app slot

export interface VersionCount {
  app: number;
  /** The version as JSON string content (as stored). */
  json: Buffer;
  count: number;
  stale: number;
}

export class FleetCounts {
  readonly hosts: KeyIndex;
  readonly apps: KeyIndex;
  /** Summaries to rewrite at the next commit; hosts map to a known name or null. */
  readonly dirtyHosts = new Map<number, Buffer | null>();
  readonly dirtyApps = new Set<number>();
  readonly #pairs = new Map<number, number>();
  readonly #versionIds = new Map<string, number>();
  readonly #versions: (VersionCount | undefined)[] = [];
  readonly #freeVersionIds: number[] = [];

  constructor(hosts: KeyIndex, apps: KeyIndex) {
    this.hosts = hosts;
    this.apps = apps;
  }

  /** The id of an app's version (interned; created with count 0). */
  versionId(app: number, verJson: Uint8Array): number {
    const name = `${app}:${Buffer.from(verJson.buffer, verJson.byteOffset, verJson.length).toString('latin1')}`;
    let id = this.#versionIds.get(name);
    if (id === undefined) {
      id = this.#freeVersionIds.pop() ?? this.#versions.length;
      this.#versions[id] = { app, json: Buffer.from(verJson), count: 0, stale: 0 };
      this.#versionIds.set(name, id);
    }
    return id;
  }

  version(id: number): VersionCount {
    return this.#versions[id]!;
  }

  /** The versions of an app with at least one instance. */
  versionsOf(app: number): VersionCount[] {
    return this.#versions.filter((v): v is VersionCount => v !== undefined && v.app === app && v.count > 0);
  }

  /**
   * Counts a new instance. hostName (JSON content) names a host seen for
   * the first time. Returns whether the host/app pair is new.
   */
  add(host: number, app: number, version: number, hostName: Uint8Array | null): boolean {
    const pair = host * PAIR_SHIFT + app;
    const n = this.#pairs.get(pair) ?? 0;
    this.#pairs.set(pair, n + 1);
    if (n === 0) {
      this.hosts.cols[PEERS]![host]!++;
      this.apps.cols[PEERS]![app]!++;
    }
    this.hosts.cols[INSTANCES]![host]!++;
    this.apps.cols[INSTANCES]![app]!++;
    this.#versions[version]!.count++;
    this.#dirty(host, app, hostName);
    return n === 0;
  }

  /** Uncounts an instance. Returns whether its host and its app are now empty. */
  remove(host: number, app: number, version: number, stale: boolean): { hostEmpty: boolean; appEmpty: boolean } {
    const pair = host * PAIR_SHIFT + app;
    const n = this.#pairs.get(pair) ?? 0;
    if (n > 1) {
      this.#pairs.set(pair, n - 1);
    } else {
      this.#pairs.delete(pair);
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
    this.#dirty(host, app, null);
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
    this.#dirty(host, app, null);
  }

  /** Marks every summary dirty (after loading: the stored counts are recomputed). */
  markAllDirty(): void {
    for (let h = 0; h < this.hosts.highWater; h++) if (this.hosts.state[h] === 1 && !this.dirtyHosts.has(h)) this.dirtyHosts.set(h, null);
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

  #dirty(host: number, app: number, hostName: Uint8Array | null): void {
    this.dirtyApps.add(app);
    if (hostName !== null) this.dirtyHosts.set(host, Buffer.from(hostName));
    else if (!this.dirtyHosts.has(host)) this.dirtyHosts.set(host, null);
  }
}
