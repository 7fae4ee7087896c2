// The optional write token: when set (--write-token or PARTISCI_WRITE_TOKEN),
// every HTTP request that changes data must carry "Authorization: Bearer
// <token>". Reads stay open, as in the original.

import { timingSafeEqual } from 'node:crypto';

export function authorized(token: string, authorization: string): boolean {
  if (token === '') return true;
  const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
  if (m === null) return false;
  const given = Buffer.from(m[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
