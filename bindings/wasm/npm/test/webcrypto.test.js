// The webcrypto engine against the wasm one (and the native one where it loads), each in its own
// process: the same honest and tampered objects give the same plaintext, or the same error class
// and code with nothing released; on webcrypto the in-memory GCM opens went to crypto.subtle.
// (The whole suite also runs with S3EC_ENGINE=webcrypto: ci.sh.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNative } from '../lib/native.js';

const child = fileURLToPath(new URL('./engines-child.js', import.meta.url));

function run(engine) {
  const r = spawnSync(process.execPath, [child], { env: { ...process.env, S3EC_ENGINE: engine }, encoding: 'utf8', maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('webcrypto reads what wasm reads, and refuses what wasm refuses, releasing nothing', () => {
  const wasm = run('wasm');
  const web = run('webcrypto');
  assert.equal(wasm.engine, 'wasm');
  assert.equal(web.engine, 'webcrypto');
  assert.equal(wasm.opens, 0);
  assert.deepEqual(web.results, wasm.results);
  const names = (f) => web.results.filter(f).map((r) => r.name);
  // The set is what it claims: honest V2 and V3 reads, and refusals of every tampering.
  assert.ok(names((r) => r.bytes.sha && r.name.includes('v3')).length >= 3, 'V3 reads');
  assert.ok(names((r) => r.bytes.sha && !r.name.includes('v3')).length >= 3, 'V2 reads');
  for (const kind of ['first byte', 'tag', 'commitment']) {
    const refused = web.results.filter((r) => r.name.endsWith(kind));
    assert.ok(refused.length > 0, kind);
    for (const r of refused) {
      assert.equal(r.bytes.error, 'authentication', `${r.name}: ${JSON.stringify(r.bytes)}`);
      assert.equal(r.inHand.error, 'authentication', `${r.name}: ${JSON.stringify(r.inHand)}`);
      assert.equal(r.stream.released, 0, r.name);
    }
  }
  for (const r of web.results.filter((r) => r.name.endsWith('declared length'))) {
    assert.ok(r.bytes.error, r.name);
    assert.equal(r.stream.released, 0, r.name);
  }
  for (const r of web.results) assert.deepEqual(r.inHand.sha ? r.inHand : r.inHand.error, r.bytes.sha ? { sha: r.bytes.sha, len: r.bytes.len } : r.bytes.error, r.name);
  // Every honest or tampered-body read in memory (bytes, stream and in hand) was opened by
  // WebCrypto.
  const opened = web.results.filter((r) => !r.name.endsWith('commitment')).length * 3;
  assert.ok(web.opens >= opened, `${web.opens} opens for ${opened} reads`);
});

test('native reads and refuses the same', { skip: !loadNative(false) && 'no native engine built here' }, () => {
  assert.deepEqual(run('native').results, run('webcrypto').results);
});
