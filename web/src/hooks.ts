// Small hooks shared by the pages: loading with refresh, a ticking clock
// for "x min ago", the live feed, and the ingest-rate poller.

import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from './api';
import { watch, type ChangeEvent } from './live';

/** The tab's title, for people with many tabs open. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title === '' ? 'Partisci' : `${title} · Partisci`;
  }, [title]);
}

/** Now in ms, re-rendering every `everyMs`. */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(t);
  }, [everyMs]);
  return now;
}

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Loads again, keeping the current data on screen meanwhile. */
  reload(): void;
}

/**
 * Runs `load` when `deps` change (showing nothing stale from other deps)
 * and on reload() (keeping the old data until the new arrives). Answers
 * that arrive out of order are dropped.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = (keep: boolean): void => {
    const my = ++seq.current;
    setState((s) => (keep ? { ...s, loading: true } : { loading: true }));
    loadRef.current().then(
      (data) => {
        if (my === seq.current) setState({ data, loading: false });
      },
      (error: unknown) => {
        if (my !== seq.current) return;
        setState((s) => ({ data: keep ? s.data : undefined, error: error instanceof Error ? error : new Error(String(error)), loading: false }));
      },
    );
  };

  const reload = useRef(() => run(true));
  useEffect(() => run(false), deps);
  return { ...state, reload: reload.current } as Loaded<T>;
}

/**
 * fn at most once per `ms`: the first call runs at once, later ones are
 * folded into one trailing call. Keeps refetches bounded however fast
 * events arrive.
 */
export function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let last = 0;
  let timer: number | undefined;
  const call = (): void => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  const throttled = (): void => {
    if (timer !== undefined) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) call();
    else timer = window.setTimeout(call, wait);
  };
  throttled.cancel = () => window.clearTimeout(timer);
  return throttled;
}

/** Subscribes to the change feed for `query` while mounted. */
export function useFeed(query: string, onEvents: (batch: ChangeEvent[]) => void, onResync: () => void): void {
  const handlers = useRef({ onEvents, onResync });
  handlers.current = { onEvents, onResync };
  useEffect(
    () =>
      watch(query, {
        events: (batch) => handlers.current.onEvents(batch),
        resync: () => handlers.current.onResync(),
      }),
    [query],
  );
}

export interface Ingest {
  vars: api.Vars | undefined;
  /** Updates received per second over the last poll interval. */
  rate: number | undefined;
  /** [unix seconds[], rates[]] for the sparkline. */
  series: [number[], number[]];
  reachable: boolean;
}

const POLL_MS = 2000;
const KEEP_POINTS = 150; // 5 minutes

/** Polls /debug/vars; the ingest rate is the change of received updates (UDP + HTTP) between polls. */
export function useIngest(): Ingest {
  const [state, setState] = useState<Ingest>({ vars: undefined, rate: undefined, series: [[], []], reachable: true });
  useEffect(() => {
    let prev: { t: number; n: number } | undefined;
    let stopped = false;
    const times: number[] = [];
    const rates: number[] = [];
    const poll = async (): Promise<void> => {
      try {
        const v = await api.vars();
        if (stopped) return;
        const t = performance.now();
        const n = (v.udp_datagrams ?? 0) + (v.http_updates ?? 0);
        let rate: number | undefined;
        // A counter that went down means the server restarted: start over.
        if (prev !== undefined && n >= prev.n) {
          rate = ((n - prev.n) * 1000) / (t - prev.t);
          times.push(Date.now() / 1000);
          rates.push(rate);
          if (times.length > KEEP_POINTS) {
            times.shift();
            rates.shift();
          }
        }
        prev = { t, n };
        setState({ vars: v, rate, series: [times.slice(), rates.slice()], reachable: true });
      } catch {
        if (stopped) return;
        prev = undefined;
        setState((s) => ({ ...s, rate: undefined, reachable: false }));
      }
    };
    void poll();
    const timer = window.setInterval(() => void poll(), POLL_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, []);
  return state;
}
