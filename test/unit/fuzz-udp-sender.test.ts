import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, test } from 'vitest';
import { makeBadPacket } from '../../tools/fuzz/bad-packets.js';
import { Fleet } from '../../tools/fuzz/fleet.js';
import { Rng } from '../../tools/fuzz/prng.js';
import { SendTally } from '../../tools/fuzz/tally.js';
import { UdpBatchSender } from '../../tools/fuzz/udp-sender.js';

let receiver: dgram.Socket | undefined;
afterEach(() => receiver?.close());

async function listen(): Promise<{ port: number; received: { data: Buffer; port: number }[] }> {
  receiver = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const received: { data: Buffer; port: number }[] = [];
  receiver.on('message', (data, rinfo) => received.push({ data, port: rinfo.port }));
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  return { port: receiver.address().port, received };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('UDP batch sender', () => {
  test('sends every datagram intact, counting good and bad, from several source ports', async () => {
    const { port, received } = await listen();
    const tally = new SendTally();
    const sender = new UdpBatchSender({ kind: 'udp', ip: '127.0.0.1', family: 4, port, sockets: 4, sndbuf: 1 << 20 }, tally);
    const fleet = new Fleet({ seed: 1, hosts: 100, apps: 20, instances: 2, releaseEveryS: 60 });
    const good = Array.from({ length: 600 }, (_, n) => fleet.jsonAt(n, 0));
    const huge = makeBadPacket('huge_datagram', new Rng(1));
    const empty = makeBadPacket('empty_datagram');
    try {
      for (const json of good.slice(0, 300)) sender.addText(json);
      sender.addBytes(huge, 'huge_datagram');
      sender.addBytes(empty, 'empty_datagram');
      for (const json of good.slice(300)) sender.addText(json); // crosses the 256-datagram batch limit
      sender.flush();
    } finally {
      sender.close();
    }
    await until(() => received.length >= 602);
    expect(tally.sent).toBe(602);
    expect(tally.sentBad).toBe(2);
    expect(tally.sendErrors).toBe(0);
    expect(tally.result(0, 1).badByKind).toEqual({ huge_datagram: 1, empty_datagram: 1 });
    const texts = received.map((r) => r.data.toString('utf8'));
    expect(texts.filter((t) => t.startsWith('{')).length).toBe(601);
    expect(new Set(texts)).toEqual(new Set([...good, Buffer.from(huge).toString('utf8'), '']));
    expect(received.find((r) => r.data.length === huge.length)?.data.equals(huge)).toBe(true);
    expect(new Set(received.map((r) => r.port)).size).toBe(4);
  });
});
