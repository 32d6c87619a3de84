// Cross-reads through moto: objects written by this package are read by AWS's official Python
// S3EC 4.0.0 and by the Rust transport's s3ec, and objects they write are read by this package
// (KMS with and without a context, V2 and V3, metadata and instruction file, multipart).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import * as m from '../node.js';
import { startMoto, clients, pythonS3ec, cacheDir } from './moto.js';
import { data, here, repoRoot, sha256 } from './helpers.js';

const MIB = 1 << 20;
let moto, env, dir;
const matrix = [];
before(async () => {
  moto = await startMoto();
  env = await clients(moto.endpoint);
  dir = mkdtempSync(join(tmpdir(), 's3ec-js-cross-'));
});
after(async () => {
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (matrix.length) {
    console.log('cross-read matrix (writer -> reader: mode, result):');
    for (const row of matrix) console.log(`  ${row}`);
  }
});

const rustBin = process.env.S3EC_RUST_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(repoRoot, 'target'), 'debug', 's3ec');

function python(ops) {
  const f = join(dir, `ops-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(ops));
  const cfg = JSON.stringify({ endpoint: moto.endpoint, bucket: env.bucket, kms_key_id: env.kmsKeyId });
  const out = execFileSync(pythonS3ec, [join(here, 'peers', 'python_peer.py'), cfg, f], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(out);
}

const sizes = [0, 17, 4101, 1 * MIB + 3];
const contexts = { ctx: { purpose: 'cross-read', alpha: '1' }, none: undefined };

test('written by JS, read by Python S3EC 4.0.0 (and back)', { skip: !existsSync(pythonS3ec) && 'python S3EC venv missing' }, async () => {
  const keyring = new m.KmsKeyring({ kmsClient: env.kms, kmsKeyId: env.kmsKeyId });
  const ops = [];
  const expect = [];
  for (const version of ['V3', 'V2']) {
    for (const placement of ['metadata', 'instructionFile']) {
      const c = new m.S3EncryptionClient({
        s3Client: env.s3,
        keyring,
        encryptionAlgorithm: version,
        commitmentPolicy: version === 'V2' ? 'FORBID_ENCRYPT_ALLOW_DECRYPT' : undefined,
        instructionFilePut: placement === 'instructionFile',
        multipartThreshold: 5 * MIB,
        multipartPartSize: 5 * MIB,
      });
      for (const [cname, ctx] of Object.entries(contexts)) {
        for (const n of [...sizes, 6 * MIB + 17]) {
          const key = `js2py/${version}/${placement}/${cname}/${n}`;
          const pt = data(n, n + 3);
          const put = await c.putObject({ Bucket: env.bucket, Key: key, Body: n > 5 * MIB ? new Blob([pt]) : pt, EncryptionContext: ctx });
          const file = join(dir, `${ops.length}.out`);
          ops.push({ op: 'get', key, version, context: ctx ?? null, file });
          expect.push({ key, sha: sha256(pt), label: `JS -> Python: ${version} kms+context ${placement} ${cname} ${n}${put.multipart ? ' (multipart)' : ''}` });
        }
      }
    }
  }
  const res = python(ops);
  const failures = [];
  res.forEach((r, i) => {
    const ok = r.ok && sha256(readFileSync(ops[i].file)) === expect[i].sha;
    matrix.push(`${expect[i].label}: ${ok ? 'ok' : `FAIL ${r.error ?? 'mismatch'}`}`);
    if (!ok) failures.push(expect[i].label);
  });
  assert.deepEqual(failures, []);

  // Python writes, JS reads.
  const wops = [];
  const wexp = [];
  for (const version of ['V3', 'V2']) {
    for (const [cname, ctx] of Object.entries(contexts)) {
      for (const n of sizes) {
        const key = `py2js/${version}/${cname}/${n}`;
        const pt = data(n, n + 11);
        const file = join(dir, `w${wops.length}.in`);
        writeFileSync(file, pt);
        wops.push({ op: 'put', key, version, context: ctx ?? null, file });
        wexp.push({ key, pt, ctx, version, label: `Python -> JS: ${version} kms+context metadata ${cname} ${n}` });
      }
      const n = 11 * MIB + 5;
      const pt = data(n, 9);
      const file = join(dir, `w${wops.length}.in`);
      writeFileSync(file, pt);
      const key = `py2js/${version}/${cname}/multipart`;
      wops.push({ op: 'put', key, version, context: ctx ?? null, file, multipart: true });
      wexp.push({ key, pt, ctx, version, label: `Python -> JS: ${version} kms+context metadata ${cname} ${n} (multipart)` });
    }
  }
  const wres = python(wops);
  const wfail = [];
  for (let i = 0; i < wops.length; i++) {
    assert.ok(wres[i].ok, `python put ${wops[i].key}: ${wres[i].error}`);
    const e = wexp[i];
    const c = new m.S3EncryptionClient({
      s3Client: env.s3,
      keyring,
      commitmentPolicy: e.version === 'V2' ? 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' : 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT',
      bufferSize: i % 2 ? 0 : 64 * MIB,
    });
    let ok;
    try {
      const got = await c.getObject({ Bucket: env.bucket, Key: e.key, EncryptionContext: e.ctx });
      ok = Buffer.from(got.Body).equals(Buffer.from(e.pt));
    } catch (err) {
      ok = false;
      e.label += ` ${err}`;
    }
    matrix.push(`${e.label}: ${ok ? 'ok' : 'FAIL'}`);
    if (!ok) wfail.push(e.label);
  }
  assert.deepEqual(wfail, []);
});

test('written by JS, read by the Rust transport (and back)', { skip: !existsSync(rustBin) && `no s3ec binary at ${rustBin}` }, async () => {
  const aesFile = join(dir, 'aes.key');
  const aes = data(32, 1234);
  writeFileSync(aesFile, aes);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const rsaFile = join(dir, 'rsa.pem');
  writeFileSync(rsaFile, privateKey);
  const envVars = { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
  const rust = (args) =>
    execFileSync(rustBin, ['-q', '--endpoint', moto.endpoint, '--path-style', '--region', 'us-east-1', '--kms-endpoint', moto.endpoint, ...args], {
      env: envVars,
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 26,
    });
  const wraps = {
    aes: { js: () => new m.AesKeyring({ key: aes }), rust: ['--aes-key', aesFile] },
    rsa: { js: () => new m.RsaKeyring({ privateKey, publicKey }), rust: ['--rsa-key', rsaFile] },
    kms: { js: () => new m.KmsKeyring({ kmsClient: env.kms, kmsKeyId: env.kmsKeyId }), rust: ['--kms-key-id', env.kmsKeyId] },
  };
  const failures = [];
  for (const [wname, w] of Object.entries(wraps)) {
    for (const version of ['V3', 'V2']) {
      for (const placement of ['metadata', 'instructionFile']) {
        const ctx = wname === 'kms' ? { purpose: 'rust' } : undefined;
        const ctxArgs = ctx ? ['--context', 'purpose=rust'] : [];
        const readPolicy = ['--commitment-policy', version === 'V2' ? 'require-allow' : 'require-require'];
        for (const n of [17, 6 * MIB + 17]) {
          const pt = data(n, n);
          // JS writes, Rust reads.
          const key = `js2rs/${wname}/${version}/${placement}/${n}`;
          const c = new m.S3EncryptionClient({ s3Client: env.s3, keyring: w.js(), encryptionAlgorithm: version, commitmentPolicy: version === 'V2' ? 'FORBID_ENCRYPT_ALLOW_DECRYPT' : undefined, instructionFilePut: placement === 'instructionFile', multipartThreshold: 5 * MIB, multipartPartSize: 5 * MIB });
          const put = await c.putObject({ Bucket: env.bucket, Key: key, Body: pt, EncryptionContext: ctx });
          const out = join(dir, 'rs.out');
          let label = `JS -> Rust: ${version} ${wname} ${placement} ${n}${put.multipart ? ' (multipart)' : ''}`;
          let ok;
          try {
            rust(['get', ...w.rust, ...ctxArgs, ...readPolicy, `s3://${env.bucket}/${key}`, '-o', out]);
            ok = readFileSync(out).equals(Buffer.from(pt));
          } catch (e) {
            ok = false;
            label += ` ${String(e.stderr ?? e).slice(0, 200)}`;
          }
          matrix.push(`${label}: ${ok ? 'ok' : 'FAIL'}`);
          if (!ok) failures.push(label);
          // Rust writes, JS reads.
          const rkey = `rs2js/${wname}/${version}/${placement}/${n}`;
          const inFile = join(dir, 'rs.in');
          writeFileSync(inFile, pt);
          label = `Rust -> JS: ${version} ${wname} ${placement} ${n}`;
          try {
            rust([
              'put',
              ...w.rust,
              ...ctxArgs,
              '--commitment-policy',
              version === 'V2' ? 'forbid-allow' : 'require-require',
              '--placement',
              placement === 'instructionFile' ? 'instruction-file' : 'metadata',
              '--multipart-threshold',
              '5',
              inFile,
              `s3://${env.bucket}/${rkey}`,
            ]);
            const r = new m.S3EncryptionClient({ s3Client: env.s3, keyring: w.js(), commitmentPolicy: version === 'V2' ? 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' : undefined });
            const got = await r.getObject({ Bucket: env.bucket, Key: rkey, EncryptionContext: ctx });
            ok = Buffer.from(got.Body).equals(Buffer.from(pt));
          } catch (e) {
            ok = false;
            label += ` ${String(e.stderr ?? e).slice(0, 300)}`;
          }
          matrix.push(`${label}: ${ok ? 'ok' : 'FAIL'}`);
          if (!ok) failures.push(label);
        }
      }
    }
  }
  assert.deepEqual(failures, []);
});
