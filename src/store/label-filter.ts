// Label filters (`label.NAME=VALUE`, all must match) over stored labels
// objects, without parsing them: a stored object is canonical (names
// sorted and unique, values JSON-escaped the one way the parser writes
// them), so a label matches exactly when `"name":"value"` occurs in it
// right after `{` or `,` and right before `,` or `}`. Inside a value every
// quote is escaped, so the needle cannot match there.

export interface LabelPair {
  name: string;
  value: string;
}

export class LabelFilter {
  readonly #needles: Buffer[];

  constructor(pairs: readonly LabelPair[]) {
    this.#needles = pairs.map(({ name, value }) => Buffer.from(`${JSON.stringify(name)}:${JSON.stringify(value)}`));
  }

  /** Whether a labels object (empty: no labels) carries every label of the filter. */
  matches(labels: Uint8Array): boolean {
    for (const needle of this.#needles) if (!contains(labels, needle)) return false;
    return true;
  }
}

function contains(labels: Uint8Array, needle: Buffer): boolean {
  const last = labels.length - needle.length - 1;
  const first = needle[0]!;
  for (let i = 1; i <= last; i++) {
    if (labels[i] !== first) continue;
    const before = labels[i - 1];
    if (before !== 0x7b && before !== 0x2c) continue;
    let j = 1;
    while (j < needle.length && labels[i + j] === needle[j]) j++;
    if (j < needle.length) continue;
    const after = labels[i + j];
    if (after === 0x2c || after === 0x7d) return true;
  }
  return false;
}
