// The UDP sockets of the ingest workers: one per worker, all bound to the
// same port with SO_REUSEPORT (the kernel spreads senders over them by a
// hash of their address and port). Opened on the main thread, so a port in
// use fails the start at once; each worker gets its socket's descriptor.

import { udp, type OpenedSocket } from '../ingest/native.js';

export interface SocketOptions {
  listenIp: string;
  port: number;
  count: number;
  rcvbufBytes: number;
  /** A socket wakes from recvmmsg at least this often to notice a stop request. */
  recvTimeoutMs: number;
}

export function openSockets(o: SocketOptions): OpenedSocket[] {
  // SO_REUSEPORT lets any process of the same user join the port, so a
  // second partiscid would silently share it: first bind without it, which
  // fails if anyone holds the port.
  if (o.port !== 0) udp.udpClose(udp.udpOpen(o.listenIp, o.port, {}).fd);
  const sockets: OpenedSocket[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const port = i === 0 ? o.port : sockets[0]!.port;
      sockets.push(udp.udpOpen(o.listenIp, port, { reusePort: true, rcvbuf: o.rcvbufBytes, recvTimeoutMs: o.recvTimeoutMs }));
    }
  } catch (err) {
    closeSockets(sockets);
    throw err;
  }
  return sockets;
}

export function closeSockets(sockets: readonly OpenedSocket[]): void {
  for (const s of sockets) udp.udpClose(s.fd);
}
