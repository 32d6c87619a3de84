// Bad input never traps the module: mutated envelopes and bodies, and wrong-shaped arguments to
// the raw bindings, end in typed errors (a wasm panic would surface as a RuntimeError).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as m from '../node.js';
import * as raw from '../lib/engine.js';
import { loadVectors, b64, offlineKms, data } from './helpers.js';

function rng(seed) {
  let x = seed >>> 0 || 3;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const typed = (e) => e instanceof m.S3EncryptionError;

test('mutated vectors fail with typed errors, never a trap', async () => {
  const r = rng(11);
  const cases = loadVectors().filter((c) => c.body.length < 70_000);
  let n = 0;
  for (const c of cases) {
    const { v } = c;
    const k = v.key;
    const keyring = k.kind === 'aes' ? new m.AesKeyring({ key: b64(k.key_b64) }) : k.kind === 'rsa' ? new m.RsaKeyring({ privateKey: k.private_key_pem }) : new m.KmsDiscoveryKeyring({ kmsClient: offlineKms(k) });
    for (let t = 0; t < 3; t++) {
      const meta = { ...v.object.metadata };
      const names = Object.keys(meta);
      const name = names[r() % names.length];
      let val = meta[name] ?? '';
      switch (r() % 5) {
        case 0: val = val.slice(0, r() % (val.length + 1)); break;
        case 1: val = val + String.fromCharCode(r() % 128); break;
        case 2: val = [...val].map((ch) => (r() % 7 === 0 ? String.fromCharCode(32 + (r() % 90)) : ch)).join(''); break;
        case 3: val = '9'.repeat(40); break;
        default: val = '{"a":' + '['.repeat(r() % 200);
      }
      meta[name] = val;
      const body = Uint8Array.from(c.body.subarray(0, r() % (c.body.length + 1)));
      if (body.length) body[r() % body.length] ^= 1 << (r() % 8);
      const ifile = c.instructionFile ? new TextEncoder().encode(new TextDecoder().decode(c.instructionFile).slice(0, r() % (c.instructionFile.length + 1))) : undefined;
      n++;
      try {
        await m.decryptObject({
          metadata: meta,
          body,
          instructionFile: ifile,
          keyring,
          commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT',
          enableLegacyWrappingAlgorithms: true,
          enableLegacyUnauthenticatedModes: true,
          encryptionContext: v.decrypt.encryption_context ?? {},
          range: r() % 4 === 0 ? [r() % 50, r() % 5000] : undefined,
        });
      } catch (e) {
        assert.ok(typed(e), `${c.label}: ${e && e.stack}`);
      }
    }
  }
  assert.ok(n > 1000);
});

test('wrong-shaped arguments to the raw bindings throw, never trap', () => {
  const tries = [
    () => raw.parseEnvelope(['odd'], undefined, {}),
    () => raw.parseEnvelope([], new Uint8Array(100000), { commitmentPolicy: 'NOPE' }),
    () => new raw.WasmAesKey(new Uint8Array(7)),
    () => raw.WasmRsaPrivateKey.fromDer(data(300, 1)),
    () => raw.WasmRsaPublicKey.fromDer(new Uint8Array(0)),
    () => raw.WasmDataKey.fromBytes(new Uint8Array(33)),
    () => new raw.WasmGet({}),
    () => new raw.WasmGet({ bucket: 'b', key: 'k', connections: 0 }),
    () => new raw.WasmGet({ bucket: 'b', key: 'k', connections: 1e9 }),
    () => new raw.WasmGet({ bucket: 'b', key: 'k', partSize: -1 }),
    () => new raw.WasmGet({ bucket: 'b', key: 'k', mode: 'range', range: 'bytes=9-1' }),
    () => new raw.WasmPut({ bucket: 'b', key: 'k', suite: 'V2', commitmentPolicy: 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT' }),
    () => new raw.WasmPut({ bucket: 'b', key: 'k', partSize: 1 }),
    () => new raw.WasmDelete('b', 'k', ''),
    () => new raw.WasmDescribeObject('b', 'k', undefined, ''),
    () => new raw.WasmRotate({ bucket: 'b' }),
  ];
  for (const [i, f] of tries.entries()) {
    try {
      f();
    } catch (e) {
      assert.ok(!(e instanceof WebAssembly.RuntimeError), `case ${i}: ${e}`);
      assert.equal(typeof e.errorClass, 'string', `case ${i}: ${e}`);
    }
  }
  // Out-of-order calls on live machines.
  const g = new raw.WasmGet({ bucket: 'b', key: 'k' });
  for (const f of [() => g.feed(99), () => g.body(99, new Uint8Array(5)), () => g.endOfBody(1), () => g.keyRequest(), () => g.response(7, 200, ['a']), () => g.replayRange(1), () => g.request(5)]) {
    try {
      f();
    } catch (e) {
      assert.ok(!(e instanceof WebAssembly.RuntimeError), String(e));
    }
  }
  g.free();
  // A malformed header: a typed storage error (and the machine stays failed).
  const g2 = new raw.WasmGet({ bucket: 'b', key: 'k' });
  const first = g2.poll();
  assert.equal(first.kind, 'send');
  assert.throws(() => g2.response(first.id, 200, ['Content-Length', 'abc']), (e) => e.errorClass === 'storage');
  assert.throws(() => g2.poll(), (e) => e.errorClass === 'storage');
  g2.free();
  const p = new raw.WasmPut({ bucket: 'b', key: 'k', plaintextLength: 10 });
  for (const f of [() => p.encrypt(new Uint8Array(3)), () => p.tag(), () => p.encryptPart(1, new Uint8Array(1)), () => p.partRead(1, 5), () => p.uploadCreated(1, 200, 'u'), () => p.materialsKms(new Uint8Array(32), new Uint8Array(1))]) {
    try {
      f();
    } catch (e) {
      assert.ok(!(e instanceof WebAssembly.RuntimeError), String(e));
    }
  }
  p.free();
});
