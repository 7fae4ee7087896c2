// Reading a command line, the one way every command does it: node:util
// parseArgs, after turning the original Go server's spelling into GNU's.
//
//   --port 7777   --port=7777   -port=7777   -port 7777     the same flag
//   -danger   --danger=true   -danger=0                     booleans (no separate value)
//
// Both spellings are kept so existing service files and scripts keep
// working. The flags come back in order (a later one overrides an earlier
// one); each command checks the values itself. Every mistake is a
// UsageError whose message is one line naming the argument.

import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';

export type FlagType = 'string' | 'boolean';

export interface Flag {
  /** The flag's name as written after the dashes ('port', 'v'). */
  name: string;
  /** The argument as given, for messages ("-port=x"). */
  raw: string;
  /** Strings as given; booleans true/false. */
  value: string | boolean;
}

export interface ReadArgs {
  flags: Flag[];
  positionals: string[];
}

/** Looks like a flag: one or two dashes, then a letter. */
const FLAG_LIKE = /^--?[a-zA-Z]/;
/** Go's spelling: one dash before a name ("-port=7777", "-v"). */
const GO_STYLE = /^-([a-zA-Z][a-zA-Z0-9-]*(?:=.*)?)$/s;

/**
 * -name[=value] becomes --name[=value]; the value after a string flag is
 * left alone, even if it starts with a dash (--port -1 is then a bad port,
 * not an unknown flag).
 */
export function goToGnu(argv: readonly string[], types: Readonly<Record<string, FlagType>>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const gnu = GO_STYLE.test(arg) ? `-${arg}` : arg;
    out.push(gnu);
    const lone = /^--([^=]+)$/.exec(gnu)?.[1];
    if (lone !== undefined && types[lone] === 'string' && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

/**
 * Reads argv (without node and script). Positionals are refused unless
 * allowed: "unexpected argument". Arguments after "--" are positionals.
 */
export function readArgs(
  argv: readonly string[],
  types: Readonly<Record<string, FlagType>>,
  options: {
    positionals?: boolean;
    /** Flags that no longer exist, with what to say instead. */
    retired?: Readonly<Record<string, string>>;
    /** Called for each flag in order, as it is read: a value it refuses is reported before the mistakes after it. */
    each?: (flag: Flag) => void;
  } = {},
): ReadArgs {
  const args = goToGnu(argv, types);
  const { tokens } = parseArgs({
    args,
    options: Object.fromEntries(Object.entries(types).map(([name, type]) => [name, { type }])),
    // Unknown flags and booleans with values are reported here, in our words.
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags: Flag[] = [];
  const positionals: string[] = [];
  const take = (flag: Flag): void => {
    options.each?.(flag);
    flags.push(flag);
  };
  const positional = (raw: string): void => {
    if (options.positionals !== true) throw new UsageError(`unexpected argument ${JSON.stringify(raw)} (see --help)`);
    positionals.push(raw);
  };
  let lastIndex = -1;
  for (const token of tokens) {
    // "-1.0" comes back as three short options at one index: take it once.
    if (token.index === lastIndex) continue;
    lastIndex = token.index;
    const raw = argv[token.index]!;
    if (token.kind === 'positional') {
      positional(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') {
      if (options.positionals !== true) throw new UsageError(`unexpected argument ${JSON.stringify(raw)} (see --help)`);
      continue;
    }
    // "---port=1", "-1.0": not flags.
    if (!FLAG_LIKE.test(raw)) {
      positional(raw);
      continue;
    }
    const retired = options.retired?.[token.name];
    if (retired !== undefined) throw new UsageError(retired);
    const type = types[token.name];
    if (type === undefined) throw new UsageError(`unknown flag ${JSON.stringify(raw)} (see --help)`);
    const flag = `--${token.name}`;
    if (type === 'boolean') {
      const v = token.value;
      if (v === undefined || v === 'true' || v === '1') take({ name: token.name, raw, value: true });
      else if (v === 'false' || v === '0') take({ name: token.name, raw, value: false });
      else throw new UsageError(`${flag} takes no value or true/false (got ${JSON.stringify(v)})`);
      continue;
    }
    if (token.value === undefined) throw new UsageError(`${flag} needs a value`);
    take({ name: token.name, raw, value: token.value });
  }
  return { flags, positionals };
}

export type Values<T extends Readonly<Record<string, FlagType>>> = { -readonly [K in keyof T]?: T[K] extends 'boolean' ? boolean : string };

/** readArgs for commands without positionals that only need each flag's last value. */
export function readValues<const T extends Readonly<Record<string, FlagType>>>(argv: readonly string[], types: T): Values<T> {
  const values: Record<string, string | boolean> = {};
  for (const { name, value } of readArgs(argv, types).flags) values[name] = value;
  return values as Values<T>;
}
