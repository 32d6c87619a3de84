// Compiled with `tsc --noEmit` by types.test.js: the declarations describe the README's usage.
import { S3EncryptionClient, KmsKeyring, AesKeyring, decryptObject, AuthenticationError, PolicyError, CommitmentPolicy } from 's3-encryption';

declare const s3: { send(c: unknown): Promise<any> };
declare const kms: { send(c: unknown): Promise<any> };

async function demo(): Promise<void> {
  const client = new S3EncryptionClient({ s3Client: s3, keyring: new KmsKeyring({ kmsClient: kms, kmsKeyId: 'alias/k' }) });
  await client.putObject({ Bucket: 'b', Key: 'k', Body: new Uint8Array(3), EncryptionContext: { a: 'b' } });
  const got = await client.getObject({ Bucket: 'b', Key: 'k', EncryptionContext: { a: 'b' } });
  const bytes: Uint8Array = got.Body;
  const s = await client.getObject({ Bucket: 'b', Key: 'k' }, { as: 'stream' });
  const stream: ReadableStream<Uint8Array> = s.Body;
  const pt: Uint8Array = await decryptObject({
    metadata: { 'x-amz-key-v2': '…' },
    body: bytes,
    keyring: new AesKeyring({ key: new Uint8Array(32) }),
    commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
    enableLegacyWrappingAlgorithms: true,
  });
  try {
    await client.headObject({ Bucket: 'b', Key: 'k' });
  } catch (e) {
    if (e instanceof AuthenticationError || e instanceof PolicyError) console.log(e.code, pt.length, stream.locked);
  }
}
void demo;
