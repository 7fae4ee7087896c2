// The write endpoints: POST update/ (an update over HTTP, answered once
// committed) and the other writes a client waits for (DELETE host/H,
// DELETE version/, _danger/clear/). They all go through
// the engine's HTTP ring to the writer, like UDP updates go through theirs.

import type { HttpResponse } from 'uWebSockets.js';
import { MAX_HTTP_BODY_BYTES } from '../ingest/limits.js';
import { MAX_RECORD_BYTES, RecordFlag, RecordType, encodeUpdate, recordToVersion } from '../ingest/record.js';
import { Reason, reasonMessage, reasonName } from '../ingest/reasons.js';
import { ParsedUpdate, parseUpdate } from '../ingest/update.js';
import type { RemoveAnswer, StoredVersion, UpdateAnswer } from '../api/types.js';
import { BodyTooLargeError, MalformedUpdateError, MissingParameterError } from '../errors.js';
import { sampleOf } from '../log.js';
import { encodeSelector, type Selector } from '../store/selector.js';
import { Stat } from '../workers/shared-layout.js';
import type { HttpContext, Request } from './context.js';
import { errorReply } from './error-reply.js';
import { intParam, param } from './params.js';
import { json, type Reply } from './respond.js';

// Scratch for the synchronous part of submitUpdate (nothing awaits in between).
const parsed = new ParsedUpdate();
const record = new Uint8Array(MAX_RECORD_BYTES);

const tooLarge = (bytes: number): Reply =>
  errorReply(new BodyTooLargeError('ApiUpdate', MAX_HTTP_BODY_BYTES), { close: true, note: { reason: reasonName(Reason.oversize), bytes } });

/** Reads the body (at most MAX_HTTP_BODY_BYTES), then validates and submits it. */
export function postUpdate(ctx: HttpContext, req: Request, res: HttpResponse): Promise<Reply> | Reply {
  if (req.contentLength > MAX_HTTP_BODY_BYTES) {
    countRejected(ctx, Reason.oversize);
    return tooLarge(req.contentLength);
  }
  return new Promise<Reply>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      size += chunk.byteLength;
      if (size > MAX_HTTP_BODY_BYTES) {
        done = true;
        countRejected(ctx, Reason.oversize);
        resolve(tooLarge(size));
        return;
      }
      // uWS reuses the chunk's memory after this callback returns.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        done = true;
        submitUpdate(ctx, req, Buffer.concat(chunks, size)).then(resolve, reject);
      }
    });
  });
}

function countRejected(ctx: HttpContext, reason: number): void {
  ctx.engine.countHttp(Stat.rejected);
  ctx.engine.countHttp(Stat.rejectBase + reason);
}

// An engine that cannot take a write throws one of the catalog's 503 errors
// (SHUTTING_DOWN, STORAGE_UNAVAILABLE, QUEUE_FULL, WRITER_UNAVAILABLE); the
// reply names the route (error-reply.ts).

async function submitUpdate(ctx: HttpContext, req: Request, body: Buffer): Promise<Reply> {
  const engine = ctx.engine;
  const reason = parseUpdate(body, 0, body.length, parsed);
  if (reason !== Reason.ok) {
    countRejected(ctx, reason);
    return errorReply(new MalformedUpdateError('ApiUpdate', reasonMessage(reason)), {
      note: { reason: reasonName(reason), bytes: body.length, sample: sampleOf(body) },
    });
  }
  const ip = Buffer.from(req.remoteIp, 'latin1');
  const seq = engine.nextSeq();
  const len = encodeUpdate(parsed, ip, 0, ip.length, Math.floor(Date.now() / 1000), seq, RecordFlag.http, record);
  const version = recordToVersion(record) as unknown as StoredVersion;
  await engine.submit(record, len, seq);
  engine.countHttp(Stat.httpUpdates);
  const answer: UpdateAnswer = { data: [version] };
  return { ...json(200, answer), note: { app_id: version.app_id, host: version.host, instance: version.instance, ver: version.ver } };
}

export function deleteVersions(ctx: HttpContext, req: Request): Promise<Reply> {
  const appId = param(req.query, 'app_id');
  const host = param(req.query, 'host');
  if (appId === undefined || host === undefined) throw new MissingParameterError('DELETE version/', 'app_id and host');
  const instance = intParam(req.query, 'instance', 0, 65535);
  return removeInstances(ctx, instance === undefined ? { appId, host } : { appId, host, instance });
}

export function deleteHost(ctx: HttpContext, req: Request): Promise<Reply> {
  return removeInstances(ctx, { host: req.params.host! });
}

/** Removes what the selector matches; answers with how many instances went. */
async function removeInstances(ctx: HttpContext, selector: Selector): Promise<Reply> {
  const removed = await ctx.engine.submitControl(RecordType.remove, encodeSelector(selector));
  const answer: RemoveAnswer = { removed };
  return { ...json(200, answer), note: { removed } };
}

export async function dangerClear(ctx: HttpContext, req: Request): Promise<Reply> {
  ctx.log.warn('clearing the version database (POST _danger/clear/)', { from: req.remoteIp });
  await ctx.engine.submitControl(RecordType.clear);
  return json(200, {});
}
