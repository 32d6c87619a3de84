// Benchmark (printed, not a test): Node, 64 MiB, V3. Encrypt and verify-first decrypt through the
// package (in-memory S3, so only the client and the wasm core are timed) beside node:crypto's
// AES-256-GCM one-shot on the same buffer; the .wasm size; decrypt of a 100 KiB SES-like mail.
//   node bindings/wasm/bench.mjs      (after bindings/wasm/build.sh and npm ci in bindings/wasm/npm)
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

const t0 = performance.now();
const m = await import('./npm/node.js');
const loadMs = performance.now() - t0;
const { fakeS3 } = await import('./npm/test/fake-s3.js');
const s3cmds = await import('@aws-sdk/client-s3').catch(() => import('./npm/test/browser/aws-shim.js'));
void s3cmds;

const MIB = 1 << 20;
const N = 64 * MIB;
const runs = Number(process.env.BENCH_RUNS ?? 3);
const pt = randomBytes(N);
const key = randomBytes(32);
const mbps = (ms) => (N / MIB / (ms / 1000)).toFixed(0);
const best = async (f) => {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
};

// node:crypto one-shot
const iv = randomBytes(12);
let nodeCt, nodeTag;
const nodeEnc = await best(() => {
  const c = createCipheriv('aes-256-gcm', key, iv);
  nodeCt = Buffer.concat([c.update(pt), c.final()]);
  nodeTag = c.getAuthTag();
});
const nodeDec = await best(() => {
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAuthTag(nodeTag);
  Buffer.concat([d.update(nodeCt), d.final()]);
});

// the package
const s3 = fakeS3();
const keyring = new m.AesKeyring({ key });
const client = new m.S3EncryptionClient({ s3Client: s3, keyring, multipartThreshold: 128 * MIB, bufferSize: 80 * MIB });
const enc = await best(() => client.putObject({ Bucket: 'b', Key: 'k', Body: pt }));
let verification;
const dec = await best(async () => {
  const r = await client.getObject({ Bucket: 'b', Key: 'k' });
  verification = r.verification;
  if (r.Body.length !== N) throw new Error('length');
});
const twoPass = new m.S3EncryptionClient({ s3Client: s3, keyring, bufferSize: 0 });
const dec2 = await best(() => twoPass.getObject({ Bucket: 'b', Key: 'k' }));
const stored = s3.objects.get('b/k');
const inHand = await best(() => m.decryptObject({ metadata: stored.metadata, body: stored.body, keyring }));

// SES-like mail: 100 KiB, V2, KMS wrap with an aws:ses:* context (our writer's kms+context; the
// legacy `kms` wrap SES itself uses is read by the same path), GCM. KMS answered in-process.
const dataKey = randomBytes(32);
const fakeKms = {
  async send(cmd) {
    if (cmd.constructor.name === 'GenerateDataKeyCommand') return { Plaintext: new Uint8Array(dataKey), CiphertextBlob: new Uint8Array(randomBytes(184)) };
    return { Plaintext: new Uint8Array(dataKey) };
  },
};
const sesCtx = { 'aws:ses:message-id': 'lhne4tbq09c867b1ko1f3ho4fqfidcatruo26781', 'aws:ses:rule-name': 'encrypt-to-s3', 'aws:ses:source-account': '123456789012' };
const mail = randomBytes(100 * 1024);
const kmsRing = new m.KmsKeyring({ kmsClient: fakeKms, kmsKeyId: 'alias/aws/ses' });
await new m.S3EncryptionClient({ s3Client: s3, keyring: kmsRing, encryptionAlgorithm: 'V2', commitmentPolicy: 'FORBID_ENCRYPT_ALLOW_DECRYPT' }).putObject({ Bucket: 'b', Key: 'mail', Body: mail, EncryptionContext: sesCtx });
const so = s3.objects.get('b/mail');
const sesOnce = async () =>
  m.decryptObject({ metadata: so.metadata, body: so.body, keyring: kmsRing, encryptionContext: sesCtx, commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' });
let t = performance.now();
await sesOnce();
const sesFirst = performance.now() - t;
const times = [];
for (let i = 0; i < 50; i++) {
  t = performance.now();
  await sesOnce();
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);

const wasm = readFileSync(new URL('./npm/dist/s3ec_core_bg.wasm', import.meta.url));
const cpu = cpus()[0]?.model ?? 'unknown';
console.log(`CPU: ${cpu} (${cpus().length} cores), Node ${process.version}, best of ${runs}`);
console.log(`64 MiB, V3 (AES-256-GCM, HKDF-SHA512 committing key)`);
console.log('| operation | ms | MB/s | vs node:crypto |');
console.log('|---|---|---|---|');
console.log(`| node:crypto AES-256-GCM encrypt (one-shot) | ${nodeEnc.toFixed(0)} | ${mbps(nodeEnc)} | 1.00 |`);
console.log(`| node:crypto AES-256-GCM decrypt (one-shot) | ${nodeDec.toFixed(0)} | ${mbps(nodeDec)} | 1.00 |`);
console.log(`| s3-encryption putObject (encrypt, single PUT) | ${enc.toFixed(0)} | ${mbps(enc)} | ${(nodeEnc / enc).toFixed(2)} |`);
console.log(`| s3-encryption getObject (${verification}: verify, then decrypt) | ${dec.toFixed(0)} | ${mbps(dec)} | ${(nodeDec / dec).toFixed(2)} |`);
console.log(`| s3-encryption getObject (TwoPass: verify pass, release pass) | ${dec2.toFixed(0)} | ${mbps(dec2)} | ${(nodeDec / dec2).toFixed(2)} |`);
console.log(`| s3-encryption decryptObject (in hand, verify-first) | ${inHand.toFixed(0)} | ${mbps(inHand)} | ${(nodeDec / inHand).toFixed(2)} |`);
console.log(`wasm: ${wasm.length} bytes raw, ${gzipSync(wasm, { level: 9 }).length} bytes gzipped; module load + instantiate ${loadMs.toFixed(1)} ms`);
console.log(`SES-like mail (100 KiB, V2, KMS context, GCM): first decrypt ${sesFirst.toFixed(2)} ms, then median ${times[25].toFixed(2)} ms, p90 ${times[45].toFixed(2)} ms (KMS in-process)`);
