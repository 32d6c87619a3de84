// The @aws-sdk/client-s3 surface (issue 21): commands through send() in the SDK's output shapes,
// pass-through of the rest, refusals of what would separate ciphertext from its envelope, and
// storage errors shaped as the SDK's (name = S3 code, $fault, $metadata, S3ServiceException).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as m from '../node.js';
import { startMoto, clients } from './moto.js';
import { data } from './helpers.js';

let moto, env, s3sdk;
before(async () => {
  moto = await startMoto();
  env = await clients(moto.endpoint);
  s3sdk = await import('@aws-sdk/client-s3');
});
after(async () => {
  await moto?.stop();
});

const key = data(32, 7);
const client = (o = {}) => new m.S3EncryptionClient({ s3Client: env.s3, keyring: new m.AesKeyring({ key }), ...o });
const eq = (a, b) => assert.ok(Buffer.from(a).equals(Buffer.from(b)), `bytes differ (${a.length} vs ${b.length})`);

test('Put, Get, Head and Delete commands in the SDK shapes', async () => {
  const { PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand } = s3sdk;
  const c = client();
  const text = 'héllo, wörld — '.repeat(1000);
  const put = await c.send(new PutObjectCommand({ Bucket: env.bucket, Key: 'cmd/a', Body: text, ContentType: 'text/plain', Metadata: { purpose: 'test' } }));
  assert.equal(put.$metadata.httpStatusCode, 200);
  assert.match(put.ETag, /^".+"$/);
  const raw = await env.s3.send(new HeadObjectCommand({ Bucket: env.bucket, Key: 'cmd/a' }));
  assert.ok(Object.keys(raw.Metadata).some((k) => k.startsWith('x-amz-')), 'the stored object carries the envelope');

  const got = await c.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'cmd/a' }));
  assert.equal(got.$metadata.httpStatusCode, 200);
  assert.deepEqual(got.Metadata, { purpose: 'test' });
  assert.equal(got.ContentType, 'text/plain');
  assert.equal(got.ContentLength, Buffer.byteLength(text));
  assert.equal(got.ETag, put.ETag);
  assert.ok(got.LastModified instanceof Date);
  assert.equal(await got.Body.transformToString(), text);
  assert.equal(got.verification, 'InMemory');
  await assert.rejects(got.Body.transformToString(), m.UsageError);
  eq(await (await c.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'cmd/a' }))).Body.transformToByteArray(), Buffer.from(text));
  const ws = (await c.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'cmd/a' }))).Body.transformToWebStream();
  const parts = [];
  for await (const p of ws) parts.push(p);
  eq(Buffer.concat(parts), Buffer.from(text));

  const h = await c.send(new HeadObjectCommand({ Bucket: env.bucket, Key: 'cmd/a' }));
  assert.equal(h.ContentLength, Buffer.byteLength(text));
  assert.deepEqual(h.Metadata, { purpose: 'test' });
  assert.equal(h.ETag, put.ETag);
  assert.ok(h.LastModified instanceof Date);

  // Ranged reads: ContentRange over the plaintext.
  const r = await client({ enableLegacyUnauthenticatedModes: true }).send(new GetObjectCommand({ Bucket: env.bucket, Key: 'cmd/a', Range: 'bytes=10-19' }));
  assert.equal(r.$metadata.httpStatusCode, 206);
  assert.equal(r.ContentRange, `bytes 10-19/${Buffer.byteLength(text)}`);
  assert.equal(r.ContentLength, 10);
  eq(await r.Body.transformToByteArray(), Buffer.from(text).subarray(10, 20));

  // Delete: the object and its instruction file.
  await client({ instructionFilePut: true }).send(new PutObjectCommand({ Bucket: env.bucket, Key: 'cmd/i', Body: 'x' }));
  const d = await c.send(new DeleteObjectCommand({ Bucket: env.bucket, Key: 'cmd/i' }));
  assert.equal(d.$metadata.httpStatusCode, 204);
  for (const k of ['cmd/i', 'cmd/i.instruction']) await assert.rejects(env.s3.send(new HeadObjectCommand({ Bucket: env.bucket, Key: k })));

  // A field the client does not implement is refused, not dropped.
  await assert.rejects(c.send(new PutObjectCommand({ Bucket: env.bucket, Key: 'cmd/x', Body: 'x', ContentMD5: 'AAAA' })), (e) => e instanceof m.UsageError && /ContentMD5/.test(e.message));
});

