// Small presentational pieces: stat cards, status badges, version chips,
// the stacked version bar, and the relative time cell.

import type { ComponentChildren } from 'preact';
import type { Status, VersionCount } from '../api';
import { ago, num, percent, when } from '../format';
import { MAX_COLORED, OTHER_COLOR, type VersionColors } from '../versions';

export function Stat({ label, value, sub, tone }: { label: string; value: ComponentChildren; sub?: ComponentChildren; tone?: 'good' | 'warn' }) {
  return (
    <div class={`stat ${tone ?? ''}`}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub !== undefined && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

export function StatusBadge({ status }: { status: Status | undefined }) {
  if (status === undefined) return <span class="muted">—</span>;
  return <span class={`badge ${status}`}>{status}</span>;
}

export function VersionChip({ ver, colors }: { ver: string | null; colors: VersionColors }) {
  if (ver === null) return <span class="muted">removed</span>;
  return (
    <span class="chip" title={ver}>
      <i style={{ background: colors.get(ver) }} />
      <span>{ver}</span>
    </span>
  );
}

export function Ago({ unix, now }: { unix: number | undefined; now: number }) {
  return <span title={when(unix)}>{ago(unix, now)}</span>;
}

/**
 * How an app's instances split over its versions (newest first, left to
 * right). Past the palette, the oldest versions are drawn as one grey
 * "older" part so the bar stays readable.
 */
export function VersionBar({ versions, colors, total }: { versions: readonly VersionCount[]; colors: VersionColors; total: number }) {
  if (total === 0) return <div class="vbar empty" />;
  const shown = versions.length > MAX_COLORED ? versions.slice(0, MAX_COLORED - 1) : versions;
  const rest = versions.slice(shown.length);
  const restCount = rest.reduce((n, v) => n + v.count, 0);
  return (
    <div class="vbar" role="img" aria-label={versions.map((v) => `${v.ver}: ${v.count}`).join(', ')}>
      {shown.map((v) => (
        <span key={v.ver} style={{ flexGrow: v.count, background: colors.get(v.ver) }} title={`${v.ver}: ${num(v.count)} (${percent(v.count, total)})`} />
      ))}
      {restCount > 0 && (
        <span
          style={{ flexGrow: restCount, background: OTHER_COLOR }}
          title={`${rest.length} older versions: ${num(restCount)} (${percent(restCount, total)})`}
        />
      )}
    </div>
  );
}

export function Problem({ error, what }: { error: Error | undefined; what: string }) {
  if (error === undefined) return null;
  return (
    <div class="problem" role="alert">
      Could not load {what}: {error.message}
    </div>
  );
}
