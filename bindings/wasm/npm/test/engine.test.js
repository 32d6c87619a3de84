// The engine in use is visible and can be forced: S3EC_ENGINE=native|webcrypto|wasm (ci.sh runs
// the whole suite once per engine), and a forced engine that cannot load is an error, not a fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as m from '../node.js';

const entry = fileURLToPath(new URL('../node.js', import.meta.url));

function engineIn(env) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { engine } from ${JSON.stringify(entry)}; console.log(engine);`], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr };
}

test('the engine is the one S3EC_ENGINE names, or native where it loads', () => {
  const forced = process.env.S3EC_ENGINE;
  if (forced) assert.equal(m.engine, forced);
  else assert.ok(m.engine === 'native' || m.engine === 'webcrypto');
  assert.equal(engineIn({ S3EC_ENGINE: 'wasm' }).out, 'wasm');
  assert.equal(engineIn({ S3EC_ENGINE: 'webcrypto' }).out, 'webcrypto');
});

test('without a native engine, Node falls back to webcrypto (the wasm core with crypto.subtle)', () => {
  const env = { ...process.env };
  delete env.S3EC_ENGINE;
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `Object.defineProperty(process, 'arch', { value: 'mips' }); const { engine } = await import(${JSON.stringify(entry)}); console.log(engine);`],
    { env, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'webcrypto');
});

test('an unknown S3EC_ENGINE is refused', () => {
  const r = engineIn({ S3EC_ENGINE: 'webgpu' });
  assert.notEqual(r.status, 0);
  assert.match(r.err, /S3EC_ENGINE must be "native", "webcrypto" or "wasm"/);
});

test('forcing native where it does not load is an error, not the wasm fallback', () => {
  // A platform with no package and no in-tree build: the loader finds nothing to load.
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `Object.defineProperty(process, 'arch', { value: 'mips' }); await import(${JSON.stringify(entry)});`],
    { env: { ...process.env, S3EC_ENGINE: 'native' }, encoding: 'utf8' },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /S3EC_ENGINE=native, but no native engine loads on linux-mips-gnu/);
});