test('DeleteObjects removes instruction files; other commands pass through; unsafe ones are refused', async () => {
  const { PutObjectCommand, DeleteObjectsCommand, ListObjectsV2Command, CopyObjectCommand, GetObjectCommand, UploadPartCommand, CreateMultipartUploadCommand } = s3sdk;
  const c = client();
  const ci = client({ instructionFilePut: true });
  await c.send(new PutObjectCommand({ Bucket: env.bucket, Key: 'many/a', Body: 'a' }));
  await ci.send(new PutObjectCommand({ Bucket: env.bucket, Key: 'many/b', Body: 'b' }));
  const list = await c.send(new ListObjectsV2Command({ Bucket: env.bucket, Prefix: 'many/' }));
  assert.deepEqual(list.Contents.map((o) => o.Key).sort(), ['many/a', 'many/b', 'many/b.instruction']);
  const del = await c.send(new DeleteObjectsCommand({ Bucket: env.bucket, Delete: { Objects: [{ Key: 'many/a' }, { Key: 'many/b' }] } }));
  assert.deepEqual(del.Deleted.map((o) => o.Key).sort(), ['many/a', 'many/b']);
  const after = await c.send(new ListObjectsV2Command({ Bucket: env.bucket, Prefix: 'many/' }));
  assert.equal(after.KeyCount, 0);

  // Copies: an object whose envelope is in its metadata copies (and decrypts); one whose
  // envelope is in its instruction file is refused, as is a copy that replaces the metadata.
  const pt = data(1000, 3);
  await c.send(new PutObjectCommand({ Bucket: env.bucket, Key: 'cp/meta', Body: pt }));
  await ci.send(new PutObjectCommand({ Bucket: env.bucket, Key: 'cp/ifile', Body: pt }));
  await c.send(new CopyObjectCommand({ Bucket: env.bucket, Key: 'cp/meta2', CopySource: `${env.bucket}/cp/meta` }));
  eq(await (await c.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'cp/meta2' }))).Body.transformToByteArray(), pt);
  await assert.rejects(
    c.send(new CopyObjectCommand({ Bucket: env.bucket, Key: 'cp/ifile2', CopySource: `${env.bucket}/cp/ifile` })),
    (e) => e instanceof m.UsageError && /instruction file/.test(e.message),
  );
  await assert.rejects(
    c.send(new CopyObjectCommand({ Bucket: env.bucket, Key: 'cp/r', CopySource: `${env.bucket}/cp/meta`, MetadataDirective: 'REPLACE', Metadata: {} })),
    (e) => e instanceof m.UsageError && /REPLACE/.test(e.message),
  );
  // A part of an upload the encryption client did not start would be stored as plaintext.
  const plain = await env.s3.send(new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: 'mp' }));
  await assert.rejects(
    c.send(new UploadPartCommand({ Bucket: env.bucket, Key: 'mp', UploadId: plain.UploadId, PartNumber: 1, Body: 'x' })),
    (e) => e instanceof m.UsageError && /plaintext/.test(e.message),
  );
  // Its abort passes through to the wrapped client.
  const { AbortMultipartUploadCommand } = s3sdk;
  await c.send(new AbortMultipartUploadCommand({ Bucket: env.bucket, Key: 'mp', UploadId: plain.UploadId }));
});

