// The simulated fleet: hosts x apps x instances, each instance reporting
// its (app, ver, host, instance) in turn. Update number n names fleet
// member order.at(n mod size), so each member reports once per `size`
// updates, in a shuffled but fixed order, and the whole stream is a pure
// function of (seed, n, fleet time): any thread can produce any part of it.

import { hash32 } from './prng.js';
import { Permutation } from './permutation.js';
import { appName, hostName } from './names.js';
import { releaseSchedule, rolloutThreshold, runningRelease, versionText, type ReleaseSchedule } from './versions.js';

export interface FleetShape {
  seed: number;
  hosts: number;
  apps: number;
  /** Instances of every app on every host. */
  instances: number;
  /** Average seconds of fleet time between two releases of an app. */
  releaseEveryS: number;
  /** Every update carries its host's labels (env, region, dc). */
  labels?: boolean;
}

export interface Update {
  app: string;
  ver: string;
  host: string;
  instance: number;
  labels?: Record<string, string>;
}

/** A labelled fleet's regions and their datacenters. */
export const REGIONS: Readonly<Record<string, readonly string[]>> = {
  'eu-west': ['ams3', 'fra1'],
  'us-east': ['nyc1', 'iad2'],
  'us-west': ['sfo2', 'sea1'],
  'ap-south': ['blr1', 'sin1'],
};

/**
 * A host's labels in a labelled fleet, a function of (seed, host): env
 * prod for 70% of hosts, staging 20%, dev 10%; a region and one of its
 * datacenters.
 */
export function hostLabels(seed: number, hostIndex: number): { env: string; region: string; dc: string } {
  const h = hash32(seed, 0x4c41424c, hostIndex);
  const roll = h % 10;
  const env = roll < 7 ? 'prod' : roll < 9 ? 'staging' : 'dev';
  const regions = Object.keys(REGIONS);
  const region = regions[(h >>> 8) % regions.length]!;
  const dcs = REGIONS[region]!;
  return { env, region, dc: dcs[(h >>> 16) % dcs.length]! };
}

export interface MemberKey {
  appIndex: number;
  hostIndex: number;
  instance: number;
}

/**
 * How an app's client library writes JSON. Real clients differ, and the
 * server must accept all of these: key order, Python's default ", " and
 * ": " separators with \u escapes for anything outside ASCII, and Go's
 * omitempty leaving out "instance" when it is 0 (the default).
 */
export type ClientLibrary = 'js' | 'go' | 'python' | 'shell';

interface AppProfile {
  name: string;
  nameJson: string;
  schedule: ReleaseSchedule;
  library: ClientLibrary;
  /** JSON-encoded version strings by release index, as the client writes them. */
  versionJson: Map<number, string>;
}

/** Hosts whose JSON names are kept in memory; larger fleets recompute them. */
const HOST_CACHE_LIMIT = 1_000_000;

function libraryFor(h: number): ClientLibrary {
  const roll = h % 100;
  if (roll < 35) return 'js';
  if (roll < 60) return 'go';
  if (roll < 85) return 'python';
  return 'shell';
}

