// Server-side paging with the API's cursors (limit + cursor → next). Only
// one page of rows is ever in the page, so an app on 10,000 hosts costs
// the browser no more than one on ten. Cursors of the pages seen are kept
// to go back.

import { useState } from 'preact/hooks';
import type { Page } from '../api';
import { num } from '../format';
import { useLoad } from '../hooks';

export interface Paged<T> {
  rows: T[];
  /** 0-based page number. */
  index: number;
  hasNext: boolean;
  loading: boolean;
  error: Error | undefined;
  next(): void;
  prev(): void;
  first(): void;
  /** Refetches the current page (keeps it on screen meanwhile). */
  reload(): void;
  /** Changes rows in place, e.g. from live events. */
  patch(fn: (rows: T[]) => T[]): void;
}

export function usePaged<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, deps: unknown[]): Paged<T> {
  // The cursors of the pages walked so far, for one query (deps): a new
  // query starts again at its first page.
  const depsKey = JSON.stringify(deps);
  const [nav, setNav] = useState<{ key: string; stack: (string | undefined)[] }>({ key: depsKey, stack: [undefined] });
  const [patched, setPatched] = useState<{ from: Page<T>; rows: T[] } | null>(null);
  const stack = nav.key === depsKey ? nav.stack : [undefined];
  const setCursors = (s: (string | undefined)[]): void => setNav({ key: depsKey, stack: s });
  const index = stack.length - 1;
  const cursor = stack[index];
  const page = useLoad(() => fetchPage(cursor), [depsKey, index, cursor]);
  const data = page.data;
  const rows = patched !== null && patched.from === data ? patched.rows : (data?.data ?? []);
  return {
    rows,
    index,
    hasNext: data?.next !== undefined,
    loading: page.loading,
    error: page.error,
    next: () => {
      if (data?.next !== undefined) setCursors([...stack, data.next]);
    },
    prev: () => setCursors(stack.length > 1 ? stack.slice(0, -1) : stack),
    first: () => setCursors([undefined]),
    reload: page.reload,
    patch: (fn) => {
      if (data !== undefined) setPatched((p) => ({ from: data, rows: fn(p !== null && p.from === data ? p.rows : data.data) }));
    },
  };
}

/** "1–100 of 23,323" with first / previous / next buttons. */
export function Pager<T>({ paged, size, total }: { paged: Paged<T>; size: number; total: number | undefined }) {
  const from = paged.index * size + 1;
  const to = paged.index * size + paged.rows.length;
  return (
    <div class="pager">
      <span class="muted">
        {paged.rows.length === 0 ? 'none' : `${num(from)}–${num(to)}`}
        {total !== undefined && ` of ${num(total)}`}
        {paged.loading && ' · loading…'}
      </span>
      <button type="button" onClick={paged.first} disabled={paged.index === 0}>
        « First
      </button>
      <button type="button" onClick={paged.prev} disabled={paged.index === 0}>
        ‹ Previous
      </button>
      <button type="button" onClick={paged.next} disabled={!paged.hasNext}>
        Next ›
      </button>
    </div>
  );
}