test('caller-driven multipart uploads through send: one encrypted object, parts in order, ETags checked, abort leaves nothing', async () => {
  const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand, GetObjectCommand } = s3sdk;
  const { HeadObjectCommand, ListMultipartUploadsCommand } = s3sdk;
  const MIB = 1 << 20;
  const c = client({ multipartPartSize: 5 * MIB });
  const sizes = [5 * MIB, 7 * MIB + 5, 1, 2 * MIB + 3];
  const parts = sizes.map((n, i) => data(n, 40 + i));
  const copies = parts.map((p) => Buffer.from(p));
  const up = await c.send(new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: 'mp/a', ContentType: 'application/x-test', Metadata: { who: 'caller' } }));
  assert.equal(up.$metadata.httpStatusCode, 200);
  assert.match(up.UploadId, /^s3ec-/);
  // Out of order: refused, and the upload goes on.
  await assert.rejects(c.send(new UploadPartCommand({ Bucket: env.bucket, Key: 'mp/a', UploadId: up.UploadId, PartNumber: 2, Body: parts[1] })), (e) => e instanceof m.UsageError && /in order/.test(e.message));
  const done = [];
  for (const [i, Body] of parts.entries()) {
    const r = await c.send(new UploadPartCommand({ Bucket: env.bucket, Key: 'mp/a', UploadId: up.UploadId, PartNumber: i + 1, Body, ContentLength: Body.length }));
    assert.match(r.ETag, /^"[0-9a-f]{32}"$/);
    done.push({ PartNumber: i + 1, ETag: r.ETag });
  }
  parts.forEach((p, i) => eq(p, copies[i]));
  // A part list that is not the parts uploaded: refused, the upload still open.
  await assert.rejects(
    c.send(new CompleteMultipartUploadCommand({ Bucket: env.bucket, Key: 'mp/a', UploadId: up.UploadId, MultipartUpload: { Parts: [...done.slice(0, 2), { ...done[2], ETag: '"x"' }, done[3]] } })),
    (e) => e instanceof m.UsageError && /part list/.test(e.message),
  );
  const fin = await c.send(new CompleteMultipartUploadCommand({ Bucket: env.bucket, Key: 'mp/a', UploadId: up.UploadId, MultipartUpload: { Parts: done } }));
  assert.equal(fin.$metadata.httpStatusCode, 200);
  assert.match(fin.ETag, /-\d+"$/, 'stored as an S3 multipart upload');
  const got = await c.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'mp/a' }));
  eq(await got.Body.transformToByteArray(), Buffer.concat(parts));
  assert.equal(got.ContentType, 'application/x-test');
  assert.deepEqual(got.Metadata, { who: 'caller' });
  // The stored bytes are ciphertext of the whole stream plus its tag.
  const raw = await env.s3.send(new HeadObjectCommand({ Bucket: env.bucket, Key: 'mp/a' }));
  assert.equal(raw.ContentLength, Buffer.concat(parts).length + 16);
  // The upload is gone once completed.
  await assert.rejects(c.send(new UploadPartCommand({ Bucket: env.bucket, Key: 'mp/a', UploadId: up.UploadId, PartNumber: 5, Body: 'x' })), m.UsageError);

  // Aborted after a part: no object, no upload left in S3.
  const ab = await c.send(new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: 'mp/b' }));
  await c.send(new UploadPartCommand({ Bucket: env.bucket, Key: 'mp/b', UploadId: ab.UploadId, PartNumber: 1, Body: data(6 * MIB, 9) }));
  await assert.rejects(c.send(new UploadPartCommand({ Bucket: env.bucket, Key: 'mp/c', UploadId: ab.UploadId, PartNumber: 2, Body: 'x' })), (e) => e instanceof m.UsageError && /not .*mp\/c/.test(e.message));
  const r = await c.send(new AbortMultipartUploadCommand({ Bucket: env.bucket, Key: 'mp/b', UploadId: ab.UploadId }));
  assert.equal(r.$metadata.httpStatusCode, 204);
  await assert.rejects(env.s3.send(new HeadObjectCommand({ Bucket: env.bucket, Key: 'mp/b' })), (e) => e.$metadata?.httpStatusCode === 404);
  const open = await env.s3.send(new ListMultipartUploadsCommand({ Bucket: env.bucket, Prefix: 'mp/' }));
  assert.deepEqual(open.Uploads ?? [], []);
});

