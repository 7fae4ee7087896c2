// Fast hashes over byte ranges, consuming 4 bytes per multiply (the
// multiply chain is the critical path, not the loads).
//
// hashBytes gives two 32-bit lanes (mixed at the end, in the style of
// cyrb53): the writer uses the pair as a 64-bit fingerprint of an update's
// content, so a repeated update is recognised without reading the stored
// record. hash32 gives one lane for hash-table keys, which are always
// confirmed by comparing the key bytes.

/** Result lanes of the last hashBytes call (avoids allocating per packet). */
export const hashOut = new Int32Array(2);

function word(src: Uint8Array, i: number): number {
  return src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24);
}

export function hashBytes(src: Uint8Array, start: number, end: number): void {
  let h1 = 0x9e3779b9 ^ (end - start);
  let h2 = 0x41c6ce57 ^ (end - start);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const w = word(src, i);
    h1 = Math.imul(h1 ^ w, 2654435761);
    h2 = Math.imul(h2 ^ w, 1597334677);
    h1 ^= h1 >>> 15;
    h2 ^= h2 >>> 15;
  }
  for (; i < end; i++) {
    h1 = Math.imul(h1 ^ src[i]!, 2654435761);
    h2 = Math.imul(h2 ^ src[i]!, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  hashOut[0] = h1;
  hashOut[1] = h2;
}

export function hash32(src: Uint8Array, start: number, end: number): number {
  let h = 0x9e3779b9 ^ (end - start);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    h = Math.imul(h ^ word(src, i), 2654435761);
    h ^= h >>> 15;
  }
  for (; i < end; i++) h = Math.imul(h ^ src[i]!, 2654435761);
  h = Math.imul(h ^ (h >>> 16), 2246822507);
  h = Math.imul(h ^ (h >>> 13), 3266489909);
  return (h ^ (h >>> 16)) | 0;
}
