// A fast 2x32-bit hash over a byte range (two multiplicative lanes mixed at
// the end, in the style of cyrb53). The writer uses the pair as a 64-bit
// fingerprint of an update's content, so a repeated update is recognised
// without reading the stored record; the key hash only picks a bucket and
// is always confirmed by comparing key bytes.

/** Result lanes of the last hashBytes call (avoids allocating per packet). */
export const hashOut = new Int32Array(2);

export function hashBytes(src: Uint8Array, start: number, end: number): void {
  let h1 = 0x9e3779b9 ^ 0;
  let h2 = 0x41c6ce57 ^ 0;
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  hashOut[0] = h1;
  hashOut[1] = h2;
}
