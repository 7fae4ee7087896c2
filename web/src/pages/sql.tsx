// Ask the fleet anything: a read-only SQL query (tables versions, apps,
// hosts, history) run by the server's SQL thread, its answer as a table and
// the first numeric column as a bar chart, one bar per row (labelled by the
// first text column). The query lives in the URL (/sql?q=…), so an answer
// can be bookmarked and shared; the examples are links too.

import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import uPlotLib from 'uplot';
import * as api from '../api';
import { useTitle } from '../hooks';
import { navigate, sqlHref } from '../router';
import { Chart } from '../ui/chart';
import { Header } from '../ui/header';

/** Example questions: each a link to this page with its query. */
export const EXAMPLES: { title: string; q: string }[] = [
  {
    title: 'versions per app',
    q: 'SELECT app_id, count(DISTINCT ver) AS versions, count(*) AS instances\nFROM versions GROUP BY app_id ORDER BY versions DESC, app_id',
  },
  {
    title: 'stale by region',
    q: "SELECT coalesce(labels['region'], '(none)') AS region, count(*) FILTER (WHERE status = 'stale') AS stale, count(*) AS instances\nFROM versions GROUP BY region ORDER BY stale DESC, region",
  },
  {
    title: 'apps on more than two versions',
    q: 'SELECT app_id, count(DISTINCT ver) AS versions\nFROM versions GROUP BY app_id HAVING count(DISTINCT ver) > 2 ORDER BY versions DESC',
  },
  {
    title: 'changes per hour (last day)',
    q: "SELECT strftime(to_timestamp(time - time % 3600), '%Y-%m-%d %H:00') AS hour, count(*) AS changes\nFROM history WHERE time > epoch(now()) - 86400 GROUP BY hour ORDER BY hour",
  },
];

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)/;

type Result = { answer: api.SqlAnswer; ms: number } | { error: string; code?: string } | null;

export function SqlPage({ q }: { q: string }) {
  useTitle('SQL');
  const [text, setText] = useState(q === '' ? EXAMPLES[0]!.q : q);
  const [result, setResult] = useState<Result>(null);
  const [running, setRunning] = useState(false);

  // The URL's query runs when the page opens or the URL changes (an example link, back/forward).
  useEffect(() => {
    if (q === '') return;
    setText(q);
    let current = true;
    setRunning(true);
    const t0 = performance.now();
    api.sql(q).then(
      (answer) => {
        if (!current) return;
        setResult(answer === null ? { error: 'This server has no SQL endpoint.' } : { answer, ms: performance.now() - t0 });
        setRunning(false);
      },
      (err: unknown) => {
        if (!current) return;
        const e = err as Error & { serverCode?: string };
        setResult({ error: e.message, code: e.serverCode });
        setRunning(false);
      },
    );
    return () => {
      current = false;
    };
  }, [q]);

  const run = (e?: Event): void => {
    e?.preventDefault();
    const href = sqlHref(text.trim());
    // The same query again: run it again (navigate ignores the same URL).
    if (href === location.pathname + location.search) {
      navigate('/sql');
      navigate(href, { keepScroll: true });
    } else {
      navigate(href, { keepScroll: true });
    }
  };

  return (
    <>
      <Header>
        <span>SQL</span>
      </Header>
      <main>
        <h1>Ask the fleet</h1>
        <section class="panel">
          <form class="sql" onSubmit={run}>
            <textarea
              value={text}
              rows={Math.min(12, Math.max(4, text.split('\n').length + 1))}
              spellcheck={false}
              aria-label="SQL query"
              data-testid="sql-text"
              onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(e);
              }}
            />
            <div class="sql-bar">
              <button type="submit" disabled={running || text.trim() === ''} data-testid="sql-run">
                {running ? 'Running…' : 'Run'}
              </button>
              <span class="muted">Read-only SQL (DuckDB) over versions, apps, hosts and history · Ctrl+Enter runs</span>
            </div>
          </form>
          <p class="examples">
            Examples:{' '}
            {EXAMPLES.map((x, i) => (
              <>
                {i > 0 && ' · '}
                <a key={x.title} href={sqlHref(x.q)}>
                  {x.title}
                </a>
              </>
            ))}
          </p>
        </section>
        {result !== null && 'error' in result && (
          <section class="panel problem" data-testid="sql-error">
            <strong>{result.code ?? 'Error'}</strong>: {result.error}
          </section>
        )}
        {result !== null && 'answer' in result && <Answer answer={result.answer} ms={result.ms} />}
        <section class="panel">
          <h2>Tables</h2>
          <ul class="muted tables">
            <li>
              <code>versions</code>: app, app_id, host, host_ip, instance, ver, labels (a map: <code>labels['env']</code>), last_update, since, status
            </li>
            <li>
              <code>apps</code>: app, app_id, host_count, instance_count, up_count, stale_count, last_update
            </li>
            <li>
              <code>hosts</code>: host, app_count, instance_count, up_count, stale_count, last_update
            </li>
            <li>
              <code>history</code>: app, app_id, host, host_ip, instance, ver, prev_ver, labels, time, change (new, version, labels, removed)
            </li>
          </ul>
          <p class="muted">
            Times are unix seconds (<code>to_timestamp(last_update)</code> for dates).
          </p>
        </section>
      </main>
    </>
  );
}

