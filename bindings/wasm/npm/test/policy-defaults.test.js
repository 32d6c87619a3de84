// The commitment policy defaults to REQUIRE_ENCRYPT_REQUIRE_DECRYPT whatever the suite (spec,
// client.md): choosing the non-committing V2 suite without FORBID_ENCRYPT_ALLOW_DECRYPT is
// refused, and never loosens what the client reads. (Found by the cross-SDK harness: a V2 client
// used to default to FORBID_ENCRYPT_ALLOW_DECRYPT.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as m from '../node.js';
import { fakeS3 } from './fake-s3.js';

const key = new Uint8Array(randomBytes(32));
const keyring = () => new m.AesKeyring({ key });

for (const alg of ['ALG_AES_256_GCM_IV12_TAG16_NO_KDF', 'V2']) {
  test(`${alg} without a commitment policy: writes are refused, V2 objects are not read`, async () => {
    const s3 = fakeS3();
    const v2 = new m.S3EncryptionClient({ s3Client: s3, keyring: keyring(), encryptionAlgorithm: alg });
    await assert.rejects(v2.putObject({ Bucket: 'b', Key: 'k', Body: 'not stored' }), m.S3EncryptionError);
    assert.equal(s3.objects.size, 0);

    const writer = new m.S3EncryptionClient({ s3Client: s3, keyring: keyring(), encryptionAlgorithm: alg, commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' });
    await writer.putObject({ Bucket: 'b', Key: 'k', Body: 'a V2 object' });
    assert.equal(new TextDecoder().decode((await writer.getObject({ Bucket: 'b', Key: 'k' })).Body), 'a V2 object');
    await assert.rejects(v2.getObject({ Bucket: 'b', Key: 'k' }), m.PolicyError);
  });
}
