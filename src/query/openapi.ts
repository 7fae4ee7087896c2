// The OpenAPI 3.1 description of the HTTP API, generated from the route
// table (routes.ts), so it always lists exactly the routes the server has.

import type { ServerConfig } from '../config.js';
import { SERVED_CODES } from '../http/error-reply.js';
import type { Method, Route } from '../http/routes.js';

const DESCRIPTIONS: Record<number, string> = {
  200: 'OK',
  400: 'a parameter is invalid',
  401: 'the write token is missing or wrong',
  404: 'not found',
  405: 'the path does not take this method',
  413: 'body too large',
  415: 'the update is malformed, incomplete or too long',
  503: 'the server cannot commit right now',
};

export function openApiDocument(routes: readonly Route[], config: ServerConfig, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.hidden === true || (route.danger === true && !config.danger)) continue;
    const ops: Record<string, unknown> = {};
    for (const [method, op] of Object.entries(route.methods) as [Method, NonNullable<Route['methods'][Method]>][]) {
      const responses: Record<string, unknown> = {
        200: { description: DESCRIPTIONS[200], content: { [op.produces ?? 'application/json']: {} } },
      };
      for (const status of op.errors ?? []) {
        responses[status] = {
          description: DESCRIPTIONS[status] ?? 'error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        };
      }
      ops[method] = {
        operationId: `${method}${route.path.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
        summary: op.summary,
        parameters: (op.params ?? []).map((p) => ({
          name: p.name,
          in: p.in,
          description: p.description,
          required: p.in === 'path' ? true : p.required === true,
          schema: { type: p.type ?? 'string' },
        })),
        ...(method === 'post' && route.path.endsWith('/update/')
          ? { requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Update' } } } } }
          : {}),
        ...(op.write === true && config.writeToken !== '' ? { security: [{ writeToken: [] }] } : {}),
        responses,
      };
    }
    paths[route.path] = ops;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Partisci', version, description: 'Where is my software installed, and is version X still running anywhere?' },
    paths,
    components: {
      securitySchemes: { writeToken: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: { type: 'string', description: 'what went wrong, for people' },
            code: { type: 'string', enum: SERVED_CODES, description: 'stable: what programs match on' },
          },
          required: ['error', 'code'],
        },
        Update: {
          type: 'object',
          required: ['app', 'ver'],
          properties: {
            app: { type: 'string', maxLength: 50 },
            ver: { type: 'string', maxLength: 50 },
            host: { type: 'string', maxLength: 50, description: 'default: the sender address' },
            instance: { type: 'integer', minimum: 0, maximum: 65535, default: 0 },
          },
        },
      },
    },
  };
}
