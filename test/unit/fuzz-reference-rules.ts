// An independent, deliberately naive statement of the update rules, for
// the fuzz tests to judge packets by (not a test file itself):
//   app, ver: required non-empty strings (null counts as missing);
//   host: optional string (null or "" = absent);
//   app, ver, host: at most 50 Unicode code points, well-formed;
//   instance: optional integer 0-65535;
//   labels: optional object of at most 16 names [a-z0-9_.-]{1,32} to strings
//   of at most 64 code points, well-formed;
//   the packet: a UTF-8 JSON object, non-empty, at most `maxBytes`.
// Returns 'ok' or the name of the broken rule, using the server's reason
// names. Where a packet breaks one rule only, the order of checks does not
// matter, which is all the fuzz tests rely on.

export const UDP_MAX_BYTES = 8192;
export const HTTP_MAX_BYTES = 64 * 1024;

export function referenceVerdict(bytes: Uint8Array, maxBytes = UDP_MAX_BYTES): string {
  if (bytes.length === 0) return 'empty';
  if (bytes.length > maxBytes) return 'oversize';
  let text: string;
  try {
    // ignoreBOM keeps a leading BOM in the text, where JSON.parse rejects it.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return 'bad_utf8';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'bad_json';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not_object';
  const field = (name: string): unknown => (Object.hasOwn(value as object, name) ? (value as Record<string, unknown>)[name] : undefined);
  const [app, ver, host, instance] = ['app', 'ver', 'host', 'instance'].map(field);
  const stringOrAbsent = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';
  if (![app, ver, host].every(stringOrAbsent)) return 'wrong_type';
  if (instance !== undefined && instance !== null && typeof instance !== 'number') return 'wrong_type';
  if (typeof app !== 'string' || app === '' || typeof ver !== 'string' || ver === '') return 'missing_field';
  if (typeof instance === 'number' && !(Number.isInteger(instance) && instance >= 0 && instance <= 65535)) return 'bad_instance';
  const strings = [app, ver, ...(typeof host === 'string' ? [host] : [])];
  if (!strings.every((s) => s.isWellFormed())) return 'bad_utf8';
  if (!strings.every((s) => [...s].length <= 50)) return 'too_long';
  const labels = field('labels');
  if (labels !== undefined && labels !== null) {
    if (typeof labels !== 'object' || Array.isArray(labels)) return 'bad_labels';
    const entries = Object.entries(labels);
    if (entries.length > 16) return 'too_many_labels';
    if (!entries.every(([k, v]) => /^[a-z0-9_.-]{1,32}$/.test(k) && typeof v === 'string')) return 'bad_labels';
    const values = entries.map(([, v]) => v as string);
    if (!values.every((s) => s.isWellFormed())) return 'bad_utf8';
    if (!values.every((s) => [...s].length <= 64)) return 'too_long';
  }
  return 'ok';
}
