// Every s3ec-vector/1 case under test-vectors/ decrypts (or fails with its class) from JavaScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as m from '../node.js';
import { loadVectors, sha256, b64, className, offlineKms } from './helpers.js';

function keyring(k) {
  if (k.kind === 'aes') return new m.AesKeyring({ key: b64(k.key_b64) });
  if (k.kind === 'rsa') return new m.RsaKeyring({ privateKey: k.private_key_pem });
  return new m.KmsDiscoveryKeyring({ kmsClient: offlineKms(k) });
}

test('every vector decrypts or fails with its class', async () => {
  const cases = loadVectors();
  assert.ok(cases.length > 900, `only ${cases.length} vectors`);
  const failures = [];
  const byDir = {};
  for (const c of cases) {
    const { v } = c;
    const d = v.decrypt;
    const dir = c.label.split('/')[0];
    byDir[dir] ??= [0, 0];
    let verdict;
    try {
      const pt = await m.decryptObject({
        metadata: v.object.metadata,
        body: c.body,
        instructionFile: c.instructionFile,
        keyring: keyring(v.key),
        commitmentPolicy: d.commitment_policy,
        enableLegacyWrappingAlgorithms: !!d.legacy_wrapping_algorithms,
        enableLegacyUnauthenticatedModes: !!d.legacy_unauthenticated_modes,
        encryptionContext: d.encryption_context ?? {},
        range: d.range ?? undefined,
      });
      if (v.expect.error !== undefined) verdict = `expected ${v.expect.error}, decrypted ${pt.length} bytes`;
      else if (pt.length !== v.expect.plaintext_len || sha256(pt) !== v.expect.plaintext_sha256.toLowerCase())
        verdict = `plaintext mismatch (${pt.length} bytes)`;
    } catch (e) {
      const want = v.expect.error === undefined ? null : [].concat(v.expect.error);
      const got = className(e, m);
      if (!want) verdict = `expected plaintext, got ${got} ${e.code ?? ''}`;
      else if (!want.includes(got)) verdict = `expected ${want}, got ${got} ${e.code ?? ''}`;
    }
    if (verdict) {
      failures.push(`${c.label}: ${verdict}`);
      byDir[dir][1]++;
    } else byDir[dir][0]++;
  }
  for (const [d, [p, f]] of Object.entries(byDir)) console.log(`  ${d}: ${p} passed, ${f} failed`);
  console.log(`vectors: ${cases.length - failures.length} passed, ${failures.length} failed`);
  assert.deepEqual(failures, []);
});

test('the SES metadata parses and builds the KMS request SES objects need', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { vectorRoot } = await import('./helpers.js');
  const kat = JSON.parse(readFileSync(join(vectorRoot, 'published', 'ses-metadata.json'), 'utf8'));
  const info = m.inspectEnvelope({ metadata: kat.metadata, enableLegacyWrappingAlgorithms: true, commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' });
  assert.equal(info.version, 'V2');
  assert.equal(info.wrapAlgorithm, 'Kms');
  assert.equal(info.unencryptedContentLength, 3946);
  // Without the legacy flag: a policy error, before any key work.
  await assert.rejects(
    m.decryptObject({ metadata: kat.metadata, body: new Uint8Array(3962), keyring: new m.KmsDiscoveryKeyring({ kmsClient: offlineKms(kat.kms) }), commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT' }),
    m.PolicyError,
  );
  // With it, the KMS request is exactly the recorded one (the offline KMS answers only that);
  // no body was published, so the tag of a zero body fails authentication (opaque).
  const ctx = { ...kat.kms.encryption_context };
  delete ctx.kms_cmk_id;
  await assert.rejects(
    m.decryptObject({
      metadata: kat.metadata,
      body: new Uint8Array(3962),
      keyring: new m.KmsKeyring({ kmsClient: offlineKms(kat.kms), kmsKeyId: kat.kms.key_id }),
      encryptionContext: ctx,
      commitmentPolicy: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT',
      enableLegacyWrappingAlgorithms: true,
    }),
    (e) => e instanceof m.AuthenticationError && e.message === 'authentication failed',
  );
});

test('decryptObject takes the body as a stream and the metadata with its x-amz-meta- prefix', async () => {
  const { Readable } = await import('node:stream');
  const cases = loadVectors().filter((c) => !c.v.expect.error && !c.v.decrypt.range && c.body.length > 1000 && c.v.key.kind === 'kms');
  assert.ok(cases.length > 0);
  for (const c of cases.slice(0, 20)) {
    const { v } = c;
    const prefixed = Object.fromEntries(Object.entries(v.object.metadata).map(([k, val]) => [`x-amz-meta-${k}`, val]));
    const body = Readable.from((function* () { for (let at = 0; at < c.body.length; at += 333) yield c.body.subarray(at, at + 333); })());
    const pt = await m.decryptObject({
      metadata: prefixed,
      body,
      instructionFile: c.instructionFile,
      keyring: keyring(v.key),
      commitmentPolicy: v.decrypt.commitment_policy,
      enableLegacyWrappingAlgorithms: !!v.decrypt.legacy_wrapping_algorithms,
      enableLegacyUnauthenticatedModes: !!v.decrypt.legacy_unauthenticated_modes,
      encryptionContext: v.decrypt.encryption_context ?? {},
    });
    assert.equal(sha256(pt), v.expect.plaintext_sha256.toLowerCase(), c.label);
  }
});
