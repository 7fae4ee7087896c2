import { describe, expect, test } from 'vitest';
import { BAD_KINDS } from '../../tools/fuzz/bad-packets.js';
import { UsageError } from '../../src/errors.js';
import { DEFAULTS, parseOptions, USAGE } from '../../tools/fuzz/options.js';

function errorOf(argv: string[]): string {
  try {
    parseOptions(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('options', () => {
  test('defaults: 1000/s for 10 s of UDP to localhost:7777, fleet of 10,000 x 20 x 4', () => {
    expect(parseOptions([])).toEqual({ ...DEFAULTS, badKinds: [...BAD_KINDS] });
    expect(DEFAULTS).toMatchObject({
      server: 'localhost',
      port: 7777,
      rate: 1000,
      durationS: 10,
      count: null,
      hosts: 10_000,
      apps: 20,
      instances: 4,
      connections: 32,
      sockets: 64,
      workers: 1,
      seed: 1,
    });
  });

  test('--rate max and --rate 0 both mean as fast as possible', () => {
    expect(parseOptions(['--rate', 'max'])!.rate).toBe(0);
    expect(parseOptions(['--rate=0'])!.rate).toBe(0);
    expect(parseOptions(['--rate', '50000'])!.rate).toBe(50_000);
  });

  test('--count replaces the default duration; both may be given', () => {
    expect(parseOptions(['--count', '500'])).toMatchObject({ count: 500, durationS: null });
    expect(parseOptions(['--duration', '2.5', '--count', '500'])).toMatchObject({ count: 500, durationS: 2.5 });
  });

  test('every flag', () => {
    const options = parseOptions([
      '--server',
      'example.org',
      '--port',
      '9000',
      '--rate',
      '200',
      '--duration',
      '3',
      '--hosts',
      '5',
      '--apps',
      '2',
      '--instances',
      '1',
      '--release-every',
      '7.5',
      '--http',
      '--connections',
      '4',
      '--bad',
      '0.25',
      '--bad-kinds',
      'empty_datagram, huge_datagram',
      '--burst',
      '10',
      '--workers',
      '3',
      '--seed',
      '42',
      '--check',
      '--json',
      '--labels',
    ]);
    expect(options).toEqual({
      server: 'example.org',
      port: 9000,
      rate: 200,
      durationS: 3,
      count: null,
      hosts: 5,
      apps: 2,
      instances: 1,
      releaseEveryS: 7.5,
      labels: true,
      http: true,
      connections: 4,
      sockets: 64,
      bad: 0.25,
      badKinds: ['empty_datagram', 'huge_datagram'],
      burst: 10,
      workers: 3,
      seed: 42,
      check: true,
      json: true,
      waves: null,
      wavePauseS: 1,
    });
  });

  test('--help', () => {
    expect(parseOptions(['--help'])).toBeNull();
    expect(parseOptions(['-h'])).toBeNull();
    expect(USAGE).toContain('--rate N|max');
  });

  test.each([
    [['--rate', 'fast'], '--rate must be a positive integer or "max"'],
    [['--rate', '1.5'], '--rate must be a positive integer or "max"'],
    [['--rate=-5'], '--rate must be a positive integer or "max"'],
    [['--port', '0'], '--port must be an integer from 1 to 65535'],
    [['--port', '70000'], '--port must be an integer from 1 to 65535'],
    [['--duration', '0'], '--duration must be a positive number of seconds'],
    [['--duration', 'ten'], '--duration must be a positive number of seconds'],
    [['--count', '0'], '--count must be a positive integer'],
    [['--hosts', '0'], '--hosts must be an integer from 1 to 10000000'],
    [['--instances', '65537'], '--instances must be an integer from 1 to 65536'],
    [['--bad', '1.5'], '--bad must be a fraction from 0 to 1'],
    [['--bad=-0.1'], '--bad must be a fraction from 0 to 1'],
    [['--bad', '0.1', '--bad-kinds', 'typo'], '--bad-kinds: unknown kind "typo" (known: ' + BAD_KINDS.join(', ') + ')'],
    [['--bad-kinds', 'empty_datagram'], '--bad-kinds needs --bad greater than 0'],
    [['--workers', '0'], '--workers must be an integer from 1 to 64'],
    [['--seed', '-1'], '--seed must be a non-negative integer'],
    [['--burst', '10', '--rate', 'max'], '--burst needs a paced --rate (not max)'],
    [['--connections', '8'], '--connections applies only with --http'],
    [['--http', '--sockets', '8'], '--sockets applies only to UDP (not with --http)'],
    [['--hosts', '10000000', '--apps', '100000', '--instances', '65536'], '--hosts x --apps x --instances must be at most 2^52'],
    [['--server', ''], '--server must not be empty'],
    [['--frobnicate'], 'unknown flag "--frobnicate" (see --help)'],
    [['extra'], 'unexpected argument "extra" (see --help)'],
    [['--rate'], '--rate needs a value'],
    [['--json=maybe'], '--json takes no value or true/false (got "maybe")'],
  ])('%j is refused: %s', (argv, message) => {
    expect(errorOf(argv)).toBe(message);
  });
});
