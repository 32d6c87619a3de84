// A keyring of the user's own (KEYRINGS.md): a fake HSM that wraps with node:crypto AES-256-GCM
// behind `wrapDataKey` / `unwrapDataKey`. Round trips in both placements, single and multipart;
// its objects read by the built-in AesKeyring of the same key and the other way round (the wrap
// is byte-compatible); a wrong key, a foreign key and a lying keyring; rotation to and from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as m from '../node.js';
import { fakeS3 } from './fake-s3.js';
import { data } from './helpers.js';

const MIB = 1 << 20;

/** An HSM holding one AES-256 key in `slot`; it counts its calls and what it was asked. */
class FakeHsm {
  constructor(key, slot = 'slot-3') {
    this.key = key;
    this.slot = slot;
    this.wraps = 0;
    this.unwraps = 0;
    this.ciphers = [];
  }
  async wrapDataKey({ dataKey, contentCipher, materialsDescription }) {
    this.wraps++;
    this.ciphers.push(contentCipher);
    assert.equal(dataKey.length, 32);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(contentCipher, 'utf8'));
    const ct = Buffer.concat([c.update(dataKey), c.final()]);
    return {
      wrap: 'AES/GCM',
      encryptedDataKey: new Uint8Array(Buffer.concat([iv, ct, c.getAuthTag()])),
      materialsDescription: { ...materialsDescription, 'hsm-key': this.slot },
    };
  }
  async unwrapDataKey({ wrap, contentCipher, encryptedDataKey, materialsDescription }) {
    this.unwraps++;
    this.ciphers.push(contentCipher);
    const named = materialsDescription['hsm-key'];
    if (wrap !== 'AES/GCM' || (named !== undefined && named !== this.slot)) {
      throw Object.assign(new Error('not a key of this HSM'), { code: 'Unsupported' });
    }
    const edk = Buffer.from(encryptedDataKey);
    const d = createDecipheriv('aes-256-gcm', this.key, edk.subarray(0, 12));
    d.setAAD(Buffer.from(contentCipher, 'utf8'));
    d.setAuthTag(edk.subarray(edk.length - 16));
    return new Uint8Array(Buffer.concat([d.update(edk.subarray(12, edk.length - 16)), d.final()]));
  }
}

