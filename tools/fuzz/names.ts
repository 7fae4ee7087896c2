// Realistic host and app names. Real fleets mix naming schemes (data-centre
// FQDNs, cloud instance names, Kubernetes pods, desktops) and a few names
// outside ASCII; the server must store, count and index all of them, so
// the fleet has a bit of everything. Every name stays within the update
// format's 50 characters.

import { hash32, mix32 } from './prng.js';

/** app, ver and host are limited to 50 Unicode characters (code points). */
export const MAX_NAME_CHARS = 50;

/** Length in Unicode code points (what the 50-character limit counts). */
export function codePointLength(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
    count++;
  }
  return count;
}

/** The first `max` code points of text. */
export function truncateCodePoints(text: string, max: number): string {
  return Array.from(text).slice(0, max).join('');
}

const ROLES = ['web', 'api', 'db', 'cache', 'worker', 'batch', 'lb', 'mq', 'search', 'gpu', 'build', 'edge'] as const;
const SITES = ['fra1', 'ams3', 'nyc2', 'sfo3', 'sin1', 'lon1', 'tok2', 'syd1', 'gru1', 'blr1'] as const;
const POD_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

// Host names outside ASCII: rare in practice, but they exist (IDN domains,
// hostnames picked by people rather than provisioning tools).
const NON_ASCII_HOSTS: readonly ((num: number) => string)[] = [
  (num) => `büro-${pad(num, 2)}.例え.jp`,
  (num) => `сервер-${num}.local`,
  (num) => `café-${num}.paris.example.fr`,
  (num) => `服务器-${num}.北京.example.cn`,
  (num) => `αθήνα-${num}.example.gr`,
  (num) => `münchen-gw-${num}.example.de`,
  (num) => `שרת-${num}.example.il`,
  (num) => `sunucu-${num}.İstanbul.example.tr`,
];

function pad(num: number, width: number): string {
  return String(num).padStart(width, '0');
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/**
 * The name of host `index` (0-based). Names are unique by construction:
 * each scheme embeds `index` through an injective mapping (the decimal
 * number index + 1, the bytes of an IPv4 address, or mix32 of index, which
 * is a bijection on 32 bits), and schemes differ in fixed text.
 */
export function hostName(seed: number, index: number): string {
  const num = index + 1;
  const h = hash32(seed, 0x484f5354, index);
  const role = ROLES[(h >>> 8) % ROLES.length]!;
  const site = SITES[(h >>> 16) % SITES.length]!;
  const scheme = h % 100;
  if (scheme < 30) return `${role}-${pad(num, 3)}.${site}.example.com`;
  if (scheme < 48) return `${role}-${num}.prod.internal`;
  if (scheme < 60) {
    // An AWS-style name spelling a private address; index < 2^24 keeps it unique.
    return `ip-10-${(index >>> 16) & 255}-${(index >>> 8) & 255}-${index & 255}.ec2.internal`;
  }
  if (scheme < 72) {
    const pod = mix32(index ^ 0x6b387300);
    let suffix = '';
    for (let k = 0, x = mix32(h); k < 5; k++, x = Math.floor(x / POD_SUFFIX_ALPHABET.length)) {
      suffix += POD_SUFFIX_ALPHABET[x % POD_SUFFIX_ALPHABET.length];
    }
    return `${role}-${hex8(pod)}-${suffix}`;
  }
  if (scheme < 80) return `DESKTOP-${hex8(mix32(index ^ 0x4445534b)).toUpperCase()}`;
  if (scheme < 93) return `${role}${num}`;
  return NON_ASCII_HOSTS[(h >>> 24) % NON_ASCII_HOSTS.length]!(num);
}

/**
 * Programs in the fleet, in the order they are used (--apps N takes the
 * first N). The first ones are the examples everyone expects to see. Names
 * include punctuation that needs JSON escaping, right-to-left and CJK
 * scripts, and one name of exactly 50 code points with characters outside
 * the Basic Multilingual Plane (56 UTF-16 units), the sharpest edge of the
 * length rule. No two names share an app_id (lowercase, non-alphanumerics
 * as "_"), and none ends in a digit, so numbered copies stay distinct too.
 */
export const APP_CATALOG: readonly string[] = [
  'billing-api',
  'Search Indexer',
  'Café Menu Service',
  '数据同步',
  'auth-service',
  'nginx',
  'postgres',
  'payments-gateway',
  'Планировщик задач',
  'inventory',
  'log-shipper',
  'Report Builder',
  'redis',
  'データ収集エージェント',
  'kafka-consumer',
  'Bob\'s "legacy" cron',
  'Überweisungsdienst',
  'image-resizer',
  '📡 Satelliten-Telemetrie der Außenstelle Nord 🚀🌍🌎🌏🪐',
  'node_exporter',
  'fraud-detector',
  'Ödeme Servisi',
  'notification-hub',
  'Agent (C:\\Tools\\agent.exe)',
  'pdf-render',
  'feature-flags',
  'خدمة الفواتير',
  'order-pipeline',
  'backup-agent',
  'metrics-collector',
  'sso-bridge',
  'recommendations',
  'mail-relay',
  'cdn-edge',
  'Gestión de Pedidos',
  'scheduler',
  'ml-inference',
  'config-server',
  'Kundenportal',
  'geo-lookup',
];

/** The name of app `index` (0-based): the catalog, then numbered copies. */
export function appName(index: number): string {
  const base = APP_CATALOG[index % APP_CATALOG.length]!;
  const copy = Math.floor(index / APP_CATALOG.length);
  if (copy === 0) return base;
  const suffix = `-${copy + 1}`;
  return truncateCodePoints(base, MAX_NAME_CHARS - suffix.length) + suffix;
}