/** JSON.stringify, optionally with every non-ASCII UTF-16 unit as \uXXXX (like Python's ensure_ascii). */
export function jsonString(text: string, asciiOnly: boolean): string {
  const json = JSON.stringify(text);
  if (!asciiOnly) return json;
  return json.replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, on purpose
const NON_ASCII = /[^\x00-\x7f]/;

export class Fleet {
  readonly shape: FleetShape;
  /** Number of (app, host, instance) members. */
  readonly size: number;
  private readonly order: Permutation;
  private readonly apps: AppProfile[];
  private readonly hostJsonCache: (string | undefined)[] | null;
  /** Labels JSON by host (labelled fleets), as most libraries [0] and Python [1] write them. */
  private readonly labelsJsonCache: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];
  /** JSON of versions given by memberJson, as written by most libraries [0] and by Python [1]. */
  private readonly fixedVersionJson: [Map<string, string>, Map<string, string>] = [new Map(), new Map()];

  constructor(shape: FleetShape) {
    this.shape = shape;
    this.size = shape.hosts * shape.apps * shape.instances;
    this.order = new Permutation(this.size, hash32(shape.seed, 0x4f524452));
    this.apps = Array.from({ length: shape.apps }, (_, appIndex) => {
      const library = libraryFor(hash32(shape.seed, 0x4c4942, appIndex));
      const name = appName(appIndex);
      return {
        name,
        nameJson: jsonString(name, library === 'python'),
        schedule: releaseSchedule(shape.seed, appIndex, shape.releaseEveryS),
        library,
        versionJson: new Map(),
      };
    });
    this.hostJsonCache = shape.hosts <= HOST_CACHE_LIMIT ? new Array<string | undefined>(shape.hosts) : null;
  }

  /** The fleet member that sends update n. */
  memberAt(n: number): MemberKey {
    return this.memberOfKey(this.order.at(n % this.size));
  }

  /** The fleet member numbered key (0 <= key < size): instances vary fastest, then apps, then hosts. */
  memberOfKey(key: number): MemberKey {
    const instance = key % this.shape.instances;
    const rest = (key - instance) / this.shape.instances;
    const appIndex = rest % this.shape.apps;
    return { appIndex, hostIndex: (rest - appIndex) / this.shape.apps, instance };
  }

  appName(appIndex: number): string {
    return this.apps[appIndex]!.name;
  }

  clientLibrary(appIndex: number): ClientLibrary {
    return this.apps[appIndex]!.library;
  }

  hostName(hostIndex: number): string {
    return hostName(this.shape.seed, hostIndex);
  }

  /** The release index (app, host) runs at fleet time t; never decreases with t. */
  releaseAt(appIndex: number, hostIndex: number, t: number): number {
    const threshold = rolloutThreshold(this.shape.seed, appIndex, hostIndex);
    return runningRelease(this.apps[appIndex]!.schedule, threshold, t);
  }

  versionAt(appIndex: number, hostIndex: number, t: number): string {
    return versionText(this.shape.seed, appIndex, this.apps[appIndex]!.schedule, this.releaseAt(appIndex, hostIndex, t));
  }

  /** Update n, sent at fleet time t (seconds), as values. */
  updateAt(n: number, t: number): Update {
    const { appIndex, hostIndex, instance } = this.memberAt(n);
    return {
      app: this.apps[appIndex]!.name,
      ver: this.versionAt(appIndex, hostIndex, t),
      host: this.hostName(hostIndex),
      instance,
      ...(this.shape.labels === true ? { labels: hostLabels(this.shape.seed, hostIndex) } : {}),
    };
  }

  /** Update n, sent at fleet time t, as the JSON text its client library writes. */
  jsonAt(n: number, t: number): string {
    const member = this.memberAt(n);
    const app = this.apps[member.appIndex]!;
    return this.formatJson(app, this.versionJson(app, member.appIndex, member.hostIndex, t), member);
  }

  /**
   * An update of one member carrying a given version (not its scheduled
   * one), as the JSON text its client library writes: what --waves sends.
   */
  memberJson(member: MemberKey, ver: string): string {
    const app = this.apps[member.appIndex]!;
    const asciiOnly = app.library === 'python';
    const cache = this.fixedVersionJson[asciiOnly ? 1 : 0];
    let json = cache.get(ver);
    if (json === undefined) {
      json = jsonString(ver, asciiOnly);
      cache.set(ver, json);
    }
    return this.formatJson(app, json, member);
  }

  private formatJson(app: AppProfile, ver: string, { hostIndex, instance }: MemberKey): string {
    const host = this.hostJson(hostIndex, app.library === 'python');
    const labels = this.shape.labels === true ? this.labelsJson(hostIndex, app.library === 'python') : null;
    switch (app.library) {
      case 'js':
        return labels === null
          ? `{"app":${app.nameJson},"ver":${ver},"host":${host},"instance":${instance}}`
          : `{"app":${app.nameJson},"ver":${ver},"host":${host},"instance":${instance},"labels":${labels}}`;
      case 'go':
        return instance === 0
          ? `{"app":${app.nameJson},"ver":${ver},"host":${host}${labels === null ? '' : `,"labels":${labels}`}}`
          : `{"app":${app.nameJson},"ver":${ver},"host":${host},"instance":${instance}${labels === null ? '' : `,"labels":${labels}`}}`;
      case 'python':
        return labels === null
          ? `{"app": ${app.nameJson}, "ver": ${ver}, "host": ${host}, "instance": ${instance}}`
          : `{"app": ${app.nameJson}, "ver": ${ver}, "host": ${host}, "instance": ${instance}, "labels": ${labels}}`;
      case 'shell':
        return labels === null
          ? `{"host":${host},"app":${app.nameJson},"instance":${instance},"ver":${ver}}`
          : `{"labels":${labels},"host":${host},"app":${app.nameJson},"instance":${instance},"ver":${ver}}`;
    }
  }

  /** A host's labels as its app's library writes them: Python spaced, others compact, in different orders. */
  private labelsJson(hostIndex: number, python: boolean): string {
    const cache = this.labelsJsonCache[python ? 1 : 0];
    let json = cache.get(hostIndex);
    if (json === undefined) {
      const { env, region, dc } = hostLabels(this.shape.seed, hostIndex);
      json = python ? `{"region": "${region}", "env": "${env}", "dc": "${dc}"}` : `{"env":"${env}","region":"${region}","dc":"${dc}"}`;
      if (cache.size < 100_000) cache.set(hostIndex, json);
    }
    return json;
  }

  private versionJson(app: AppProfile, appIndex: number, hostIndex: number, t: number): string {
    const release = this.releaseAt(appIndex, hostIndex, t);
    let json = app.versionJson.get(release);
    if (json === undefined) {
      json = jsonString(versionText(this.shape.seed, appIndex, app.schedule, release), app.library === 'python');
      app.versionJson.set(release, json);
    }
    return json;
  }

  private hostJson(hostIndex: number, asciiOnly: boolean): string {
    let json = this.hostJsonCache?.[hostIndex];
    if (json === undefined) {
      json = JSON.stringify(this.hostName(hostIndex));
      if (this.hostJsonCache !== null) this.hostJsonCache[hostIndex] = json;
    }
    return asciiOnly && NON_ASCII.test(json) ? jsonString(JSON.parse(json) as string, true) : json;
  }
}
