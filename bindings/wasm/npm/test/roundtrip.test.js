// Round trips through moto (S3 + KMS on 127.0.0.1): every wrap, suite and placement, bodies of
// every kind, every release mode, uneven chunkings on both sides; rotation, delete, head, opt-ins.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { Readable } from 'node:stream';
import * as m from '../node.js';
import { startMoto, clients } from './moto.js';
import { data } from './helpers.js';

const MIB = 1 << 20;
let moto, env;
before(async () => {
  moto = await startMoto();
  env = await clients(moto.endpoint);
});
after(async () => {
  await moto?.stop();
});

const { privateKey: rsaPriv, publicKey: rsaPub } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const aesRaw = data(32, 99);

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
const uneven = (seed) => {
  const r = rng(seed);
  return () => 1 + (r() % 70000);
};

function keyrings(kind) {
  switch (kind) {
    case 'aes':
      return { w: new m.AesKeyring({ key: aesRaw }), r: new m.AesKeyring({ key: aesRaw }) };
    case 'rsa':
      return { w: new m.RsaKeyring({ publicKey: rsaPub }), r: new m.RsaKeyring({ privateKey: rsaPriv }) };
    default:
      return {
        w: new m.KmsKeyring({ kmsClient: env.kms, kmsKeyId: env.kmsKeyId }),
        r: new m.KmsKeyring({ kmsClient: env.kms, kmsKeyId: env.kmsKeyId }),
      };
  }
}

function client(keyring, o = {}) {
  return new m.S3EncryptionClient({
    s3Client: env.s3,
    keyring,
    multipartThreshold: 5 * MIB,
    multipartPartSize: 5 * MIB,
    ...o,
  });
}

const eq = (a, b) => assert.ok(Buffer.from(a).equals(Buffer.from(b)), `bytes differ (${a.length} vs ${b.length})`);

