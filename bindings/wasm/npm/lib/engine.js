// The engine the package runs on: the native Node-API addon (`bindings/node`), the WebAssembly
// build of the same Rust core, or that build with WebCrypto's AES-GCM for in-memory reads
// (`lib/webcrypto.js`). The addon and the wasm module export the same classes and functions; the
// entry point (node.js or browser.js) installs one before any of them is called, and the rest of
// lib/ reads them from here.

/** `"native"`, `"webcrypto"` or `"wasm"`: the engine in use. */
export let engine;
/** WebCrypto's `SubtleCrypto` when the engine is `"webcrypto"`, else `null`. */
export let subtle = null;
export let WasmGet, WasmPut, WasmDescribeObject, WasmDelete, WasmRotate;
export let WasmAesKey, WasmRsaPrivateKey, WasmRsaPublicKey, WasmDataKey, WasmEnvelope;
export let checkWriteSettings, parseEnvelope, needsInstructionFile, isEnvelopeKey, coreVersion;

/**
 * Where the host has one (Node: `lib/spool.js`), a maker of the unnamed storage of one-pass reads
 * of objects over `bufferSize`; `undefined` in browsers.
 */
export let unnamedStorage;

/** Install the host's maker of unnamed read storage (see `unnamedStorage`). */
export function installStorage(make) {
  unnamedStorage = make;
}

/**
 * Install `core` (the addon's or the wasm module's exports) as the engine `name`; `"webcrypto"`
 * is the wasm module's exports with `globalThis.crypto.subtle`.
 */
export function install(name, core) {
  ({ WasmGet, WasmPut, WasmDescribeObject, WasmDelete, WasmRotate } = core);
  ({ WasmAesKey, WasmRsaPrivateKey, WasmRsaPublicKey, WasmDataKey, WasmEnvelope } = core);
  ({ checkWriteSettings, parseEnvelope, needsInstructionFile, isEnvelopeKey, coreVersion } = core);
  subtle = name === 'webcrypto' ? globalThis.crypto.subtle : null;
  engine = name;
}
