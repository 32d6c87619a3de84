// Upload (the shape of @aws-sdk/lib-storage's helper) and putObject's onProgress / signal:
// progress in plaintext bytes per stored part, abort stops the write and aborts the upload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as m from '../node.js';
import { fakeS3 } from './fake-s3.js';
import { data } from './helpers.js';

const MIB = 1 << 20;
const key = data(32, 5);
const make = (s3) => new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key }), multipartThreshold: 5 * MIB, multipartPartSize: 5 * MIB, partsInFlight: 2 });

test('Upload reports progress per part and stores the object', async () => {
  const s3 = fakeS3();
  const c = make(s3);
  for (const [n, parts] of [
    [100, 1],
    [11 * MIB + 3, 3],
  ]) {
    const pt = data(n, n);
    const events = [];
    const up = new m.Upload({ client: c, params: { Bucket: 'b', Key: `up/${n}`, Body: pt } });
    up.on('httpUploadProgress', (p) => events.push(p));
    const out = await up.done();
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.ok(out.ETag);
    assert.equal(events.length, parts);
    assert.deepEqual(events.map((e) => e.loaded), [...events.map((e) => e.loaded)].sort((a, b) => a - b));
    assert.equal(events.at(-1).loaded, n);
    assert.ok(events.every((e) => e.total === n && e.Key === `up/${n}`));
    assert.ok(Buffer.from((await c.getObject({ Bucket: 'b', Key: `up/${n}` })).Body).equals(Buffer.from(pt)));
  }
  // A stream of unknown length: total unknown, loaded still adds up.
  const pt = data(6 * MIB, 2);
  const events = [];
  await c.putObject({ Bucket: 'b', Key: 'up/stream', Body: new Blob([pt]).stream() }, { onProgress: (p) => events.push(p) });
  assert.equal(events.at(-1).loaded, pt.length);
  assert.ok(events.every((e) => e.total === undefined));
  assert.throws(() => new m.Upload({ client: c, params: {}, partSize: 1 }), (e) => e instanceof m.UsageError && /partSize/.test(e.message));
});

test('abort stops the write: nothing stored, the multipart upload aborted', async () => {
  const s3 = fakeS3();
  const c = make(s3);
  const piece = data(MIB, 9);
  let sent = 0;
  // A slow body of 30 MiB; the upload is aborted once its first part is stored.
  const body = new ReadableStream({
    async pull(ctl) {
      await new Promise((r) => setTimeout(r, 5));
      if (sent++ < 30) ctl.enqueue(piece.slice());
      else ctl.close();
    },
  });
  const up = new m.Upload({ client: c, params: { Bucket: 'b', Key: 'ab', Body: body } });
  up.on('httpUploadProgress', () => up.abort());
  await assert.rejects(up.done(), (e) => e.name === 'AbortError');
  assert.equal(s3.objects.size, 0);
  assert.equal(s3.uploads.size, 0, 'the multipart upload was aborted');
  assert.ok(sent < 30, 'the body was not read to its end');
  // An already aborted signal: nothing is sent at all.
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(c.putObject({ Bucket: 'b', Key: 'x', Body: 'x' }, { signal: ac.signal }), /stop/);
  assert.equal(s3.objects.size, 0);
});
