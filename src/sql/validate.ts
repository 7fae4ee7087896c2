// Which statements GET/POST /api/v1/sql runs: exactly one, and a read.
// Two checks, both needed: statements that write, change settings, attach,
// copy, install or load are refused by their first keyword (DuckDB plans
// some of them, PRAGMA version among them, as a SELECT), and whatever is
// left must be planned by DuckDB as a SELECT or an EXPLAIN (statementType,
// checked in tables.ts after prepare). The engine
// itself runs with external access disabled, so even a query cannot read
// files or the network, and extensions are neither installed nor loaded.

/**
 * Statements refused by their first keyword: everything that writes,
 * changes settings or the catalog, touches files, attaches databases or
 * loads code. (Anything else must still be planned as a SELECT or EXPLAIN.)
 */
const REFUSED_KEYWORDS = new Set([
  'abort',
  'alter',
  'analyze',
  'attach',
  'begin',
  'call',
  'checkpoint',
  'comment',
  'commit',
  'copy',
  'create',
  'deallocate',
  'delete',
  'detach',
  'drop',
  'end',
  'execute',
  'export',
  'force',
  'import',
  'insert',
  'install',
  'load',
  'merge',
  'pragma',
  'prepare',
  'replace',
  'reset',
  'rollback',
  'set',
  'start',
  'transaction',
  'truncate',
  'update',
  'upsert',
  'use',
  'vacuum',
]);

/** The first keyword of a statement, after comments, whitespace and opening parentheses. */
export function firstKeyword(sql: string): string {
  let i = 0;
  for (;;) {
    while (i < sql.length && (/\s/.test(sql[i]!) || sql[i] === '(')) i++;
    if (sql.startsWith('--', i)) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else {
      break;
    }
  }
  const m = /^[A-Za-z_]+/.exec(sql.slice(i));
  return m === null ? '' : m[0].toLowerCase();
}

/** Why a statement is refused before DuckDB sees it, or null. */
export function refusal(sql: string): string | null {
  if (sql.trim() === '') return 'the query is empty';
  const word = firstKeyword(sql);
  if (REFUSED_KEYWORDS.has(word)) return `only queries are allowed (read-only SQL): ${word.toUpperCase()} is refused`;
  return null;
}
