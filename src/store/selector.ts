// Which instances a removal (DELETE endpoints) applies to. It travels from
// the HTTP front to the writer inside a control record, as JSON.

export interface Selector {
  appId?: string;
  host?: string;
  instance?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeSelector(sel: Selector): Uint8Array {
  return encoder.encode(JSON.stringify(sel));
}

export function decodeSelector(bytes: Uint8Array): Selector {
  const v = JSON.parse(decoder.decode(bytes)) as Selector;
  const out: Selector = {};
  if (typeof v.appId === 'string') out.appId = v.appId;
  if (typeof v.host === 'string') out.host = v.host;
  if (typeof v.instance === 'number') out.instance = v.instance;
  return out;
}
