// Every error partiscid, partisci and partisci-fuzz raise, in one catalog:
// one class per stable string code, with the message template beside it.
// The code is what programs match on (HTTP error bodies carry it:
// {"error": "<message>", "code": "<CODE>"}); the message is for people and
// may be reworded. The HTTP front maps codes to statuses in one place
// (src/http/error-reply.ts).
//
// No imports: the dashboard (web/) bundles this file too.

/** The base of every coded error: `err instanceof PartisciError` catches them all. */
export class PartisciError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** A class for one code; its constructor takes the template's arguments. */
function coded<const C extends string, A extends unknown[]>(code: C, name: string, template: (...args: A) => string) {
  const Coded = class extends PartisciError {
    static readonly code: C = code;
    declare readonly code: C;

    constructor(...args: A) {
      super(code, template(...args));
      this.name = name;
    }
  };
  Object.defineProperty(Coded, 'name', { value: name });
  return Coded;
}

// --- command lines (partiscid, partisci, partisci-fuzz) ---------------------

/** A bad command line: the message is one line that names the flag. */
export const UsageError = coded('USAGE', 'UsageError', (message: string) => message);
export type UsageError = InstanceType<typeof UsageError>;

/** An --allow entry that is no IP address or CIDR block. */
export const InvalidNetworkError = coded('INVALID_NETWORK', 'InvalidNetworkError', (entry: string, problem: string) => `${JSON.stringify(entry)} ${problem}`);
export type InvalidNetworkError = InstanceType<typeof InvalidNetworkError>;

// --- HTTP requests ------------------------------------------------------------

export const InvalidParameterError = coded('INVALID_PARAMETER', 'InvalidParameterError', (name: string, rule: string) => `${name} must be ${rule}`);
export type InvalidParameterError = InstanceType<typeof InvalidParameterError>;

export const MissingParameterError = coded('MISSING_PARAMETER', 'MissingParameterError', (what: string, needs: string) => `${what} needs ${needs}`);
export type MissingParameterError = InstanceType<typeof MissingParameterError>;

export const TooManyStepsError = coded('TOO_MANY_STEPS', 'TooManyStepsError', (max: number) => `since and step give more than ${max} steps`);
export type TooManyStepsError = InstanceType<typeof TooManyStepsError>;

export const InvalidCursorError = coded('INVALID_CURSOR', 'InvalidCursorError', (problem = 'is not one this server returned') => `cursor ${problem}`);
export type InvalidCursorError = InstanceType<typeof InvalidCursorError>;

export const BadPathEscapeError = coded('BAD_PATH_ESCAPE', 'BadPathEscapeError', (route: string) => `${route}: badly escaped path`);
export type BadPathEscapeError = InstanceType<typeof BadPathEscapeError>;

export const WriteTokenRequiredError = coded(
  'WRITE_TOKEN_REQUIRED',
  'WriteTokenRequiredError',
  (route: string) => `${route}: a valid write token is required (Authorization: Bearer ...)`,
);
export type WriteTokenRequiredError = InstanceType<typeof WriteTokenRequiredError>;

/** "404 page not found", as the original (Go's http.NotFound) said: the dashboard tells an older server by it. */
export const UnknownPathError = coded(
  'UNKNOWN_PATH',
  'UnknownPathError',
  (path: string) => `404 page not found: ${path.length > 100 ? `${path.slice(0, 100)}…` : path}`,
);
export type UnknownPathError = InstanceType<typeof UnknownPathError>;

export const UnknownAppError = coded('UNKNOWN_APP', 'UnknownAppError', (route: string, appId: string) => `${route}: no app ${JSON.stringify(appId)}`);
export type UnknownAppError = InstanceType<typeof UnknownAppError>;

export const UnknownHostError = coded('UNKNOWN_HOST', 'UnknownHostError', (route: string, host: string) => `${route}: no host ${JSON.stringify(host)}`);
export type UnknownHostError = InstanceType<typeof UnknownHostError>;

