export {
  S3EncryptionError,
  FormatError,
  NotEncryptedError,
  PolicyError,
  AuthenticationError,
  StorageError,
  NotFoundError,
  ObjectChangedError,
  UsageError,
  KeyringError,
  InternalError,
} from './errors.js';
export { AesKeyring, RsaKeyring, KmsKeyring, KmsDiscoveryKeyring } from './keyrings.js';
export { decryptObject, inspectEnvelope } from './decrypt.js';
export { S3EncryptionClient } from './client.js';
export { Upload } from './upload.js';
export { coreVersion, engine } from './engine.js';

/** The commitment policies of the S3EC specification. */
export const CommitmentPolicy = Object.freeze({
  FORBID_ENCRYPT_ALLOW_DECRYPT: 'FORBID_ENCRYPT_ALLOW_DECRYPT',
  REQUIRE_ENCRYPT_ALLOW_DECRYPT: 'REQUIRE_ENCRYPT_ALLOW_DECRYPT',
  REQUIRE_ENCRYPT_REQUIRE_DECRYPT: 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT',
});
