// Malformed updates, one labelled kind per rule they break. Each packet
// breaks exactly one rule, starting from a valid update, so a test can
// assert which rejection reason the server must count for it. Exported for
// the server's own tests as well as for --bad.

import type { Update } from './fleet.js';
import { Rng } from './prng.js';

export const BAD_KINDS = [
  'truncated_json',
  'trailing_garbage',
  'not_json',
  'nul_byte',
  'bom_prefix',
  'not_an_object',
  'wrong_type_app',
  'wrong_type_ver',
  'wrong_type_host',
  'wrong_type_instance',
  'missing_app',
  'missing_ver',
  'empty_app',
  'empty_ver',
  'long_app',
  'long_ver',
  'long_host',
  'instance_out_of_range',
  'instance_fraction',
  'invalid_utf8',
  'lone_surrogate',
  'empty_datagram',
  'huge_datagram',
  'labels_not_object',
  'label_bad_name',
  'label_not_string',
  'too_many_labels',
  'long_label_value',
] as const;

export type BadKind = (typeof BAD_KINDS)[number];

/**
 * The rejection reason the server must give each kind. The names are the
 * server's (src/ingest/reasons.ts): null or empty app/ver count as
 * missing_field; lone surrogates spelled as JSON escapes count as bad_utf8
 * since they have no UTF-8 form.
 */
export const EXPECTED_REASON: Readonly<Record<BadKind, string>> = {
  truncated_json: 'bad_json',
  trailing_garbage: 'bad_json',
  not_json: 'bad_json',
  nul_byte: 'bad_json',
  bom_prefix: 'bad_json',
  not_an_object: 'not_object',
  wrong_type_app: 'wrong_type',
  wrong_type_ver: 'wrong_type',
  wrong_type_host: 'wrong_type',
  wrong_type_instance: 'wrong_type',
  missing_app: 'missing_field',
  missing_ver: 'missing_field',
  empty_app: 'missing_field',
  empty_ver: 'missing_field',
  long_app: 'too_long',
  long_ver: 'too_long',
  long_host: 'too_long',
  instance_out_of_range: 'bad_instance',
  instance_fraction: 'bad_instance',
  invalid_utf8: 'bad_utf8',
  lone_surrogate: 'bad_utf8',
  empty_datagram: 'empty',
  huge_datagram: 'oversize',
  labels_not_object: 'bad_labels',
  label_bad_name: 'bad_labels',
  label_not_string: 'bad_labels',
  too_many_labels: 'too_many_labels',
  long_label_value: 'too_long',
};

export function isBadKind(name: string): name is BadKind {
  return (BAD_KINDS as readonly string[]).includes(name);
}

/** Size range of huge_datagram packets, in bytes. */
export interface HugeSize {
  minBytes: number;
  maxBytes: number;
}

/** Over the 8 KiB datagram limit, under the ~64 KiB a UDP datagram can carry. */
export const HUGE_UDP: HugeSize = { minBytes: 8 * 1024 + 1, maxBytes: 60 * 1024 };
/** Over the 64 KiB HTTP body limit (smaller bodies of valid JSON are fine over HTTP). */
export const HUGE_HTTP: HugeSize = { minBytes: 64 * 1024 + 1, maxBytes: 96 * 1024 };

export const SAMPLE_UPDATE: Readonly<Update> = {
  app: 'billing-api',
  ver: '2.4.1',
  host: 'web-042.fra1.example.com',
  instance: 3,
};

type Field = keyof Update;
type StringField = 'app' | 'ver' | 'host';

const encoder = new TextEncoder();

/**
 * Stands in for bytes a JS string cannot hold (invalid UTF-8) or that must
 * not be escaped (a raw NUL): a private-use character, whose UTF-8 form
 * EE 80 80 is swapped for the wanted bytes after encoding. Fleet names
 * never contain it.
 */
const PLACEHOLDER = '\ue000';
const PLACEHOLDER_BYTES = [0xee, 0x80, 0x80] as const;

