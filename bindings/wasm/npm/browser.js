// Browsers, workers and edge runtimes: the .wasm is fetched beside this module.
import init, * as wasm from './dist/s3ec_core.js';
import { install } from './lib/engine.js';

await init({ module_or_path: new URL('./dist/s3ec_core_bg.wasm', import.meta.url) });
install('wasm', wasm);

export * from './lib/index.js';
