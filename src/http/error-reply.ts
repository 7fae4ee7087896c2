// Errors as HTTP answers: the one table from error code to status, and the
// reply every error becomes: {"error": "<message>", "code": "<CODE>"}.

import { ERROR_CODES, InternalError, isCatalogError, type CatalogError, type ErrorCode } from '../errors.js';
import type { ErrorBody } from '../api/types.js';
import { json, type Reply } from './respond.js';

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_PARAMETER: 400,
  MISSING_PARAMETER: 400,
  TOO_MANY_STEPS: 400,
  INVALID_CURSOR: 400,
  BAD_PATH_ESCAPE: 400,
  WRITE_TOKEN_REQUIRED: 401,
  UNKNOWN_PATH: 404,
  UNKNOWN_APP: 404,
  UNKNOWN_HOST: 404,
  UNKNOWN_WORKER: 404,
  METHOD_NOT_ALLOWED: 405,
  BODY_TOO_LARGE: 413,
  MALFORMED_UPDATE: 415,
  SQL_ERROR: 400,
  SQL_REFUSED: 400,
  SQL_TIMEOUT: 408,
  SQL_TOO_LARGE: 413,
  SQL_UNAVAILABLE: 503,
  INTERNAL: 500,
  SHUTTING_DOWN: 503,
  STORAGE_UNAVAILABLE: 503,
  QUEUE_FULL: 503,
  WRITER_UNAVAILABLE: 503,
  NOT_REPLICATED: 503,
  STORE_LAYOUT: 500,
  DISK_FULL: 500,
  // Raised by command lines and clients, never by the front (NOT_SERVED):
  // if one gets here, it is a bug of ours (500), or an upstream server's
  // answer (502).
  USAGE: 500,
  INVALID_NETWORK: 500,
  REQUEST_FAILED: 502,
};

const NOT_SERVED: ReadonlySet<ErrorCode> = new Set(['USAGE', 'INVALID_NETWORK', 'REQUEST_FAILED', 'STORE_LAYOUT', 'DISK_FULL']);

/** The codes an error body from this server can carry (the OpenAPI document lists them). */
export const SERVED_CODES: readonly ErrorCode[] = ERROR_CODES.filter((c) => !NOT_SERVED.has(c));

/** The reply for an error of the catalog, with extra headers (Allow, WWW-Authenticate) or log fields as given. */
export function errorReply(err: CatalogError, extra: Omit<Reply, 'status' | 'body'> = {}): Reply {
  const body: ErrorBody = { error: err.message, code: err.code };
  return { ...json(HTTP_STATUS[err.code], body), ...extra, note: { code: err.code, ...extra.note } };
}

/** Codes the engine raises without a route: the reply names the route in front of the message. */
const ENGINE_CODES: ReadonlySet<ErrorCode> = new Set(['SHUTTING_DOWN', 'STORAGE_UNAVAILABLE', 'QUEUE_FULL', 'WRITER_UNAVAILABLE', 'NOT_REPLICATED']);

/**
 * The catalog error for anything a handler threw; null when it is not one
 * a client should see (a bug: log it, answer INTERNAL).
 */
export function asCatalogError(err: unknown, route: string): CatalogError | null {
  if (!isCatalogError(err)) return null;
  if (ENGINE_CODES.has(err.code) && !err.message.startsWith(`${route}: `)) err.message = `${route}: ${err.message}`;
  return err;
}

export const internalError = (): Reply => errorReply(new InternalError());
