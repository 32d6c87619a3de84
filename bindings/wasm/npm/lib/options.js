// The S3EncryptionClient's options, checked when the client is made: each mistake refused with a
// message naming its option. Whether a size, count or suffix is acceptable is the core's rule:
// each one is tried alone on the machine that uses it (a throwaway WasmPut / WasmGet), so the
// refusal names the option the core refused.
import { WasmPut, WasmGet } from './engine.js';
import { UsageError } from './errors.js';

const MIB = 1 << 20;

/** Every option the client takes. */
const KNOWN = new Set([
  's3Client',
  'keyring',
  'encryptionAlgorithm',
  'commitmentPolicy',
  'enableLegacyWrappingAlgorithms',
  'enableLegacyUnauthenticatedModes',
  'enableDelayedAuthenticationMode',
  'disableInstructionFile',
  'instructionFileSuffix',
  'instructionFilePut',
  'bufferSize',
  'storage',
  'connections',
  'partSize',
  'multipartThreshold',
  'multipartPartSize',
  'partsInFlight',
]);

const BOOLEANS = [
  'enableLegacyWrappingAlgorithms',
  'enableLegacyUnauthenticatedModes',
  'enableDelayedAuthenticationMode',
  'disableInstructionFile',
  'instructionFilePut',
];

/** The numeric options: default, the machine that uses it and under which name, what it means. */
const NUMBERS = {
  bufferSize: { default: 64 * MIB, machine: 'get', as: 'memoryBudget', rule: 'a byte count' },
  connections: { default: 1, machine: 'get', as: 'connections', rule: 'parallel ranged GETs, 1 to 16' },
  partSize: { default: 8 * MIB, machine: 'get', as: 'partSize', rule: 'at least 8 MiB, a multiple of 1 MiB' },
  multipartThreshold: { default: 16 * MIB, machine: 'put', as: 'multipartThreshold', rule: 'at most 5 GiB − 16' },
  multipartPartSize: { default: 8 * MIB, machine: 'put', as: 'partSize', rule: 'at least 5 MiB, at most 5 GiB, a multiple of 16' },
  partsInFlight: { default: 4, machine: 'put', as: 'partsInFlight', rule: '1 to 16' },
};

/** Try `options` on a machine of `kind`; the core's refusal, or null. */
function tryMachine(kind, options) {
  try {
    const mach = kind === 'put' ? new WasmPut({ bucket: 'b', key: 'k', ...options }) : new WasmGet({ bucket: 'b', key: 'k', ...options });
    mach.free();
    return null;
  } catch (e) {
    return e;
  }
}

/**
 * Check the client's options; returns the numeric settings with their defaults. `write`: the
 * suite and commitment policy already checked (`{suite, commitmentPolicy}`).
 */
export function checkOptions(options, write) {
  if (options === null || typeof options !== 'object') throw new UsageError('S3EncryptionClient takes an options object');
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k) && options[k] !== undefined) throw new UsageError(`S3EncryptionClient: unknown option ${k}`);
  }
  const s3 = options.s3Client;
  if (!s3) throw new UsageError('S3EncryptionClient needs s3Client (an S3Client of @aws-sdk/client-s3)');
  if (typeof s3.send !== 'function') throw new UsageError('s3Client must be an S3Client of @aws-sdk/client-s3 (it has no send method)');
  if (!options.keyring) throw new UsageError('S3EncryptionClient needs keyring');
  for (const k of BOOLEANS) {
    if (options[k] !== undefined && typeof options[k] !== 'boolean') throw new UsageError(`${k} must be true or false`);
  }
  if (options.disableInstructionFile && options.instructionFilePut) {
    throw new UsageError('instructionFilePut writes instruction files, and disableInstructionFile turns them off: set one of them');
  }
  const st = options.storage;
  if (st !== undefined && st !== false && (st === null || typeof st.write !== 'function' || typeof st.read !== 'function')) {
    throw new UsageError('storage must be false or have write(offset, bytes) and read(first, last)');
  }
  const suffix = options.instructionFileSuffix;
  if (suffix !== undefined) {
    if (typeof suffix !== 'string' || suffix.length === 0) throw new UsageError('instructionFileSuffix must be a non-empty string');
  }
  const out = {};
  for (const [k, d] of Object.entries(NUMBERS)) {
    const v = options[k];
    if (v === undefined) {
      out[k] = d.default;
      continue;
    }
    if (!Number.isSafeInteger(v) || v < 0) throw new UsageError(`${k} must be a non-negative integer (${d.rule}), not ${String(v)}`);
    const e = tryMachine(d.machine, d.machine === 'put' ? { ...write, [d.as]: v } : { [d.as]: v });
    if (e) throw new UsageError(`${k} ${v} is refused (${d.rule}): ${e.message}`, { code: e.code });
    out[k] = v;
  }
  return out;
}
