// Typed errors, mapped from the core's error class. Authentication failures stay opaque: one
// class, one message, whatever failed (tag, commitment, key unwrap, padding, KMS refusal).

/**
 * The class a storage error built on the SDK's `S3ServiceException` stands for (its own prototype
 * chain is the SDK's): `instanceof` this package's classes answers through it.
 */
const BRAND = Symbol('s3-encryption error class');

/** Base class of every error this package throws on purpose. */
export class S3EncryptionError extends Error {
  constructor(message, { code, status, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    /** The core's error name (e.g. `PolicyRejected`), or this package's. */
    this.code = code ?? this.name;
    if (status !== undefined) this.status = status;
  }
  static [Symbol.hasInstance](x) {
    if (Function.prototype[Symbol.hasInstance].call(this, x)) return true;
    const b = x !== null && typeof x === 'object' ? x[BRAND] : undefined;
    return typeof b === 'function' && (b === this || this.prototype.isPrototypeOf(b.prototype));
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
/** A keyring (an HSM, a key service, a custom keyring) could not answer; a retry may succeed. */
export class KeyringError extends S3EncryptionError {}
/** A bug in this package or the core it drives (a machine driven out of order, an invariant): please report it. */
export class InternalError extends S3EncryptionError {}

// ---- storage errors in the SDK's shape

/** The SDK's `S3ServiceException`, once `@aws-sdk/client-s3` was loaded to talk to S3. */
let S3ServiceException = null;
const sdkClasses = new Map();

/** Called with the `@aws-sdk/client-s3` module the package sends its commands with. */
export function useS3Module(m) {
  if (!S3ServiceException && m && typeof m.S3ServiceException === 'function') S3ServiceException = m.S3ServiceException;
}

/**
 * A subclass of the SDK's `S3ServiceException` per S3 error code, with the SDK's own shape id for
 * that code, so that `instanceof NoSuchKey` (the SDK's class) holds as for the SDK's errors.
 */
function sdkClass(name) {
  let C = sdkClasses.get(name);
  if (!C) {
    const Base = S3ServiceException;
    C = class extends Base {
      constructor(options) {
        super(options);
        Object.setPrototypeOf(this, new.target.prototype);
      }
    };
    Object.defineProperty(C, 'name', { value: name });
    Object.defineProperty(C, 'shapeId', { value: `com.amazonaws.s3#${name}` });
    sdkClasses.set(name, C);
  }
  return C;
}

/** An S3 error's name, `$fault` and `$metadata` (what the SDK threw for a request). */
function sdkFields(sdk, status) {
  const httpStatusCode = sdk?.$metadata?.httpStatusCode ?? status;
  return {
    name: typeof sdk?.name === 'string' && sdk.name !== 'Error' ? sdk.name : httpStatusCode === 404 ? 'NotFound' : 'Unknown',
    $fault: sdk?.$fault ?? (httpStatusCode >= 500 ? 'server' : 'client'),
    $metadata: { ...(sdk?.$metadata ?? {}), httpStatusCode },
  };
}

/**
 * A storage error of class `Cls` (`StorageError` or a subclass) for a failed S3 request: `name`
 * is the S3 error code (`NoSuchKey`, `NoSuchBucket`, …), with `$fault` and
 * `$metadata.httpStatusCode` as on the SDK's errors, and `code` / `status` as on every error of
 * this package. Built on the SDK's `S3ServiceException` when `@aws-sdk/client-s3` is loaded (it
 * is whenever a request was made through it); otherwise the same fields on `Cls` itself.
 */
export function storageError(Cls, message, { code, status, sdk } = {}) {
  const f = sdkFields(sdk, status);
  let e;
  if (S3ServiceException) {
    const C = sdkClass(f.name);
    e = new C({ name: f.name, $fault: f.$fault, $metadata: f.$metadata, message });
    e[BRAND] = Cls;
    e.code = code ?? Cls.name;
    if (sdk) e.cause = sdk;
  } else {
    e = new Cls(message, { code, cause: sdk });
    e.name = f.name;
    e.$fault = f.$fault;
    e.$metadata = f.$metadata;
  }
  e.status = f.$metadata.httpStatusCode;
  return e;
}

/**
 * The SDK error behind a storage failure of the core: the last error response of the operation
 * with the core error's status (a 404 for `NotFound`), or none.
 */
function sdkErrorFor(e, sdkErrors) {
  if (!sdkErrors || sdkErrors.length === 0) return undefined;
  const want = typeof e.status === 'number' && e.status > 0 ? e.status : e.code === 'NotFound' ? 404 : undefined;
  for (let i = sdkErrors.length - 1; i >= 0; i--) {
    const s = sdkErrors[i]?.$metadata?.httpStatusCode;
    if (want === undefined || s === want) return sdkErrors[i];
  }
  return undefined;
}

/**
 * Map an error thrown by the wasm core to a typed error; other errors pass through. `sdkErrors`:
 * the SDK errors the operation's failed requests threw (a storage error takes its S3 code).
 */
export function mapError(e, sdkErrors) {
  if (e instanceof S3EncryptionError) return e;
  if (!e || typeof e !== 'object' || typeof e.errorClass !== 'string') return e;
  const opts = { code: e.code, status: e.status };
  if (e.errorClass === 'storage') {
    const Cls = e.code === 'NotFound' ? NotFoundError : e.code === 'ObjectChanged' ? ObjectChangedError : StorageError;
    const sdk = sdkErrorFor(e, sdkErrors);
    if (sdk || (typeof e.status === 'number' && e.status > 0) || e.code === 'NotFound') {
      return storageError(Cls, sdk?.message ? `${e.message} (S3: ${sdk.message})` : e.message, { ...opts, status: e.status || (e.code === 'NotFound' ? 404 : undefined), sdk });
    }
  }
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
    case 'keyring':
      return new KeyringError(e.message, opts);
    case 'internal':
      return new InternalError(e.message, opts);
    default:
      return new UsageError(e.message, opts);
  }
}

/** Run `f`, mapping core errors (`sdkErrors`: as for `mapError`). */
export function core(f, sdkErrors) {
  try {
    return f();
  } catch (e) {
    throw mapError(e, sdkErrors);
  }
}