const INVALID_UTF8_SEQUENCES: readonly (readonly number[])[] = [
  [0xff], // never valid
  [0x80], // continuation byte without a lead
  [0xc3, 0x28], // lead byte followed by ASCII
  [0xc0, 0xaf], // overlong encoding of "/"
  [0xed, 0xa0, 0x80], // UTF-16 surrogate encoded as UTF-8 (CESU-8)
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf8, 0x88, 0x80, 0x80, 0x80], // five-byte form
  [0xe4, 0xbd], // sequence cut short
];

/** JSON text of an update, fields in the usual order; `values` overrides or (null) removes fields. */
function objectText(base: Update, values: Partial<Record<Field, string | null>> = {}): string {
  const parts: string[] = [];
  for (const field of ['app', 'ver', 'host', 'instance'] as const) {
    const override = values[field];
    if (override === null) continue;
    parts.push(`"${field}":${override ?? JSON.stringify(base[field])}`);
  }
  return `{${parts.join(',')}}`;
}

/** Replaces each PLACEHOLDER in the encoded text with `bytes`. */
function encodeWith(text: string, bytes: readonly number[]): Uint8Array {
  const encoded = encoder.encode(text);
  const out: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === PLACEHOLDER_BYTES[0] && encoded[i + 1] === PLACEHOLDER_BYTES[1] && encoded[i + 2] === PLACEHOLDER_BYTES[2]) {
      out.push(...bytes);
      i += 2;
    } else {
      out.push(encoded[i]!);
    }
  }
  return Uint8Array.from(out);
}

/** A JSON string literal of value with PLACEHOLDER spliced in at a random code point. */
function withPlaceholder(rng: Rng, value: string): string {
  const chars = Array.from(value);
  const at = rng.below(chars.length + 1);
  return JSON.stringify(chars.slice(0, at).join('') + PLACEHOLDER + chars.slice(at).join(''));
}

/** value padded (with a random kind of character) to `target` code points. */
function stretched(rng: Rng, value: string, target: number): string {
  const filler = rng.pick(['x', 'é', '数', '😀']);
  const chars = Array.from(value).slice(0, target);
  while (chars.length < target) chars.push(filler);
  return chars.join('');
}

