// The hostile-storage matrix through the JS client: every lie against every release mode; every
// failure typed, and no released byte that differs from the true plaintext.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as m from '../node.js';
import { startMoto, clients } from './moto.js';
import { startLiar } from './proxy.js';
import { data } from './helpers.js';

const MIB = 1 << 20;
let moto, liar, env, s3;
const key = data(32, 42);
const n = 11 * MIB + 3;
const pt = data(n, 1);

before(async () => {
  moto = await startMoto();
  env = await clients(moto.endpoint);
  liar = await startLiar(moto.endpoint);
  const { S3Client } = await import('@aws-sdk/client-s3');
  s3 = new S3Client({
    ...env.common,
    endpoint: liar.endpoint,
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const w = new m.S3EncryptionClient({ s3Client: env.s3, keyring: new m.AesKeyring({ key }) });
  await w.putObject({ Bucket: env.bucket, Key: 'k', Body: pt });
  await w.putObject({ Bucket: env.bucket, Key: 'small', Body: pt.subarray(0, 5000) });
  const wi = new m.S3EncryptionClient({ s3Client: env.s3, keyring: new m.AesKeyring({ key }), instructionFilePut: true });
  await wi.putObject({ Bucket: env.bucket, Key: 'ik', Body: pt.subarray(0, 3000) });
  await wi.putObject({ Bucket: env.bucket, Key: 'other', Body: data(3000, 5) });
});
after(async () => {
  await liar?.stop();
  await moto?.stop();
});

function storage() {
  let buf = new Uint8Array(0);
  return {
    write(o, b) {
      if (buf.length < o + b.length) {
        const nb = new Uint8Array(o + b.length);
        nb.set(buf);
        buf = nb;
      }
      buf.set(b, o);
    },
    read(a, b) {
      return buf.slice(a, b + 1);
    },
  };
}

/** Read through the liar as a stream; returns {error, released} with every released byte. */
async function read(opts, objectKey = 'k') {
  const c = new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key }), ...opts, storage: opts.storage === true ? storage() : opts.storage });
  const released = [];
  try {
    const r = await c.getObject({ Bucket: env.bucket, Key: objectKey }, { as: 'stream' });
    for await (const chunk of r.Body) released.push(Buffer.from(chunk));
    return { error: null, released: Buffer.concat(released) };
  } catch (e) {
    return { error: e, released: Buffer.concat(released) };
  }
}

function onlyTrueBytes(released, label) {
  assert.ok(Buffer.from(pt.buffer, pt.byteOffset, released.length).equals(released), `${label}: a released byte differs from the plaintext`);
}

// `storage`: true is the test's own, false none (two reads), absent the package's default (on
// Node, a temporary file without a name, which the core decrypts a GCM object into in one read).
// The first two modes read the object within `bufferSize`: in one buffer, after one GET.
const modes = [
  {},
  { connections: 2 },
  { bufferSize: 0, storage: false },
  { bufferSize: 0 },
  { bufferSize: 0, storage: true },
  { bufferSize: 0, connections: 3, storage: false },
  { bufferSize: 0, connections: 2 },
  { bufferSize: 0, connections: 2, storage: true },
];
/** Whether `mode` reads the object once (into a storage). */
const oneRead = (mode) => mode.storage !== false;

test('hostile storage matrix', async () => {
  for (const mode of modes) {
    const label = JSON.stringify(mode);
    for (const at of [0, 5 * MIB + 17, n - 1, n + 5]) {
      liar.set({ kind: 'flip', nth: oneRead(mode) ? 1 : 2, at });
      const got = await read(mode);
      onlyTrueBytes(got.released, `${label} flip ${at}`);
      if ((oneRead(mode) || mode.connections > 1) && !got.error) {
        assert.equal(got.released.length, n, `${label} flip ${at}`);
        continue;
      }
      assert.ok(got.error instanceof m.ObjectChangedError || got.error instanceof m.AuthenticationError, `${label} flip ${at}: ${got.error}`);
      if (at < n) assert.ok(got.released.length <= at, `${label} flip ${at}: released ${got.released.length}`);
    }
    const cases = [
      ['truncate', m.AuthenticationError, 'TruncatedBody'],
      ['extend', m.StorageError, 'UnexpectedResponse'],
      ['manyHeaders', m.UsageError, 'TooLarge'],
      ['hugeHeader', m.UsageError, 'TooLarge'],
      ['headGetDisagree', m.ObjectChangedError, 'ObjectChanged'],
      ['unavailable', m.StorageError, 'RequestFailed'],
    ];
    for (const [kind, cls, code] of cases) {
      liar.set({ kind });
      const got = await read(mode);
      onlyTrueBytes(got.released, `${label} ${kind}`);
      if (kind === 'headGetDisagree' && oneRead(mode) && !mode.connections) {
        assert.equal(got.error, null, `${label} ${kind}`);
        continue;
      }
      assert.ok(got.error instanceof cls, `${label} ${kind}: ${got.error && got.error.stack}`);
      assert.equal(got.error.code, code, `${label} ${kind}`);
      if (kind === 'unavailable') assert.equal(got.error.status, 503);
      if (kind !== 'extend') assert.equal(got.released.length, 0, `${label} ${kind} released`);
    }
    // Ranged parts, unless the object is read in one buffer (within bufferSize).
    if (mode.connections > 1 && mode.bufferSize === 0) {
      for (const kind of ['ignoreRange', 'shiftRange']) {
        liar.set({ kind });
        const got = await read(mode);
        assert.ok(got.error instanceof m.StorageError && got.error.code === 'UnexpectedResponse', `${label} ${kind}: ${got.error}`);
        assert.equal(got.released.length, 0);
      }
    }
  }
  // In memory: a changed or short body releases nothing.
  for (const kind of ['flip', 'truncate', 'extend']) {
    liar.set({ kind, nth: 1, at: 100 });
    const got = await read({}, 'small');
    assert.ok(got.error, kind);
    onlyTrueBytes(got.released, kind);
    if (kind !== 'extend') assert.equal(got.released.length, 0, kind);
  }
});

