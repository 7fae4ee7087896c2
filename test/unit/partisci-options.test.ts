// The partisci command's arguments (src/cli/partisci-options.ts).

import { describe, expect, test } from 'vitest';
import { parseOptions, toUpdate } from '../../src/cli/partisci-options.js';
import { UsageError } from '../../src/errors.js';

const defaults = { command: undefined, args: [], server: 'localhost', port: 7777, http: false, json: false, help: false, stale: false, labels: [] };

describe('parseOptions', () => {
  test('nothing: no command, the defaults', () => {
    expect(parseOptions([])).toEqual(defaults);
  });

  test('the command, its arguments and the flags, wherever the flags are', () => {
    expect(parseOptions(['update', 'Demo App', '--http', '1.0', '--port=8000', 'host1', '-server', '::1', '3'])).toEqual({
      ...defaults,
      command: 'update',
      args: ['Demo App', '1.0', 'host1', '3'],
      http: true,
      port: 8000,
      server: '::1',
    });
  });

  test('query flags', () => {
    expect(parseOptions(['versions', '--app', 'a', '--host=h', '-ver=1', '--stale', '--json'])).toMatchObject({
      command: 'versions',
      app: 'a',
      host: 'h',
      ver: '1',
      stale: true,
      json: true,
    });
    expect(parseOptions(['rollout', '--app', 'a', '--since', '100', '--step', '60'])).toMatchObject({ since: '100', step: '60' });
  });

  test('-h and --help', () => {
    expect(parseOptions(['-h']).help).toBe(true);
    expect(parseOptions(['apps', '--help']).help).toBe(true);
  });

  test('a version that starts with a dash is an argument, not a flag', () => {
    expect(parseOptions(['update', 'a', '-1.0']).args).toEqual(['a', '-1.0']);
  });

  test.each([
    [['--port', 'x'], '--port must be an integer 1-65535 (got "x")'],
    [['--port=0'], '--port must be an integer 1-65535 (got "0")'],
    [['--bogus'], 'unknown flag "--bogus" (see --help)'],
    [['--app'], '--app needs a value'],
    [['--json=maybe'], '--json takes no value or true/false (got "maybe")'],
  ])('%j: %s', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(new UsageError(message));
  });
});

describe('toUpdate', () => {
  test.each([
    [['app', '1.0'], { app: 'app', ver: '1.0' }],
    [['app', '1.0', '3'], { app: 'app', ver: '1.0', instance: 3 }],
    [['app', '1.0', 'h', '3'], { app: 'app', ver: '1.0', host: 'h', instance: 3 }],
  ])('%j', (args, update) => {
    expect(toUpdate(args)).toEqual(update);
  });

  test.each([
    [['app'], 'update needs APP VERSION [[HOST] INSTANCE]'],
    [['a', '1', 'h', '3', 'x'], 'update needs APP VERSION [[HOST] INSTANCE]'],
    [['a', '1', 'h', 'notanumber'], 'INSTANCE must be an integer 0-65535 (got "notanumber")'],
    [['a', '1', '65536'], 'INSTANCE must be an integer 0-65535 (got "65536")'],
  ])('%j: %s', (args, message) => {
    expect(() => toUpdate(args)).toThrow(new UsageError(message));
  });
});

describe('--label', () => {
  test('repeatable NAME=VALUE, in order; the value may hold "="', () => {
    expect(parseOptions(['update', 'a', '1', '--label', 'env=prod', '--label=note=a=b']).labels).toEqual([
      ['env', 'prod'],
      ['note', 'a=b'],
    ]);
  });

  test.each(['env', 'Env=prod', '=x', `${'n'.repeat(33)}=v`])('%j is a usage error', (arg) => {
    expect(() => parseOptions(['versions', '--label', arg])).toThrow(/^--label must be NAME=VALUE with a NAME of 1-32 characters \[a-z0-9_.-\]/);
  });
});
