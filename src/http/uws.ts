// Loads uWebSockets.js and tells whether its native binary loaded. The
// package we can install here (@trufflesuite/uws-js-unofficial) silently
// falls back to a slow pure-JS implementation when the binary does not load
// for this Node build; partiscid refuses to run on that fallback unless told
// to (PARTISCI_ALLOW_UWS_FALLBACK=1).

import { createRequire } from 'node:module';

type Uws = typeof import('uWebSockets.js');

const require = createRequire(import.meta.url);

export const uWS: Uws = require('uWebSockets.js') as Uws;

/** True when uWS.App is the native binding, not the JS fallback. */
export const uwsNative: boolean = Function.prototype.toString.call(uWS.App).includes('[native code]');

export const ALLOW_FALLBACK_ENV = 'PARTISCI_ALLOW_UWS_FALLBACK';
