// Run by webcrypto.test.js in a child process per engine (S3EC_ENGINE): reads a fixed set of
// vector objects, honest and tampered, through S3EncryptionClient.getObject (bytes and stream)
// from an in-memory S3 and through decryptObject (the object in hand), and prints what each read gave (the plaintext's SHA-256, or the error's
// class and code, and how many bytes were released before it) and how many AES-GCM opens went to
// crypto.subtle. The parent compares the engines' outputs.
import { loadVectors, sha256, b64, className, offlineKms } from './helpers.js';
import { fakeS3 } from './fake-s3.js';

let opens = 0;
const subtle = globalThis.crypto.subtle;
const decrypt = subtle.decrypt.bind(subtle);
subtle.decrypt = (alg, key, data) => {
  if (alg?.name === 'AES-GCM') opens++;
  return decrypt(alg, key, data);
};
const m = await import('../node.js');

function keyring(k) {
  if (k.kind === 'aes') return new m.AesKeyring({ key: b64(k.key_b64) });
  if (k.kind === 'rsa') return new m.RsaKeyring({ privateKey: k.private_key_pem });
  return new m.KmsDiscoveryKeyring({ kmsClient: offlineKms(k) });
}

const flip = (b, at) => {
  const c = b.slice();
  c[at] ^= 1;
  return c;
};
/** Honest cases (GCM, V2 and V3, metadata or instruction file) and tampered variants of them. */
function cases() {
  const out = [];
  const good = loadVectors().filter((c) => c.v.expect.error === undefined && !c.v.decrypt.range && /GCM|115|^2|^3/.test(JSON.stringify(c.v.object.metadata)));
  const pick = [...good.filter((c) => c.label.includes('v3')).slice(0, 6), ...good.filter((c) => !c.label.includes('v3')).slice(0, 6)];
  for (const c of pick) {
    const meta = c.v.object.metadata;
    out.push({ name: `${c.label}`, c, body: c.body, meta });
    if (c.body.length > 16) {
      out.push({ name: `${c.label} first byte`, c, body: flip(c.body, 0), meta });
      out.push({ name: `${c.label} tag`, c, body: flip(c.body, c.body.length - 1), meta });
    }
    const lenKey = Object.keys(meta).find((k) => /unencrypted-content-length$/i.test(k));
    if (lenKey) out.push({ name: `${c.label} declared length`, c, body: c.body, meta: { ...meta, [lenKey]: String(Number(meta[lenKey]) + 1) } });
    const commitKey = Object.keys(meta).find((k) => /^(x-amz-meta-)?x-amz-d$/i.test(k));
    if (commitKey) {
      const v = meta[commitKey];
      out.push({ name: `${c.label} commitment`, c, body: c.body, meta: { ...meta, [commitKey]: (v[0] === 'A' ? 'B' : 'A') + v.slice(1) } });
    }
  }
  return out;
}

const results = [];
const s3 = fakeS3();
for (const [i, k] of cases().entries()) {
  const { v } = k.c;
  const suffix = v.decrypt.instruction_file_suffix ?? '.instruction';
  s3.objects.set(`b/o${i}`, { body: k.body, metadata: k.meta, etag: `"o${i}"` });
  if (k.c.instructionFile) s3.objects.set(`b/o${i}${suffix}`, { body: k.c.instructionFile, metadata: {}, etag: `"i${i}"` });
  const client = new m.S3EncryptionClient({
    s3Client: s3,
    keyring: keyring(v.key),
    commitmentPolicy: v.decrypt.commitment_policy,
    enableLegacyWrappingAlgorithms: !!v.decrypt.legacy_wrapping_algorithms,
    instructionFileSuffix: suffix,
  });
  const input = { Bucket: 'b', Key: `o${i}`, EncryptionContext: v.decrypt.encryption_context ?? undefined };
  const r = { name: k.name };
  try {
    const got = await client.getObject(input);
    r.bytes = { sha: sha256(got.Body), len: got.Body.length, verification: got.verification };
  } catch (e) {
    r.bytes = { error: className(e, m), code: e.code };
  }
  let released = 0;
  try {
    const got = await client.getObject(input, { as: 'stream' });
    const chunks = [];
    for await (const c of got.Body) {
      released += c.length;
      chunks.push(c);
    }
    r.stream = { sha: sha256(Buffer.concat(chunks)), released };
  } catch (e) {
    r.stream = { error: className(e, m), code: e.code, released };
  }
  try {
    const pt = await m.decryptObject({
      metadata: k.meta,
      body: k.body,
      instructionFile: k.c.instructionFile,
      keyring: keyring(v.key),
      commitmentPolicy: v.decrypt.commitment_policy,
      enableLegacyWrappingAlgorithms: !!v.decrypt.legacy_wrapping_algorithms,
      encryptionContext: v.decrypt.encryption_context ?? {},
    });
    r.inHand = { sha: sha256(pt), len: pt.length };
  } catch (e) {
    r.inHand = { error: className(e, m), code: e.code };
  }
  results.push(r);
}
console.log(JSON.stringify({ engine: m.engine, opens, results }));
