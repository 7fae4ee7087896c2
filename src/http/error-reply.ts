// Errors as HTTP answers: the one table from error code to status, and the
// reply every error becomes: {"error": "<message>", "code": "<CODE>"}.
// Errors that modules outside the catalog still throw (the engine's, the
// store reader's cursor check) are translated here.

import { CursorError } from '../store/reader.js';
import { EngineError } from '../workers/engine.js';
import {
  ERROR_CODES, InternalError, InvalidCursorError, NotReplicatedError, QueueFullError, ShuttingDownError, StorageUnavailableError, WriterUnavailableError, isCatalogError,
  type CatalogError, type ErrorCode,
} from '../errors.js';
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
  INTERNAL: 500,
  SHUTTING_DOWN: 503,
  STORAGE_UNAVAILABLE: 503,
  QUEUE_FULL: 503,
  WRITER_UNAVAILABLE: 503,
  NOT_REPLICATED: 503,
  // Raised by command lines and clients, never by the front (NOT_SERVED):
  // if one gets here, it is a bug of ours (500), or an upstream server's
  // answer (502).
  USAGE: 500,
  INVALID_NETWORK: 500,
  REQUEST_FAILED: 502,
};

const NOT_SERVED: ReadonlySet<ErrorCode> = new Set(['USAGE', 'INVALID_NETWORK', 'REQUEST_FAILED']);

/** The codes an error body from this server can carry (the OpenAPI document lists them). */
export const SERVED_CODES: readonly ErrorCode[] = ERROR_CODES.filter((c) => !NOT_SERVED.has(c));

/** The reply for an error of the catalog, with extra headers (Allow, WWW-Authenticate) or log fields as given. */
export function errorReply(err: CatalogError, extra: Omit<Reply, 'status' | 'body'> = {}): Reply {
  const body: ErrorBody = { error: err.message, code: err.code };
  return { ...json(HTTP_STATUS[err.code], body), ...extra, note: { code: err.code, ...extra.note } };
}

/**
 * The catalog error for anything a handler threw; null when it is not one
 * a client should see (a bug: log it, answer INTERNAL).
 */
export function asCatalogError(err: unknown, route: string): CatalogError | null {
  if (isCatalogError(err)) return err;
  if (err instanceof CursorError) return new InvalidCursorError(err.message.replace(/^cursor /, ''));
  if (err instanceof EngineError) {
    switch (err.code) {
      case 'STOPPING':
        return new ShuttingDownError(route, err.message);
      case 'STORAGE':
        return new StorageUnavailableError(route, err.message);
      case 'BUSY':
        return new QueueFullError(route, err.message);
      case 'NOT_REPLICATED':
        return new NotReplicatedError(route, err.message);
      default:
        return new WriterUnavailableError(route, err.message);
    }
  }
  return null;
}

export const internalError = (): Reply => errorReply(new InternalError());
