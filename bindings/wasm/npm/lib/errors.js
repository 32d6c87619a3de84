// Typed errors, mapped from the core's error class. Authentication failures stay opaque: one
// class, one message, whatever failed (tag, commitment, key unwrap, padding, KMS refusal).

/** Base class of every error this package throws on purpose. */
export class S3EncryptionError extends Error {
  constructor(message, { code, status, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    /** The core's error name (e.g. `PolicyRejected`), or this package's. */
    this.code = code ?? this.name;
    if (status !== undefined) this.status = status;
  }
}
/** The envelope is missing, malformed, ambiguous, or names an unknown value. */
export class FormatError extends S3EncryptionError {}
/** The object carries no S3EC envelope (neither in its metadata nor its instruction file). */
export class NotEncryptedError extends FormatError {}
/** Refused by configuration: commitment policy, a legacy gate, an encryption context. */
export class PolicyError extends S3EncryptionError {}
/** Authentication failed. Deliberately opaque. */
export class AuthenticationError extends S3EncryptionError {
  constructor(message = 'authentication failed', opts = {}) {
    super(message, { code: opts.code ?? 'Authentication' });
  }
}
/** The store: missing object, object changed during the read, or a response that does not answer the request. */
export class StorageError extends S3EncryptionError {}
/** The object (or bucket) does not exist. */
export class NotFoundError extends StorageError {}
/** The object changed between two requests of one read; nothing that differs was released. */
export class ObjectChangedError extends StorageError {}
/** Caller errors: lengths, ranges, keys, configuration, state. */
export class UsageError extends S3EncryptionError {}

/** Map an error thrown by the wasm core to a typed error; other errors pass through. */
export function mapError(e) {
  if (e instanceof S3EncryptionError) return e;
  if (!e || typeof e !== 'object' || typeof e.errorClass !== 'string') return e;
  const opts = { code: e.code, status: e.status };
  switch (e.errorClass) {
    case 'format':
      return e.code === 'NotEncrypted' ? new NotEncryptedError(e.message, opts) : new FormatError(e.message, opts);
    case 'policy':
      return new PolicyError(e.message, opts);
    case 'authentication':
      return e.code === 'TruncatedBody'
        ? new AuthenticationError(e.message, opts)
        : new AuthenticationError();
    case 'storage':
      if (e.code === 'NotFound') return new NotFoundError(e.message, opts);
      if (e.code === 'ObjectChanged') return new ObjectChangedError(e.message, opts);
      return new StorageError(e.message, opts);
    default:
      return new UsageError(e.message, opts);
  }
}

/** Run `f`, mapping core errors. */
export function core(f) {
  try {
    return f();
  } catch (e) {
    throw mapError(e);
  }
}
