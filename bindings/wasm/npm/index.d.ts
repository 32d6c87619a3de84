// Types of the s3-encryption package.

/** A string map: an object, a Map, or entries. */
export type StringMap = Record<string, string> | Map<string, string> | Array<[string, string]>;

/** Bytes or anything that yields them. */
export type BodyInput =
  | Uint8Array
  | ArrayBuffer
  | ArrayBufferView
  | string
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>;

/** The commitment policies of the S3EC specification. */
export type CommitmentPolicyName =
  | 'FORBID_ENCRYPT_ALLOW_DECRYPT'
  | 'REQUIRE_ENCRYPT_ALLOW_DECRYPT'
  | 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT';

export declare const CommitmentPolicy: Readonly<{ [K in CommitmentPolicyName]: K }>;

/** The algorithm suites this package writes, named as in the spec (or `V3` / `V2`). */
export type EncryptionAlgorithm = 'ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY' | 'ALG_AES_256_GCM_IV12_TAG16_NO_KDF' | 'V3' | 'V2';

/** The decrypt-side gates, named as in the spec; everything that weakens security is off. */
export interface DecryptPolicyOptions {
  /** Default `REQUIRE_ENCRYPT_REQUIRE_DECRYPT`. */
  commitmentPolicy?: CommitmentPolicyName;
  /** V1 `x-amz-key`, `AESWrap`, `RSA/ECB/OAEPWithSHA-256AndMGF1Padding` and `kms` (SES writes `kms`). */
  enableLegacyWrappingAlgorithms?: boolean;
  /** AES-CBC objects and ranged reads (never authenticated). */
  enableLegacyUnauthenticatedModes?: boolean;
  /** Release plaintext before the tag is checked (an error at the end means discard it all). */
  enableDelayedAuthenticationMode?: boolean;
}

/** Minimal shape of the `@aws-sdk` clients this package drives. */
export interface SdkClient {
  send(command: unknown): Promise<any>;
}

/** The content cipher a wrap binds to: `115` for V3 objects, `AES/GCM/NoPadding` for V2 ones. */
export type ContentCipher = '115' | 'AES/GCM/NoPadding' | (string & {});

/** The wraps a keyring of your own may use (see `KEYRINGS.md`). */
export type KeyWrap = 'AES/GCM' | 'RSA-OAEP-SHA1';

/** What `Keyring.wrapDataKey` is asked. */
export interface WrapDataKeyRequest {
  /** The fresh 256-bit data key (a copy, wiped by the package once the call returns). */
  dataKey: Uint8Array;
  /** What the wrap binds to: the AES-GCM AAD, or the bytes after the key in the RSA-OAEP plaintext. */
  contentCipher: ContentCipher;
  /** The materials description the write stores (the keyring's, or the write's `EncryptionContext`; possibly `{}`). */
  materialsDescription: Record<string, string>;
}

/** What `Keyring.wrapDataKey` answers. */
export interface WrapDataKeyResult {
  wrap: KeyWrap;
  /**
   * `AES/GCM`: `iv(12) ‖ AES-GCM(master key, iv, aad = contentCipher, dataKey) ‖ tag(16)` (60 bytes).
   * `RSA-OAEP-SHA1`: RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) of `0x20 ‖ dataKey ‖ contentCipher`.
   */
  encryptedDataKey: Uint8Array;
  /** Replaces the request's materials description on the stored object (name your key here). */
  materialsDescription?: Record<string, string>;
}

/** What `Keyring.unwrapDataKey` is asked: the stored envelope's fields. */
export interface UnwrapDataKeyRequest {
  wrap: KeyWrap;
  contentCipher: ContentCipher;
  encryptedDataKey: Uint8Array;
  /** The stored materials description (`{}` when none). */
  materialsDescription: Record<string, string>;
}

/**
 * A keyring of your own (an HSM, a Vault transit key, a hardware token): the protocol of
 * `KEYRINGS.md`. The package draws the data key, builds the envelope from your wrap, and checks
 * every data key you hand back (the V3 key commitment, then the tag) before releasing plaintext.
 *
 * `unwrapDataKey` throws an error with `code: 'Unsupported'` when the envelope names a key it
 * does not hold (the read then fails with a `FormatError`, code `UnsupportedWrap`); any other
 * error it throws becomes the one opaque `AuthenticationError`. Errors of `wrapDataKey` reach
 * the caller as they are.
 */
export interface Keyring {
  wrapDataKey(request: WrapDataKeyRequest): Promise<WrapDataKeyResult> | WrapDataKeyResult;
  /** Returns the data key (the package wipes the returned array once it has copied it). */
  unwrapDataKey(request: UnwrapDataKeyRequest): Promise<Uint8Array> | Uint8Array;
  /** The materials description stored when a write names none (default `{}`). */
  readonly materialsDescription?: Record<string, string>;
}

