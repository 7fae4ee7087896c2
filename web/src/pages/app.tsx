// One app: its versions with counts, how the rollout went over time, and
// its instances (paged, filtered by version and status). Older versions
// link straight to the hosts still running them.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { num, percent, when } from '../format';
import { throttle, useFeed, useLoad, useNow, useTitle } from '../hooks';
import type { ChangeEvent } from '../live';
import { appHref, navigate } from '../router';
import { newestFirst, sortVersions, VersionColors } from '../versions';
import { Ago, Problem, Stat, VersionBar, VersionChip } from '../ui/bits';
import { Header } from '../ui/header';
import { OLDER, RolloutChart, toRollout } from '../ui/rollout';
import { Instances } from './app-instances';

const RANGES = [
  { label: '1 h', seconds: 3600 },
  { label: '6 h', seconds: 6 * 3600 },
  { label: '24 h', seconds: 86400 },
  { label: '7 d', seconds: 7 * 86400 },
];
/** Points per rollout chart. */
const STEPS = 120;

export interface AppFilter {
  ver?: string;
  status?: api.Status;
  /** label.NAME=VALUE filters. */
  labels?: Record<string, string>;
}

export function AppPage({ appId, filter }: { appId: string; filter: AppFilter }) {
  const now = useNow();
  const detail = useLoad(() => api.app(appId), [appId]);
  const [range, setRange] = useState(RANGES[0]!.seconds);
  const rollout = useLoad(() => loadRollout(appId, range), [appId, range]);
  const instancesRef = useRef<HTMLElement>(null);
  const [liveBatch, setLiveBatch] = useState<ChangeEvent[]>([]);

  // Live: counts at once (bounded), the chart now and then, rows in place.
  const refresh = useMemo(() => throttle(() => detail.reload(), 1000), [appId]);
  const refreshChart = useMemo(() => throttle(() => rollout.reload(), 15_000), [appId]);
  useEffect(
    () => () => {
      refresh.cancel();
      refreshChart.cancel();
    },
    [appId],
  );
  useFeed(
    `app_id=${encodeURIComponent(appId)}`,
    (batch) => {
      refresh();
      refreshChart();
      setLiveBatch(batch);
    },
    () => {
      detail.reload();
      rollout.reload();
      setLiveBatch([{ type: 'cleared' }]);
    },
  );

  const a = detail.data;
  useTitle(a?.app ?? appId);
  const versions = useMemo(() => (a ? sortVersions(a.versions) : []), [a]);
  const chart = useMemo(() => (rollout.data ? toRollout(withNow(rollout.data.steps, a)) : rollout.data), [rollout.data, a]);
  // Current versions keep their overview colours; history-only ones follow.
  const colors = useMemo(() => {
    const current = versions.map((v) => v.ver);
    const past = (chart?.names ?? []).filter((v) => v !== OLDER && !current.includes(v));
    return new VersionColors([...current, ...past.sort(newestFirst)]);
  }, [versions, chart]);

  if (detail.data === null) {
    return (
      <>
        <Header />
        <main>
          <h1>No app “{appId}”</h1>
          <p>
            No instance of this app has reported, or all were removed. <a href="/">Back to the fleet</a>
          </p>
        </main>
      </>
    );
  }

  const total = a?.instance_count ?? versions.reduce((n, v) => n + v.count, 0);
  const newest = versions[0];
  const older = versions.slice(1);
  const olderCount = older.reduce((n, v) => n + v.count, 0);
  const oldest = older[older.length - 1];

  const showVersion = (ver: string | undefined) => (e: Event) => {
    e.preventDefault();
    navigate(appHref(appId, { ...filter, ver }), { keepScroll: true });
    instancesRef.current?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  };

  return (
    <>
      <Header>
        <span>›</span>
        <span>{a?.app ?? appId}</span>
      </Header>
      <main>
        <h1>
          {a?.app ?? appId} {a && a.app !== a.app_id && <small class="muted">app_id {a.app_id}</small>}
        </h1>
        <Problem error={detail.error} what="the app" />
        <section class="stats">
          <Stat label="Instances" value={num(a?.instance_count ?? (a ? total : undefined))} />
          <Stat label="Hosts" value={num(a?.host_count)} />
          <Stat label="Up" tone="good" value={num(a?.up_count)} sub={a?.up_count !== undefined && total ? percent(a.up_count, total) : undefined} />
          <Stat label="Stale" tone={a?.stale_count ? 'warn' : undefined} value={num(a?.stale_count)} />
          <Stat label="Versions" value={a ? num(versions.length) : '—'} />
          <Stat label="Last update" value={<Ago unix={a?.last_update} now={now} />} />
        </section>

        {newest !== undefined && (
          <p class="callout" data-testid="callout">
            <b>{percent(newest.count, total)}</b> of instances run the newest version <VersionChip ver={newest.ver} colors={colors} />.{' '}
            {olderCount === 0 ? (
              'Every instance is on it.'
            ) : (
              <>
                {num(olderCount)} still run {older.length === 1 ? 'an older version' : `${older.length} older versions`}
                {oldest && (
                  <>
                    ; the oldest, <VersionChip ver={oldest.ver} colors={colors} />, on {num(oldest.count)}:{' '}
                    <a href={appHref(appId, { ver: oldest.ver })} onClick={showVersion(oldest.ver)} data-testid="oldest-hosts">
                      show its hosts
                    </a>
                  </>
                )}
                .
              </>
            )}
          </p>
        )}

        <div class="two">
          <section class="panel">
            <h2>Versions</h2>
            {a && <VersionBar versions={versions} colors={colors} total={total} />}
            <div class="scroll">
              <table class="versions" data-testid="versions">
                <thead>
                  <tr>
                    <th>Version</th>
                    <th class="n">Instances</th>
                    <th class="n">Share</th>
                    <th class="n">Up</th>
                    <th class="n">Stale</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {versions.map((v) => (
                    <tr key={v.ver} class={filter.ver === v.ver ? 'selected' : ''} data-ver={v.ver}>
                      <td>
                        <VersionChip ver={v.ver} colors={colors} />
                        {v === newest && <span class="tag">newest</span>}
                      </td>
                      <td class="n count">{num(v.count)}</td>
                      <td class="n">{percent(v.count, total)}</td>
                      <td class="n">{num(v.up_count)}</td>
                      <td class={`n ${v.stale_count ? 'warn' : ''}`}>{num(v.stale_count)}</td>
                      <td class="n">
                        <a href={appHref(appId, { ...filter, ver: v.ver })} onClick={showVersion(v.ver)}>
                          hosts ›
                        </a>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>

          <section class="panel" data-testid="rollout">
            <div class="panel-head">
              <h2>Rollout</h2>
              <fieldset class="seg" aria-label="Time range">
                {RANGES.map((r) => (
                  <button type="button" key={r.label} class={r.seconds === range ? 'on' : ''} onClick={() => setRange(r.seconds)}>
                    {r.label}
                  </button>
                ))}
              </fieldset>
            </div>
            <Problem error={rollout.error} what="the rollout" />
            {rollout.data === null && <p class="muted">This server keeps no rollout history.</p>}
            {chart && chart.times.length < 2 && <p class="muted">No history in this range yet.</p>}
            {chart && chart.times.length >= 2 && <RolloutChart rollout={chart} colors={colors} />}
            {rollout.data?.zoomed && chart && <p class="muted small">History starts {when(chart.times[0])}: showing that span only.</p>}
          </section>
        </div>

        <section class="panel" ref={instancesRef}>
          <Instances appId={appId} filter={filter} versions={versions} total={a} colors={colors} live={liveBatch} now={now} />
        </section>
      </main>
    </>
  );
}

/** Fewer points with data than this: zoom in on the data instead. */
const MIN_POINTS = 20;

async function loadRollout(appId: string, range: number) {
  const now = Math.floor(Date.now() / 1000);
  // range / STEPS is whole for every range, so the last point is now.
  let steps = await api.rollout(appId, now - range, Math.max(1, Math.round(range / STEPS)));
  if (steps === null) return null;
  const first = steps.findIndex((s) => Object.keys(s.counts).length > 0);
  if (first > 0 && steps.length - first < MIN_POINTS) {
    // The server has history for only the end of the range (it is new, or
    // so is the app): a chart of one or two points says nothing, so show
    // the span that has data, finer.
    const since = steps[first - 1]!.time;
    steps = (await api.rollout(appId, since, Math.max(1, Math.ceil((now - since) / STEPS)))) ?? steps;
    return { steps, zoomed: true };
  }
  return { steps, zoomed: false };
}

/**
 * The rollout with the app's current counts as its last point: the chart
 * then moves with every live update, between refetches of the history.
 */
function withNow(steps: api.RolloutStep[], app: api.AppDetail | null | undefined): api.RolloutStep[] {
  const now = Math.floor(Date.now() / 1000);
  const last = steps[steps.length - 1];
  if (!app || last === undefined || last.time >= now) return steps;
  return [...steps, { time: now, counts: Object.fromEntries(app.versions.map((v) => [v.ver, v.count])) }];
}
