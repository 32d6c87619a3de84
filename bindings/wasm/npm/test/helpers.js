// Test helpers: the vector corpus, expected classes, deterministic data.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..', '..', '..');
export const vectorRoot = join(repoRoot, 'test-vectors');

export function walk(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'generators') walk(p, out);
    } else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

export function loadVectors() {
  const cases = [];
  for (const f of walk(vectorRoot)) {
    const v = JSON.parse(readFileSync(f, 'utf8'));
    if (v.schema !== 's3ec-vector/1') continue;
    const dir = dirname(f);
    cases.push({
      label: relative(vectorRoot, f),
      v,
      body: new Uint8Array(readFileSync(join(dir, v.object.body))),
      instructionFile: v.instruction_file ? new Uint8Array(readFileSync(join(dir, v.instruction_file.body))) : undefined,
    });
  }
  return cases;
}

export const sha256 = (b) => createHash('sha256').update(b).digest('hex');
export const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));

/** Class of a typed error, as the vector schema names them. */
export function className(e, m) {
  if (e instanceof m.AuthenticationError) return 'authentication';
  if (e instanceof m.PolicyError) return 'policy';
  if (e instanceof m.FormatError) return 'format';
  return `other:${e && e.name}:${e && e.message}`;
}

/** Deterministic pseudo-random bytes. */
export function data(n, seed = 1) {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** An offline KMS client for a vector: answers Decrypt only for the recorded blob and context. */
export function offlineKms(k) {
  const blob = Buffer.from(k.ciphertext_blob_b64, 'base64');
  const want = JSON.stringify(Object.entries(k.encryption_context).sort());
  return {
    async send(cmd) {
      const input = cmd.input;
      const got = JSON.stringify(Object.entries(input.EncryptionContext ?? {}).sort());
      if (!Buffer.from(input.CiphertextBlob).equals(blob) || got !== want) {
        const e = new Error('InvalidCiphertextException');
        e.name = 'InvalidCiphertextException';
        e.$metadata = { httpStatusCode: 400 };
        throw e;
      }
      return { Plaintext: b64(k.plaintext_b64), KeyId: k.key_id };
    },
  };
}
