// Objects already in hand (an S3 event's object, SES mail): parse, unwrap, authenticate, decrypt.
import { parseEnvelope as wasmParseEnvelope, needsInstructionFile } from './engine.js';
import { NotEncryptedError, UsageError, core } from './errors.js';
import { flat } from './keyrings.js';
import { engineKeyring } from './custom-keyring.js';
import { collect } from './bytes.js';
import { hostOpenObject } from './webcrypto.js';

/** Metadata `{name: value}` (or a Map / entries / Headers), with or without `x-amz-meta-`. */
export function metadataPairs(metadata) {
  if (metadata === undefined || metadata === null) return [];
  const entries =
    typeof metadata.entries === 'function' && !Array.isArray(metadata) ? [...metadata.entries()] : Array.isArray(metadata) ? metadata : Object.entries(metadata);
  const out = [];
  for (const [k, v] of entries) {
    const name = /^x-amz-meta-/i.test(k) ? k.slice(11) : k;
    out.push(String(name), String(v));
  }
  return out;
}

/** The policy options the core reads, named as in the spec. */
export function policyOptions(o = {}) {
  return {
    commitmentPolicy: o.commitmentPolicy ?? 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT',
    enableLegacyWrappingAlgorithms: !!o.enableLegacyWrappingAlgorithms,
    enableLegacyUnauthenticatedModes: !!o.enableLegacyUnauthenticatedModes,
    enableDelayedAuthenticationMode: !!o.enableDelayedAuthenticationMode,
  };
}

/**
 * Parse an envelope without any key: `{version, contentAlgorithm, wrapAlgorithm, placement,
 * encryptionContext, materialsDescription, unencryptedContentLength, metadata}`.
 */
export function inspectEnvelope({ metadata, instructionFile, ...policy }) {
  const ifile = instructionFile === undefined || instructionFile === null ? undefined : toBytes(instructionFile);
  const env = core(() => wasmParseEnvelope(metadataPairs(metadata), ifile, policyOptions(policy)));
  try {
    return env.info();
  } finally {
    env.free();
  }
}

function toBytes(b) {
  if (typeof b === 'string') return new TextEncoder().encode(b);
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  throw new UsageError('expected bytes or a string');
}

/**
 * Decrypt an object already in hand. The whole body is authenticated before any plaintext is
 * returned. `range: [first, last]` is an unauthenticated ranged decryption and needs
 * `enableLegacyUnauthenticatedModes`.
 */
export async function decryptObject({ metadata, body, instructionFile, keyring: given, encryptionContext, range, ...policy }) {
  if (!given) throw new UsageError('decryptObject needs a keyring');
  const keyring = engineKeyring(given);
  const ifileIn = instructionFile instanceof Blob ? new Uint8Array(await instructionFile.arrayBuffer()) : instructionFile;
  const ifile = ifileIn === undefined || ifileIn === null ? undefined : toBytes(ifileIn);
  const pairs = metadataPairs(metadata);
  if (ifile === undefined && core(() => needsInstructionFile(pairs))) {
    // No envelope in the metadata and no instruction file given: as far as this call can tell,
    // the object is not encrypted (the core's judgement of the metadata).
    throw new NotEncryptedError(
      'the object is not encrypted: its metadata holds no S3EC envelope (if the envelope is in its instruction file, pass instructionFile)',
      { code: 'NotEncrypted' },
    );
  }
  const bytes = await collect(body);
  const env = core(() => wasmParseEnvelope(pairs, ifile, policyOptions(policy)));
  let dk = null;
  try {
    const ctx = encryptionContext === undefined && keyring.discovery ? undefined : flat(encryptionContext);
    const req = core(() => env.keyRequest(ctx));
    const target = {
      unwrapAes: (k) => (dk = env.unwrapAes(k)),
      unwrapRsa: (k) => (dk = env.unwrapRsa(k)),
      dataKey: (d) => (dk = d),
      externalUnwrapRequest: () => env.externalUnwrapRequest(),
    };
    await keyring.unwrap(target, req);
    if (range) {
      const [a, b] = range;
      return core(() => env.decryptRangeHazmat(dk, bytes, a, b));
    }
    // The webcrypto engine opens a GCM object with WebCrypto (lib/webcrypto.js).
    return (await hostOpenObject(env, dk, bytes, core)) ?? core(() => env.decrypt(dk, bytes));
  } finally {
    if (dk) dk.free();
    env.free();
  }
}
