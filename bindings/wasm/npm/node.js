// Node.js (and Bun, Deno with node: specifiers) entry: the native engine (Node-API addon) where
// one is installed for this platform, else the WebAssembly build read beside this file, with
// WebCrypto's AES-GCM (the runtime's OpenSSL) for in-memory reads where `crypto.subtle` exists.
// S3EC_ENGINE=native, webcrypto or wasm forces one (native when absent is an error; webcrypto is
// the wasm build with WebCrypto's AES-GCM, Node's OpenSSL, for in-memory reads: lib/webcrypto.js).
import { readFileSync } from 'node:fs';
import * as wasm from './dist/s3ec_core.js';
import { install, installStorage } from './lib/engine.js';
import { loadNative } from './lib/native.js';
import { available, unnamedStorage } from './lib/spool.js';

const forced = process.env.S3EC_ENGINE || undefined;
if (forced !== undefined && forced !== 'native' && forced !== 'webcrypto' && forced !== 'wasm') {
  throw new Error(`S3EC_ENGINE must be "native", "webcrypto" or "wasm", not ${JSON.stringify(forced)}`);
}
const native = forced === 'wasm' || forced === 'webcrypto' ? undefined : loadNative(forced === 'native');
if (native) {
  install('native', native);
} else {
  wasm.initSync({ module: readFileSync(new URL('./dist/s3ec_core_bg.wasm', import.meta.url)) });
  const hasSubtle = typeof globalThis.crypto?.subtle?.decrypt === 'function';
  install(forced ?? (hasSubtle ? 'webcrypto' : 'wasm'), wasm);
}

if (available) installStorage(unnamedStorage);

export * from './lib/index.js';
