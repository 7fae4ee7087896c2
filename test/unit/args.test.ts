// Reading command lines (src/cli/args.ts): node:util parseArgs after Go's
// spelling is turned into GNU's, flags in order, one-line UsageErrors.

import { describe, expect, test } from 'vitest';
import { goToGnu, readArgs, readValues, type FlagType } from '../../src/cli/args.js';
import { UsageError } from '../../src/errors.js';

const TYPES: Record<string, FlagType> = { port: 'string', data: 'string', danger: 'boolean', v: 'boolean' };

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no UsageError');
}

describe('goToGnu', () => {
  test.each([
    [['-port=7777'], ['--port=7777']],
    [
      ['-port', '7777'],
      ['--port', '7777'],
    ],
    [['-v'], ['--v']],
    [
      ['--port', '-1'],
      ['--port', '-1'],
    ],
    [
      ['-data', '-weird'],
      ['--data', '-weird'],
    ],
    [
      ['-danger', '-v'],
      ['--danger', '--v'],
    ],
    [['-'], ['-']],
    [['---port=1'], ['---port=1']],
    [['-1.0'], ['-1.0']],
  ])('%j -> %j', (argv, gnu) => {
    expect(goToGnu(argv, TYPES)).toEqual(gnu);
  });
});

describe('readArgs', () => {
  test('flags in order, both spellings, strings as given', () => {
    expect(readArgs(['-port=1', '--port', '2', '-danger', '--danger=false', '-v=1', '--data=a=b'], TYPES).flags).toEqual([
      { name: 'port', raw: '-port=1', value: '1' },
      { name: 'port', raw: '--port', value: '2' },
      { name: 'danger', raw: '-danger', value: true },
      { name: 'danger', raw: '--danger=false', value: false },
      { name: 'v', raw: '-v=1', value: true },
      { name: 'data', raw: '--data=a=b', value: 'a=b' },
    ]);
  });

  test('the value after a string flag is taken even when it starts with a dash', () => {
    expect(readArgs(['--port', '-1', '--data', '--danger'], TYPES).flags.map((f) => f.value)).toEqual(['-1', '--danger']);
  });

  test('positionals, when allowed, include what only looks like a flag, and what follows "--"', () => {
    expect(readArgs(['update', 'app', '-1.0', '--', '--port'], TYPES, { positionals: true }).positionals).toEqual(['update', 'app', '-1.0', '--port']);
  });

  test.each([
    [['--nope'], 'unknown flag "--nope" (see --help)'],
    [['-x=1'], 'unknown flag "-x=1" (see --help)'],
    [['-vh'], 'unknown flag "-vh" (see --help)'],
    [['serve'], 'unexpected argument "serve" (see --help)'],
    [['--'], 'unexpected argument "--" (see --help)'],
    [['---port=1'], 'unexpected argument "---port=1" (see --help)'],
    [['--port'], '--port needs a value'],
    [['-danger=yes'], '--danger takes no value or true/false (got "yes")'],
    [['-danger', 'false'], 'unexpected argument "false" (see --help)'],
    [['--nope=a\nb'], 'unknown flag "--nope=a\\nb" (see --help)'],
  ])('%j: %s', (argv, message) => {
    expect(usageError(() => readArgs(argv, TYPES))).toBe(message);
  });

  test('a retired flag says what replaces it', () => {
    expect(usageError(() => readArgs(['--port=1', '-sqlite=x.db'], TYPES, { retired: { sqlite: 'use --data' } }))).toBe('use --data');
  });

  test('each() sees the flags in order, so a bad value is reported before later mistakes', () => {
    const seen: string[] = [];
    const each = (f: { name: string }): void => {
      seen.push(f.name);
      if (f.name === 'danger') throw new UsageError('stop here');
    };
    expect(usageError(() => readArgs(['--port=1', '-danger', '--nope'], TYPES, { each }))).toBe('stop here');
    expect(seen).toEqual(['port', 'danger']);
  });

  test('readValues: the last value of each flag, typed', () => {
    const values = readValues(['--port=1', '-port=2', '-danger'], { port: 'string', danger: 'boolean', v: 'boolean' } as const);
    expect(values).toEqual({ port: '2', danger: true });
  });
});
