// Batched UDP sending through the native addon (sendmmsg), from many
// source sockets. The server spreads datagrams over its SO_REUSEPORT
// sockets by a hash of the source address and port; a real fleet has
// thousands of sources, so one source socket would pile the whole load on
// one server worker. Sending each chunk of a batch from the next of
// `sockets` ephemeral ports spreads it the way a fleet does.
//
// Caveat: consecutive updates of the same fleet member may leave from
// different ports and be applied out of order by different server
// workers. With the default fleet a member reports once per ~800k packets,
// so this only matters for tiny fleets.

import { MAX_BATCH, udp } from '../../src/ingest/native.js';
import type { BadKind } from './bad-packets.js';
import type { SendTally } from './tally.js';

export interface UdpTarget {
  kind: 'udp';
  /** Numeric IPv4 or IPv6 address (the addon does not resolve names). */
  ip: string;
  family: 4 | 6;
  port: number;
  /** Source sockets of this thread. */
  sockets: number;
  /** Send buffer to ask for, per socket. */
  sndbuf: number;
}

/** Bytes buffered per batch; a batch goes out early when a packet does not fit. */
const BATCH_BYTES = 1 << 20;
/** Datagrams per sendmmsg call, each call from the next source socket. */
const CHUNK = 64;
/** Bytes a JS string can take in UTF-8, per UTF-16 unit. */
const MAX_UTF8_PER_UNIT = 3;

export class UdpBatchSender {
  private readonly target: UdpTarget;
  private readonly tally: SendTally;
  private readonly fds: number[] = [];
  private nextSocket = 0;
  private readonly data = Buffer.allocUnsafe(BATCH_BYTES);
  private readonly lengths = new Int32Array(MAX_BATCH);
  /** Kind of each queued datagram (null = valid), to count what actually went out. */
  private readonly kinds: (BadKind | null)[] = new Array<BadKind | null>(MAX_BATCH).fill(null);
  private queued = 0;
  private bytesUsed = 0;

  constructor(target: UdpTarget, tally: SendTally) {
    this.target = target;
    this.tally = tally;
    const bindIp = target.family === 6 ? '::' : '0.0.0.0';
    try {
      for (let i = 0; i < target.sockets; i++) this.fds.push(udp.udpOpen(bindIp, 0, { sndbuf: target.sndbuf }).fd);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Queues a valid update (JSON text). */
  addText(json: string): void {
    if (this.queued === MAX_BATCH || this.bytesUsed + json.length * MAX_UTF8_PER_UNIT > BATCH_BYTES) this.flush();
    const length = this.data.write(json, this.bytesUsed, 'utf8');
    this.push(length, null);
  }

  /** Queues a malformed packet. */
  addBytes(bytes: Uint8Array, kind: BadKind): void {
    if (this.queued === MAX_BATCH || this.bytesUsed + bytes.length > BATCH_BYTES) this.flush();
    this.data.set(bytes, this.bytesUsed);
    this.push(bytes.length, kind);
  }

  private push(length: number, kind: BadKind | null): void {
    this.lengths[this.queued] = length;
    this.kinds[this.queued] = kind;
    this.queued++;
    this.bytesUsed += length;
  }

  /** Sends everything queued. Datagrams the kernel refuses are counted as send errors, not retried. */
  flush(): void {
    let offset = 0;
    for (let first = 0; first < this.queued; first += CHUNK) {
      const count = Math.min(CHUNK, this.queued - first);
      let bytes = 0;
      for (let i = first; i < first + count; i++) bytes += this.lengths[i]!;
      const fd = this.fds[this.nextSocket]!;
      this.nextSocket = (this.nextSocket + 1) % this.fds.length;
      const sent = udp.udpSend(
        fd,
        this.data.subarray(offset, offset + bytes),
        this.lengths.subarray(first, first + count),
        count,
        this.target.ip,
        this.target.port,
      );
      for (let i = first; i < first + sent; i++) this.tally.countSent(this.kinds[i]!);
      this.tally.sendErrors += count - sent;
      offset += bytes;
    }
    this.queued = 0;
    this.bytesUsed = 0;
  }

  close(): void {
    for (const fd of this.fds.splice(0)) udp.udpClose(fd);
  }
}
