// The writer's memory of labels: every distinct label set (the sorted
// labels object an update carried, as stored) interned once, and per app
// and per host how many instances carry each set. A fleet has few distinct
// sets (env x region x dc), so an instance keeps a small set id and a
// change of labels costs two map updates; the app and host summaries count
// instances per label value from the sets (labelCountsJson).
//
// Set id 0 is "no labels": unlabelled fleets never touch the maps.

/** Values listed per label name in a summary's label_counts (the most common). */
export const LABEL_VALUES_LISTED = 50;

interface LabelSet {
  /** The labels object as stored: `{"env":"prod",…}`. */
  json: Buffer;
  /** Parsed once: [name, value]. */
  pairs: [string, string][];
  /** Instances carrying it. */
  refs: number;
}

const EMPTY = Buffer.alloc(0);

export class LabelSets {
  readonly #ids = new Map<string, number>();
  readonly #sets: (LabelSet | undefined)[] = [undefined];
  readonly #free: number[] = [];
  readonly #byApp: (Map<number, number> | undefined)[] = [];
  readonly #byHost: (Map<number, number> | undefined)[] = [];

  /** Distinct label sets in use. */
  get size(): number {
    return this.#ids.size;
  }

  /** The id of a labels object (0 for none); a new set starts with no instance. */
  idOf(json: Uint8Array): number {
    if (json.length === 0) return 0;
    const name = Buffer.from(json.buffer, json.byteOffset, json.length).toString('latin1');
    let id = this.#ids.get(name);
    if (id === undefined) {
      const copy = Buffer.from(json);
      const parsed = JSON.parse(copy.toString('utf8')) as Record<string, string>;
      id = this.#free.pop() ?? this.#sets.length;
      this.#sets[id] = { json: copy, pairs: Object.entries(parsed), refs: 0 };
      this.#ids.set(name, id);
    }
    return id;
  }

  /** The labels object of a set (empty for id 0). */
  json(id: number): Buffer {
    return this.#sets[id]?.json ?? EMPTY;
  }

  /** An instance of app on host now carries set id. */
  add(host: number, app: number, id: number): void {
    if (id === 0) return;
    this.#sets[id]!.refs++;
    bump(this.#byApp, app, id, 1);
    bump(this.#byHost, host, id, 1);
  }

  /** An instance of app on host no longer carries set id. */
  remove(host: number, app: number, id: number): void {
    if (id === 0) return;
    bump(this.#byApp, app, id, -1);
    bump(this.#byHost, host, id, -1);
    const set = this.#sets[id]!;
    if (--set.refs === 0) {
      this.#ids.delete(set.json.toString('latin1'));
      this.#sets[id] = undefined;
      this.#free.push(id);
    }
  }

  /**
   * Instances per label value of an app or a host, as JSON
   * (`{"env":{"prod":12,"staging":3},…}`, names sorted, values most common
   * first, at most LABEL_VALUES_LISTED per name), or '' when none of its
   * instances has labels.
   */
  countsJson(kind: 'app' | 'host', slot: number): string {
    const sets = (kind === 'app' ? this.#byApp : this.#byHost)[slot];
    if (sets === undefined || sets.size === 0) return '';
    const byName = new Map<string, Map<string, number>>();
    for (const [id, n] of sets) {
      for (const [name, value] of this.#sets[id]!.pairs) {
        let values = byName.get(name);
        if (values === undefined) byName.set(name, (values = new Map()));
        values.set(value, (values.get(value) ?? 0) + n);
      }
    }
    const out: Record<string, Record<string, number>> = {};
    for (const name of [...byName.keys()].sort()) {
      const values = [...byName.get(name)!].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      out[name] = Object.fromEntries(values.slice(0, LABEL_VALUES_LISTED));
    }
    return JSON.stringify(out);
  }
}

function bump(maps: (Map<number, number> | undefined)[], slot: number, id: number, by: number): void {
  let m = maps[slot];
  if (m === undefined) maps[slot] = m = new Map();
  const n = (m.get(id) ?? 0) + by;
  if (n === 0) m.delete(id);
  else m.set(id, n);
}