const master = randomBytes(32);
const V2 = { encryptionAlgorithm: 'ALG_AES_256_GCM_IV12_TAG16_NO_KDF', commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' };
const client = (s3, keyring, o = {}) =>
  new m.S3EncryptionClient({ s3Client: s3, keyring, multipartThreshold: 5 * MIB, multipartPartSize: 5 * MIB, ...o });

for (const placement of ['metadata', 'instructionFile']) {
  for (const [size, multipart] of [
    [0, false],
    [70000, false],
    [11 * MIB + 3, true],
  ]) {
    test(`fake HSM round trip: ${placement}, ${size} bytes${multipart ? ' (multipart)' : ''}`, async () => {
      const s3 = fakeS3();
      const hsm = new FakeHsm(master);
      const c = client(s3, hsm, { instructionFilePut: placement === 'instructionFile' });
      const pt = data(size, size + 7);
      const out = await c.putObject({ Bucket: 'b', Key: 'k', Body: pt, EncryptionContext: { purpose: 'logs' } });
      assert.equal(out.multipart, multipart);
      assert.equal(out.instructionFile, placement === 'instructionFile');
      assert.deepEqual([hsm.wraps, hsm.unwraps], [1, 0]);
      // The envelope carries the HSM's wrap and its materials description.
      const stored = placement === 'instructionFile' ? JSON.parse(Buffer.from(s3.objects.get('b/k.instruction').body)) : s3.objects.get('b/k').metadata;
      assert.equal(stored['x-amz-w'], '02');
      assert.deepEqual(JSON.parse(stored['x-amz-m']), { purpose: 'logs', 'hsm-key': 'slot-3' });
      assert.equal(Buffer.from(stored['x-amz-3'], 'base64').length, 60);
      const got = await c.getObject({ Bucket: 'b', Key: 'k' });
      assert.ok(Buffer.from(got.Body).equals(Buffer.from(pt)));
      assert.deepEqual([hsm.wraps, hsm.unwraps], [1, 1]);
      assert.deepEqual(hsm.ciphers, ['115', '115']);
    });
  }
}

test('fake HSM, V2: the wrap binds AES/GCM/NoPadding', async () => {
  const s3 = fakeS3();
  const hsm = new FakeHsm(master);
  const c = client(s3, hsm, V2);
  const pt = data(1000, 3);
  await c.putObject({ Bucket: 'b', Key: 'v2', Body: pt });
  const meta = s3.objects.get('b/v2').metadata;
  assert.equal(meta['x-amz-wrap-alg'], 'AES/GCM');
  assert.deepEqual(JSON.parse(meta['x-amz-matdesc']), { 'hsm-key': 'slot-3' });
  assert.ok(Buffer.from((await c.getObject({ Bucket: 'b', Key: 'v2' })).Body).equals(Buffer.from(pt)));
  // The built-in keyring of the same key reads it too.
  const aes = client(s3, new m.AesKeyring({ key: master }), V2);
  assert.ok(Buffer.from((await aes.getObject({ Bucket: 'b', Key: 'v2' })).Body).equals(Buffer.from(pt)));
  assert.deepEqual(hsm.ciphers, ['AES/GCM/NoPadding', 'AES/GCM/NoPadding']);
});

test("the HSM's objects are read by AesKeyring of the same key, and AesKeyring's by the HSM", async () => {
  const s3 = fakeS3();
  const hsm = new FakeHsm(master);
  const pt = data(200000, 5);
  await client(s3, hsm).putObject({ Bucket: 'b', Key: 'from-hsm', Body: pt });
  const aes = client(s3, new m.AesKeyring({ key: master }));
  assert.ok(Buffer.from((await aes.getObject({ Bucket: 'b', Key: 'from-hsm' })).Body).equals(Buffer.from(pt)));
  await aes.putObject({ Bucket: 'b', Key: 'from-aes', Body: pt });
  assert.equal(hsm.unwraps, 0);
  const got = await client(s3, hsm).getObject({ Bucket: 'b', Key: 'from-aes' });
  assert.ok(Buffer.from(got.Body).equals(Buffer.from(pt)));
  assert.deepEqual([hsm.wraps, hsm.unwraps], [1, 1]);
  // An object in hand (decryptObject) through the HSM.
  const o = s3.objects.get('b/from-hsm');
  const dec = await m.decryptObject({ metadata: o.metadata, body: o.body, keyring: hsm });
  assert.ok(Buffer.from(dec).equals(Buffer.from(pt)));
  assert.equal(hsm.unwraps, 2);
});

test('a wrong key, a lying keyring and a key of another HSM', async () => {
  const s3 = fakeS3();
  const pt = data(5000, 9);
  await client(s3, new FakeHsm(master)).putObject({ Bucket: 'b', Key: 'k', Body: pt });
  // Same slot, another key: its unwrap fails, which is the opaque authentication error.
  const wrong = new FakeHsm(randomBytes(32));
  await assert.rejects(client(s3, wrong).getObject({ Bucket: 'b', Key: 'k' }), (e) => e instanceof m.AuthenticationError && e.code === 'Authentication');
  assert.equal(wrong.unwraps, 1);
  // AesKeyring with a wrong key: the same error.
  await assert.rejects(client(s3, new m.AesKeyring({ key: randomBytes(32) })).getObject({ Bucket: 'b', Key: 'k' }), m.AuthenticationError);
  // A keyring that hands back some other 256-bit key: the key commitment refuses it.
  const liar = { wrapDataKey: () => assert.fail('no writes'), unwrapDataKey: () => new Uint8Array(randomBytes(32)) };
  await assert.rejects(client(s3, liar).getObject({ Bucket: 'b', Key: 'k' }), m.AuthenticationError);
  // An HSM that does not hold the key the envelope names says so.
  const other = new FakeHsm(master, 'slot-9');
  await assert.rejects(client(s3, other).getObject({ Bucket: 'b', Key: 'k' }), (e) => e instanceof m.FormatError && e.code === 'UnsupportedWrap');
  // A KMS envelope is never handed to a user keyring (a stand-in KMS writes one).
  const kmsClient = { send: async () => ({ Plaintext: new Uint8Array(randomBytes(32)), CiphertextBlob: new Uint8Array(randomBytes(64)) }) };
  await client(s3, new m.KmsKeyring({ kmsClient, kmsKeyId: 'alias/k' })).putObject({ Bucket: 'b', Key: 'kms', Body: pt });
  assert.equal(s3.objects.get('b/kms').metadata['x-amz-w'], '12');
  const counted = new FakeHsm(master);
  await assert.rejects(client(s3, counted).getObject({ Bucket: 'b', Key: 'kms' }), (e) => e instanceof m.FormatError && e.code === 'UnsupportedWrap');
  assert.equal(counted.unwraps, 0);
});

test('what is not a keyring is refused, and a wrap answer is checked', async () => {
  const s3 = fakeS3();
  assert.throws(() => client(s3, {}), m.UsageError);
  const bad = { wrapDataKey: async () => ({ wrap: 'kms+context', encryptedDataKey: new Uint8Array(60) }), unwrapDataKey: async () => new Uint8Array(32) };
  await assert.rejects(client(s3, bad).putObject({ Bucket: 'b', Key: 'k', Body: 'x' }), m.UsageError);
  const short = { wrapDataKey: async () => ({ wrap: 'AES/GCM', encryptedDataKey: new Uint8Array(59) }), unwrapDataKey: async () => new Uint8Array(32) };
  await assert.rejects(client(s3, short).putObject({ Bucket: 'b', Key: 'k', Body: 'x' }), m.S3EncryptionError);
  assert.equal(s3.objects.size, 0);
  // The data key handed to wrapDataKey is wiped once it returns.
  let seen;
  const keep = new FakeHsm(master);
  const inner = keep.wrapDataKey.bind(keep);
  keep.wrapDataKey = async (r) => {
    seen = r.dataKey;
    return inner(r);
  };
  await client(s3, keep).putObject({ Bucket: 'b', Key: 'k', Body: 'x' });
  assert.ok(seen.every((b) => b === 0));
});

test('rotation to the HSM and back', async () => {
  const s3 = fakeS3();
  const pt = data(30000, 11);
  const aesRing = new m.AesKeyring({ key: randomBytes(32) });
  const hsm = new FakeHsm(master);
  await client(s3, aesRing, { instructionFilePut: true }).putObject({ Bucket: 'b', Key: 'r', Body: pt });
  // AES → HSM: the HSM wraps the object's data key, then reads it back before anything is written.
  await client(s3, aesRing).reEncryptInstructionFile({ Bucket: 'b', Key: 'r', newKeyring: hsm, NewMaterialsDescription: { rotated: 'yes' }, EnforceRotation: true });
  assert.deepEqual([hsm.wraps, hsm.unwraps], [1, 1]);
  const ifile = JSON.parse(Buffer.from(s3.objects.get('b/r.instruction').body));
  assert.deepEqual(JSON.parse(ifile['x-amz-m']), { rotated: 'yes', 'hsm-key': 'slot-3' });
  assert.ok(Buffer.from((await client(s3, hsm).getObject({ Bucket: 'b', Key: 'r' })).Body).equals(Buffer.from(pt)));
  await assert.rejects(client(s3, aesRing).getObject({ Bucket: 'b', Key: 'r' }), m.AuthenticationError);
  // HSM → HSM under the same key cannot be an enforced rotation: the old keyring still opens it.
  await assert.rejects(client(s3, hsm).reEncryptInstructionFile({ Bucket: 'b', Key: 'r', newKeyring: hsm, EnforceRotation: true }), m.UsageError);
  // HSM → another AES key, enforced: the HSM is asked whether it still opens the new envelope.
  const next = new m.AesKeyring({ key: randomBytes(32) });
  const before = hsm.unwraps;
  await client(s3, hsm).reEncryptInstructionFile({ Bucket: 'b', Key: 'r', newKeyring: next, EnforceRotation: true });
  assert.equal(hsm.unwraps, before + 2);
  assert.ok(Buffer.from((await client(s3, next).getObject({ Bucket: 'b', Key: 'r' })).Body).equals(Buffer.from(pt)));
});