/** An AES master key: raw bytes (16, 24 or 32) or an extractable WebCrypto `CryptoKey`. */
export declare class AesKeyring {
  private readonly __keyring: 'aes';
  constructor(options: { key: Uint8Array | ArrayBuffer | CryptoKey; materialsDescription?: Record<string, string> });
  readonly materialsDescription: Record<string, string>;
}

export type RsaKeyInput = string | JsonWebKey | CryptoKey | Uint8Array;

/** An RSA key: a private key (reads and writes) or a public key alone (writes). PEM, JWK, DER or an extractable CryptoKey. */
export declare class RsaKeyring {
  private readonly __keyring: 'rsa';
  constructor(options: { privateKey?: RsaKeyInput; publicKey?: RsaKeyInput; materialsDescription?: Record<string, string> });
  readonly materialsDescription: Record<string, string>;
  /** Whether this keyring can unwrap (it holds the private key). */
  readonly canDecrypt: boolean;
}

/**
 * A KMS key (`kms+context` writes; reads need this key). Without `kmsClient` the keyring makes a
 * `KMSClient` of `@aws-sdk/client-kms` (with `region`, else the SDK's default configuration) at
 * its first call; the KMS commands come from `@aws-sdk/client-kms` either way.
 */
export declare class KmsKeyring {
  private readonly __keyring: 'kms';
  constructor(options: { kmsKeyId: string; kmsClient?: SdkClient; region?: string });
}

/** KMS discovery: reads under whichever KMS key the object names; no writes. */
export declare class KmsDiscoveryKeyring {
  private readonly __keyring: 'kmsDiscovery';
  constructor(options?: { kmsClient?: SdkClient; region?: string });
}

/** What the client and `decryptObject` take: a built-in keyring or a `Keyring` of your own. */
export type AnyKeyring = AesKeyring | RsaKeyring | KmsKeyring | KmsDiscoveryKeyring | Keyring;

/** Random-access storage for reads of large objects in one pass. */
export interface ReadStorage {
  write(offset: number, bytes: Uint8Array): void | Promise<void>;
  read(first: number, last: number): Uint8Array | Promise<Uint8Array>;
}

export interface S3EncryptionClientOptions extends DecryptPolicyOptions {
  s3Client: SdkClient;
  keyring: AnyKeyring;
  /** Default V3 (`ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY`). */
  encryptionAlgorithm?: EncryptionAlgorithm;
  /** Default `.instruction`. */
  instructionFileSuffix?: string;
  /** Write envelopes to the instruction file instead of the object metadata. */
  instructionFilePut?: boolean;
  /** Neither read nor write instruction files (the spec's `disableInstructionFile`). */
  disableInstructionFile?: boolean;
  /** Objects up to this stored size are verified in one buffer (64 MiB). */
  bufferSize?: number;
  /** Storage for one-pass reads of objects over `bufferSize`: yours, or `false` for none (two reads). Default: on Node, a temporary file that never has a name; in browsers, none. */
  storage?: ReadStorage | false;
  /** Parallel ranged GETs for large objects (1). */
  connections?: number;
  /** Part size of parallel ranged GETs (8 MiB, a multiple of 1 MiB). */
  partSize?: number;
  /** Bodies over this go up as multipart uploads (16 MiB). */
  multipartThreshold?: number;
  /** Part size of multipart uploads (8 MiB, at least 5 MiB). */
  multipartPartSize?: number;
  partsInFlight?: number;
}

export interface PutObjectInput {
  Bucket: string;
  Key: string;
  Body?: BodyInput;
  /** The plaintext length of a stream body, when known. */
  ContentLength?: number;
  ContentType?: string;
  Metadata?: Record<string, string>;
  /** KMS encryption context; for AES/RSA the materials description stored (default: the keyring's `materialsDescription`). */
  EncryptionContext?: StringMap;
  InstructionFilePut?: boolean;
}

export interface PutObjectOutput {
  ETag?: string;
  VersionId?: string;
  plaintextLength: number;
  storedLength: number;
  parts: number;
  multipart: boolean;
  instructionFile: boolean;
}

/** Progress of a write, in plaintext bytes. */
export interface UploadProgress {
  loaded: number;
  /** The plaintext length, when known. */
  total?: number;
  /** The part just stored (1 for a single PUT). */
  part: number;
  Bucket: string;
  Key: string;
}

