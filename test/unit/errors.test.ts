// The error catalog (src/errors.ts) and the HTTP front's one table from
// code to status (src/http/error-reply.ts): every code has a class, a
// status and an error body; foreign errors are translated.

import { describe, expect, test } from 'vitest';
import {
  CATALOG,
  ERROR_CODES,
  InternalError,
  InvalidCursorError,
  InvalidParameterError,
  MalformedUpdateError,
  PartisciError,
  QueueFullError,
  RequestFailedError,
  ShuttingDownError,
  StorageUnavailableError,
  UnknownAppError,
  UnknownPathError,
  UsageError,
  WriterUnavailableError,
  isCatalogError,
} from '../../src/errors.js';
import { HTTP_STATUS, SERVED_CODES, asCatalogError, errorReply } from '../../src/http/error-reply.js';
import { STATUS } from '../../src/http/respond.js';

describe('the catalog', () => {
  test('each class carries its own code, statically and on instances, and its name', () => {
    for (const [code, Class] of Object.entries(CATALOG)) {
      expect(Class.code, code).toBe(code);
      expect(Class.name, code).toMatch(/^[A-Z][A-Za-z]+Error$/);
    }
    const err = new UnknownAppError('ApiApp', 'billing');
    expect(err).toBeInstanceOf(PartisciError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(UnknownAppError);
    expect(err).not.toBeInstanceOf(UsageError);
    expect({ code: err.code, name: err.name, message: err.message }).toEqual({
      code: 'UNKNOWN_APP',
      name: 'UnknownAppError',
      message: 'ApiApp: no app "billing"',
    });
  });

  test('codes are unique, stable strings', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^[A-Z][A-Z_]+$/);
  });

  test('messages come from the templates', () => {
    expect(new InvalidParameterError('limit', 'an integer 1-1000000').message).toBe('limit must be an integer 1-1000000');
    expect(new MalformedUpdateError('ApiUpdate', 'body is empty').message).toBe('ApiUpdate: parsePacket: body is empty');
    expect(new UnknownPathError(`/${'x'.repeat(200)}`).message).toBe(`404 page not found: /${'x'.repeat(99)}…`);
    expect(new InternalError().message).toBe('internal error');
    expect(new UsageError('--port needs a value').message).toBe('--port needs a value');
  });

  test('RequestFailedError keeps the status and the server code', () => {
    const err = new RequestFailedError(404, 'ApiApp: no app "x"', 'UNKNOWN_APP');
    expect({ code: err.code, status: err.status, serverCode: err.serverCode, name: err.name }).toEqual({
      code: 'REQUEST_FAILED',
      status: 404,
      serverCode: 'UNKNOWN_APP',
      name: 'RequestFailedError',
    });
    expect(isCatalogError(err)).toBe(true);
  });

  test('isCatalogError: only the catalog classes', () => {
    expect(isCatalogError(new UsageError('x'))).toBe(true);
    expect(isCatalogError(new Error('x'))).toBe(false);
    expect(isCatalogError(Object.assign(new Error('x'), { code: 'USAGE' }))).toBe(false);
    expect(isCatalogError(new PartisciError('NOT_IN_CATALOG', 'x'))).toBe(false);
  });
});

describe('HTTP statuses', () => {
  test('every code maps to an error status the front knows how to write', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      const status = HTTP_STATUS[code];
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
      expect(STATUS[status], code).toBeDefined();
    }
  });

  test('the codes a server answers leave out those of command lines, clients and the store', () => {
    for (const code of ['USAGE', 'INVALID_NETWORK', 'REQUEST_FAILED', 'STORE_LAYOUT', 'DISK_FULL']) expect(SERVED_CODES).not.toContain(code);
    expect(SERVED_CODES).toContain('UNKNOWN_APP');
    expect(SERVED_CODES.length).toBe(ERROR_CODES.length - 5);
  });

  test('an error reply is {"error", "code"} with its status, extra headers and the code for the log', () => {
    const reply = errorReply(new UnknownAppError('ApiApp', 'x'), { headers: { 'X-Test': '1' } });
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.body as string)).toEqual({ error: 'ApiApp: no app "x"', code: 'UNKNOWN_APP' });
    expect(reply.headers).toEqual({ 'X-Test': '1' });
    expect(reply.note).toEqual({ code: 'UNKNOWN_APP' });
  });

  test("the engine's errors, raised without a route, name it in the reply; other catalog errors pass as they are", () => {
    expect(asCatalogError(new InvalidCursorError('does not belong to this query'), 'ApiVersion')).toMatchObject({
      code: 'INVALID_CURSOR',
      message: 'cursor does not belong to this query',
    });
    expect(asCatalogError(new ShuttingDownError('server is shutting down'), 'ApiUpdate')).toMatchObject({
      code: 'SHUTTING_DOWN',
      message: 'ApiUpdate: server is shutting down',
    });
    expect(asCatalogError(new StorageUnavailableError('storage unavailable: disk full'), 'ApiUpdate')).toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message: 'ApiUpdate: storage unavailable: disk full',
    });
    expect(asCatalogError(new QueueFullError('update queue is full, try again'), 'ApiUpdate')).toMatchObject({
      code: 'QUEUE_FULL',
      message: 'ApiUpdate: update queue is full, try again',
    });
    const dead = new WriterUnavailableError('writer thread exited');
    expect(asCatalogError(dead, 'ApiUpdate')).toMatchObject({ code: 'WRITER_UNAVAILABLE', message: 'ApiUpdate: writer thread exited' });
    // Named once, however often it is translated.
    expect(asCatalogError(dead, 'ApiUpdate')!.message).toBe('ApiUpdate: writer thread exited');
    // Anything else is not for the client to see.
    expect(asCatalogError(new TypeError('x is undefined'), 'ApiApp')).toBeNull();
  });
});
