// Node.js (and Bun, Deno with node: specifiers) entry: the .wasm is read beside this file.
import { readFileSync } from 'node:fs';
import { initSync } from './dist/s3ec_core.js';

initSync({ module: readFileSync(new URL('./dist/s3ec_core_bg.wasm', import.meta.url)) });

export * from './lib/index.js';
