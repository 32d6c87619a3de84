// Every vector again, through S3EncryptionClient.getObject and the core's GetObject machine: the
// object (and its instruction file) in an in-memory S3 whose bodies arrive in uneven chunks, fed
// to the machine in uneven pieces; verified in memory, and in two passes for the larger ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as m from '../node.js';
import { fakeS3 } from './fake-s3.js';
import { loadVectors, sha256, b64, className, offlineKms } from './helpers.js';

function keyring(k) {
  if (k.kind === 'aes') return new m.AesKeyring({ key: b64(k.key_b64) });
  if (k.kind === 'rsa') return new m.RsaKeyring({ privateKey: k.private_key_pem });
  return new m.KmsDiscoveryKeyring({ kmsClient: offlineKms(k) });
}

function pieces(seed) {
  let x = seed >>> 0 || 7;
  return (max) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return 1 + (x % Math.max(1, Math.min(max, 9000)));
  };
}

test('every vector through the GetObject machine', async () => {
  const s3 = fakeS3();
  const failures = [];
  let runs = 0;
  for (const [i, c] of loadVectors().entries()) {
    const { v } = c;
    const d = v.decrypt;
    const key = `v${i}`;
    const suffix = d.instruction_file_suffix ?? '.instruction';
    s3.objects.set(`b/${key}`, { body: c.body, metadata: v.object.metadata, etag: `"v${i}"` });
    if (c.instructionFile) s3.objects.set(`b/${key}${suffix}`, { body: c.instructionFile, metadata: {}, etag: `"i${i}"` });
    const modes = [{}];
    if (c.body.length > 100_000 && !d.range) modes.push({ bufferSize: 0 }, { bufferSize: 0, storage: false });
    for (const mode of modes) {
      runs++;
      const client = new m.S3EncryptionClient({
        s3Client: s3,
        keyring: keyring(v.key),
        commitmentPolicy: d.commitment_policy,
        enableLegacyWrappingAlgorithms: !!d.legacy_wrapping_algorithms,
        enableLegacyUnauthenticatedModes: !!d.legacy_unauthenticated_modes,
        instructionFileSuffix: suffix,
        ...mode,
      });
      let verdict;
      try {
        const got = await client.getObject(
          { Bucket: 'b', Key: key, EncryptionContext: d.encryption_context ?? {}, Range: d.range ? `bytes=${d.range[0]}-${d.range[1]}` : undefined },
          { maxPiece: pieces(i + 1) },
        );
        const pt = got.Body;
        if (v.expect.error !== undefined) verdict = `expected ${v.expect.error}, decrypted ${pt.length} bytes`;
        else if (pt.length !== v.expect.plaintext_len || sha256(pt) !== v.expect.plaintext_sha256.toLowerCase()) verdict = `plaintext mismatch (${pt.length} bytes)`;
      } catch (e) {
        const want = v.expect.error === undefined ? null : [].concat(v.expect.error);
        const got = className(e, m);
        if (!want) verdict = `expected plaintext, got ${got} ${e.code ?? ''}`;
        else if (!want.includes(got)) verdict = `expected ${want}, got ${got} ${e.code ?? ''}`;
      }
      if (verdict) failures.push(`${c.label} ${JSON.stringify(mode)}: ${verdict}`);
    }
  }
  console.log(`vectors through the machine: ${runs - failures.length} passed, ${failures.length} failed`);
  assert.deepEqual(failures, []);
});