function cell(v: unknown): string {
  if (v === null) return 'NULL';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function Answer({ answer, ms }: { answer: api.SqlAnswer; ms: number }) {
  const numeric = answer.columns.findIndex((c) => NUMERIC.test(c.type));
  const label = answer.columns.findIndex((c, i) => i !== numeric && !NUMERIC.test(c.type));
  return (
    <section class="panel" data-testid="sql-answer">
      <div class="panel-head">
        <h2>
          {answer.data.length} row{answer.data.length === 1 ? '' : 's'}
        </h2>
        <span class="muted">{ms.toFixed(0)} ms</span>
      </div>
      {numeric >= 0 && answer.data.length > 0 && <BarChart answer={answer} value={numeric} label={label} />}
      <div class="scroll">
        <table data-testid="sql-table">
          <thead>
            <tr>
              {answer.columns.map((c) => (
                <th key={c.name} class={NUMERIC.test(c.type) ? 'n' : ''} title={c.type}>
                  {c.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {answer.data.map((row, r) => (
              <tr key={r}>
                {row.map((v, i) => (
                  <td key={i} class={NUMERIC.test(answer.columns[i]!.type) ? 'n' : 'mono'}>
                    {cell(v)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The first numeric column, one bar per row, labelled by the first text column (else the row number). */
function BarChart({ answer, value, label }: { answer: api.SqlAnswer; value: number; label: number }) {
  const rows = answer.data.slice(0, 500);
  const names = rows.map((row, i) => (label >= 0 ? cell(row[label]) : String(i + 1)));
  const data = useMemo<uPlot.AlignedData>(() => [rows.map((_, i) => i), rows.map((row) => Number(row[value] ?? 0))], [answer]);
  const column = answer.columns[value]!.name;
  return (
    <Chart
      class="sql-chart"
      height={220}
      shape={`${column}:${rows.length}:${names.join('\u0000')}`}
      data={data}
      label={`${column} per row`}
      options={() => ({
        scales: { x: { time: false, range: [-0.5, rows.length - 0.5] } },
        axes: [{ values: (_u: uPlot, ticks: number[]) => ticks.map((t) => (Number.isInteger(t) ? (names[t] ?? '') : '')) }, {}],
        series: [{}, { label: column, stroke: '#2f6fde', fill: 'rgba(47,111,222,0.35)', paths: uPlotLib.paths.bars!({ size: [0.7, 60] }) }],
        legend: { show: false },
      })}
    />
  );
}