function truncated(rng: Rng, base: Update): Uint8Array {
  const bytes = encoder.encode(objectText(base));
  let cut = rng.between(1, bytes.length - 1);
  // Cut between characters, so the prefix is valid UTF-8 and the only
  // thing wrong is the JSON.
  while (cut > 1 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return bytes.slice(0, cut);
}

function huge(rng: Rng, base: Update, size: HugeSize): Uint8Array {
  // Valid JSON padded with insignificant whitespace: the size is the only fault.
  const text = objectText(base);
  const head = text.slice(0, text.indexOf(',') + 1);
  const tail = text.slice(head.length);
  const fixed = encoder.encode(head).length + encoder.encode(tail).length;
  const total = rng.between(Math.max(size.minBytes, fixed + 1), size.maxBytes);
  const padding = rng
    .pick([' ', '\n', '\t', '\r\n'])
    .repeat(total)
    .slice(0, total - fixed);
  return encoder.encode(head + padding + tail);
}

/**
 * A malformed packet of the given kind, derived from `base` (a valid
 * update). Deterministic for a given rng state.
 */
export function makeBadPacket(kind: BadKind, rng: Rng = new Rng(1), base: Update = SAMPLE_UPDATE, hugeSize: HugeSize = HUGE_UDP): Uint8Array {
  const text = (values: Partial<Record<Field, string | null>>): Uint8Array => encoder.encode(objectText(base, values));
  const stringField = (): StringField => rng.pick(['app', 'ver', 'host'] as const);
  switch (kind) {
    case 'truncated_json':
      return truncated(rng, base);
    case 'trailing_garbage':
      return encoder.encode(objectText(base) + rng.pick(['x', ',', ']', '}', ' garbage', '{"app":"a","ver":"1"}', '\r\nGET / HTTP/1.1']));
    case 'not_json':
      return encoder.encode(
        rng.pick([
          `app=${base.app} ver=${base.ver} host=${base.host}`,
          `${base.app}:${base.instance}|c`,
          `<update app="${base.app}" ver="${base.ver}"/>`,
          `{app: '${base.app}', ver: '${base.ver}'}`,
        ]),
      );
    case 'nul_byte':
      return rng.below(2) === 0
        ? encodeWith(objectText(base, { app: withPlaceholder(rng, base.app) }), [0x00])
        : encodeWith(objectText(base) + PLACEHOLDER, [0x00]); // a C client sending its terminator
    case 'bom_prefix':
      return encodeWith(PLACEHOLDER + objectText(base), [0xef, 0xbb, 0xbf]);
    case 'not_an_object':
      return encoder.encode(rng.pick(['[]', '42', JSON.stringify(base.app), 'null', 'true', `[${objectText(base)}]`]));
    case 'wrong_type_app':
      return text({ app: rng.pick(['5', '12.5', 'true', JSON.stringify([base.app]), JSON.stringify({ name: base.app })]) });
    case 'wrong_type_ver':
      return text({ ver: rng.pick(['1.2', '3', 'false', JSON.stringify([base.ver]), '{"major":1}']) });
    case 'wrong_type_host':
      return text({ host: rng.pick(['42', 'true', JSON.stringify([base.host]), '{}']) });
    case 'wrong_type_instance':
      return text({ instance: rng.pick([`"${base.instance}"`, 'true', `[${base.instance}]`, '{}']) });
    case 'missing_app':
      return text({ app: rng.pick([null, 'null']) });
    case 'missing_ver':
      return text({ ver: rng.pick([null, 'null']) });
    case 'empty_app':
      return text({ app: '""' });
    case 'empty_ver':
      return text({ ver: '""' });
    case 'long_app':
    case 'long_ver':
    case 'long_host': {
      const field = kind.slice('long_'.length) as StringField;
      return text({ [field]: JSON.stringify(stretched(rng, base[field], rng.pick([51, 51, 64, 200]))) });
    }
    case 'instance_out_of_range':
      return text({ instance: rng.pick(['65536', '70000', '4294967296', '-1', '-65535', '1e5']) });
    case 'instance_fraction':
      return text({ instance: rng.pick(['1.5', '0.5', '65535.5', '3.14']) });
    case 'invalid_utf8': {
      const field = stringField();
      return encodeWith(objectText(base, { [field]: withPlaceholder(rng, base[field]) }), rng.pick(INVALID_UTF8_SEQUENCES));
    }
    case 'lone_surrogate': {
      const field = stringField();
      const literal = withPlaceholder(rng, base[field]).replace(PLACEHOLDER, rng.pick(['\\ud800', '\\udfff', '\\udc00', '\\ud83dA']));
      return text({ [field]: literal });
    }
    case 'empty_datagram':
      return new Uint8Array(0);
    case 'huge_datagram':
      return huge(rng, base, hugeSize);
    case 'labels_not_object':
      return withLabels(base, rng.pick(['"env=prod"', '["env","prod"]', '42', 'true']));
    case 'label_bad_name':
      return withLabels(base, `{"env":"prod",${JSON.stringify(rng.pick(['Env', 'env name', '', 'x'.repeat(33), 'région', 'env/x']))}:"v"}`);
    case 'label_not_string':
      return withLabels(base, `{"env":${rng.pick(['1', 'true', 'null', '["prod"]', '{"v":"prod"}'])}}`);
    case 'too_many_labels':
      return withLabels(base, JSON.stringify(Object.fromEntries(Array.from({ length: rng.between(17, 40) }, (_, i) => [`l${i}`, 'v']))));
    case 'long_label_value':
      return withLabels(base, JSON.stringify({ env: 'prod', note: stretched(rng, 'v', rng.pick([65, 65, 100])) }));
  }
}

/** The update (its own labels dropped) with a labels member of the given JSON text. */
function withLabels(base: Update, labels: string): Uint8Array {
  return encoder.encode(`${objectText(base).slice(0, -1)},"labels":${labels}}`);
}
