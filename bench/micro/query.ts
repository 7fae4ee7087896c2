// Query handlers' store work (src/store/reader.ts) against the 1,000,000
// instance store: what each endpoint costs before HTTP. Parameters rotate
// over many hosts and apps, so the answers are not one hot page.
//
// The choice measured: answers are built by copying the stored JSON
// fragments (plus last_update) into the output, never making objects. The
// baseline builds the same app answer the common way: decode each stored
// row into an object and JSON.stringify the list.

import { open } from 'lmdb';
import { buildKey, prefixEnd } from '../../src/store/keys.js';
import { DB, INSTANCE_HEADER, V_APP_LEN, V_IP_LEN, V_SINCE, V_SLOT, V_VER_LEN, V_WRITTEN_AT, envOptions } from '../../src/store/layout.js';
import type { StoreReader, VersionFilter } from '../../src/store/reader.js';
import { Rng } from '../../tools/fuzz/prng.js';
import { runSuite, type MicroOptions, type MicroResult, type MicroTask } from './harness.js';
import type { StoreFixture } from './store-fixture.js';

export let sink = 0;

interface Listed {
  data: Record<string, unknown>[];
}

function parse(bytes: Uint8Array): Listed {
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')) as Listed;
}

/** Rows in an answer (for the notes and rows/s). */
function rowsOf(bytes: Uint8Array): number {
  return parse(bytes).data.length;
}

export async function queryBench(fx: StoreFixture, options: MicroOptions, log: (line: string) => void): Promise<MicroResult[]> {
  const reader: StoreReader = fx.reader;
  const apps = parse(reader.appList().view()).data.map((a) => a.app_id as string);
  const allHosts = parse(reader.hostList().view()).data.map((h) => h.host as string);
  reader.release();
  const rng = new Rng(7);
  const hosts = Array.from({ length: 1000 }, () => rng.pick(allHosts));
  // Each app's most common version, for version/?app_id=A&ver=V.
  const topVersion = new Map<string, string>();
  for (const appId of apps) {
    const app = parse(reader.app(appId)!.view()).data[0] as { versions: { ver: string; count: number }[] };
    topVersion.set(appId, [...app.versions].sort((a, b) => b.count - a.count)[0]!.ver);
  }
  reader.release();

  let k = 0;
  const versions = (filter: () => VersionFilter) => (): number => {
    const out = reader.versions(filter());
    reader.release(); // as between two HTTP requests: each answer gets a fresh snapshot
    k++;
    return out.length;
  };
  const host = (): string => hosts[k % hosts.length]!;
  const app = (): string => apps[k % apps.length]!;

  // Rows per answer, measured once per kind with a sample of parameters.
  const sampleRows = (run: () => Uint8Array): number => {
    let rows = 0;
    for (let i = 0; i < apps.length; i++) {
      k = i;
      rows += rowsOf(run());
      reader.release();
    }
    k = 0;
    return rows / apps.length;
  };
  const rows = {
    host: sampleRows(() => reader.versions({ host: host() }).view()),
    appHost: sampleRows(() => reader.versions({ appId: app(), host: host() }).view()),
    appVer: sampleRows(() => reader.versions({ appId: app(), ver: topVersion.get(app())! }).view()),
    app: sampleRows(() => reader.versions({ appId: app() }).view()),
    appList: rowsOf(reader.appList().view()),
    hostList: rowsOf(reader.hostList().view()),
  };
  reader.release();

  // The baseline's own handle on the same environment (lmdb-js shares it per path).
  const env = open(envOptions(fx.dir));
  const inst = env.openDB<Buffer, Buffer>(DB.inst, { keyEncoding: 'binary', encoding: 'binary' });
  const instClock = new Uint32Array(fx.clocks.instance);
  const viaObjects = (): number => {
    const prefix = buildKey([app()]);
    const list: Record<string, unknown>[] = [];
    for (const { key, value } of inst.getRange({ start: prefix, end: prefixEnd(prefix) })) {
      const t = Math.max(value.readUInt32LE(V_WRITTEN_AT), instClock[value.readUInt32LE(V_SLOT)] ?? 0);
      // The same object the server's byte builder writes, as objects and strings.
      const appEnd = key.indexOf(0);
      const appLen = value.readUInt16LE(V_APP_LEN);
      const verLen = value.readUInt16LE(V_VER_LEN);
      const ipLen = value[V_IP_LEN]!;
      const at = INSTANCE_HEADER;
      list.push({
        app: JSON.parse(`"${value.toString('utf8', at, at + appLen)}"`) as string,
        app_id: key.toString('latin1', 0, appEnd),
        host: key.toString('utf8', appEnd + 1, key.length - 3),
        host_ip: value.toString('latin1', at + appLen + verLen, at + appLen + verLen + ipLen),
        instance: key.readUInt16BE(key.length - 2),
        ver: JSON.parse(`"${value.toString('utf8', at + appLen, at + appLen + verLen)}"`) as string,
        last_update: t,
        status: 'up',
        since: value.readUInt32LE(V_SINCE),
      });
    }
    inst.resetReadTxn();
    k++;
    return Buffer.from(JSON.stringify({ data: list })).length;
  };

  const q = (name: string, answerRows: number, fn: () => number, extra?: Partial<MicroTask>): MicroTask => ({
    name,
    items: 1,
    unit: 'query',
    note: `${Math.round(answerRows).toLocaleString('en-US')} row${Math.round(answerRows) === 1 ? '' : 's'} per answer`,
    fn: () => {
      sink += fn();
    },
    extra: () => ({ rows_per_answer: answerRows }),
    ...extra,
  });
  const tasks: MicroTask[] = [
    q(
      'version/?host=H',
      rows.host,
      versions(() => ({ host: host() })),
    ),
    q(
      'version/?app_id=A&host=H',
      rows.appHost,
      versions(() => ({ appId: app(), host: host() })),
    ),
    q(
      'version/?app_id=A&ver=V (top version)',
      rows.appVer,
      versions(() => ({ appId: app(), ver: topVersion.get(app())! })),
    ),
    q('app/', rows.appList, () => {
      const n = reader.appList().length;
      reader.release();
      return n;
    }),
    q('app/A', 1, () => {
      const n = reader.app(app())!.length;
      reader.release();
      k++;
      return n;
    }),
    q('host/H', 1, () => {
      const n = reader.host(host())!.length;
      reader.release();
      k++;
      return n;
    }),
    q('host/ (bulk)', rows.hostList, () => {
      const n = reader.hostList().length;
      reader.release();
      return n;
    }),
    q('version/?app_id=A via objects + JSON.stringify (baseline)', rows.app, viaObjects),
    q(
      'version/?app_id=A (bulk, stored fragments)',
      rows.app,
      versions(() => ({ appId: app() })),
      { baseline: 'version/?app_id=A via objects + JSON.stringify (baseline)' },
    ),
  ];
  const results = await runSuite('query', tasks, options, log);
  await env.close();
  for (const r of results) {
    const perAnswer = r.extra?.rows_per_answer ?? 1;
    r.extra = { ...r.extra, rows_per_s: (perAnswer * 1000) / r.median_ms };
  }
  return results;
}
