// Query parameters: one place that reads and validates them. A value that
// cannot be right gets 400 with a message naming the parameter; an empty
// value means "not given" (Go's FormValue, as the original used).

import { InvalidCursorError, InvalidParameterError } from '../errors.js';
import { MAX_FIELD_CHARS, MAX_LABEL_VALUE_CHARS } from '../ingest/limits.js';
import type { LabelPair } from '../store/label-filter.js';
import type { Page, VersionFilter } from '../store/reader.js';

/** The first value of a parameter; undefined when absent or empty. */
export function param(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  return v === null || v === '' ? undefined : v;
}

/** A stored field is at most 50 characters: a longer filter matches nothing. */
export function tooLong(v: string): boolean {
  return v.length > MAX_FIELD_CHARS * 2 || [...v].length > MAX_FIELD_CHARS;
}

export function intParam(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const v = param(q, name);
  if (v === undefined) return undefined;
  const n = /^-?\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidParameterError(name, `an integer ${min}-${max}`);
  return n;
}

export const MAX_LIMIT = 1_000_000;

export function pageParams(q: URLSearchParams): Page {
  const page: Page = {};
  const limit = intParam(q, 'limit', 1, MAX_LIMIT);
  if (limit !== undefined) page.limit = limit;
  const cursor = param(q, 'cursor');
  if (cursor !== undefined) {
    if (cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError();
    page.cursor = cursor;
  }
  return page;
}

const LABEL_PREFIX = 'label.';
const LABEL_NAME = /^[a-z0-9_.-]{1,32}$/;

/**
 * The `label.NAME=VALUE` filters of a list (all must match; an empty value
 * means not given). null when a value is longer than any stored one (no
 * match); a name no label can have is a 400.
 */
export function labelParams(q: URLSearchParams): LabelPair[] | null {
  const pairs: LabelPair[] = [];
  let none = false;
  for (const [key, value] of q) {
    if (!key.startsWith(LABEL_PREFIX)) continue;
    const name = key.slice(LABEL_PREFIX.length);
    if (!LABEL_NAME.test(name)) throw new InvalidParameterError(key, 'label.NAME with a NAME of 1-32 characters [a-z0-9_.-]');
    if (value === '') continue;
    if (value.length > MAX_LABEL_VALUE_CHARS * 2 || [...value].length > MAX_LABEL_VALUE_CHARS) none = true;
    pairs.push({ name, value });
  }
  return none ? null : pairs;
}

/** The filters of GET version/; null when a filter is longer than any stored value (no match). */
export function versionFilter(q: URLSearchParams): VersionFilter | null {
  const filter: VersionFilter = {};
  const labels = labelParams(q);
  if (labels === null) return null;
  if (labels.length > 0) filter.labels = labels;
  for (const [name, key] of [
    ['app_id', 'appId'],
    ['host', 'host'],
    ['ver', 'ver'],
  ] as const) {
    const v = param(q, name);
    if (v === undefined) continue;
    if (tooLong(v)) return null;
    filter[key] = v;
  }
  const status = param(q, 'status');
  if (status !== undefined) {
    if (status !== 'up' && status !== 'stale') throw new InvalidParameterError('status', '"up" or "stale"');
    filter.status = status;
  }
  const since = intParam(q, 'since', 0, 2 ** 32 - 1);
  if (since !== undefined) filter.since = since;
  return filter;
}
