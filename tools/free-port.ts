// A port free for both TCP and UDP (IPv4 and IPv6) right now, for tests and
// benchmarks that start servers. A race with another process is possible in
// principle; ports come from the kernel's ephemeral range. The kernel may
// hand a just-closed port out again at once, so a port this process was
// given before is never given again (a nats-server once got the same port
// for clients and routes, and could not start).

import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

const given = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((resolve) => srv.close(resolve));
    const sock = dgram.createSocket('udp6');
    const ok = await new Promise<boolean>((resolve) => {
      sock.once('error', () => resolve(false));
      sock.bind(port, '::', () => resolve(true));
    });
    sock.close();
    if (ok && !given.has(port)) {
      given.add(port);
      return port;
    }
  }
}
