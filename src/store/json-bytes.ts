// A growable byte buffer for building JSON responses out of stored
// fragments without creating strings.

export class JsonBytes {
  #buf: Buffer;
  #len = 0;

  constructor(initial = 16 * 1024) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.#len;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(grown, 0, 0, this.#len);
    this.#buf = grown;
  }

  bytes(src: Uint8Array): this {
    this.#room(src.length);
    this.#buf.set(src, this.#len);
    this.#len += src.length;
    return this;
  }

  /** Appends an ASCII string (JSON punctuation, numbers, keys). */
  ascii(s: string): this {
    this.#room(s.length);
    this.#len += this.#buf.write(s, this.#len, 'latin1');
    return this;
  }

  /** Appends any string as UTF-8 (already JSON-encoded text). */
  text(s: string): this {
    this.#room(Buffer.byteLength(s));
    this.#len += this.#buf.write(s, this.#len, 'utf8');
    return this;
  }

  /** Appends a non-negative integer in decimal. */
  uint(n: number): this {
    return this.ascii(String(n));
  }

  /** The bytes written so far (a view; valid until the next append). */
  view(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }

  reset(): void {
    this.#len = 0;
  }
}
