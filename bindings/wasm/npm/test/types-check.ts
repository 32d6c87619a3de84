// Compiled with `tsc --noEmit` by types.test.js: the declarations describe the README's usage.
import { engine, S3EncryptionClient, KmsKeyring, AesKeyring, decryptObject, AuthenticationError, PolicyError, StorageError, CommitmentPolicy, Upload } from 's3-encryption';
import type { Keyring, WrapDataKeyRequest, UnwrapDataKeyRequest } from 's3-encryption';

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

// A keyring of one's own (README: "Bring your own keyring").
declare function hsmWrap(key: Uint8Array, aad: string): Promise<Uint8Array>;
declare function hsmUnwrap(blob: Uint8Array, aad: string): Promise<Uint8Array>;
const hsm: Keyring = {
  async wrapDataKey({ dataKey, contentCipher, materialsDescription }: WrapDataKeyRequest) {
    return { wrap: 'AES/GCM', encryptedDataKey: await hsmWrap(dataKey, contentCipher), materialsDescription: { ...materialsDescription, 'hsm-key': 'slot-3' } };
  },
  async unwrapDataKey({ wrap, contentCipher, encryptedDataKey, materialsDescription }: UnwrapDataKeyRequest) {
    if (wrap !== 'AES/GCM' || materialsDescription['hsm-key'] !== 'slot-3') throw Object.assign(new Error('not mine'), { code: 'Unsupported' });
    return hsmUnwrap(encryptedDataKey, contentCipher);
  },
};
const withHsm = new S3EncryptionClient({ s3Client: s3, keyring: hsm });
void withHsm.reEncryptInstructionFile({ Bucket: 'b', Key: 'k', newKeyring: new AesKeyring({ key: new Uint8Array(32) }) });
// @ts-expect-error a keyring is a built-in one or has wrapDataKey and unwrapDataKey
void new S3EncryptionClient({ s3Client: s3, keyring: {} });
const badWrap: Keyring = {
  // @ts-expect-error only AES/GCM and RSA-OAEP-SHA1 are wraps a keyring may answer with
  wrapDataKey: async () => ({ wrap: 'kms+context', encryptedDataKey: new Uint8Array(0) }),
  unwrapDataKey: async () => new Uint8Array(32),
};
void badWrap;

// The SDK surface: send() with a command, the SDK body, storage error fields.
declare const getCommand: { readonly input: { Bucket: string; Key: string } };
async function sdkShape(): Promise<void> {
  const c = new S3EncryptionClient({ s3Client: s3, keyring: new KmsKeyring({ kmsKeyId: 'alias/k', region: 'eu-west-1' }) });
  const out = (await c.send(getCommand, { EncryptionContext: { a: 'b' } })) as import('s3-encryption').SendGetObjectOutput;
  const text: string = await out.Body.transformToString();
  const meta: Record<string, string> = out.Metadata;
  try {
    await c.send(getCommand);
  } catch (e) {
    if (e instanceof StorageError) console.log(e.$metadata?.httpStatusCode, e.$fault, e.name, text, meta);
  }
}
void sdkShape;

// Upload and putObject's progress.
async function uploads(c: S3EncryptionClient): Promise<void> {
  const up = new Upload({ client: c, params: { Bucket: 'b', Key: 'k', Body: new Uint8Array(1) } });
  up.on('httpUploadProgress', (p) => console.log(p.loaded, p.total, p.part));
  const done = await up.done();
  const etag: string | undefined = done.ETag;
  await c.putObject({ Bucket: 'b', Key: 'k', Body: 'x' }, { onProgress: (p) => console.log(p.loaded, etag), signal: AbortSignal.timeout(1000) });
}
void uploads;

// The engine in use.
const which: 'native' | 'webcrypto' | 'wasm' = engine;
void which;
