// Configuration mistakes are refused when the client (or keyring) is made, each with a message
// naming its option (issue 21: two different mistakes used to say "contradictory configuration",
// and only at the first put); decryptObject on a plaintext object says NotEncrypted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as m from '../node.js';
import { fakeS3 } from './fake-s3.js';
import { data } from './helpers.js';

const keyring = new m.AesKeyring({ key: data(32, 1) });

test('each configuration mistake is refused in the constructor, naming its option', () => {
  const s3 = fakeS3();
  const cases = [
    [{ keyring }, /needs s3Client/],
    [{ s3Client: s3 }, /needs keyring/],
    [{ s3Client: {}, keyring }, /s3Client must be an S3Client/],
    [{ s3Client: s3, keyring: {} }, /keyring must be/],
    [{ s3Client: s3, keyring, keyRing: keyring }, /unknown option keyRing/],
    [{ s3Client: s3, keyring, multipartPartSize: 1 << 20 }, /^multipartPartSize 1048576 is refused/],
    [{ s3Client: s3, keyring, multipartThreshold: 6 * 2 ** 30 }, /^multipartThreshold \d+ is refused/],
    [{ s3Client: s3, keyring, partsInFlight: 0 }, /^partsInFlight 0 is refused/],
    [{ s3Client: s3, keyring, partsInFlight: 17 }, /^partsInFlight 17 is refused/],
    [{ s3Client: s3, keyring, connections: 0 }, /^connections 0 is refused/],
    [{ s3Client: s3, keyring, partSize: 5 << 20 }, /^partSize 5242880 is refused/],
    [{ s3Client: s3, keyring, bufferSize: -1 }, /^bufferSize must be a non-negative integer/],
    [{ s3Client: s3, keyring, bufferSize: 1.5 }, /^bufferSize must be a non-negative integer/],
    [{ s3Client: s3, keyring, instructionFileSuffix: '' }, /^instructionFileSuffix must be/],
    [{ s3Client: s3, keyring, instructionFilePut: 'yes' }, /^instructionFilePut must be true or false/],
    [{ s3Client: s3, keyring, instructionFilePut: true, disableInstructionFile: true }, /instructionFilePut .* disableInstructionFile/],
    [{ s3Client: s3, keyring, storage: {} }, /^storage must be false or have/],
  ];
  const messages = new Set();
  for (const [o, re] of cases) {
    assert.throws(() => new m.S3EncryptionClient(o), (e) => e instanceof m.UsageError && re.test(e.message), `${Object.keys(o).join(', ')}: ${re}`);
    try {
      new m.S3EncryptionClient(o);
    } catch (e) {
      messages.add(e.message);
    }
  }
  assert.equal(messages.size, cases.length, 'every mistake has its own message');
  // The limits themselves are accepted.
  new m.S3EncryptionClient({ s3Client: s3, keyring, multipartPartSize: 5 << 20, partsInFlight: 16, connections: 16, partSize: 9 << 20, multipartThreshold: 0 });
  assert.equal(s3.objects.size, 0);
});

test('KMS keyrings: kmsClient is optional (the keyring makes one), its mistakes are named', () => {
  assert.throws(() => new m.KmsKeyring({}), (e) => e instanceof m.UsageError && /kmsKeyId/.test(e.message));
  assert.throws(() => new m.KmsKeyring({ kmsKeyId: 'k', kmsClient: {} }), (e) => e instanceof m.UsageError && /kmsClient must be/.test(e.message));
  assert.throws(() => new m.KmsKeyring({ kmsKeyId: 'k', kmsClient: { send() {} }, region: 'eu-west-1' }), (e) => e instanceof m.UsageError && /region/.test(e.message));
  new m.KmsKeyring({ kmsKeyId: 'alias/k' });
  new m.KmsKeyring({ kmsKeyId: 'alias/k', region: 'eu-west-1' });
  new m.KmsDiscoveryKeyring({});
});

test('AES and RSA keyrings given bytes or PEM check the key when made, and keep their own copy', async () => {
  const refused = (f) => assert.throws(f, (e) => e instanceof m.S3EncryptionError, String(f));
  refused(() => new m.AesKeyring({ key: new Uint8Array(5) }));
  refused(() => new m.AesKeyring({ key: new Uint8Array(33).buffer }));
  assert.throws(() => new m.AesKeyring({ key: 'a string' }), m.UsageError);
  refused(() => new m.RsaKeyring({ privateKey: data(300, 3) }));
  refused(() => new m.RsaKeyring({ publicKey: data(300, 3) }));
  assert.throws(() => new m.RsaKeyring({ privateKey: 'not PEM' }), m.UsageError);
  assert.throws(() => new m.RsaKeyring({ privateKey: 42 }), m.UsageError);
  // The bytes are copied when the keyring is made: changing them later changes nothing.
  const bytes = data(32, 9);
  const original = bytes.slice();
  const s3 = fakeS3();
  const writer = new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key: bytes }) });
  bytes.fill(7);
  await writer.putObject({ Bucket: 'b', Key: 'k', Body: data(100, 2) });
  const reader = new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key: original }) });
  const got = await reader.getObject({ Bucket: 'b', Key: 'k' });
  assert.deepEqual(new Uint8Array(got.Body), data(100, 2));
});

test('decryptObject on a plaintext object is NotEncrypted', async () => {
  await assert.rejects(
    m.decryptObject({ metadata: { purpose: 'x' }, body: 'hello', keyring }),
    (e) => e instanceof m.NotEncryptedError && e.code === 'NotEncrypted',
  );
  // With an instruction file given, the envelope is looked for there (and a bad one is a format error).
  await assert.rejects(m.decryptObject({ metadata: {}, body: 'hello', instructionFile: '{}', keyring }), m.FormatError);
});