export interface PutObjectOptions {
  /** Called as each part (or the single PUT) is stored. */
  onProgress?: (progress: UploadProgress) => void;
  /** Stops the write (a started multipart upload is aborted); the signal's reason is thrown. */
  signal?: AbortSignal;
}

/** The shape of `@aws-sdk/lib-storage`'s `Upload`, over `putObject` (part size and parts in flight are the client's). */
export declare class Upload {
  constructor(options: { client: S3EncryptionClient; params: PutObjectInput });
  on(event: 'httpUploadProgress', listener: (progress: UploadProgress) => void): this;
  done(): Promise<{ $metadata: { httpStatusCode?: number }; Bucket: string; Key: string; ETag?: string; VersionId?: string }>;
  abort(): Promise<void>;
}

export interface GetObjectInput {
  Bucket: string;
  Key: string;
  VersionId?: string;
  /** The expected KMS encryption context (default: none; discovery keyrings accept the stored one). */
  EncryptionContext?: StringMap;
  /** `bytes=a-b`, `bytes=a-` or `bytes=-n`: an unauthenticated ranged read (needs `enableLegacyUnauthenticatedModes`). */
  Range?: string;
}

export type Verification = 'InMemory' | 'Storage' | 'DecryptedInStorage' | 'TwoPass' | 'DelayedAuthentication' | 'UnauthenticatedRange';

export interface GetObjectOutput<B> {
  Body: B;
  /** User metadata, without the envelope's keys. */
  Metadata?: Record<string, string>;
  ContentType?: string;
  /**
   * Plaintext length: of the whole object from the start when the format says it (GCM, or CBC
   * with its declared length); of what was released once the read finished (always for bytes).
   */
  ContentLength?: number;
  /** How the released bytes were verified (for a stream: once it has been read to its end). */
  verification?: Verification;
  ETag?: string;
  VersionId?: string;
  rangeFirst?: number;
}

export interface EnvelopeInfo {
  version: 'V1' | 'V2' | 'V3';
  contentAlgorithm: string;
  contentCipher: string;
  wrapAlgorithm: string;
  placement: 'ObjectMetadata' | 'InstructionFile';
  encryptionContext: string | null;
  materialsDescription: string | null;
  unencryptedContentLength: number | null;
  metadata: Record<string, string>;
}

export interface HeadObjectOutput {
  /** User metadata, without the envelope's keys (those are in `envelope`). */
  Metadata: Record<string, string>;
  ContentLength?: number;
  storedLength?: number;
  ETag?: string;
  VersionId?: string;
  envelope: EnvelopeInfo | null;
  instructionFile: boolean;
}

/** An `@aws-sdk/client-s3` command (`new GetObjectCommand({...})`, ...): its `input` is read. */
export interface S3Command {
  readonly input: object;
}

/** The options of `send`: the encryption context of a Put or Get; the rest go to the wrapped client. */
export interface SendOptions {
  /** KMS encryption context (Put and Get), or for AES/RSA writes the materials description stored. */
  EncryptionContext?: StringMap;
  [sdkOption: string]: unknown;
}

/** A body in the SDK's shape: a web stream of verified plaintext with the SDK's `transform*` methods (each body is read once). */
export interface SdkBody extends ReadableStream<Uint8Array> {
  transformToByteArray(): Promise<Uint8Array>;
  transformToString(encoding?: string): Promise<string>;
  transformToWebStream(): ReadableStream<Uint8Array>;
}

/** What `send(new GetObjectCommand(...))` answers (besides the SDK's other object fields, e.g. `LastModified`). */
export interface SendGetObjectOutput {
  $metadata: { httpStatusCode?: number; requestId?: string; attempts?: number; totalRetryDelay?: number };
  Body: SdkBody;
  /** User metadata, without the envelope's keys. */
  Metadata: Record<string, string>;
  ContentLength?: number;
  /** Ranged reads: `bytes a-b/total` over the plaintext (`*` when the total is not known). */
  ContentRange?: string;
  ContentType?: string;
  ETag?: string;
  VersionId?: string;
  LastModified?: Date;
  verification?: Verification;
  [field: string]: unknown;
}

