// Typed access to the UDP addon (src/ingest/native/udp.cc), built by
// node-gyp at `npm install` into build/Release.
import { createRequire } from 'node:module';

export interface OpenOptions {
  /** Share the port with other sockets of this process (SO_REUSEPORT). */
  reusePort?: boolean;
  /** Receive buffer to ask for, in bytes; the kernel may grant less (or double). */
  rcvbuf?: number;
  sndbuf?: number;
  /** udpRecv returns 0 after this long without a datagram. */
  recvTimeoutMs?: number;
}

export interface OpenedSocket {
  fd: number;
  port: number;
  /** Receive buffer the kernel actually granted, in bytes. */
  rcvbuf: number;
  /** Socket inode: the key to its row (and `drops`) in /proc/net/udp{,6}. */
  inode: number;
  family: 4 | 6;
}

interface UdpAddon {
  udpOpen(ip: string, port: number, options: OpenOptions): OpenedSocket;
  udpRecv(fd: number, data: Uint8Array, slotSize: number, lengths: Int32Array, addrText: Uint8Array, maxMsgs: number): number;
  udpSend(fd: number, data: Uint8Array, lengths: Int32Array, count: number, ip: string, port: number): number;
  udpClose(fd: number): void;
  /** Returns freed heap memory to the kernel (glibc malloc_trim). */
  trimMemory(): boolean;
  /** Names the calling thread (at most 15 bytes; top -H and /proc show it). */
  setThreadName(name: string): void;
  /** Sets the calling thread's nice value; false if not allowed. */
  setThreadNice(nice: number): boolean;
  addrSlotSize: number;
  maxBatch: number;
}

const require = createRequire(import.meta.url);

function load(): UdpAddon {
  // dist/src/ingest/native.js and src/ingest/native.ts both sit below the
  // package root; find build/ from either place.
  const candidates = ['../../build/Release/partisci_udp.node', '../../../build/Release/partisci_udp.node'];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      return require(candidate) as UdpAddon;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`the UDP addon is not built (run npm install): ${String(lastError)}`);
}

export const udp: UdpAddon = load();

/** Bytes per sender address in udpRecv's addrText: [u8 length][text]. */
export const ADDR_SLOT_SIZE = udp.addrSlotSize;
/** Most datagrams one udpRecv/udpSend call moves. */
export const MAX_BATCH = udp.maxBatch;