export const UnknownWorkerError = coded('UNKNOWN_WORKER', 'UnknownWorkerError', (route: string, worker: number) => `${route}: no ingest worker ${worker}`);
export type UnknownWorkerError = InstanceType<typeof UnknownWorkerError>;

export const MethodNotAllowedError = coded(
  'METHOD_NOT_ALLOWED',
  'MethodNotAllowedError',
  (route: string, allowed: string) => `${route}: only accepts ${allowed} requests`,
);
export type MethodNotAllowedError = InstanceType<typeof MethodNotAllowedError>;

export const BodyTooLargeError = coded('BODY_TOO_LARGE', 'BodyTooLargeError', (route: string, max: number) => `${route}: body larger than ${max} bytes`);
export type BodyTooLargeError = InstanceType<typeof BodyTooLargeError>;

/** An update body the parser rejects; the message names the reason (src/ingest/reasons.ts). */
export const MalformedUpdateError = coded('MALFORMED_UPDATE', 'MalformedUpdateError', (route: string, reason: string) => `${route}: parsePacket: ${reason}`);
export type MalformedUpdateError = InstanceType<typeof MalformedUpdateError>;

// SQL queries (GET/POST sql): the message is DuckDB's or says which limit.

/** DuckDB cannot run the query (syntax, an unknown table or column, a type error). */
export const SqlError = coded('SQL_ERROR', 'SqlError', (message: string) => message);
export type SqlError = InstanceType<typeof SqlError>;

/** Not a read: DDL, writes, PRAGMA/SET/ATTACH/COPY/INSTALL/LOAD, several statements, file or network access. */
export const SqlRefusedError = coded('SQL_REFUSED', 'SqlRefusedError', (message: string) => message);
export type SqlRefusedError = InstanceType<typeof SqlRefusedError>;

/** The query ran past its time limit (--sql-timeout) and was interrupted. */
export const SqlTimeoutError = coded('SQL_TIMEOUT', 'SqlTimeoutError', (message: string) => message);
export type SqlTimeoutError = InstanceType<typeof SqlTimeoutError>;

/** The query needs more memory than --sql-memory, or answers more than --sql-max-rows rows. */
export const SqlTooLargeError = coded('SQL_TOO_LARGE', 'SqlTooLargeError', (message: string) => message);
export type SqlTooLargeError = InstanceType<typeof SqlTooLargeError>;

/** The SQL tables are off (--sql-memory 0), still loading after a restart of their thread, or too many queries wait. */
export const SqlUnavailableError = coded('SQL_UNAVAILABLE', 'SqlUnavailableError', (message: string) => message);
export type SqlUnavailableError = InstanceType<typeof SqlUnavailableError>;

// Writes the engine cannot take right now (reads keep working). The engine
// raises them without knowing the route; the HTTP reply prefixes it
// (src/http/error-reply.ts).

export const ShuttingDownError = coded('SHUTTING_DOWN', 'ShuttingDownError', (detail: string) => detail);
export type ShuttingDownError = InstanceType<typeof ShuttingDownError>;

/** Commits fail (a full disk): writes are refused until they succeed again. */
export const StorageUnavailableError = coded('STORAGE_UNAVAILABLE', 'StorageUnavailableError', (detail: string) => detail);
export type StorageUnavailableError = InstanceType<typeof StorageUnavailableError>;

/** The HTTP ring is full: try again. */
export const QueueFullError = coded('QUEUE_FULL', 'QueueFullError', (detail: string) => detail);
export type QueueFullError = InstanceType<typeof QueueFullError>;

/** No writer thread to take the write (it died, or is restarting), or it died before committing it: send again. */
export const WriterUnavailableError = coded('WRITER_UNAVAILABLE', 'WriterUnavailableError', (detail: string) => detail);
export type WriterUnavailableError = InstanceType<typeof WriterUnavailableError>;

/**
 * Cluster mode: the write is committed on this node (and will be published
 * from its outbox) but the cluster has not acknowledged it in time.
 */
