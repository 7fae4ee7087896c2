// HTTP requests waiting for their commit: an update, DELETE or clear is
// answered only once the batch holding it is durable. Requests carry
// increasing sequence numbers and the HTTP ring is first in, first out, so
// a commit that acknowledges sequence number S settles every request up
// to S; a writer that dies settles, with an error, every request it had
// read (its batch will never come).

export interface Waiting {
  seq: number;
  /** Resolved with the request's result (instances removed by a DELETE; 0 otherwise). */
  resolve: (result: number) => void;
  reject: (err: Error) => void;
}

export class PendingAcks {
  #waiting: Waiting[] = [];

  get size(): number {
    return this.#waiting.length;
  }

  wait(seq: number): Promise<number> {
    return new Promise((resolve, reject) => this.#waiting.push({ seq, resolve, reject }));
  }

  /** A commit acknowledged everything up to ackSeq; results are DELETE counts by seq. */
  acknowledge(ackSeq: number, results: ReadonlyMap<number, number>): void {
    let n = 0;
    while (n < this.#waiting.length && this.#waiting[n]!.seq <= ackSeq) {
      const w = this.#waiting[n++]!;
      w.resolve(results.get(w.seq) ?? 0);
    }
    if (n > 0) this.#waiting.splice(0, n);
  }

  /** Rejects every request up to seq (Infinity: all). */
  fail(upTo: number, err: Error): void {
    let n = 0;
    while (n < this.#waiting.length && this.#waiting[n]!.seq <= upTo) this.#waiting[n++]!.reject(err);
    if (n > 0) this.#waiting.splice(0, n);
  }
}
