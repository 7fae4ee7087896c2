// One host: every app and instance on it with version, status and last
// update, and its history of version changes. A host runs tens of
// instances, not thousands, so its lists load whole.

import { useEffect, useMemo } from 'preact/hooks';
import * as api from '../api';
import { num, when } from '../format';
import { throttle, useFeed, useLoad, useNow, useTitle } from '../hooks';
import { appHref } from '../router';
import { sortVersions, VersionColors } from '../versions';
import { Ago, Problem, Stat, StatusBadge, VersionChip } from '../ui/bits';
import { Header } from '../ui/header';

const HISTORY = 200;

export function HostPage({ host }: { host: string }) {
  useTitle(host);
  const now = useNow();
  const summary = useLoad(() => api.host(host), [host]);
  const instances = useLoad(() => api.versions({ host }).then((p) => p.data), [host]);
  const history = useLoad(() => api.history({ host }, HISTORY), [host]);

  const rows = useMemo(() => [...(instances.data ?? [])].sort((a, b) => a.app.localeCompare(b.app) || a.instance - b.instance), [instances.data]);
  // Versions are coloured as on each app's page (by rank in the whole
  // fleet), which needs the apps' version lists: a host runs few apps.
  const appIds = [...new Set(rows.map((r) => r.app_id))].sort();
  const apps = useLoad(() => loadApps(appIds), [appIds.join('\u0000')]);
  const colorsByApp = useMemo(() => {
    const m = new Map<string, { colors: VersionColors; newest: string | undefined }>();
    for (const [id, d] of apps.data ?? []) {
      const order = sortVersions(d.versions).map((v) => v.ver);
      m.set(id, { colors: new VersionColors(order), newest: order[0] });
    }
    return m;
  }, [apps.data]);
  const reloadAll = (): void => {
    summary.reload();
    instances.reload();
    history.reload();
    apps.reload();
  };
  const refresh = useMemo(() => throttle(reloadAll, 1000), [host]);
  useEffect(() => () => refresh.cancel(), [host]);
  useFeed(`host=${encodeURIComponent(host)}`, refresh, reloadAll);

  const none = { colors: new VersionColors([]), newest: undefined };

  const s = summary.data;
  if (s === null) {
    return (
      <>
        <Header />
        <main>
          <h1>No host “{host}”</h1>
          <p>
            Nothing on this host has reported, or it was decommissioned. <a href="/">Back to the fleet</a>
          </p>
        </main>
      </>
    );
  }

  return (
    <>
      <Header>
        <span>›</span>
        <span>host {host}</span>
      </Header>
      <main>
        <h1>
          <small class="muted">host</small> {host}
        </h1>
        <Problem error={summary.error ?? instances.error} what="the host" />
        <section class="stats">
          <Stat label="Apps" value={num(s?.app_count)} />
          <Stat label="Instances" value={num(s?.instance_count ?? instances.data?.length)} />
          <Stat label="Up" tone="good" value={num(s?.up_count)} />
          <Stat label="Stale" tone={s?.stale_count ? 'warn' : undefined} value={num(s?.stale_count)} />
          <Stat label="Last update" value={<Ago unix={s?.last_update} now={now} />} />
          <Stat label="Address" value={<span class="addr">{rows[0]?.host_ip ?? '—'}</span>} />
        </section>

        <section class="panel">
          <h2>Apps and instances</h2>
          <table data-testid="host-instances">
            <thead>
              <tr>
                <th>App</th>
                <th class="n">Instance</th>
                <th>Version</th>
                <th>Status</th>
                <th class="n">Last update</th>
                <th class="n">On this version since</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.app_id}\u0000${r.instance}`}>
                  <td class="name">
                    <a href={appHref(r.app_id)}>{r.app}</a>
                  </td>
                  <td class="n">{r.instance}</td>
                  <td>
                    <VersionChip ver={r.ver} colors={(colorsByApp.get(r.app_id) ?? none).colors} />
                    {behind(r, colorsByApp.get(r.app_id)?.newest) && (
                      <span class="tag old" title={`The app's newest version is ${colorsByApp.get(r.app_id)?.newest}`}>
                        behind
                      </span>
                    )}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td class="n">
                    <Ago unix={r.last_update} now={now} />
                  </td>
                  <td class="n">
                    <Ago unix={r.since} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>

        <section class="panel">
          <h2>History</h2>
          <Problem error={history.error} what="the history" />
          {history.data === null && <p class="muted">This server keeps no history.</p>}
          {history.data && (
            <table class="history" data-testid="host-history">
              <thead>
                <tr>
                  <th>When</th>
                  <th>App</th>
                  <th class="n">Instance</th>
                  <th>Change</th>
                </tr>
              </thead>
              <tbody>
                {history.data.map((h, i) => (
                  <tr key={i}>
                    <td class="mono small" title={`${Math.round(now / 1000 - h.time)} s ago`}>
                      {when(h.time)}
                    </td>
                    <td class="name">
                      <a href={appHref(h.app_id)}>{h.app}</a>
                    </td>
                    <td class="n">{h.instance}</td>
                    <td>
                      <Change entry={h} colors={(colorsByApp.get(h.app_id) ?? none).colors} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {history.data?.length === HISTORY && <p class="muted">The latest {HISTORY} changes.</p>}
        </section>
      </main>
    </>
  );
}

function Change({ entry, colors }: { entry: api.HistoryEntry; colors: VersionColors }) {
  if (entry.ver === null) {
    return (
      <span>
        <span class="muted">removed (was</span> <VersionChip ver={entry.prev_ver} colors={colors} />
        <span class="muted">)</span>
      </span>
    );
  }
  if (entry.prev_ver === null) {
    return (
      <span>
        <span class="muted">first seen on</span> <VersionChip ver={entry.ver} colors={colors} />
      </span>
    );
  }
  return (
    <span>
      <VersionChip ver={entry.prev_ver} colors={colors} /> <span class="muted">→</span> <VersionChip ver={entry.ver} colors={colors} />
    </span>
  );
}

const behind = (r: api.Instance, newest: string | undefined): boolean => newest !== undefined && r.ver !== newest;

async function loadApps(ids: string[]): Promise<Map<string, api.AppDetail>> {
  const found = await Promise.all(ids.map((id) => api.app(id).catch(() => null)));
  return new Map(found.filter((d): d is api.AppDetail => d !== null).map((d) => [d.app_id, d]));
}
