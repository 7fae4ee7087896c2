// The bar on every page: where you are, a box to jump to an app or a host,
// and whether the live feed is connected.

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from '../api';
import { connectionState, onConnection, type Connection } from '../live';
import { appHref, hostHref, navigate } from '../router';

const LABEL: Record<Connection, string> = { connecting: 'connecting…', live: 'live', offline: 'reconnecting…' };

function LiveDot() {
  const [state, setState] = useState(connectionState);
  useEffect(() => onConnection(setState), []);
  return (
    <span class={`live ${state}`} title={state === 'live' ? 'Updating live from the server' : 'Lost the live feed: retrying'} data-testid="live">
      <i />
      {LABEL[state]}
    </span>
  );
}

function Jump() {
  const [apps, setApps] = useState<api.AppRow[]>([]);
  const [text, setText] = useState('');
  const loadApps = (): void => {
    if (apps.length === 0) api.apps().then(setApps, () => undefined);
  };
  const go = (e: Event): void => {
    e.preventDefault();
    const t = text.trim();
    if (t === '') return;
    const app = apps.find((a) => a.app === t || a.app_id === t);
    navigate(app !== undefined ? appHref(app.app_id) : hostHref(t));
    setText('');
  };
  return (
    // biome-ignore lint/a11y/useSemanticElements: a form (it submits); role=search is what <search> would add around it
    <form class="jump" onSubmit={go} role="search">
      <input
        type="search"
        placeholder="Go to an app or host…"
        aria-label="Go to an app or host"
        list="jump-apps"
        value={text}
        onFocus={loadApps}
        onInput={(e) => setText((e.target as HTMLInputElement).value)}
      />
      <datalist id="jump-apps">
        {apps.map((a) => (
          <option key={a.app_id} value={a.app} />
        ))}
      </datalist>
    </form>
  );
}

export function Header({ children }: { children?: ComponentChildren }) {
  return (
    <header class="top">
      <a class="brand" href="/">
        <svg viewBox="0 0 16 16" width="20" height="20" aria-hidden="true">
          <rect width="16" height="16" rx="3" fill="#2f6fde" />
          <rect x="3" y="9" width="2" height="4" fill="#fff" />
          <rect x="7" y="6" width="2" height="7" fill="#fff" />
          <rect x="11" y="3" width="2" height="10" fill="#fff" />
        </svg>
        Partisci
      </a>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="/">Fleet</a>
        {children}
      </nav>
      <a class="sql-link" href="/sql" data-testid="sql-link">
        SQL
      </a>
      <Jump />
      <LiveDot />
    </header>
  );
}
