// Version order and colours. Versions are ordered newest first by natural
// comparison (numbers as numbers: 1.10 after 1.9), and coloured by that
// rank, so an app's newest version has the same colour in the overview bar,
// the app's table, its chart and its host list.

import type { VersionCount } from './api';

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Newest first. */
export function newestFirst(a: string, b: string): number {
  return collator.compare(b, a) || (a < b ? 1 : a > b ? -1 : 0);
}

export function sortVersions(versions: readonly VersionCount[]): VersionCount[] {
  return [...versions].sort((a, b) => newestFirst(a.ver, b.ver));
}

// Distinct at a glance and for common colour blindness (Okabe–Ito based);
// the newest version gets the calm blue, older ones warmer colours.
const PALETTE = ['#2f6fde', '#17a398', '#e69f00', '#cc5c8f', '#8e6bd1', '#d55e00', '#56b4e9', '#8a9a2b', '#b0774f', '#5d6d7e'];
export const OTHER_COLOR = '#b8bfc9';

/** Colours for versions listed newest first; beyond the palette, grey. */
export function colorFor(rank: number): string {
  return PALETTE[rank] ?? OTHER_COLOR;
}

export const MAX_COLORED = PALETTE.length;

export class VersionColors {
  readonly #rank = new Map<string, number>();
  readonly #colored: number;
  /** Changes whenever a colour does. */
  readonly key: string;

  /** `order`: current versions newest first, then versions only seen in history. */
  constructor(order: readonly string[]) {
    for (const [i, v] of order.entries()) this.#rank.set(v, i);
    // As in the bars and the chart: with more versions than colours, the
    // oldest share one grey ("older").
    this.#colored = order.length > MAX_COLORED ? MAX_COLORED - 1 : MAX_COLORED;
    this.key = order.slice(0, this.#colored).join('\u0000');
  }

  get(ver: string): string {
    const r = this.#rank.get(ver);
    return r === undefined || r >= this.#colored ? OTHER_COLOR : colorFor(r);
  }
}