async function readAll(stream) {
  const parts = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

test('every wrap, suite and placement round-trips with uneven chunkings', async () => {
  let seed = 1;
  for (const wrap of ['aes', 'rsa', 'kms']) {
    for (const suite of ['V3', 'V2']) {
      for (const placement of ['metadata', 'instructionFile']) {
        const { w, r } = keyrings(wrap);
        const opts = { encryptionAlgorithm: suite, instructionFilePut: placement === 'instructionFile' };
        if (suite === 'V2') opts.commitmentPolicy = 'FORBID_ENCRYPT_ALLOW_DECRYPT';
        const writer = client(w, opts);
        const reader = client(r, { commitmentPolicy: suite === 'V2' ? 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' : undefined });
        const ctx = wrap === 'kms' ? { purpose: 'test', n: String(seed) } : undefined;
        for (const n of [0, 1, 17, 4101, 100003]) {
          const key = `rt/${wrap}/${suite}/${placement}/${n}`;
          const pt = data(n, seed++);
          const put = await writer.putObject({ Bucket: env.bucket, Key: key, Body: pt, EncryptionContext: ctx }, { chunking: uneven(seed) });
          assert.equal(put.instructionFile, placement === 'instructionFile');
          const got = await reader.getObject({ Bucket: env.bucket, Key: key, EncryptionContext: ctx }, { maxPiece: uneven(seed + 7) });
          eq(got.Body, pt);
          assert.equal(got.verification, 'InMemory');
          const s = await reader.getObject({ Bucket: env.bucket, Key: key, EncryptionContext: ctx }, { as: 'stream', maxPiece: uneven(seed + 9) });
          eq(await readAll(s.Body), pt);
          const h = await reader.headObject({ Bucket: env.bucket, Key: key });
          assert.equal(h.envelope.version, suite);
          assert.equal(h.instructionFile, placement === 'instructionFile');
        }
      }
    }
  }
});

test('bodies: Blob, web ReadableStream, Node Readable and async iterables; multipart with the tag on the last part', async () => {
  const { w, r } = keyrings('kms');
  const writer = client(w);
  const reader = client(r, { bufferSize: 64 * MIB });
  const pt = data(11 * MIB + 7, 5);
  const ctx = { who: 'bodies' };
  const sources = {
    blob: () => new Blob([pt]),
    web: () =>
      new ReadableStream({
        start(c) {
          const g = uneven(3);
          for (let at = 0; at < pt.length; ) {
            const k = Math.min(pt.length - at, g() * 7);
            c.enqueue(pt.slice(at, at + k));
            at += k;
          }
          c.close();
        },
      }),
    node: () => Readable.from((function* () { for (let at = 0; at < pt.length; at += 999_999) yield pt.subarray(at, at + 999_999); })()),
    iter: () => (async function* () { for (let at = 0; at < pt.length; at += 3 * MIB + 1) yield pt.slice(at, at + 3 * MIB + 1); })(),
  };
  for (const [name, mk] of Object.entries(sources)) {
    const key = `bodies/${name}`;
    const put = await writer.putObject({ Bucket: env.bucket, Key: key, Body: mk(), EncryptionContext: ctx });
    assert.ok(put.multipart, name);
    assert.equal(put.plaintextLength, pt.length);
    const got = await reader.getObject({ Bucket: env.bucket, Key: key, EncryptionContext: ctx });
    eq(got.Body, pt);
  }
});

test('release modes: in memory, two passes, storage, parallel ranged GETs', async () => {
  const { w, r } = keyrings('aes');
  const pt = data(17 * MIB + 3, 8);
  await client(w).putObject({ Bucket: env.bucket, Key: 'modes', Body: pt }, { chunking: uneven(11) });
  const store = () => {
    let buf = new Uint8Array(0);
    return {
      write(offset, bytes) {
        if (buf.length < offset + bytes.length) {
          const nb = new Uint8Array(offset + bytes.length);
          nb.set(buf);
          buf = nb;
        }
        buf.set(bytes, offset);
      },
      read(a, b) {
        return buf.slice(a, b + 1);
      },
    };
  };
  const modes = [
    [{}, 'InMemory'],
    [{ connections: 3 }, 'InMemory'],
    [{ bufferSize: 2 * MIB }, 'DecryptedInStorage'],
    [{ bufferSize: 0, storage: false }, 'TwoPass'],
    [{ bufferSize: 0 }, 'DecryptedInStorage'],
    [{ bufferSize: 0, storage: store() }, 'Storage'],
    [{ bufferSize: 0, connections: 3, storage: false }, 'TwoPass'],
    [{ bufferSize: 0, connections: 3 }, 'DecryptedInStorage'],
    [{ bufferSize: 0, connections: 2, storage: store() }, 'Storage'],
  ];
  for (const [o, want] of modes) {
    const c = client(r, o);
    const got = await c.getObject({ Bucket: env.bucket, Key: 'modes' }, { maxPiece: uneven(21) });
    assert.equal(got.verification, want, JSON.stringify(o));
    eq(got.Body, pt);
    const s = await c.getObject({ Bucket: env.bucket, Key: 'modes' }, { as: 'stream' });
    eq(await readAll(s.Body), pt);
  }
});

test('WebCrypto keys: an extractable AES CryptoKey and an RSA JWK; a non-extractable key is refused', async () => {
  const ck = await webcrypto.subtle.importKey('raw', aesRaw, 'AES-GCM', true, ['encrypt', 'decrypt']);
  const pt = data(5000, 3);
  await client(new m.AesKeyring({ key: ck })).putObject({ Bucket: env.bucket, Key: 'wc', Body: pt });
  eq((await client(new m.AesKeyring({ key: aesRaw })).getObject({ Bucket: env.bucket, Key: 'wc' })).Body, pt);
  const ne = await webcrypto.subtle.importKey('raw', aesRaw, 'AES-GCM', false, ['encrypt']);
  await assert.rejects(client(new m.AesKeyring({ key: ne })).getObject({ Bucket: env.bucket, Key: 'wc' }), m.UsageError);
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const jwkPub = createPublicKey(rsaPub).export({ format: 'jwk' });
  const jwkPriv = createPrivateKey(rsaPriv).export({ format: 'jwk' });
  await client(new m.RsaKeyring({ publicKey: jwkPub })).putObject({ Bucket: env.bucket, Key: 'jwk', Body: pt });
  eq((await client(new m.RsaKeyring({ privateKey: jwkPriv })).getObject({ Bucket: env.bucket, Key: 'jwk' })).Body, pt);
});

test('policy and opt-ins: V2 under REQUIRE_DECRYPT, delayed authentication, ranges, contexts, discovery', async () => {
  const { w, r } = keyrings('kms');
  const pt = data(300_000, 4);
  const ctx = { tenant: 'a' };
  await client(w, { encryptionAlgorithm: 'ALG_AES_256_GCM_IV12_TAG16_NO_KDF', commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' }).putObject({
    Bucket: env.bucket,
    Key: 'v2',
    Body: pt,
    EncryptionContext: ctx,
  });
  await assert.rejects(client(r).getObject({ Bucket: env.bucket, Key: 'v2', EncryptionContext: ctx }), m.PolicyError);
  eq((await client(r, { commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' }).getObject({ Bucket: env.bucket, Key: 'v2', EncryptionContext: ctx })).Body, pt);
  await client(w).putObject({ Bucket: env.bucket, Key: 'v3', Body: pt, EncryptionContext: ctx });
  // Wrong or missing context: a policy error before KMS is asked.
  await assert.rejects(client(r).getObject({ Bucket: env.bucket, Key: 'v3', EncryptionContext: { tenant: 'b' } }), m.PolicyError);
  await assert.rejects(client(r).getObject({ Bucket: env.bucket, Key: 'v3' }), m.PolicyError);
  // Discovery accepts the stored context.
  const disc = new m.KmsDiscoveryKeyring({ kmsClient: env.kms });
  eq((await client(disc).getObject({ Bucket: env.bucket, Key: 'v3' })).Body, pt);
  // Ranged reads need enableLegacyUnauthenticatedModes.
  await assert.rejects(client(r).getObject({ Bucket: env.bucket, Key: 'v3', EncryptionContext: ctx, Range: 'bytes=1000-2000' }), m.PolicyError);
  const rg = await client(r, { enableLegacyUnauthenticatedModes: true }).getObject({ Bucket: env.bucket, Key: 'v3', EncryptionContext: ctx, Range: 'bytes=1000-2000' });
  eq(rg.Body, pt.subarray(1000, 2001));
  assert.equal(rg.verification, 'UnauthenticatedRange');
  const suffix = await client(r, { enableLegacyUnauthenticatedModes: true }).getObject({ Bucket: env.bucket, Key: 'v3', EncryptionContext: ctx, Range: 'bytes=-17' });
  eq(suffix.Body, pt.subarray(pt.length - 17));
  // Delayed authentication.
  const d = await client(r, { enableDelayedAuthenticationMode: true, bufferSize: 0 }).getObject({ Bucket: env.bucket, Key: 'v3', EncryptionContext: ctx });
  assert.equal(d.verification, 'DelayedAuthentication');
  eq(d.Body, pt);
});

test('not encrypted, missing, wrong key', async () => {
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  await env.s3.send(new PutObjectCommand({ Bucket: env.bucket, Key: 'plain', Body: 'hello' }));
  const c = client(new m.AesKeyring({ key: aesRaw }));
  await assert.rejects(c.getObject({ Bucket: env.bucket, Key: 'plain' }), m.NotEncryptedError);
  await assert.rejects(c.getObject({ Bucket: env.bucket, Key: 'missing' }), m.NotFoundError);
  await c.putObject({ Bucket: env.bucket, Key: 'wk', Body: 'secret' });
  await assert.rejects(client(new m.AesKeyring({ key: data(32, 1) })).getObject({ Bucket: env.bucket, Key: 'wk' }), (e) => e instanceof m.AuthenticationError && e.message === 'authentication failed');
});

test('delete removes the instruction file; rotation re-wraps and is enforced', async () => {
  const a = new m.AesKeyring({ key: aesRaw });
  const b = new m.AesKeyring({ key: data(32, 77) });
  const pt = data(9000, 6);
  await client(a, { instructionFilePut: true }).putObject({ Bucket: env.bucket, Key: 'rot', Body: pt });
  await assert.rejects(client(a).reEncryptInstructionFile({ Bucket: env.bucket, Key: 'rot', newKeyring: a, EnforceRotation: true }), m.UsageError);
  await client(a).reEncryptInstructionFile({ Bucket: env.bucket, Key: 'rot', newKeyring: b, EnforceRotation: true });
  eq((await client(b).getObject({ Bucket: env.bucket, Key: 'rot' })).Body, pt);
  await assert.rejects(client(a).getObject({ Bucket: env.bucket, Key: 'rot' }), m.AuthenticationError);
  // KMS → KMS rotation with a new context.
  const k = keyrings('kms').w;
  await client(k, { instructionFilePut: true }).putObject({ Bucket: env.bucket, Key: 'rotk', Body: pt, EncryptionContext: { v: '1' } });
  await client(k).reEncryptInstructionFile({ Bucket: env.bucket, Key: 'rotk', newKeyring: k, EncryptionContext: { v: '1' }, NewEncryptionContext: { v: '2' } });
  eq((await client(k).getObject({ Bucket: env.bucket, Key: 'rotk', EncryptionContext: { v: '2' } })).Body, pt);
  // Metadata-placed objects cannot be rotated in place.
  await client(a).putObject({ Bucket: env.bucket, Key: 'meta', Body: pt });
  await assert.rejects(client(a).reEncryptInstructionFile({ Bucket: env.bucket, Key: 'meta', newKeyring: b }), m.UsageError);
  // Delete: both objects go.
  const del = await client(b).deleteObject({ Bucket: env.bucket, Key: 'rot' });
  assert.deepEqual(del, { object: true, instructionFile: true });
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  await assert.rejects(env.s3.send(new HeadObjectCommand({ Bucket: env.bucket, Key: 'rot.instruction' })));
  assert.deepEqual(await client(b).deleteObject({ Bucket: env.bucket, Key: 'meta' }), { object: true, instructionFile: false });
});

test('issue 21 regressions through the SDK: small streams with and without ContentLength, a Buffer body kept intact', async () => {
  // The defaults (16 MiB threshold, 8 MiB parts): streams under one part used to fail.
  const c = new m.S3EncryptionClient({ s3Client: env.s3, keyring: new m.AesKeyring({ key: aesRaw }) });
  for (const n of [1000, 3 * MIB]) {
    const pt = data(n, n);
    for (const kind of ['node', 'web']) {
      for (const withLength of [true, false]) {
        const label = `${kind} stream of ${n} bytes ${withLength ? 'with' : 'without'} ContentLength`;
        const body =
          kind === 'node'
            ? Readable.from((function* () { for (let at = 0; at < n; at += 65_536) yield Buffer.from(pt.subarray(at, at + 65_536)); })())
            : new ReadableStream({
                start(ctl) {
                  for (let at = 0; at < n; at += 100_000) ctl.enqueue(pt.slice(at, at + 100_000));
                  ctl.close();
                },
              });
        const Key = `small/${kind}/${n}/${withLength}`;
        const put = await c.putObject({ Bucket: env.bucket, Key, Body: body, ...(withLength ? { ContentLength: n } : {}) });
        assert.equal(put.multipart, false, label);
        assert.equal(put.plaintextLength, n, label);
        eq((await c.getObject({ Bucket: env.bucket, Key })).Body, pt);
      }
    }
  }
  const buf = Buffer.from(data(2 * MIB + 5, 21));
  const copy = Buffer.from(buf);
  await c.putObject({ Bucket: env.bucket, Key: 'small/buffer', Body: buf });
  assert.ok(buf.equals(copy), "the caller's Buffer was overwritten");
  eq((await c.getObject({ Bucket: env.bucket, Key: 'small/buffer' })).Body, copy);
});

test('stream-mode getObject fills ContentLength, verification, ETag and VersionId', async () => {
  const { CreateBucketCommand, PutBucketVersioningCommand } = await import('@aws-sdk/client-s3');
  const bucket = `${env.bucket}-v`;
  await env.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await env.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const c = client(new m.AesKeyring({ key: aesRaw }));
  const pt = data(300_001, 31);
  const put = await c.putObject({ Bucket: bucket, Key: 'v', Body: pt });
  assert.ok(put.VersionId, 'a versioned bucket answers a VersionId');
  const verifications = new Map([
    [undefined, 'InMemory'],
    [false, 'TwoPass'],
    [true, 'DecryptedInStorage'],
  ]);
  for (const o of [{}, { bufferSize: 0, storage: false }, { bufferSize: 0 }]) {
    const r = client(new m.AesKeyring({ key: aesRaw }), o);
    const s = await r.getObject({ Bucket: bucket, Key: 'v' }, { as: 'stream' });
    // Known before the first byte is read: the object's identity.
    assert.equal(s.ETag, put.ETag);
    assert.equal(s.VersionId, put.VersionId);
    eq(await readAll(s.Body), pt);
    // Known once the stream ended: what was released, and how it was verified.
    assert.equal(s.ContentLength, pt.length);
    assert.equal(s.verification, verifications.get(o.bufferSize === 0 ? o.storage !== false : undefined));
    const b = await r.getObject({ Bucket: bucket, Key: 'v' });
    assert.deepEqual([b.ETag, b.VersionId, b.ContentLength, b.verification], [s.ETag, s.VersionId, s.ContentLength, s.verification]);
  }
});

test("getObject and headObject return the user's metadata without the envelope's keys", async () => {
  const c = client(new m.AesKeyring({ key: aesRaw }));
  for (const instructionFilePut of [false, true]) {
    const Key = `md/${instructionFilePut}`;
    await c.putObject({ Bucket: env.bucket, Key, Body: 'x', Metadata: { purpose: 'md', 'x-trace': '7' }, InstructionFilePut: instructionFilePut });
    for (const as of ['bytes', 'stream']) assert.deepEqual((await c.getObject({ Bucket: env.bucket, Key }, { as })).Metadata, { purpose: 'md', 'x-trace': '7' });
    const h = await c.headObject({ Bucket: env.bucket, Key });
    assert.deepEqual(h.Metadata, { purpose: 'md', 'x-trace': '7' });
    assert.equal(h.envelope.version, 'V3');
  }
});
