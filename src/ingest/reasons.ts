// Why an update was rejected. The numeric codes travel through shared
// counters (one counter per reason per thread); the names appear in
// /debug/vars and in error bodies.

export const Reason = {
  ok: 0,
  /** Not valid JSON: syntax error, truncation, trailing garbage. */
  bad_json: 1,
  /** Bytes that are not valid UTF-8, or JSON escapes of lone surrogates. */
  bad_utf8: 2,
  /** Valid JSON, but not an object (an array, a number, null...). */
  not_object: 3,
  /** app or ver missing, null or empty. */
  missing_field: 4,
  /** app, ver or host is not a string, or instance is not a number. */
  wrong_type: 5,
  /** app, ver or host longer than 50 characters, or a label value longer than 64. */
  too_long: 6,
  /** instance not an integer in 0-65535. */
  bad_instance: 7,
  /** Datagram larger than MAX_DATAGRAM_BYTES. */
  oversize: 8,
  /** Empty datagram or body. */
  empty: 9,
  /** labels is not an object of strings, or a name is not [a-z0-9_.-]{1,32}. */
  bad_labels: 10,
  /** More than 16 labels. */
  too_many_labels: 11,
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];
export type ReasonName = Exclude<keyof typeof Reason, 'ok'>;

/** Reason names indexed by code; index 0 (ok) is unused. */
export const REASON_NAMES: readonly ReasonName[] = Object.entries(Reason)
  .filter(([name]) => name !== 'ok')
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name as ReasonName);

/** One slot per code, so counters can be indexed by code directly. */
export const REASON_SLOTS = REASON_NAMES.length + 1;

export function reasonName(code: number): ReasonName {
  const name = REASON_NAMES[code - 1];
  if (name === undefined) throw new RangeError(`unknown reason code ${code}`);
  return name;
}

const MESSAGES: Record<ReasonName, string> = {
  bad_json: 'body is not valid JSON',
  bad_utf8: 'body is not valid UTF-8',
  not_object: 'body must be a JSON object',
  missing_field: 'value for app & ver must be specified',
  wrong_type: 'app, ver and host must be strings and instance a number',
  too_long: 'app, ver and host are limited to 50 characters, label values to 64',
  bad_instance: 'instance must be an integer 0-65535',
  oversize: 'update is too large',
  empty: 'body is empty',
  bad_labels: 'labels must be an object of names [a-z0-9_.-]{1,32} to strings',
  too_many_labels: 'an update carries at most 16 labels',
};

export function reasonMessage(code: number): string {
  return MESSAGES[reasonName(code)];
}
