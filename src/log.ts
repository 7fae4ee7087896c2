// The log: one line per event on stderr, with a level and key=value fields.
//
//   2026-05-01 12:00:00.123 INFO  listening port=7777 address="all addresses"
//   2026-05-01 12:00:03.456 DEBUG udp update rejected reason=bad_json from=10.1.2.3 bytes=12 sample="{\"app\":" thread=ingest-0
//
// Levels: debug < info < warn < error. partiscid logs info and above, and
// debug too with -v. Messages are fixed text (what happened); what varies
// goes in the fields, so lines can be grepped and parsed. Multi-line text
// (a stack trace) is escaped onto the one line.
//
// Any thread can log. On the main thread lines go through process.stderr;
// a thread without an event loop (ingest workers, the writer) writes them
// synchronously (stderrSync) and takes its level from shared memory, see
// src/workers/thread-log.ts:
//
//   const log = threadLogger(control, 'writer');
//   if (log.enabled('debug')) log.debug('commit', { instances, history, ms });
//
// enabled() first when building the fields costs something: a disabled
// call returns at once, but its arguments are built anyway.

import { writeSync } from 'node:fs';

export const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type Level = keyof typeof LEVELS;

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** Would a line at this level be written? */
  enabled(level: Level): boolean;
  /** A logger whose lines also carry these fields (after the line's own). */
  child(fields: Fields): Logger;
}

export interface LoggerOptions {
  /** The lowest level written (default info); a function is asked at every call. */
  level?: Level | (() => Level);
  /** Writes one line (with its newline). Default: process.stderr. */
  write?: (line: string) => void;
  /** Fields every line carries. */
  fields?: Fields;
  now?: () => Date;
}

const LABELS: Record<Level, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' };

/** Writes to fd 2 at once; for threads that run no event loop. A line that cannot be written (a full pipe) is dropped. */
export function stderrSync(line: string): void {
  try {
    writeSync(2, line);
  } catch {
    // never let logging take a thread down
  }
}

const stderrAsync = (line: string): void => {
  process.stderr.write(line);
};

/** Text that needs no quotes in a field value: printable ASCII but for '"', '=' and '\\'. */
const BARE = /^[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+$/;

function formatValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === null || v === undefined) return String(v);
  if (typeof v === 'string') return BARE.test(v) ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.stack ?? v.message);
  try {
    return JSON.stringify(JSON.stringify(v));
  } catch {
    return JSON.stringify(String(v));
  }
}

/** One log line: time, level, message, fields; never more than one line. */
export function formatLine(time: Date, level: Level, message: string, fields: Fields | undefined, bound: Fields | undefined): string {
  let line = `${time.toISOString().replace('T', ' ').slice(0, 23)} ${LABELS[level]} ${message.replace(/\r?\n/g, '\\n')}`;
  for (const f of [fields, bound]) {
    if (f === undefined) continue;
    for (const key in f) if (f[key] !== undefined) line += ` ${key}=${formatValue(f[key])}`;
  }
  return `${line}\n`;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const threshold: () => number = typeof level === 'function' ? () => LEVELS[level()] : () => LEVELS[level];
  const write = options.write ?? stderrAsync;
  const now = options.now ?? (() => new Date());
  const make = (bound: Fields | undefined): Logger => {
    const at =
      (l: Level) =>
      (message: string, fields?: Fields): void => {
        if (LEVELS[l] >= threshold()) write(formatLine(now(), l, message, fields, bound));
      };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      enabled: (l) => LEVELS[l] >= threshold(),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make(options.fields);
}

/** The start of a datagram or body as text, for a log line (invalid UTF-8 shows as U+FFFD). */
export function sampleOf(bytes: Uint8Array, start = 0, end = bytes.length, max = 64): string {
  const stop = Math.min(end, start + max);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, stop - start).toString('utf8');
  return stop < end ? `${text}…` : text;
}

/** A logger that writes nothing (tests, tools). */
export const silentLogger: Logger = createLogger({ write: () => undefined });

/**
 * At most one line per key per interval: for events that can come by the
 * thousand (a flood of malformed datagrams). take() says whether to write
 * this one, and how many of the same key were left out since the last.
 */
export class RateLimiter {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #next = new Map<string, number>();
  readonly #skipped = new Map<string, number>();

  constructor(intervalMs = 1000, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** null: skip this one (it is counted); otherwise, the number skipped since the last line of this key. */
  take(key: string): number | null {
    const t = this.#now();
    if (t < (this.#next.get(key) ?? 0)) {
      this.#skipped.set(key, (this.#skipped.get(key) ?? 0) + 1);
      return null;
    }
    this.#next.set(key, t + this.#intervalMs);
    const skipped = this.#skipped.get(key) ?? 0;
    this.#skipped.delete(key);
    return skipped;
  }
}
