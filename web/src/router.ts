// Client-side routes on real paths (/, /app/<app_id>, /host/<host>, /sql),
// so a page can be bookmarked and reloaded: partiscid answers those paths
// with index.html. App filters live in the query string
// (?ver=…&status=…&label.env=prod), the SQL page's query too (?q=…).

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'overview' }
  | { page: 'app'; appId: string; ver?: string; status?: 'up' | 'stale'; labels?: Record<string, string> }
  | { page: 'host'; host: string }
  | { page: 'sql'; q: string }
  | { page: 'missing'; path: string };

export function parse(path: string, search: string): Route {
  const q = new URLSearchParams(search);
  const m = /^\/(app|host)\/(.+)$/.exec(path);
  if (path === '/' || path === '') return { page: 'overview' };
  if (path === '/sql') return { page: 'sql', q: q.get('q') ?? '' };
  if (m === null) return { page: 'missing', path };
  let name: string;
  try {
    name = decodeURIComponent(m[2]!);
  } catch {
    return { page: 'missing', path };
  }
  if (m[1] === 'host') return { page: 'host', host: name };
  const status = q.get('status');
  const labels: Record<string, string> = {};
  for (const [k, v] of q) if (k.startsWith('label.') && v !== '') labels[k.slice('label.'.length)] = v;
  return {
    page: 'app',
    appId: name,
    ver: q.get('ver') ?? undefined,
    status: status === 'up' || status === 'stale' ? status : undefined,
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  };
}

export function appHref(appId: string, filter: { ver?: string; status?: string; labels?: Record<string, string> } = {}): string {
  const q = new URLSearchParams();
  if (filter.ver !== undefined) q.set('ver', filter.ver);
  if (filter.status !== undefined) q.set('status', filter.status);
  for (const [name, value] of Object.entries(filter.labels ?? {})) q.set(`label.${name}`, value);
  const s = q.toString();
  return `/app/${encodeURIComponent(appId)}${s === '' ? '' : `?${s}`}`;
}

export function sqlHref(query: string): string {
  return `/sql?${new URLSearchParams({ q: query }).toString()}`;
}

export function hostHref(host: string): string {
  return `/host/${encodeURIComponent(host)}`;
}

const CHANGE = 'partisci:navigate';

/** Goes to a dashboard URL without reloading; filter changes keep the scroll position. */
export function navigate(href: string, { keepScroll = false } = {}): void {
  if (href === location.pathname + location.search) return;
  history.pushState(null, '', href);
  window.dispatchEvent(new Event(CHANGE));
  if (!keepScroll) window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const read = (): Route => parse(location.pathname, location.search);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = (): void => setRoute(read());
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return route;
}

/** Follows same-origin links in the page without reloading it (modified clicks open tabs as usual). */
export function interceptLinks(): void {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element).closest?.('a');
    if (a === null || a === undefined || a.target !== '' || a.origin !== location.origin || a.hasAttribute('download')) return;
    if (!/^\/(app\/|host\/|sql$|$)/.test(a.pathname)) return;
    e.preventDefault();
    navigate(a.pathname + a.search);
  });
}