test('ranged hazmat reads refuse responses that do not match', async () => {
  for (const kind of ['ignoreRange', 'shiftRange']) {
    liar.set({ kind });
    const c = new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key }), enableLegacyUnauthenticatedModes: true });
    await assert.rejects(c.getObject({ Bucket: env.bucket, Key: 'k', Range: 'bytes=40000-40100' }), (e) => e instanceof m.StorageError && e.code === 'UnexpectedResponse');
  }
});

test('instruction files are capped and bound to their object', async () => {
  const c = new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key }) });
  liar.set({ kind: 'endlessInstructionFile' });
  // Refused at the cap (the core names it TooLarge, or since main's 2026-12 layout an invalid
  // instruction file).
  const capped = (e) => e.code === 'TooLarge' || e.code === 'InvalidMetadata';
  await assert.rejects(c.getObject({ Bucket: env.bucket, Key: 'ik' }), capped);
  await assert.rejects(c.headObject({ Bucket: env.bucket, Key: 'ik' }), capped);
  liar.set({ kind: 'swapInstructionFile' });
  await assert.rejects(c.getObject({ Bucket: env.bucket, Key: 'ik' }), m.AuthenticationError);
  liar.set({ kind: 'honest' });
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  await env.s3.send(new DeleteObjectCommand({ Bucket: env.bucket, Key: 'ik.instruction' }));
  await assert.rejects(c.getObject({ Bucket: env.bucket, Key: 'ik' }), (e) => e instanceof m.FormatError && e.code === 'InstructionFileRequired');
});

test('a failed multipart upload is aborted', async () => {
  const { ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
  const c = new m.S3EncryptionClient({ s3Client: env.s3, keyring: new m.AesKeyring({ key }), multipartThreshold: 5 * MIB, multipartPartSize: 5 * MIB });
  const bad = (async function* () {
    yield pt.subarray(0, 6 * MIB);
    throw new Error('the source failed');
  })();
  await assert.rejects(c.putObject({ Bucket: env.bucket, Key: 'aborted', Body: bad }), /the source failed/);
  const ups = await env.s3.send(new ListMultipartUploadsCommand({ Bucket: env.bucket }));
  assert.equal((ups.Uploads ?? []).length, 0, 'the upload was aborted');
  // A body shorter or longer than declared fails, and nothing is stored (single PUT and multipart).
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const gen = (n) => (async function* () { for (let at = 0; at < n; at += MIB) yield pt.subarray(at, Math.min(n, at + MIB)); })();
  for (const [name, n, declared] of [['short', 10, 100], ['long', 120, 100], ['mpshort', 6 * MIB, 7 * MIB], ['mplong', 7 * MIB + 5, 7 * MIB]]) {
    await assert.rejects(c.putObject({ Bucket: env.bucket, Key: name, Body: gen(n), ContentLength: declared }), name);
    await assert.rejects(env.s3.send(new HeadObjectCommand({ Bucket: env.bucket, Key: name })), `${name} was stored`);
  }
  const ups2 = await env.s3.send(new ListMultipartUploadsCommand({ Bucket: env.bucket }));
  assert.equal((ups2.Uploads ?? []).length, 0, 'the uploads were aborted');
});

test('an object whose instruction file could not be written is deleted', async () => {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  liar.set({ kind: 'failInstructionPut' });
  const c = new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key }), instructionFilePut: true });
  await assert.rejects(c.putObject({ Bucket: env.bucket, Key: 'half', Body: pt.subarray(0, 1000) }), (e) => e instanceof m.StorageError && e.status === 500);
  await assert.rejects(env.s3.send(new HeadObjectCommand({ Bucket: env.bucket, Key: 'half' })), 'the object without its envelope was removed');
  liar.set({ kind: 'honest' });
});
