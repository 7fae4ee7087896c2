// Numbers and times as people read them.

const int = new Intl.NumberFormat('en-US');
const dec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export const num = (n: number | undefined): string => (n === undefined ? '—' : int.format(n));

export function rate(perSecond: number): string {
  return perSecond >= 100 ? int.format(Math.round(perSecond)) : dec.format(perSecond);
}

export function percent(part: number, whole: number): string {
  if (whole === 0) return '0%';
  const p = (100 * part) / whole;
  if (p > 0 && p < 0.1) return '<0.1%';
  if (p < 100 && p > 99.9) return '>99.9%';
  return `${dec.format(p)}%`;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago" (unix seconds, against now in ms). */
export function ago(unix: number | undefined, nowMs: number): string {
  if (unix === undefined || unix === 0) return '—';
  const s = Math.max(0, Math.round(nowMs / 1000 - unix));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Local date and time, for tooltips and history. */
export function when(unix: number | undefined): string {
  if (unix === undefined || unix === 0) return '';
  const d = new Date(unix * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
