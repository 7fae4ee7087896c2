// partiscid's command line: GNU (--port 7777, --port=7777) and Go-style
// (-port=7777, -danger, -trim=3600, -v) spellings, defaults, and one-line
// UsageError messages that name the flag.

import { availableParallelism } from 'node:os';
import { describe, expect, test } from 'vitest';
import { DEFAULTS, defaultNodeName, parseArgs, usage, type ServerConfig } from '../../src/config.js';
import { UsageError } from '../../src/errors.js';

// DEFAULTS.writeToken comes from the environment; pin it so tests don't depend on it.
const D: Readonly<ServerConfig> = { ...DEFAULTS, writeToken: '' };
const parse = (...argv: string[]): ServerConfig => parseArgs(argv, D);

function usageError(argv: string[]): string {
  try {
    parseArgs(argv, D);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).name).toBe('UsageError');
    return (err as Error).message;
  }
  throw new Error(`no UsageError for ${JSON.stringify(argv)}`);
}

describe('defaults', () => {
  test('the documented defaults', () => {
    expect({ ...DEFAULTS, writeToken: '' }).toEqual({
      port: 7777,
      listenIp: '',
      danger: false,
      trimSeconds: 0,
      staleSeconds: 90_000,
      historyDays: 30,
      verbose: false,
      dataDir: './data',
      writeToken: '',
      allow: '',
      workers: availableParallelism(),
      rcvbufBytes: 8 * 1024 * 1024,
      ringBytes: 8 * 1024 * 1024,
      sqlMemoryMiB: 512,
      sqlTimeoutSeconds: 5,
      sqlMaxRows: 100_000,
      sqlThreads: 1,
      cluster: '',
      node: defaultNodeName(),
      clusterReplicas: 3,
      clusterOutboxMb: 256,
      clusterStreamMb: 1024,
      clusterAckTimeout: 5,
      clusterSnapshotSeconds: 300,
      help: false,
    });
    expect(defaultNodeName()).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  test('no arguments: a copy of the defaults given', () => {
    const custom = { ...D, port: 9999 };
    const c = parseArgs([], custom);
    expect(c).toEqual(custom);
    expect(c).not.toBe(custom);
  });

  test('parsing never changes the defaults object', () => {
    const before = { ...DEFAULTS };
    parseArgs(['--port', '1234', '-danger', '-v'], DEFAULTS);
    expect(DEFAULTS).toEqual(before);
  });
});

describe('spellings', () => {
  test.each([[['--port', '7778']], [['--port=7778']], [['-port=7778']], [['-port', '7778']]])('%j sets port 7778', (argv) => {
    expect(parse(...argv).port).toBe(7778);
  });

  test('Go-style flags of the original server', () => {
    expect(parse('-listenip=127.0.0.1', '-danger', '-trim=3600', '-v')).toEqual({
      ...D,
      listenIp: '127.0.0.1',
      danger: true,
      trimSeconds: 3600,
      verbose: true,
    });
  });

  test.each([
    ['-danger', true],
    ['-danger=true', true],
    ['--danger=1', true],
    ['-danger=false', false],
    ['--danger=0', false],
  ])('%s -> danger %s', (arg, value) => {
    expect(parseArgs([arg], { ...D, danger: !value }).danger).toBe(value);
  });

  test('a boolean takes no separate value (like Go flags): "false" is an unexpected argument', () => {
    expect(usageError(['-danger', 'false'])).toBe('unexpected argument "false" (see --help)');
  });

  test.each([
    [['--listenip', '::1'], '::1'],
    [['--listenip=2001:db8::7'], '2001:db8::7'],
    [['--listenip=::ffff:192.0.2.1'], '::ffff:192.0.2.1'],
    [['--listenip='], ''],
  ])('%j -> listenIp %j', (argv, ip) => {
    expect(parse(...argv).listenIp).toBe(ip);
  });

  test('every other option', () => {
    expect(
      parse(
        '--stale',
        '60',
        '--history-days=0',
        '--verbose',
        '--data',
        '/var/lib/partisci',
        '--write-token=a=b',
        '--allow',
        '10.0.0.0/8, 192.0.2.7',
        '--workers=3',
        '--rcvbuf',
        '65536',
        '--ring-bytes=1048576',
        '--sql-memory',
        '0',
        '--sql-timeout=30',
        '--sql-max-rows',
        '10',
        '--sql-threads',
        '2',
        '-h',
      ),
    ).toEqual({
      ...D,
      staleSeconds: 60,
      historyDays: 0,
      verbose: true,
      dataDir: '/var/lib/partisci',
      writeToken: 'a=b', // only the first "=" separates name and value
      allow: '10.0.0.0/8, 192.0.2.7',
      workers: 3,
      rcvbufBytes: 65536,
      ringBytes: 1048576,
      sqlMemoryMiB: 0,
      sqlTimeoutSeconds: 30,
      sqlMaxRows: 10,
      sqlThreads: 2,
      help: true,
    });
  });

  test('a later flag overrides an earlier one', () => {
    expect(parse('--port', '1', '-port=2').port).toBe(2);
    expect(parse('-v', '-v=false').verbose).toBe(false);
  });

  test('--help and -h', () => {
    expect(parse('--help').help).toBe(true);
    expect(parse('-h').help).toBe(true);
  });
});

describe('errors', () => {
  test.each([
    [['--port', 'x'], '--port must be an integer 1-65535 (got "x")'],
    [['-port=x'], '--port must be an integer 1-65535 (got "x")'],
    [['--port=0'], '--port must be an integer 1-65535 (got "0")'],
    [['--port=65536'], '--port must be an integer 1-65535 (got "65536")'],
    [['--port', '-1'], '--port must be an integer 1-65535 (got "-1")'],
    [['--port=1.5'], '--port must be an integer 1-65535 (got "1.5")'],
    [['-port='], '--port must be an integer 1-65535 (got "")'],
    [['-trim=-5'], '--trim must be an integer 0-315360000 (got "-5")'],
    [['--workers', '0'], '--workers must be an integer 1-64 (got "0")'],
    [['--ring-bytes=100000'], '--ring-bytes must be a power of two 65536-1073741824 (got "100000")'],
    [['--ring-bytes=1024'], '--ring-bytes must be a power of two 65536-1073741824 (got "1024")'],
    [['-danger=yes'], '--danger takes no value or true/false (got "yes")'],
    [['--port'], '--port needs a value'],
    [['--data='], '--data must not be empty'],
    [['-listenip=localhost'], '--listenip must be an IP address (got "localhost")'],
    [['-listenip=1.2.3.256'], '--listenip must be an IP address (got "1.2.3.256")'],
    [['--allow', 'nope'], '--allow: "nope" is not an IP address or CIDR block'],
    [['--allow=10.0.0.0/33'], '--allow: "10.0.0.0/33" has a prefix length outside 0-32'],
    [['--allow= , '], '--allow: no network given'],
    [['--nope'], 'unknown flag "--nope" (see --help)'],
    [['-x=1'], 'unknown flag "-x=1" (see --help)'],
    [['serve'], 'unexpected argument "serve" (see --help)'],
    [['---port=1'], 'unexpected argument "---port=1" (see --help)'],
  ])('%j -> %s', (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });

  test.each([['-sqlite=/var/lib/partisci.db'], ['--sqlite', 'x.db'], ['-sqlite']])('%s is refused with a pointer to --data', (...argv) => {
    expect(usageError(argv)).toBe('-sqlite is replaced by --data DIR (an LMDB folder); see --help');
  });

  test('the error comes from the first bad argument', () => {
    expect(usageError(['--port=1', '--workers=0', '--nope'])).toBe('--workers must be an integer 1-64 (got "0")');
  });

  // The message is printed as one line; a value with a line break must not break it.
  test.each([
    [['--port=1\n2'], '--port'],
    [['--nope=a\nb'], '--nope'],
  ])('messages stay on one line: %j', (argv, flag) => {
    const message = usageError(argv);
    expect(message).toContain(flag);
    expect(message).not.toMatch(/[\r\n]/);
  });

  // "must be an IP address": strings of hex digits and colons that are no IPv6 address.
  test.each([':::', '1:2:3:4:5:6:7:8:9', '12345::1', '1::2::3'])('--listenip=%s is not an IP address', (ip) => {
    expect(usageError([`--listenip=${ip}`])).toBe(`--listenip must be an IP address (got "${ip}")`);
  });
});

describe('cluster flags', () => {
  test('--cluster takes a list of NATS URLs, --node a name; both spellings', () => {
    expect(parse('--cluster', 'nats://a:4222, nats://b.example:4223', '--node', 'web-1_x')).toMatchObject({
      cluster: 'nats://a:4222,nats://b.example:4223',
      node: 'web-1_x',
    });
    expect(parse('-cluster=nats://10.0.0.1:4222', '-node=n2', '-cluster-replicas=1', '-cluster-ack-timeout=2')).toMatchObject({
      cluster: 'nats://10.0.0.1:4222',
      node: 'n2',
      clusterReplicas: 1,
      clusterAckTimeout: 2,
    });
    expect(parse('--cluster-outbox-mb', '64', '--cluster-stream-mb', '4096', '--cluster-snapshot-seconds', '0')).toMatchObject({
      clusterOutboxMb: 64,
      clusterStreamMb: 4096,
      clusterSnapshotSeconds: 0,
    });
  });

  test.each([
    [['--cluster', 'http://a:4222'], '--cluster: "http://a:4222" is not a NATS server URL (nats://host:port)'],
    [['--cluster', ','], '--cluster must list NATS servers, e.g. nats://host:4222'],
    [['--node', 'a.b'], '--node must be 1-64 letters, digits, _ or - (got "a.b")'],
    [['--node', 'x'.repeat(65)], `--node must be 1-64 letters, digits, _ or - (got "${'x'.repeat(65)}")`],
    [['--cluster-replicas', '0'], '--cluster-replicas must be an integer 1-5 (got "0")'],
  ])('%j: %s', (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });
});

describe('usage()', () => {
  test('lists the flags with their arguments, GNU and Go spellings', () => {
    const text = usage();
    expect(text.split('\n').slice(0, 3)).toEqual(['Usage: partiscid [options]', '', 'Options (GNU --flag value or Go-style -flag=value):']);
    for (const line of [
      '--port N',
      '--listenip IP',
      '--danger',
      '--data DIR',
      '--write-token TOKEN',
      '--allow CIDR,...',
      '--cluster URL,...',
      '--node NAME',
      '-v ',
      '-h ',
    ]) {
      expect(text).toContain(line);
    }
  });

  test('help starts in one column, and after a flag longer than the column a space still comes first', () => {
    const lines = usage().split('\n').slice(3);
    expect(lines.find((l) => l.startsWith('  --port '))).toBe(`${'  --port N'.padEnd(26)}UDP and HTTP port (default 7777)`);
    expect(lines.find((l) => l.startsWith('  --cluster-snapshot-seconds '))).toBe(
      '  --cluster-snapshot-seconds N how often a snapshot is written for nodes that catch up (default 300; 0 = never)',
    );
  });
});
