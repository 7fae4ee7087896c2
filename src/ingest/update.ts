// Parsing and validation of one update: `{"app", "ver", "host", "instance",
// "labels"}` as UTF-8 JSON, from a UDP datagram or an HTTP body.
//
// Two paths give the same answers. The fast path scans the bytes once, for
// the shape every client sends (a flat object, strings without escapes,
// an integer instance), validating UTF-8 and counting characters as it
// goes, and creates no JS strings. Anything else (escapes, unknown keys,
// odd numbers, syntax errors) goes to the exact path: a UTF-8 check,
// JSON.parse and checks on the resulting values.
//
// The result is a set of byte ranges (ParsedUpdate), so the record encoder
// can copy fields straight from the datagram.
//
// Labels come out sorted by name, so a label set sent in another order is
// the same set (the same stored bytes, the same content fingerprint: a
// repeat, not a change). Any label the fast path is not sure of (escapes,
// a bad name, too many, duplicates) goes to the exact path, which alone
// names label rejections.

import { appIdOf } from './app-id.js';
import { MAX_FIELD_CHARS, MAX_INSTANCE, MAX_LABELS, MAX_LABEL_NAME, MAX_LABEL_VALUE_CHARS } from './limits.js';
import { Reason, type ReasonCode } from './reasons.js';

/**
 * Field ranges of a valid update. `json*` ranges hold a field as JSON
 * string content (escaped, without quotes); `raw*` ranges hold its decoded
 * UTF-8 bytes. Both lie in `buf`. A host range of -1 means "no host given".
 */
export class ParsedUpdate {
  buf: Uint8Array = EMPTY;
  appJsonStart = 0;
  appJsonEnd = 0;
  appRawStart = 0;
  appRawEnd = 0;
  verJsonStart = 0;
  verJsonEnd = 0;
  verRawStart = 0;
  verRawEnd = 0;
  hostJsonStart = -1;
  hostJsonEnd = -1;
  hostRawStart = -1;
  hostRawEnd = -1;
  instance = 0;
  /** Every byte of app is ASCII, so app_id can be computed bytewise. */
  appAscii = true;
  /** The decoded app, when the exact path produced it (else null). */
  appText: string | null = null;
  /** Labels given (0-16). */
  labelCount = 0;
  /**
   * Per label, sorted by name: [name start, name end, value start, value
   * end] in `buf`; the value as JSON string content.
   */
  readonly labels = new Int32Array(4 * MAX_LABELS);

