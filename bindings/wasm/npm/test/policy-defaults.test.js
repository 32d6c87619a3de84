// The commitment policy defaults to REQUIRE_ENCRYPT_REQUIRE_DECRYPT whatever the suite (spec,
// client.md): choosing the non-committing V2 suite without FORBID_ENCRYPT_ALLOW_DECRYPT is
// refused when the client is made, and never loosens what the client reads. (Found by the cross-SDK harness: a V2 client
// used to default to FORBID_ENCRYPT_ALLOW_DECRYPT.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as m from '../node.js';
import { fakeS3 } from './fake-s3.js';

const key = new Uint8Array(randomBytes(32));
const keyring = () => new m.AesKeyring({ key });

for (const alg of ['ALG_AES_256_GCM_IV12_TAG16_NO_KDF', 'V2']) {
  test(`${alg} without a commitment policy: refused when the client is made, and V2 objects are not read by default`, async () => {
    const s3 = fakeS3();
    assert.throws(
      () => new m.S3EncryptionClient({ s3Client: s3, keyring: keyring(), encryptionAlgorithm: alg }),
      (e) => e instanceof m.UsageError && /encryptionAlgorithm .* commitmentPolicy REQUIRE_ENCRYPT_REQUIRE_DECRYPT/.test(e.message),
    );
    assert.equal(s3.objects.size, 0);

    const writer = new m.S3EncryptionClient({ s3Client: s3, keyring: keyring(), encryptionAlgorithm: alg, commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' });
    await writer.putObject({ Bucket: 'b', Key: 'k', Body: 'a V2 object' });
    assert.equal(new TextDecoder().decode((await writer.getObject({ Bucket: 'b', Key: 'k' })).Body), 'a V2 object');
    const reader = new m.S3EncryptionClient({ s3Client: s3, keyring: keyring() });
    await assert.rejects(reader.getObject({ Bucket: 'b', Key: 'k' }), m.PolicyError);
  });
}

test('an unknown or legacy encryptionAlgorithm is refused when the client is made', () => {
  for (const [alg, re] of [
    ['ALG_AES_256_CBC_IV16_NO_KDF', /legacy algorithm/],
    ['AES256', /unknown encryptionAlgorithm AES256/],
  ]) {
    assert.throws(
      () => new m.S3EncryptionClient({ s3Client: fakeS3(), keyring: keyring(), encryptionAlgorithm: alg }),
      (e) => e instanceof m.UsageError && re.test(e.message),
      alg,
    );
  }
});
