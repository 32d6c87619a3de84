// putObject never writes into the caller's memory, whatever the body type (issue 21: a Node
// Buffer body used to come back overwritten with ciphertext, because Buffer#slice is a view and
// the chunk was encrypted in place). Every body type × every size from 0 bytes to past the
// multipart threshold × with and without ContentLength: after the put, the caller's bytes equal
// the copy taken before it, and the object reads back equal. The small-stream cases are the
// regression tests of "the body is longer than ContentLength" / "length does not match".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import * as m from '../node.js';
import { fakeS3 } from './fake-s3.js';
import { data } from './helpers.js';

const MIB = 1 << 20;
// A small threshold and part size (the least S3 allows) keep the multipart cases fast.
const PART = 5 * MIB;
const SIZES = [0, 1, 15, 16, 17, MIB, PART + 1];
const key = data(32, 4242);

/** Chunks of `bytes` as views (uneven sizes), so a write into a chunk would reach the caller. */
function* views(bytes) {
  let at = 0;
  let k = 7;
  while (at < bytes.length) {
    const n = Math.min(bytes.length - at, k);
    yield bytes.subarray(at, at + n);
    at += n;
    k = (k * 31 + 1) % 200_003 || 1;
  }
}

/**
 * Body kinds: `make(pt)` returns `{body, caller}`: the body to pass, and the caller's memory it
 * comes from (what must stay unchanged), or null when the body owns no caller memory (a string).
 */
const KINDS = {
  Buffer: (pt) => {
    const b = Buffer.from(pt);
    return { body: b, caller: b, stream: false };
  },
  Uint8Array: (pt) => {
    const b = new Uint8Array(pt);
    return { body: b, caller: b, stream: false };
  },
  subarray: (pt) => {
    // A view at an offset into a larger buffer whose other bytes must stay as they are too.
    const whole = new Uint8Array(pt.length + 40).fill(0xa5);
    whole.set(pt, 13);
    return { body: whole.subarray(13, 13 + pt.length), caller: whole, stream: false };
  },
  ArrayBuffer: (pt) => {
    const b = new Uint8Array(pt).buffer;
    return { body: b, caller: new Uint8Array(b), stream: false };
  },
  DataView: (pt) => {
    const whole = new Uint8Array(pt.length + 9).fill(0x3c);
    whole.set(pt, 5);
    return { body: new DataView(whole.buffer, 5, pt.length), caller: whole, stream: false };
  },
  string: (pt) => ({ body: Buffer.from(pt).toString('latin1'), caller: null, stream: false, latin1: true }),
  Blob: (pt) => ({ body: new Blob([pt]), caller: null, stream: false }),
  'Node Readable': (pt) => {
    const b = Buffer.from(pt);
    return { body: Readable.from(views(b)), caller: b, stream: true };
  },
  ReadableStream: (pt) => {
    const b = new Uint8Array(pt);
    const it = views(b);
    const body = new ReadableStream({
      pull(c) {
        const r = it.next();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
    });
    return { body, caller: b, stream: true };
  },
};

/** A string body: the plaintext as UTF-8 of the chosen characters (ASCII only, so n bytes). */
function asciiOf(n, seed) {
  const d = data(n, seed);
  for (let i = 0; i < n; i++) d[i] = 0x20 + (d[i] % 95);
  return d;
}

for (const [kind, make] of Object.entries(KINDS)) {
  test(`putObject with a ${kind} body leaves the caller's bytes alone and reads back equal`, async () => {
    const s3 = fakeS3();
    const client = new m.S3EncryptionClient({
      s3Client: s3,
      keyring: new m.AesKeyring({ key }),
      multipartThreshold: PART,
      multipartPartSize: PART,
    });
    let seed = 1;
    for (const n of SIZES) {
      for (const withLength of [true, false]) {
        const label = `${kind}, ${n} bytes, ${withLength ? 'with' : 'without'} ContentLength`;
        const pt = kind === 'string' ? asciiOf(n, seed++) : data(n, seed++);
        const { body, caller } = make(pt);
        const before = caller ? Uint8Array.from(caller) : null;
        const Key = `matrix/${kind}/${n}/${withLength}`;
        const input = { Bucket: 'b', Key, Body: body };
        if (withLength) input.ContentLength = n;
        const put = await client.putObject(input);
        if (caller) assert.ok(Buffer.from(caller).equals(Buffer.from(before)), `${label}: the caller's bytes changed`);
        assert.equal(put.plaintextLength, n, label);
        assert.equal(put.multipart, n > PART, label);
        const got = await client.getObject({ Bucket: 'b', Key });
        assert.ok(Buffer.from(got.Body).equals(Buffer.from(pt)), `${label}: read back differs`);
        assert.equal(got.ContentLength, n, label);
      }
    }
  });
}

test('a stream longer or shorter than its ContentLength stores nothing', async () => {
  const s3 = fakeS3();
  const client = new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key }), multipartThreshold: PART, multipartPartSize: PART });
  for (const [n, declared] of [
    [1000, 999],
    [1000, 1001],
    [PART + 2, PART + 1],
    [PART + 1, PART + 2],
  ]) {
    const pt = data(n, 9);
    await assert.rejects(
      client.putObject({ Bucket: 'b', Key: `len/${n}/${declared}`, Body: Readable.from(views(Buffer.from(pt))), ContentLength: declared }),
      (e) => e instanceof m.S3EncryptionError && e.code === 'LengthMismatch',
      `${n} bytes declared as ${declared}`,
    );
    assert.equal(s3.objects.size, 0, `${n} bytes declared as ${declared}: something was stored`);
  }
});