  /** app_id as a string (allocates; for tests and slow paths). */
  appId(): string {
    return appIdOf(this.appText ?? utf8.decode(this.buf.subarray(this.appRawStart, this.appRawEnd)));
  }
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

// Fast-path key identification by length and bytes: "app", "ver", "host",
// "instance", "labels".
const KEY_APP = 1;
const KEY_VER = 2;
const KEY_HOST = 3;
const KEY_INSTANCE = 4;
const KEY_LABELS = 5;

/** Bytes allowed in a label name: [a-z0-9_.-]. */
const LABEL_NAME_BYTE = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789_.-') LABEL_NAME_BYTE[c.charCodeAt(0)] = 1;
const LABEL_NAME = /^[a-z0-9_.-]{1,32}$/;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Outcome of the fast scan: a reason, or "let the exact path decide". */
const FALLBACK = -1;

/**
 * Parses and validates an update in src[start, end). Returns Reason.ok and
 * fills `out`, or a rejection reason. Never throws on any input.
 */
export function parseUpdate(src: Uint8Array, start: number, end: number, out: ParsedUpdate): ReasonCode {
  if (end <= start) return Reason.empty;
  const fast = scanFast(src, start, end, out);
  if (fast !== FALLBACK) return fast as ReasonCode;
  return parseExact(src, start, end, out);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

// Scratch for the fast path's string scanner: where the string ended and
// how many characters it held.
let strEnd = 0;
let strChars = 0;
let strAscii = true;

/**
 * Scans a JSON string whose opening quote is at i-1. Returns the index of
 * the closing quote, or FALLBACK for escapes and control characters, or
 * -2 for invalid UTF-8.
 */
function scanString(src: Uint8Array, i: number, end: number): number {
  let chars = 0;
  let ascii = true;
  while (i < end) {
    const c = src[i]!;
    if (c === QUOTE) {
      strEnd = i;
      strChars = chars;
      strAscii = ascii;
      return i;
    }
    if (c === BACKSLASH || c < 0x20) return FALLBACK;
    if (c < 0x80) {
      i++;
    } else {
      ascii = false;
      const n = utf8SequenceLength(src, i, end);
      if (n === 0) return -2;
      i += n;
    }
    chars++;
  }
  return FALLBACK; // unterminated: a syntax error, which the exact path names
}

/** Length of the valid UTF-8 sequence starting at src[i] (a byte >= 0x80), or 0. */
function utf8SequenceLength(src: Uint8Array, i: number, end: number): number {
  const c = src[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const b = i + k < end ? src[i + k]! : -1;
    return b >= lo && b <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // no surrogates
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

function keyAt(src: Uint8Array, s: number, e: number): number {
  const len = e - s;
  if (len === 3) {
    if (src[s] === 0x61 && src[s + 1] === 0x70 && src[s + 2] === 0x70) return KEY_APP;
    if (src[s] === 0x76 && src[s + 1] === 0x65 && src[s + 2] === 0x72) return KEY_VER;
  } else if (len === 4) {
    if (src[s] === 0x68 && src[s + 1] === 0x6f && src[s + 2] === 0x73 && src[s + 3] === 0x74) return KEY_HOST;
  } else if (len === 6) {
    if (src[s] === 0x6c && src[s + 1] === 0x61 && src[s + 2] === 0x62 && src[s + 3] === 0x65 && src[s + 4] === 0x6c && src[s + 5] === 0x73) return KEY_LABELS;
  } else if (len === 8) {
    if (
      src[s] === 0x69 &&
      src[s + 1] === 0x6e &&
      src[s + 2] === 0x73 &&
      src[s + 3] === 0x74 &&
      src[s + 4] === 0x61 &&
      src[s + 5] === 0x6e &&
      src[s + 6] === 0x63 &&
      src[s + 7] === 0x65
    )
      return KEY_INSTANCE;
  }
  return 0;
}

function scanFast(src: Uint8Array, start: number, end: number, out: ParsedUpdate): number {
  let i = start;
  while (i < end && isSpace(src[i]!)) i++;
  if (i >= end || src[i] !== 0x7b) return FALLBACK;
  i++;
  let seen = 0; // bit per known key, to hand duplicates to JSON.parse (last wins)
  let appS = -1,
    appE = -1,
    appChars = 0,
    appAscii = true;
  let verS = -1,
    verE = -1,
    verChars = 0;
  let hostS = -1,
    hostE = -1,
    hostChars = 0;
  let instance = 0;
  let first = true;
  out.labelCount = 0;
  for (;;) {
    while (i < end && isSpace(src[i]!)) i++;
    if (i >= end) return FALLBACK;
    if (src[i] === 0x7d && first) {
      i++;
      break;
    }
    if (src[i] !== QUOTE) return FALLBACK;
    const keyStart = i + 1;
    const keyEndIdx = scanString(src, keyStart, end);
    if (keyEndIdx < 0) return keyEndIdx === -2 ? Reason.bad_utf8 : FALLBACK;
    const key = keyAt(src, keyStart, keyEndIdx);
    if (key === 0 || seen & (1 << key)) return FALLBACK; // unknown or repeated key
    seen |= 1 << key;
    i = keyEndIdx + 1;
    while (i < end && isSpace(src[i]!)) i++;
    if (i >= end || src[i] !== 0x3a) return FALLBACK;
    i++;
    while (i < end && isSpace(src[i]!)) i++;
    if (i >= end) return FALLBACK;
    if (key === KEY_INSTANCE) {
      // Plain non-negative integer without leading zeros; anything else
      // (negative, fractions, exponents, null, strings) takes the exact path.
      const c0 = src[i]!;
      if (c0 < 0x30 || c0 > 0x39) return FALLBACK;
      let v = 0;
      let digits = 0;
      while (i < end && src[i]! >= 0x30 && src[i]! <= 0x39) {
        v = v * 10 + (src[i]! - 0x30);
        digits++;
        i++;
        if (digits > 6) return FALLBACK;
      }
      if (digits > 1 && c0 === 0x30) return FALLBACK;
      if (i < end && (src[i] === 0x2e || src[i] === 0x65 || src[i] === 0x45)) return FALLBACK;
      instance = v;
    } else if (key === KEY_LABELS) {
      i = scanLabels(src, i, end, out);
      if (i < 0) return i === -2 ? Reason.bad_utf8 : FALLBACK;
    } else {
      if (src[i] !== QUOTE) return FALLBACK;
      const s = i + 1;
      const e = scanString(src, s, end);
      if (e < 0) return e === -2 ? Reason.bad_utf8 : FALLBACK;
      if (key === KEY_APP) {
        appS = s;
        appE = e;
        appChars = strChars;
        appAscii = strAscii;
      } else if (key === KEY_VER) {
        verS = s;
        verE = e;
        verChars = strChars;
      } else {
        hostS = s;
        hostE = e;
        hostChars = strChars;
      }
      i = strEnd + 1;
    }
    first = false;
    while (i < end && isSpace(src[i]!)) i++;
    if (i >= end) return FALLBACK;
    if (src[i] === 0x2c) {
      i++;
      continue;
    }
    if (src[i] === 0x7d) {
      i++;
      break;
    }
    return FALLBACK;
  }
  while (i < end && isSpace(src[i]!)) i++;
  if (i !== end) return FALLBACK; // trailing bytes: let the exact path classify them

  // The same checks, in the same order, as checkFields() on the exact path.
  if (appS < 0 || appE === appS || verS < 0 || verE === verS) return Reason.missing_field;
  if (instance > MAX_INSTANCE) return Reason.bad_instance;
  if (appChars > MAX_FIELD_CHARS || verChars > MAX_FIELD_CHARS || hostChars > MAX_FIELD_CHARS) return Reason.too_long;

  out.buf = src;
  out.appJsonStart = out.appRawStart = appS;
  out.appJsonEnd = out.appRawEnd = appE;
  out.verJsonStart = out.verRawStart = verS;
  out.verJsonEnd = out.verRawEnd = verE;
  if (hostS < 0 || hostE === hostS) {
    out.hostJsonStart = out.hostJsonEnd = out.hostRawStart = out.hostRawEnd = -1;
  } else {
    out.hostJsonStart = out.hostRawStart = hostS;
    out.hostJsonEnd = out.hostRawEnd = hostE;
  }
  out.instance = instance;
  out.appAscii = appAscii;
  out.appText = null;
  return Reason.ok;
}

/** Compares label names a[as, ae) and b[bs, be) bytewise: <0, 0, >0. */
function compareNames(buf: Uint8Array, as: number, ae: number, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let k = 0; k < n; k++) {
    const d = buf[as + k]! - buf[bs + k]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

/**
 * Inserts a label into out.labels, keeping them sorted by name. Returns
 * false for a name already there (the exact path decides: last one wins).
 */
function insertLabel(out: ParsedUpdate, buf: Uint8Array, ns: number, ne: number, vs: number, ve: number): boolean {
  const l = out.labels;
  let at = out.labelCount;
  while (at > 0) {
    const c = compareNames(buf, l[4 * (at - 1)]!, l[4 * (at - 1) + 1]!, ns, ne);
    if (c === 0) return false;
    if (c < 0) break;
    // Four slots move up (a loop: copyWithin costs more for so few).
    const to = 4 * at;
    l[to] = l[to - 4]!;
    l[to + 1] = l[to - 3]!;
    l[to + 2] = l[to - 2]!;
    l[to + 3] = l[to - 1]!;
    at--;
  }
  l[4 * at] = ns;
  l[4 * at + 1] = ne;
  l[4 * at + 2] = vs;
  l[4 * at + 3] = ve;
  out.labelCount++;
  return true;
}

/**
 * Fast path for a labels object starting at src[i] (`{`): plain names and
 * values without escapes, within the limits. Returns the index after the
 * object, FALLBACK for anything else, or -2 for invalid UTF-8.
 */
function scanLabels(src: Uint8Array, i: number, end: number, out: ParsedUpdate): number {
  if (src[i] !== 0x7b) return FALLBACK;
  i++;
  while (i < end && isSpace(src[i]!)) i++;
  if (i < end && src[i] === 0x7d) return i + 1;
  for (;;) {
    if (i >= end || src[i] !== QUOTE) return FALLBACK;
    const ns = i + 1;
    let ne = ns;
    while (ne < end && LABEL_NAME_BYTE[src[ne]!] === 1) ne++;
    if (ne >= end || src[ne] !== QUOTE || ne === ns || ne - ns > MAX_LABEL_NAME) return FALLBACK;
    i = ne + 1;
    while (i < end && isSpace(src[i]!)) i++;
    if (i >= end || src[i] !== 0x3a) return FALLBACK;
    i++;
    while (i < end && isSpace(src[i]!)) i++;
    if (i >= end || src[i] !== QUOTE) return FALLBACK;
    const vs = i + 1;
    const ve = scanString(src, vs, end);
    if (ve < 0) return ve;
    if (strChars > MAX_LABEL_VALUE_CHARS || out.labelCount === MAX_LABELS) return FALLBACK;
    if (!insertLabel(out, src, ns, ne, vs, ve)) return FALLBACK;
    i = ve + 1;
    while (i < end && isSpace(src[i]!)) i++;
    if (i >= end) return FALLBACK;
    if (src[i] === 0x7d) return i + 1;
    if (src[i] !== 0x2c) return FALLBACK;
    i++;
    while (i < end && isSpace(src[i]!)) i++;
  }
}

function ownField(obj: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(obj, name) ? obj[name] : undefined;
}

function charCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) i++; // a well-formed pair counts once
    n++;
  }
  return n;
}

// Slow-path field storage: JSON and raw forms of each field, appended here.
let scratch = new Uint8Array(4096);

function parseExact(src: Uint8Array, start: number, end: number, out: ParsedUpdate): ReasonCode {
  const bytes = src.subarray(start, end);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return Reason.bad_utf8;
  }
  // A leading BOM is not JSON; TextDecoder would silently drop it.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return Reason.bad_json;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return Reason.bad_json;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return Reason.not_object;
  const obj = value as Record<string, unknown>;
  return checkFields(ownField(obj, 'app'), ownField(obj, 'ver'), ownField(obj, 'host'), ownField(obj, 'instance'), out, ownField(obj, 'labels'));
}

/** Checks a decoded labels value: a reason, or the labels sorted by name. */
function checkLabels(labels: unknown): ReasonCode | [string, string][] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) return Reason.bad_labels;
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > MAX_LABELS) return Reason.too_many_labels;
  for (const [name, value] of entries) {
    if (!LABEL_NAME.test(name) || typeof value !== 'string') return Reason.bad_labels;
  }
  // As for app, ver and host: encoding before length.
  const values = entries.map(([, v]) => v as string);
  if (!values.every((v) => v.isWellFormed())) return Reason.bad_utf8;
  if (values.some((v) => charCount(v) > MAX_LABEL_VALUE_CHARS)) return Reason.too_long;
  // Names are ASCII: string order is byte order.
  return (entries as [string, string][]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Validates decoded field values (exact path) and stores them in `out`. */
export function checkFields(app: unknown, ver: unknown, host: unknown, instance: unknown, out: ParsedUpdate, labels?: unknown): ReasonCode {
  const isStringOrAbsent = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';
  if (!isStringOrAbsent(app) || !isStringOrAbsent(ver) || !isStringOrAbsent(host)) return Reason.wrong_type;
  if (instance !== undefined && instance !== null && typeof instance !== 'number') return Reason.wrong_type;
  if (typeof app !== 'string' || app === '' || typeof ver !== 'string' || ver === '') return Reason.missing_field;
  const hostText = typeof host === 'string' && host !== '' ? host : null;
  const inst = typeof instance === 'number' ? instance : 0;
  if (!Number.isInteger(inst) || inst < 0 || inst > MAX_INSTANCE) return Reason.bad_instance;
  // JSON escapes can spell lone surrogates, which have no UTF-8 form.
  if (!app.isWellFormed() || !ver.isWellFormed() || (hostText !== null && !hostText.isWellFormed())) return Reason.bad_utf8;
  if (charCount(app) > MAX_FIELD_CHARS || charCount(ver) > MAX_FIELD_CHARS || (hostText !== null && charCount(hostText) > MAX_FIELD_CHARS)) {
    return Reason.too_long;
  }
  const labelList = checkLabels(labels);
  if (typeof labelList === 'number') return labelList;

  let pos = 0;
  const put = (s: string): [number, number] => {
    // Worst case 3 bytes per UTF-16 unit (JSON escapes are 6 bytes per unit
    // but only for control characters, which are 1 unit).
    const need = pos + s.length * 6 + 16;
    if (need > scratch.length) {
      const grown = new Uint8Array(Math.max(need, scratch.length * 2));
      grown.set(scratch.subarray(0, pos));
      scratch = grown;
    }
    const { written } = encoder.encodeInto(s, scratch.subarray(pos));
    const range: [number, number] = [pos, pos + written];
    pos += written;
    return range;
  };
  const jsonContent = (s: string): string => JSON.stringify(s).slice(1, -1);

  const [appJs, appJe] = put(jsonContent(app));
  const [appRs, appRe] = put(app);
  const [verJs, verJe] = put(jsonContent(ver));
  const [verRs, verRe] = put(ver);
  let hostRange = [-1, -1, -1, -1];
  if (hostText !== null) {
    const [hJs, hJe] = put(jsonContent(hostText));
    const [hRs, hRe] = put(hostText);
    hostRange = [hJs, hJe, hRs, hRe];
  }
  out.appJsonStart = appJs;
  out.appJsonEnd = appJe;
  out.appRawStart = appRs;
  out.appRawEnd = appRe;
  out.verJsonStart = verJs;
  out.verJsonEnd = verJe;
  out.verRawStart = verRs;
  out.verRawEnd = verRe;
  [out.hostJsonStart, out.hostJsonEnd, out.hostRawStart, out.hostRawEnd] = hostRange as [number, number, number, number];
  out.instance = inst;
  // Already sorted: each label goes at the end (after put(), which may grow scratch).
  out.labelCount = 0;
  for (const [name, value] of labelList) {
    const [ns, ne] = put(name);
    const [vs, ve] = put(jsonContent(value));
    const l = out.labels;
    const at = 4 * out.labelCount++;
    l[at] = ns;
    l[at + 1] = ne;
    l[at + 2] = vs;
    l[at + 3] = ve;
  }
  out.buf = scratch;
  // eslint-disable-next-line no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, on purpose
  out.appAscii = /^[\x00-\x7f]*$/.test(app);
  out.appText = app;
  return Reason.ok;
}
