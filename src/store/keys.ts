// Binary LMDB keys. A key is a sequence of parts; each string part is its
// UTF-8 bytes with 0x00 and 0x01 escaped (0x00 -> 01 01, 0x01 -> 01 02) and
// a 0x00 terminator. Escaping keeps byte order equal to string order and
// makes the encoding prefix-free, so keys of different tuples can never
// collide (the original concatenated strings: app "a" + host "bc" met app
// "ab" + host "c") and "all keys starting with these parts" is a range.
//
// app_id is [0-9a-z_] only, so it never needs escaping; instance is a u16
// big-endian suffix so instances sort numerically.

/**
 * Appends the escaped form of src[start, end) and its terminator to out at
 * o; returns the new offset. out must have room for 2*(end-start)+1 bytes.
 */
export function encodeKeyPart(src: Uint8Array, start: number, end: number, out: Uint8Array, o: number): number {
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (c > 1) {
      out[o++] = c;
    } else {
      out[o++] = 1;
      out[o++] = c + 1;
    }
  }
  out[o++] = 0;
  return o;
}

/**
 * Reads one escaped part starting at o. Returns the decoded bytes' end in
 * `into` and sets keyPartEnd to the offset after the terminator.
 */
export let keyPartEnd = 0;

export function decodeKeyPart(key: Uint8Array, o: number, into: Uint8Array): number {
  let n = 0;
  for (;;) {
    const c = key[o++];
    if (c === undefined) throw new RangeError('unterminated key part');
    if (c === 0) break;
    if (c === 1) into[n++] = key[o++]! - 1;
    else into[n++] = c;
  }
  keyPartEnd = o;
  return n;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds a key from string parts, optionally followed by a u16 instance. */
export function buildKey(parts: readonly string[], instance?: number): Buffer {
  const raw = parts.map((p) => encoder.encode(p));
  const size = raw.reduce((n, r) => n + 2 * r.length + 1, 0) + (instance === undefined ? 0 : 2);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const r of raw) o = encodeKeyPart(r, 0, r.length, out, o);
  if (instance !== undefined) {
    out[o++] = instance >>> 8;
    out[o++] = instance & 0xff;
  }
  return out.subarray(0, o);
}

/** The smallest key greater than every key that starts with prefix. */
export function prefixEnd(prefix: Uint8Array): Buffer {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) throw new RangeError('a prefix of only 0xff bytes has no end');
  const out = Buffer.from(prefix.subarray(0, n));
  out[n - 1] = out[n - 1]! + 1;
  return out;
}

/** Decodes `count` string parts from the start of key; `rest` is where the parts end. */
export function splitKey(key: Uint8Array, count: number): { parts: string[]; rest: number } {
  const scratch = new Uint8Array(key.length);
  const parts: string[] = [];
  let o = 0;
  for (let i = 0; i < count; i++) {
    const n = decodeKeyPart(key, o, scratch);
    parts.push(decoder.decode(scratch.subarray(0, n)));
    o = keyPartEnd;
  }
  return { parts, rest: o };
}
