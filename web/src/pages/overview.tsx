// The fleet at a glance: totals, the ingest rate now, every app with how
// its instances split over versions, and the hosts (paged).

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { num, percent, rate } from '../format';
import { throttle, useFeed, useIngest, useLoad, useNow, useTitle } from '../hooks';
import type { ChangeEvent } from '../live';
import { appHref, hostHref, sqlHref } from '../router';
import { EXAMPLES } from './sql';
import { sortVersions, VersionColors } from '../versions';
import { Ago, Problem, Stat, VersionBar, VersionChip } from '../ui/bits';
import { Chart } from '../ui/chart';
import { Header } from '../ui/header';
import { Pager, usePaged } from '../ui/pager';

const HOSTS_PAGE = 50;
/** app/A requests in flight at once when loading every app's versions. */
const PARALLEL = 4;

export function Overview() {
  useTitle('Fleet');
  const now = useNow();
  const ingest = useIngest();
  const list = useLoad(api.apps, []);
  const details = useAppDetails(list.data);
  const hosts = usePaged((cursor) => api.hosts(HOSTS_PAGE, cursor), []);

  // Live: refetch what the events touched, at a bounded pace.
  const dirty = useRef(new Set<string>());
  const refresh = useMemo(
    () =>
      throttle(() => {
        list.reload();
        details.refresh([...dirty.current]);
        dirty.current.clear();
      }, 1500),
    [],
  );
  const refreshHosts = useMemo(() => throttle(() => hosts.reload(), 5000), []);
  useEffect(
    () => () => {
      refresh.cancel();
      refreshHosts.cancel();
    },
    [],
  );
  const onEvents = (batch: ChangeEvent[]): void => {
    for (const e of batch) {
      if (e.type === 'cleared') details.clear();
      else dirty.current.add(e.version.app_id);
    }
    refresh();
    refreshHosts();
  };
  const resync = (): void => {
    list.reload();
    details.refresh(null);
    hosts.reload();
  };
  useFeed('', onEvents, resync);

  const apps = [...(list.data ?? [])].sort((a, b) => a.app.localeCompare(b.app));
  const sum = (f: (a: api.AppRow) => number | undefined): number | undefined =>
    list.data === undefined || list.data.some((a) => f(a) === undefined) ? undefined : list.data.reduce((n, a) => n + f(a)!, 0);
  const instances = sum((a) => a.instance_count) ?? ingest.vars?.instances;
  const up = sum((a) => a.up_count);
  const stale = sum((a) => a.stale_count);

  return (
    <>
      <Header />
      <main>
        <h1>Fleet overview</h1>
        <section class="stats">
          <Stat label="Apps" value={num(list.data?.length ?? ingest.vars?.apps)} />
          <Stat label="Hosts" value={num(ingest.vars?.hosts)} />
          <Stat label="Instances" value={num(instances)} />
          <Stat label="Up" tone="good" value={num(up)} sub={up !== undefined && instances ? `${percent(up, instances)} reporting` : undefined} />
          <Stat label="Stale" tone={stale ? 'warn' : undefined} value={num(stale)} sub="not heard from lately" />
          <div class="stat ingest">
            <div class="stat-label">Ingest now</div>
            <div class="stat-value" data-testid="ingest-rate">
              {ingest.rate === undefined ? (ingest.reachable ? '…' : 'offline') : rate(ingest.rate)}
              <small> updates/s</small>
            </div>
            <Sparkline series={ingest.series} />
          </div>
        </section>

        <p class="ask" data-testid="ask">
          Ask the fleet in SQL:{' '}
          {EXAMPLES.slice(0, 2).map((x, i) => (
            <>
              {i > 0 && ' · '}
              <a key={x.title} href={sqlHref(x.q)}>
                {x.title}
              </a>
            </>
          ))}{' '}
          · <a href="/sql">your own query</a>
        </p>

        <section class="panel">
          <h2>Apps</h2>
          <Problem error={list.error} what="the apps" />
          <table class="apps">
            <thead>
              <tr>
                <th>App</th>
                <th class="wide">Versions</th>
                <th>Newest version</th>
                <th class="n">Instances</th>
                <th class="n">Hosts</th>
                <th class="n">Up</th>
                <th class="n">Stale</th>
                <th class="n">Last update</th>
              </tr>
            </thead>
            <tbody>
              {apps.map((a) => (
                <AppLine key={a.app_id} row={a} detail={details.map.get(a.app_id)} now={now} />
              ))}
              {list.data?.length === 0 && (
                <tr>
                  <td colSpan={8} class="empty">
                    No apps yet. Programs report with one UDP datagram or POST to /api/v1/update/:{' '}
                    {'{"app":"billing-api","ver":"1.2.0","host":"web-01","instance":0}'}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </section>

        <section class="panel">
          <div class="panel-head">
            <h2>Hosts</h2>
            <Pager paged={hosts} size={HOSTS_PAGE} total={ingest.vars?.hosts} />
          </div>
          <Problem error={hosts.error} what="the hosts" />
          <table>
            <thead>
              <tr>
                <th>Host</th>
                <th class="n">Apps</th>
                <th class="n">Instances</th>
                <th class="n">Up</th>
                <th class="n">Stale</th>
                <th class="n">Last update</th>
              </tr>
            </thead>
            <tbody>
              {hosts.rows.map((h) => (
                <tr key={h.host}>
                  <td>
                    <a href={hostHref(h.host)}>{h.host}</a>
                  </td>
                  <td class="n">{num(h.app_count)}</td>
                  <td class="n">{num(h.instance_count)}</td>
                  <td class="n">{num(h.up_count)}</td>
                  <td class={`n ${h.stale_count ? 'warn' : ''}`}>{num(h.stale_count)}</td>
                  <td class="n">
                    <Ago unix={h.last_update} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </main>
    </>
  );
}

function AppLine({ row, detail, now }: { row: api.AppRow; detail: api.AppDetail | undefined; now: number }) {
  const versions = useMemo(() => (detail === undefined ? [] : sortVersions(detail.versions)), [detail]);
  const colors = useMemo(() => new VersionColors(versions.map((v) => v.ver)), [versions]);
  const total = versions.reduce((n, v) => n + v.count, 0);
  const newest = versions[0];
  return (
    <tr data-app={row.app_id}>
      <td class="name">
        <a href={appHref(row.app_id)}>{row.app}</a>
      </td>
      <td class="wide">
        <a href={appHref(row.app_id)} class="bar-link" aria-label={`${row.app}: versions`} tabIndex={-1}>
          {detail === undefined ? <div class="vbar loading" /> : <VersionBar versions={versions} colors={colors} total={total} />}
        </a>
      </td>
      <td>
        {newest !== undefined && (
          <>
            <VersionChip ver={newest.ver} colors={colors} /> <span class="muted">{percent(newest.count, total)}</span>
          </>
        )}
      </td>
      <td class="n">{num(row.instance_count ?? (detail ? total : undefined))}</td>
      <td class="n">{num(row.host_count)}</td>
      <td class="n">{num(row.up_count)}</td>
      <td class={`n ${row.stale_count ? 'warn' : ''}`}>{num(row.stale_count)}</td>
      <td class="n">
        <Ago unix={row.last_update} now={now} />
      </td>
    </tr>
  );
}

/** Every app's versions (app/A each), loaded a few at a time and refreshed on demand. */
function useAppDetails(list: api.AppRow[] | undefined) {
  const [map, setMap] = useState(new Map<string, api.AppDetail>());
  const known = useRef(list);
  known.current = list;

  const load = async (ids: string[]): Promise<void> => {
    const queue = [...ids];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          const d = await api.app(id);
          setMap((m) => {
            const next = new Map(m);
            if (d === null) next.delete(id);
            else next.set(id, d);
            return next;
          });
        } catch {
          // keep what is shown; the next refresh tries again
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  };

  // Apps not loaded yet (first load, or new apps).
  useEffect(() => {
    const missing = (list ?? []).map((a) => a.app_id).filter((id) => !map.has(id));
    if (missing.length > 0) void load(missing);
  }, [list]);

  return {
    map,
    /** Reloads these apps, or all (null). */
    refresh: (ids: string[] | null) => void load(ids ?? (known.current ?? []).map((a) => a.app_id)),
    clear: () => setMap(new Map()),
  };
}

function Sparkline({ series }: { series: [number[], number[]] }) {
  const options = () => ({
    padding: [4, 0, 0, 0] as [number, number, number, number],
    legend: { show: false },
    cursor: { show: false },
    axes: [{ show: false }, { show: false }],
    scales: { x: { time: true }, y: { range: (_u: unknown, _min: number, max: number): [number, number] => [0, Math.max(1, max * 1.1)] } },
    series: [{}, { stroke: '#2f6fde', width: 1.5, fill: 'rgba(47,111,222,0.12)', points: { show: false } }],
  });
  return <Chart class="spark" options={options} data={series} shape="spark" height={36} label="Ingest rate over the last minutes" />;
}
