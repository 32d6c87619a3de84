// Browsers, workers and edge runtimes: the .wasm is fetched beside this module. The engine is
// webcrypto (the wasm core with WebCrypto's AES-GCM for in-memory reads) where `crypto.subtle`
// exists (secure contexts), else wasm; `globalThis.S3EC_ENGINE = "wasm"` (or "webcrypto"), set
// before this module loads, forces one.
import init, * as wasm from './dist/s3ec_core.js';
import { install } from './lib/engine.js';

await init({ module_or_path: new URL('./dist/s3ec_core_bg.wasm', import.meta.url) });
const forced = globalThis.S3EC_ENGINE || undefined;
if (forced !== undefined && forced !== 'webcrypto' && forced !== 'wasm') {
  throw new Error(`S3EC_ENGINE must be "webcrypto" or "wasm" in a browser, not ${JSON.stringify(forced)}`);
}
const hasSubtle = typeof globalThis.crypto?.subtle?.decrypt === 'function';
if (forced === 'webcrypto' && !hasSubtle) throw new Error('S3EC_ENGINE=webcrypto, but crypto.subtle is missing here (not a secure context?)');
install(forced ?? (hasSubtle ? 'webcrypto' : 'wasm'), wasm);

export * from './lib/index.js';
