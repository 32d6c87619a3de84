// Browsers, workers and edge runtimes: the .wasm is fetched beside this module.
import init from './dist/s3ec_core.js';

await init({ module_or_path: new URL('./dist/s3ec_core_bg.wasm', import.meta.url) });

export * from './lib/index.js';