test("storage errors in the SDK's shape: NoSuchKey vs NoSuchBucket, $fault, $metadata, S3ServiceException", async () => {
  const { GetObjectCommand, HeadObjectCommand, S3ServiceException, NoSuchKey } = s3sdk;
  const c = client();
  const missingKey = await c.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'nope' })).catch((e) => e);
  assert.equal(missingKey.name, 'NoSuchKey');
  assert.equal(missingKey.$fault, 'client');
  assert.equal(missingKey.$metadata.httpStatusCode, 404);
  assert.ok(missingKey instanceof S3ServiceException);
  assert.ok(missingKey instanceof NoSuchKey);
  assert.ok(missingKey instanceof m.NotFoundError && missingKey instanceof m.StorageError && missingKey instanceof m.S3EncryptionError);
  assert.ok(!(missingKey instanceof m.FormatError));
  assert.equal(missingKey.code, 'NotFound');

  const missingBucket = await c.getObject({ Bucket: 'no-such-bucket-here', Key: 'k' }).catch((e) => e);
  assert.equal(missingBucket.name, 'NoSuchBucket');
  assert.equal(missingBucket.$metadata.httpStatusCode, 404);
  assert.ok(missingBucket instanceof m.StorageError && missingBucket instanceof S3ServiceException);
  assert.ok(!(missingBucket instanceof NoSuchKey));

  const head = await c.send(new HeadObjectCommand({ Bucket: env.bucket, Key: 'nope' })).catch((e) => e);
  assert.equal(head.$metadata.httpStatusCode, 404);
  assert.ok(head instanceof m.NotFoundError);

  // Policy, authentication and format errors stay this package's own classes.
  await client().putObject({ Bucket: env.bucket, Key: 'err/k', Body: 'secret' });
  const auth = await new m.S3EncryptionClient({ s3Client: env.s3, keyring: new m.AesKeyring({ key: data(32, 8) }) }).send(new GetObjectCommand({ Bucket: env.bucket, Key: 'err/k' })).catch((e) => e);
  assert.ok(auth instanceof m.AuthenticationError && !(auth instanceof S3ServiceException));
  await env.s3.send(new s3sdk.PutObjectCommand({ Bucket: env.bucket, Key: 'err/plain', Body: 'plain' }));
  const plain = await c.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'err/plain' })).catch((e) => e);
  assert.ok(plain instanceof m.NotEncryptedError, String(plain));
  // A HEAD of it passes through: its length is the stored one.
  assert.equal((await c.send(new HeadObjectCommand({ Bucket: env.bucket, Key: 'err/plain' }))).ContentLength, 5);
});

test('a KmsKeyring without kmsClient makes its own KMSClient (endpoint and credentials from the environment)', async () => {
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_KMS: moto.endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  });
  const { PutObjectCommand, GetObjectCommand } = s3sdk;
  const c = new m.S3EncryptionClient({ s3Client: env.s3, keyring: new m.KmsKeyring({ kmsKeyId: env.kmsKeyId, region: 'us-east-1' }) });
  await c.send(new PutObjectCommand({ Bucket: env.bucket, Key: 'kms/own', Body: 'via its own client' }), { EncryptionContext: { t: '1' } });
  // Read with the test's KMSClient: the same key and context.
  const r = new m.S3EncryptionClient({ s3Client: env.s3, keyring: new m.KmsKeyring({ kmsKeyId: env.kmsKeyId, kmsClient: env.kms }) });
  const got = await r.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'kms/own' }), { EncryptionContext: { t: '1' } });
  assert.equal(await got.Body.transformToString(), 'via its own client');
  await assert.rejects(r.send(new GetObjectCommand({ Bucket: env.bucket, Key: 'kms/own' }), { EncryptionContext: { t: '2' } }), m.PolicyError);
});

test('a write to a missing bucket is NoSuchBucket, in both APIs', async () => {
  const c = client();
  for (const attempt of [
    () => c.putObject({ Bucket: 'no-such-bucket-put', Key: 'k', Body: 'x' }),
    () => c.send(new s3sdk.PutObjectCommand({ Bucket: 'no-such-bucket-put', Key: 'k', Body: 'x' })),
  ]) {
    const e = await attempt().catch((x) => x);
    assert.equal(e.name, 'NoSuchBucket');
    assert.equal(e.$metadata.httpStatusCode, 404);
    assert.ok(e instanceof m.StorageError && e instanceof s3sdk.S3ServiceException);
  }
});
