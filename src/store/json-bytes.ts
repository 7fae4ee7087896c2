// A growable byte buffer for building JSON responses out of stored
// fragments without creating strings: a bulk answer appends hundreds of
// thousands of fragments, numbers and punctuation, so each append must not
// allocate.

export class JsonBytes {
  #buf: Buffer;
  #len = 0;

  constructor(initial = 64 * 1024) {
    this.#buf = Buffer.allocUnsafeSlow(initial);
  }

  get length(): number {
    return this.#len;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    // allocUnsafeSlow: a buffer of its own (not a slice of Node's pool), so
    // a finished answer can be moved to another thread without a copy.
    const grown = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(grown, 0, 0, this.#len);
    this.#buf = grown;
  }

  /** Appends src[start, end). */
  bytes(src: Uint8Array, start = 0, end = src.length): this {
    this.#room(end - start);
    if (src instanceof Buffer) src.copy(this.#buf, this.#len, start, end);
    else this.#buf.set(src.subarray(start, end), this.#len);
    this.#len += end - start;
    return this;
  }

  /** Appends an ASCII string (JSON punctuation and keys). */
  ascii(s: string): this {
    this.#room(s.length);
    const buf = this.#buf;
    let o = this.#len;
    for (let i = 0; i < s.length; i++) buf[o++] = s.charCodeAt(i);
    this.#len = o;
    return this;
  }

  /** Appends a non-negative integer (below 2^53) in decimal. */
  uint(n: number): this {
    this.#room(16);
    const buf = this.#buf;
    if (n < 10) {
      buf[this.#len++] = 48 + n;
      return this;
    }
    let digits = 0;
    for (let v = n; v >= 1; v = Math.floor(v / 10)) digits++;
    let o = this.#len + digits;
    this.#len = o;
    for (let v = n; v >= 1; v = Math.floor(v / 10)) buf[--o] = 48 + (v % 10);
    return this;
  }

  /** The bytes written so far (a view; valid until the next append). */
  view(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}
