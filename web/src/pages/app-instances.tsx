// An app's instances, one page at a time from the server, filtered by
// version and status. Live events update the rows on screen in place (and
// flash them); the page itself is refetched only when asked or after a
// reconnect, so rows do not jump under the reader's cursor.

import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { num } from '../format';
import type { ChangeEvent } from '../live';
import { appHref, hostHref, navigate } from '../router';
import type { VersionColors } from '../versions';
import { Ago, Problem, StatusBadge, VersionChip } from '../ui/bits';
import { Pager, usePaged } from '../ui/pager';
import type { AppFilter } from './app';

const PAGE = 100;
const FLASH_MS = 2000;

const key = (i: { host: string; instance: number }): string => `${i.host}\u0000${i.instance}`;

interface Props {
  appId: string;
  filter: AppFilter;
  versions: api.VersionCount[];
  total: api.AppDetail | null | undefined;
  colors: VersionColors;
  live: ChangeEvent[];
  now: number;
}

export function Instances({ appId, filter, versions, total, colors, live, now }: Props) {
  const labelKey = JSON.stringify(filter.labels ?? {});
  const paged = usePaged(
    (cursor) => api.versions({ app_id: appId, ver: filter.ver, status: filter.status, labels: filter.labels }, PAGE, cursor),
    [appId, filter.ver, filter.status, labelKey],
  );
  const [flash, setFlash] = useState(new Set<string>());
  const flashTimer = useRef<number | undefined>(undefined);

  useEffect(() => {
    if (live.length === 0) return;
    if (live.some((e) => e.type === 'cleared')) {
      paged.reload();
      return;
    }
    const latest = new Map<string, ChangeEvent>();
    for (const e of live) if (e.type !== 'cleared') latest.set(key(e.version), e);
    const hit = new Set(paged.rows.map(key).filter((k) => latest.has(k)));
    if (hit.size === 0) return;
    paged.patch((rows) =>
      rows.map((r) => {
        const e = latest.get(key(r));
        if (e === undefined || e.type === 'cleared') return r;
        return e.type === 'removed' ? { ...r, removed: true } : { ...r, ...e.version };
      }),
    );
    setFlash(hit);
    window.clearTimeout(flashTimer.current);
    flashTimer.current = window.setTimeout(() => setFlash(new Set()), FLASH_MS);
  }, [live]);
  useEffect(() => () => window.clearTimeout(flashTimer.current), []);

  const setFilter = (change: AppFilter): void => navigate(appHref(appId, { ...filter, ...change }), { keepScroll: true });
  const count = matching(total, versions, filter);

  return (
    <>
      <div class="panel-head">
        <h2>Instances</h2>
        <label>
          Version{' '}
          <select value={filter.ver ?? ''} onChange={(e) => setFilter({ ver: (e.target as HTMLSelectElement).value || undefined })} data-testid="ver-filter">
            <option value="">all versions</option>
            {versions.map((v) => (
              <option key={v.ver} value={v.ver}>
                {v.ver} ({num(v.count)})
              </option>
            ))}
            {filter.ver !== undefined && !versions.some((v) => v.ver === filter.ver) && <option value={filter.ver}>{filter.ver} (none left)</option>}
          </select>
        </label>
        <LabelFilters counts={total?.label_counts} chosen={filter.labels ?? {}} onChange={(labels) => setFilter({ labels })} />
        <fieldset class="seg" aria-label="Status">
          {([undefined, 'up', 'stale'] as const).map((s) => (
            <button type="button" key={s ?? 'all'} class={filter.status === s ? 'on' : ''} onClick={() => setFilter({ status: s })}>
              {s ?? 'any status'}
            </button>
          ))}
        </fieldset>
        <Pager paged={paged} size={PAGE} total={count} />
      </div>
      <Problem error={paged.error} what="the instances" />
      <table class="instances" data-testid="instances">
        <thead>
          <tr>
            <th>Host</th>
            <th class="n">Instance</th>
            <th>Version</th>
            <th>Status</th>
            <th class="n">Last update</th>
            <th class="n">On this version since</th>
            <th>Address</th>
            <th>Labels</th>
          </tr>
        </thead>
        <tbody>
          {paged.rows.map((r: api.Instance & { removed?: boolean }) => (
            <tr key={key(r)} class={`${flash.has(key(r)) ? 'flash' : ''} ${r.removed ? 'gone' : ''}`}>
              <td class="name">
                <a href={hostHref(r.host)}>{r.host}</a>
              </td>
              <td class="n">{r.instance}</td>
              <td>
                <VersionChip ver={r.ver} colors={colors} />
              </td>
              <td>{r.removed ? <span class="muted">removed</span> : <StatusBadge status={r.status} />}</td>
              <td class="n">
                <Ago unix={r.last_update} now={now} />
              </td>
              <td class="n">
                <Ago unix={r.since} now={now} />
              </td>
              <td class="muted mono">{r.host_ip}</td>
              <td class="labels">
                {Object.entries(r.labels ?? {}).map(([k, v]) => (
                  <span key={k} class="label-chip">
                    {k}={v}
                  </span>
                ))}
              </td>
            </tr>
          ))}
          {!paged.loading && paged.rows.length === 0 && (
            <tr>
              <td colSpan={8} class="empty">
                No instances match.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {paged.rows.length > 20 && <Pager paged={paged} size={PAGE} total={count} />}
    </>
  );
}

/** One select per label the app's instances carry (from app/A's label_counts): filters the instances. */
function LabelFilters({
  counts,
  chosen,
  onChange,
}: {
  counts: Record<string, Record<string, number>> | undefined;
  chosen: Record<string, string>;
  onChange: (labels: Record<string, string> | undefined) => void;
}) {
  const names = [...new Set([...Object.keys(counts ?? {}), ...Object.keys(chosen)])].sort();
  if (names.length === 0) return null;
  const set = (name: string, value: string): void => {
    const next = { ...chosen };
    if (value === '') delete next[name];
    else next[name] = value;
    onChange(Object.keys(next).length === 0 ? undefined : next);
  };
  return (
    <>
      {names.map((name) => {
        const values = counts?.[name] ?? {};
        return (
          <label key={name}>
            {name}{' '}
            <select value={chosen[name] ?? ''} onChange={(e) => set(name, (e.target as HTMLSelectElement).value)} data-testid={`label-filter-${name}`}>
              <option value="">any</option>
              {Object.entries(values).map(([value, n]) => (
                <option key={value} value={value}>
                  {value} ({num(n)})
                </option>
              ))}
              {chosen[name] !== undefined && values[chosen[name]!] === undefined && <option value={chosen[name]}>{chosen[name]} (none)</option>}
            </select>
          </label>
        );
      })}
    </>
  );
}

/** How many instances the filter matches, from the app's counts (undefined if unknown). */
function matching(app: api.AppDetail | null | undefined, versions: api.VersionCount[], f: AppFilter): number | undefined {
  if (!app) return undefined;
  // Label filters: the counts cannot say (the pager shows what the pages hold).
  if (f.labels !== undefined) return undefined;
  const field = f.status === 'up' ? 'up_count' : f.status === 'stale' ? 'stale_count' : 'count';
  if (f.ver !== undefined) return versions.find((v) => v.ver === f.ver)?.[field] ?? 0;
  return f.status === undefined ? app.instance_count : app[field as 'up_count' | 'stale_count'];
}