export const NotReplicatedError = coded('NOT_REPLICATED', 'NotReplicatedError', (detail: string) => detail);
export type NotReplicatedError = InstanceType<typeof NotReplicatedError>;

// --- the store (raised on the commit thread; reported, never served) ----------

/** The data folder holds a layout this partiscid cannot read (or cannot upgrade). */
export const StoreLayoutError = coded('STORE_LAYOUT', 'StoreLayoutError', (path: string, problem: string) => `${path} ${problem}`);
export type StoreLayoutError = InstanceType<typeof StoreLayoutError>;

/** A commit was refused before it started: the disk cannot hold it. */
export const DiskFullError = coded(
  'DISK_FULL',
  'DiskFullError',
  (path: string, freeMiB: number | null, needMiB: number) =>
    `disk full: ${freeMiB === null ? '?' : freeMiB.toFixed(1)} MiB free in ${path}, a commit may need ${needMiB.toFixed(1)} MiB`,
);
export type DiskFullError = InstanceType<typeof DiskFullError>;

/** Anything unexpected: logged in full, answered without details. */
export const InternalError = coded('INTERNAL', 'InternalError', () => 'internal error');
export type InternalError = InstanceType<typeof InternalError>;

// --- clients (src/client, partisci, the dashboard) ----------------------------

/** A server answered with an error status (or with something that is not an answer). */
export class RequestFailedError extends PartisciError {
  static readonly code = 'REQUEST_FAILED';
  declare readonly code: 'REQUEST_FAILED';
  /** The HTTP status. */
  readonly status: number;
  /** The code of the server's error body, when it sent one (older servers don't). */
  readonly serverCode: string | undefined;

  constructor(status: number, message: string, serverCode?: string) {
    super(RequestFailedError.code, message);
    this.name = 'RequestFailedError';
    this.status = status;
    this.serverCode = serverCode;
  }
}

/** Every error class by its code. */
export const CATALOG = {
  USAGE: UsageError,
  INVALID_NETWORK: InvalidNetworkError,
  INVALID_PARAMETER: InvalidParameterError,
  MISSING_PARAMETER: MissingParameterError,
  TOO_MANY_STEPS: TooManyStepsError,
  INVALID_CURSOR: InvalidCursorError,
  BAD_PATH_ESCAPE: BadPathEscapeError,
  WRITE_TOKEN_REQUIRED: WriteTokenRequiredError,
  UNKNOWN_PATH: UnknownPathError,
  UNKNOWN_APP: UnknownAppError,
  UNKNOWN_HOST: UnknownHostError,
  UNKNOWN_WORKER: UnknownWorkerError,
  METHOD_NOT_ALLOWED: MethodNotAllowedError,
  BODY_TOO_LARGE: BodyTooLargeError,
  MALFORMED_UPDATE: MalformedUpdateError,
  SQL_ERROR: SqlError,
  SQL_REFUSED: SqlRefusedError,
  SQL_TIMEOUT: SqlTimeoutError,
  SQL_TOO_LARGE: SqlTooLargeError,
  SQL_UNAVAILABLE: SqlUnavailableError,
  SHUTTING_DOWN: ShuttingDownError,
  STORAGE_UNAVAILABLE: StorageUnavailableError,
  QUEUE_FULL: QueueFullError,
  WRITER_UNAVAILABLE: WriterUnavailableError,
  NOT_REPLICATED: NotReplicatedError,
  STORE_LAYOUT: StoreLayoutError,
  DISK_FULL: DiskFullError,
  INTERNAL: InternalError,
  REQUEST_FAILED: RequestFailedError,
} as const;

export type ErrorCode = keyof typeof CATALOG;

/** The catalog's errors, each with its own code. */
export type CatalogError = InstanceType<(typeof CATALOG)[ErrorCode]>;

export const ERROR_CODES = Object.keys(CATALOG) as ErrorCode[];

export function isCatalogError(err: unknown): err is CatalogError {
  return err instanceof PartisciError && Object.hasOwn(CATALOG, err.code) && err instanceof CATALOG[err.code as ErrorCode];
}