export declare class S3EncryptionClient {
  constructor(options: S3EncryptionClientOptions);
  /**
   * The `@aws-sdk/client-s3` interface. Put, Get, Head, Delete and DeleteObjects run through the
   * encryption client (instruction files included) in the SDK's output shapes; other commands go
   * to the wrapped client unchanged, except those that would store plaintext or separate
   * ciphertext from its envelope (caller-driven multipart uploads, UploadPartCopy, S3 Select,
   * CopyObject / RenameObject of an object whose envelope is in its instruction file, CopyObject
   * with MetadataDirective REPLACE), which throw a `UsageError`.
   */
  send(command: S3Command, options?: SendOptions): Promise<any>;
  putObject(input: PutObjectInput, options?: PutObjectOptions): Promise<PutObjectOutput>;
  getObject(input: GetObjectInput, options?: { as?: 'bytes' }): Promise<GetObjectOutput<Uint8Array>>;
  getObject(input: GetObjectInput, options: { as: 'stream' }): Promise<GetObjectOutput<ReadableStream<Uint8Array>>>;
  headObject(input: { Bucket: string; Key: string; VersionId?: string }): Promise<HeadObjectOutput>;
  deleteObject(input: { Bucket: string; Key: string }): Promise<{ object: boolean; instructionFile: boolean }>;
  reEncryptInstructionFile(input: {
    Bucket: string;
    Key: string;
    newKeyring: AnyKeyring;
    EncryptionContext?: StringMap;
    NewEncryptionContext?: StringMap;
    NewMaterialsDescription?: Record<string, string>;
    SourceSuffix?: string;
    NewSuffix?: string;
    EnforceRotation?: boolean;
  }): Promise<{ version: 'V1' | 'V2' | 'V3' }>;
}

export interface DecryptObjectInput extends DecryptPolicyOptions {
  /** The object's user metadata, names with or without `x-amz-meta-`. */
  metadata: StringMap | Headers;
  body: BodyInput;
  /** The instruction file's bytes, when the envelope is there. */
  instructionFile?: Uint8Array | ArrayBuffer | string | Blob;
  keyring: AnyKeyring;
  encryptionContext?: StringMap;
  /** `[first, last]`: an unauthenticated ranged decryption (needs `enableLegacyUnauthenticatedModes`). */
  range?: [number, number];
}

/** Decrypt an object already in hand; the body is authenticated before any plaintext is returned. */
export declare function decryptObject(input: DecryptObjectInput): Promise<Uint8Array>;

/** Parse an envelope without a key. */
export declare function inspectEnvelope(input: { metadata: StringMap | Headers; instructionFile?: Uint8Array | string } & DecryptPolicyOptions): EnvelopeInfo;

export declare function coreVersion(): string;
/**
 * The engine this package runs on: `"native"` (the Node-API build of the core, in Node where this
 * platform's package is installed), `"webcrypto"` (the WebAssembly core, with WebCrypto's AES-GCM
 * doing the verified decrypt of objects read in memory: the default in browsers and workers with
 * `crypto.subtle`) or `"wasm"` (WebAssembly only: elsewhere, and Node without the native package).
 * `S3EC_ENGINE=native|webcrypto|wasm` forces one in Node; `globalThis.S3EC_ENGINE`, set before the
 * package loads, in a browser.
 */
export declare const engine: 'native' | 'webcrypto' | 'wasm';

export declare class S3EncryptionError extends Error {
  /** The core's error name (e.g. `PolicyRejected`, `TooLarge`), or this package's. */
  readonly code: string;
  /** The HTTP status of a failed S3 request. */
  readonly status?: number;
}
/**
 * A storage error of a failed S3 request is built on the SDK's `S3ServiceException` (from
 * `@aws-sdk/client-s3`, loaded to talk to S3): `name` is the S3 error code (`NoSuchKey`,
 * `NoSuchBucket`, `AccessDenied`, …), with the SDK's `$fault` and `$metadata`, `cause` the SDK's
 * error; `instanceof StorageError` (and `NotFoundError`, …) holds too.
 */
export interface S3StorageErrorFields {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string; attempts?: number; totalRetryDelay?: number };
}
export declare class FormatError extends S3EncryptionError {}
export declare class NotEncryptedError extends FormatError {}
export declare class PolicyError extends S3EncryptionError {}
/** Deliberately opaque: one class and one message for every tag, commitment, unwrap, padding or KMS failure (a body cut short says so: `code` TruncatedBody). */
export declare class AuthenticationError extends S3EncryptionError {}
export declare class StorageError extends S3EncryptionError implements Partial<S3StorageErrorFields> {
  readonly $fault?: 'client' | 'server';
  readonly $metadata?: S3StorageErrorFields['$metadata'];
}
export declare class NotFoundError extends StorageError {}
export declare class ObjectChangedError extends StorageError {}
export declare class UsageError extends S3EncryptionError {}
/** A keyring (an HSM, a key service, a custom keyring) could not answer; a retry may succeed. */
export declare class KeyringError extends S3EncryptionError {}
/** A bug in this package or the core it drives: please report it. */
export declare class InternalError extends S3EncryptionError {}
