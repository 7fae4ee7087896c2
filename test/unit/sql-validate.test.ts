// sql/validate.ts: statements refused by their first keyword.

import { describe, expect, test } from 'vitest';
import { firstKeyword, refusal } from '../../src/sql/validate.js';

describe('firstKeyword', () => {
  test.each([
    ['SELECT 1', 'select'],
    ['  \n\t(( select 1))', 'select'],
    ['-- a comment\nWITH x AS (SELECT 1) SELECT * FROM x', 'with'],
    ['/* one */ /* two */ from versions', 'from'],
    ['/* unterminated', ''],
    ['', ''],
  ])('%j -> %j', (sql, word) => {
    expect(firstKeyword(sql)).toBe(word);
  });
});

describe('refusal', () => {
  test.each([
    'CREATE TABLE t (a int)',
    'drop view versions',
    'Insert into history values (1)',
    'PRAGMA version',
    'SET threads = 4',
    "ATTACH 'x.db'",
    "COPY history TO 'x'",
    'INSTALL httpfs',
    'LOAD httpfs',
    'CALL pragma_version()',
    'USE main',
    'CHECKPOINT',
    '/**/ ( DELETE FROM history )',
  ])('%s is refused', (sql) => {
    expect(refusal(sql)).toMatch(/^only queries are allowed \(read-only SQL\): [A-Z]+ is refused$/);
  });

  test.each([
    'SELECT 1',
    'with x as (select 1) select * from x',
    'FROM versions',
    'VALUES (1)',
    'EXPLAIN SELECT 1',
    'DESCRIBE versions',
    'SUMMARIZE apps',
    'SHOW TABLES',
    'PIVOT versions ON ver USING count(*)',
    'SELEC 1',
  ])('%s is left to DuckDB (which must plan it as a query)', (sql) => {
    expect(refusal(sql)).toBeNull();
  });

  test('an empty query', () => {
    expect(refusal('  \n ')).toBe('the query is empty');
  });
});
