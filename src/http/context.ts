// What every HTTP handler gets: the engine, the store reader, the query
// pool, the configuration; and what it may know of a request (uWS's request
// object is only valid during the handler call, so it is read up front).

import type { HttpResponse } from 'uWebSockets.js';
import type { ServerConfig } from '../config.js';
import type { StoreReader } from '../store/reader.js';
import type { Logger } from '../log.js';
import type { Engine } from '../workers/engine.js';
import type { ClusterNode } from '../cluster/node.js';
import type { QueryPool } from '../query/query-pool.js';
import type { SqlService } from '../query/sql.js';
import type { RateMeter } from '../query/metrics.js';
import type { Reply } from './respond.js';

export interface HttpContext {
  engine: Engine;
  reader: StoreReader;
  pool: QueryPool;
  /** null when SQL is off (--sql-memory 0). */
  sql: SqlService | null;
  meter: RateMeter;
  config: ServerConfig;
  log: Logger;
  version: string;
  startedAt: number;
  uwsNative: boolean;
  /** Cluster mode: this node's link to the others (null on a single node). */
  cluster: ClusterNode | null;
}

export interface Request {
  method: string;
  path: string;
  /** Path parameters of the matched route, e.g. {app_id} of /api/v1/app/{app_id}. */
  params: Record<string, string>;
  query: URLSearchParams;
  remoteIp: string;
  contentLength: number;
  authorization: string;
  acceptEncoding: string;
  ifNoneMatch: string;
}

export type Handler = (ctx: HttpContext, req: Request, res: HttpResponse) => Reply | Promise<Reply>;
