// The materials description of AES and RSA keyrings is stored with the object it writes
// (`x-amz-m` in V3, `x-amz-matdesc` in V2); a write's EncryptionContext replaces it. (Found by the
// cross-SDK harness: the keyring's description used to be dropped on putObject.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as m from '../node.js';
import { fakeS3 } from './fake-s3.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
const aes = new Uint8Array(randomBytes(32));

const keyrings = {
  aes: (d) => new m.AesKeyring({ key: aes, materialsDescription: d }),
  rsa: (d) => new m.RsaKeyring({ privateKey: pem, materialsDescription: d }),
};
const formats = {
  V3: { encryptionAlgorithm: 'ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY', field: 'x-amz-m' },
  V2: { encryptionAlgorithm: 'ALG_AES_256_GCM_IV12_TAG16_NO_KDF', commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT', field: 'x-amz-matdesc' },
};

for (const [kind, ring] of Object.entries(keyrings)) {
  for (const [fmt, { field, ...opts }] of Object.entries(formats)) {
    test(`${kind} ${fmt}: the keyring's materials description is stored, a write's EncryptionContext replaces it`, async () => {
      const s3 = fakeS3();
      const desc = { owner: 'harness', rotation: '1' };
      const client = new m.S3EncryptionClient({ s3Client: s3, keyring: ring(desc), ...opts });
      const pt = new Uint8Array(randomBytes(100));
      await client.putObject({ Bucket: 'b', Key: 'k1', Body: pt });
      assert.deepEqual(JSON.parse(s3.objects.get('b/k1').metadata[field]), desc);
      assert.deepEqual((await client.getObject({ Bucket: 'b', Key: 'k1' })).Body, pt);

      const per = { 'per-op': 'yes' };
      await client.putObject({ Bucket: 'b', Key: 'k2', Body: pt, EncryptionContext: per });
      assert.deepEqual(JSON.parse(s3.objects.get('b/k2').metadata[field]), per);
      assert.deepEqual((await client.getObject({ Bucket: 'b', Key: 'k2' })).Body, pt);

      const plain = new m.S3EncryptionClient({ s3Client: s3, keyring: ring(undefined), ...opts });
      await plain.putObject({ Bucket: 'b', Key: 'k3', Body: pt });
      assert.deepEqual(JSON.parse(s3.objects.get('b/k3').metadata[field] ?? '{}'), {});
    });
  }
}
