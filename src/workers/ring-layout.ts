// Layout of one ingest ring: a single-producer single-consumer byte queue in
// a SharedArrayBuffer. One ingest worker produces; the writer consumes.
//
//   bytes [0, 64)            producer line: WRITE_POS (Int32 slot 0)
//   bytes [64, 128)          consumer line: READ_POS (Int32 slot 16)
//   bytes [128, 128+cap)     data: records, each [u32 length][payload][pad to 4]
//
// Positions count bytes ever written/consumed and wrap at 2^32; the data
// offset of a position is pos & (cap - 1). The two positions sit on
// separate cache lines so the threads don't bounce one line between cores.
// A record may straddle the end of the data area (it continues at offset 0);
// its 4-byte length never does, because positions stay 4-byte aligned and
// cap is a power of two.

/** Int32 slot: bytes the producer has published (monotonic, wraps at 2^32). */
export const WRITE_POS = 0;
/** Int32 slot: bytes the consumer has released (moves once the writer has absorbed them). */
export const READ_POS = 16;
/** Byte offset of the data area. */
export const DATA_OFFSET = 128;
/** Bytes before each record's payload. */
export const LENGTH_PREFIX = 4;
/** Smallest allowed capacity (tests use it to force wrap and split records). */
export const MIN_CAPACITY = 64;

export function ringByteLength(capacity: number): number {
  if (!Number.isInteger(capacity) || capacity < MIN_CAPACITY || (capacity & (capacity - 1)) !== 0 || capacity > 2 ** 30) {
    throw new RangeError(`ring capacity must be a power of two from ${MIN_CAPACITY} to 2^30, got ${capacity}`);
  }
  return DATA_OFFSET + capacity;
}

/** Bytes a record of payload length n occupies, prefix and padding included. */
export function recordSpan(n: number): number {
  return (LENGTH_PREFIX + n + 3) & ~3;
}
