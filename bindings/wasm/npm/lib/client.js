// S3EncryptionClient: performs, with the caller's S3Client, the requests the core's machines ask
// for, and hands every response back to them. Every check (status, Content-Range, lengths, ETags,
// caps, authentication) is the core's; this file only moves bytes.
import { WasmGet, WasmPut, WasmDescribeObject, WasmDelete, WasmRotate, checkWriteSettings, unnamedStorage } from './engine.js';
import { S3EncryptionError, UsageError, core as coreCall, mapError } from './errors.js';
import { flat } from './keyrings.js';
import { engineKeyring } from './custom-keyring.js';
import { ExactReader, chunks, concat } from './bytes.js';
import { s3, perform, inOrder, sendSimple, destroy, userMetadata } from './requests.js';
import { Source, withTag } from './source.js';
import { policyOptions } from './decrypt.js';
import { sendCommand } from './commands.js';
import { checkOptions } from './options.js';
import { hostOpen } from './webcrypto.js';

const core = (f) => coreCall(f);
// Plaintext released from the unnamed storage in blocks of this size; storage writes in flight.
const RELEASE_BLOCK = 1 << 20;
const STORE_AHEAD = 4;
// Pieces of this size (the usual ones of large objects) are read into reused buffers (see
// `spare` in `_drive`).
const POOLED = 1 << 20;


/**
 * The S3 Encryption Client. Options:
 * - `s3Client`: an `S3Client` from `@aws-sdk/client-s3` (required);
 * - `keyring`: an `AesKeyring`, `RsaKeyring`, `KmsKeyring` or `KmsDiscoveryKeyring`, or a keyring of
 *   your own (an object with `wrapDataKey` and `unwrapDataKey`, see `Keyring`) (required);
 * - `encryptionAlgorithm`: `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY` (V3, default) or
 *   `ALG_AES_256_GCM_IV12_TAG16_NO_KDF` (V2, needs `FORBID_ENCRYPT_ALLOW_DECRYPT`);
 * - `commitmentPolicy`: default `REQUIRE_ENCRYPT_REQUIRE_DECRYPT`, also with V2 (whose writes it
 *   refuses);
 * - `enableLegacyWrappingAlgorithms`, `enableLegacyUnauthenticatedModes`,
 *   `enableDelayedAuthenticationMode`: off by default;
 * - `disableInstructionFile`: neither read nor write instruction files (the spec's option of the
 *   same name): an object whose envelope lives in one is refused without a request for it;
 * - `instructionFileSuffix` (`.instruction`), `instructionFilePut` (write the envelope to the
 *   instruction file instead of the metadata);
 * - `bufferSize`: objects up to this stored size are verified in one buffer (64 MiB). Larger ones
 *   are read once into a temporary file that has no name (Node; `storage: false` turns it off),
 *   through your `storage` (`{write(offset, bytes), read(first, last)}`, random access), or, in
 *   browsers, twice (verified, then released chunk by chunk after each matched);
 * - `connections` (1) and `partSize` (8 MiB) for parallel ranged GETs of large objects;
 * - `multipartThreshold` (16 MiB), `multipartPartSize` (8 MiB), `partsInFlight` (4) for writes.
 */
export class S3EncryptionClient {
  constructor(options = {}) {
    // The suite and policy first (the core parses both names), then every other option.
    // The spec's default whatever the suite: a V2 writer must say FORBID_ENCRYPT_ALLOW_DECRYPT
    // itself, never weaken its reads by choosing V2. The core refuses, here and not at the first
    // write, a suite the policy does not write.
    const commitmentPolicy = options?.commitmentPolicy ?? 'REQUIRE_ENCRYPT_REQUIRE_DECRYPT';
    const suite = core(() => checkWriteSettings({ suite: options?.encryptionAlgorithm, commitmentPolicy }));
    const n = checkOptions(options, { suite, commitmentPolicy });
    this.s3Client = options.s3Client;
    this.keyring = engineKeyring(options.keyring);
    this.commitmentPolicy = commitmentPolicy;
    this.suite = suite;
    this.policy = policyOptions({ ...options, commitmentPolicy });
    this.instructionFileSuffix = options.instructionFileSuffix ?? '.instruction';
    this.instructionFilePut = !!options.instructionFilePut;
    // The spec's disableInstructionFile: instruction files are neither read nor written.
    this.disableInstructionFile = !!options.disableInstructionFile;
    this.storage = options.storage;
    this.bufferSize = n.bufferSize;
    this.connections = n.connections;
    this.partSize = n.partSize;
    this.multipartThreshold = n.multipartThreshold;
    this.multipartPartSize = n.multipartPartSize;
    this.partsInFlight = n.partsInFlight;
  }

  /**
   * The `@aws-sdk/client-s3` interface: `send(new PutObjectCommand({...}))`, Get, Head, Delete and
   * DeleteObjects (with instruction files) through this client, in the SDK's output shapes; other
   * commands go to the wrapped `s3Client` unchanged, except those that would store plaintext or
   * separate ciphertext from its envelope, which are refused (see `lib/commands.js`).
   * `options.EncryptionContext`: the encryption context of a Put or Get.
   */
  send(command, options) {
    return sendCommand(this, command, options);
  }

  /** @internal The `@aws-sdk/client-s3` module the requests are made with. */
  _s3() {
    return s3();
  }

  /**
   * Encrypt and store an object. `input`: `Bucket`, `Key`, `Body` (Uint8Array, ArrayBuffer,
   * string, Blob, ReadableStream, Node Readable or async iterable), `ContentLength` (for streams
   * whose length is known), `ContentType`, `Metadata`, `EncryptionContext` (KMS; for AES / RSA the
   * materials description stored, by default the keyring's `materialsDescription`),
   * `InstructionFilePut`. Returns `{ETag?, VersionId?, plaintextLength, storedLength, parts,
   * multipart, instructionFile}`. `options.onProgress({loaded, total, part, Bucket, Key})` is
   * called as each part (or the single PUT) is stored, `loaded` in plaintext bytes (`total`
   * undefined for a stream of unknown length); `options.signal` (an `AbortSignal`) stops the
   * write: a multipart upload already started is aborted, and the signal's reason is thrown.
   */
  async putObject(input, { chunking, onProgress, signal } = {}) {
    if (onProgress !== undefined && typeof onProgress !== 'function') throw new UsageError('onProgress must be a function');
    signal?.throwIfAborted?.();
    const sdkErrors = [];
    const core = (f) => coreCall(f, sdkErrors);
    const source = new Source(input.Body);
    const len = source.length ?? input.ContentLength;
    const placement = input.InstructionFilePut ?? this.instructionFilePut ? 'instructionFile' : 'metadata';
    if (placement === 'instructionFile' && this.disableInstructionFile) {
      throw new UsageError('InstructionFilePut needs instruction files, and disableInstructionFile is set');
    }
    const p = core(
      () =>
        new WasmPut({
          bucket: input.Bucket,
          key: input.Key,
          plaintextLength: len,
          suite: this.suite,
          commitmentPolicy: this.commitmentPolicy,
          placement,
          // AES / RSA: the keyring's materials description unless the write names one.
          encryptionContext: flat(input.EncryptionContext ?? this.keyring.materialsDescription),
          partSize: this.multipartPartSize,
          multipartThreshold: this.multipartThreshold,
          partsInFlight: this.partsInFlight,
          contentType: input.ContentType,
          metadata: flat(input.Metadata),
          instructionFileSuffix: this.instructionFileSuffix,
        }),
    );
    const parts = new Map();
    // Plaintext bytes of each body in flight, by request id (for progress).
    const plainOf = new Map();
    let loaded = 0;
    const etags = new Map();
    const inflight = new Map();
    let failure = null;
    let last = {};
    const split = chunking ?? (() => 1 << 20);
    try {
      for (;;) {
        if (signal?.aborted && !failure) {
          // The machine aborts a multipart upload it started, then reports.
          failure = signal.reason instanceof Error ? signal.reason : Object.assign(new Error('the upload was aborted'), { name: 'AbortError' });
          p.abort();
        }
        const n = core(() => p.poll());
        try {
          switch (n.kind) {
            case 'encryptionMaterials':
              await this.keyring.encryptMaterials(p);
              break;
            case 'readPart': {
              let bytes;
              try {
                bytes = await source.read(n.offset, n.len);
              } catch (e) {
                failure ??= e;
                p.abort();
                break;
              }
              parts.set(n.number, bytes);
              core(() => p.partRead(n.number, bytes.length));
              break;
            }
            case 'encryptPart':
              core(() => p.encryptPart(n.number, parts.get(n.number)));
              break;
            case 'send': {
              const req = core(() => p.request(n.id));
              let body;
              const single = req.operation === 'PutObject' && req.body.kind === 'ciphertext';
              let buf;
              if (single) {
                // A body of unknown length that fit one part was read as that part (the
                // machine's probe); otherwise the whole body is read now.
                const probed = parts.size === 1 ? [...parts.keys()][0] : undefined;
                if (probed !== undefined) {
                  buf = parts.get(probed);
                  parts.delete(probed);
                } else buf = await source.read(0, req.body.plaintextLen);
              }
              // Everything was read now: a stream longer than its declared ContentLength stores
              // nothing.
              if ((single || req.operation === 'CompleteMultipartUpload') && len !== undefined && (await source.overrun())) {
                failure ??= new UsageError('the body is longer than ContentLength', { code: 'LengthMismatch' });
                p.requestFailed(n.id, 0);
                break;
              }
              if (single) {
                for (let at = 0; at < buf.length; ) {
                  const k = Math.max(1, Math.min(buf.length - at, split(at, buf.length)));
                  const piece = buf.subarray(at, at + k);
                  core(() => p.encrypt(piece));
                  at += k;
                }
                plainOf.set(n.id, buf.length);
                body = withTag(buf, core(() => p.tag()));
              } else if (req.operation === 'UploadPart') {
                const b = parts.get(req.partNumber);
                parts.delete(req.partNumber);
                plainOf.set(n.id, b.length);
                body = req.body.endsWithTag ? withTag(b, core(() => p.tag())) : b;
              } else if (req.operation === 'CompleteMultipartUpload') {
                body = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
              } else if (req.body.kind === 'bytes') body = req.body.bytes;
              inflight.set(
                n.id,
                perform(this.s3Client, req, body).then(
                  (r) => ({ id: n.id, req, r }),
                  (error) => ({ id: n.id, req, error }),
                ),
              );
              break;
            }
            case 'wait': {
              if (inflight.size === 0) throw failure ?? new UsageError('the write waits with nothing outstanding');
              const { id, req, r, error } = await Promise.race(inflight.values());
              inflight.delete(id);
              if (error) {
                failure ??= error;
                p.requestFailed(id, 0);
              } else if (req.operation === 'CreateMultipartUpload') {
                if (r.error) sdkErrors.push(r.error);
                core(() => p.uploadCreated(id, r.status, r.uploadId ?? ''));
              } else {
                if (r.error) sdkErrors.push(r.error);
                if (req.operation === 'UploadPart' && r.status < 300) etags.set(req.partNumber, r.etag);
                if (plainOf.has(id)) {
                  const k = plainOf.get(id);
                  plainOf.delete(id);
                  if (r.status < 300 && onProgress) {
                    loaded += k;
                    onProgress({ loaded, total: len, part: req.partNumber ?? 1, Bucket: input.Bucket, Key: input.Key });
                  }
                }
                if (req.operation === 'PutObject' && !req.keySuffix) last = r;
                if (req.operation === 'CompleteMultipartUpload') last = r;
                try {
                  core(() => p.response(id, r.status, r.headers));
                } catch (e) {
                  // The machine refused the response (and settled the request itself: a write
                  // the status says happened is cleaned up); make sure it is not waited for.
                  p.requestFailed(id, r.status);
                  throw e;
                }
              }
              break;
            }
            case 'done':
              if (failure) throw failure;
              return {
                ETag: last.etag,
                ...(last.versionId !== undefined ? { VersionId: last.versionId } : {}),
                plaintextLength: n.plaintextLength,
                storedLength: n.storedLength,
                parts: n.parts,
                multipart: n.multipart,
                instructionFile: n.instructionFile,
              };
            default:
              throw new UsageError(`unexpected step ${n.kind}`);
          }
        } catch (e) {
          // A step failed (the keyring, the body, a response the machine refused): the machine
          // now cleans up (waits for what is in flight, aborts the upload or deletes a
          // half-written object) and then reports; keep driving it until it does.
          if (e === failure) throw e;
          failure ??= mapError(e, sdkErrors);
          p.abort();
        }
      }
    } catch (e) {
      // The machine's own error (after its cleanup ran), or the first failure of a step.
      throw failure ?? mapError(e, sdkErrors);
    } finally {
      p.free();
    }
  }

  _getOptions(input, extra = {}) {
    const discovery = input.EncryptionContext === undefined && this.keyring.discovery;
    return {
      bucket: input.Bucket,
      key: input.Key,
      versionId: input.VersionId,
      ...this.policy,
      instructionFileSuffix: this.instructionFileSuffix,
      readInstructionFile: !this.disableInstructionFile,
      encryptionContext: discovery ? undefined : flat(input.EncryptionContext),
      acceptStoredEncryptionContext: discovery,
      memoryBudget: this.bufferSize,
      storage: !!this.storage,
      connections: this.connections,
      partSize: this.partSize,
      ...extra,
    };
  }

  /**
   * Read and decrypt an object. `input`: `Bucket`, `Key`, `VersionId`, `EncryptionContext`,
   * `Range` (`bytes=a-b`: an unauthenticated ranged read, needs
   * `enableLegacyUnauthenticatedModes`). `options.as`: `"bytes"` (default: `Body` is a
   * Uint8Array) or `"stream"` (`Body` is a ReadableStream). Either way, only authenticated bytes
   * are released, except under `enableDelayedAuthenticationMode` (released as they arrive; an
   * error at the end means discard everything) or a `Range`.
   */
  async getObject(input, options = {}) {
    return (await this._get(input, options)).out;
  }

  /** `getObject`, and what the SDK layer reads besides (`meta`: see `_drive`). */
  async _get(input, options) {
    let mode = 'verified';
    if (input.Range) mode = 'range';
    else if (this.policy.enableDelayedAuthenticationMode) mode = 'delayedAuthentication';
    // Node, no storage of the caller's and a verified read: our own unnamed file, into which the
    // core decrypts a GCM object over the budget in one pass (see lib/spool.js).
    const own = mode === 'verified' && this.storage === undefined && unnamedStorage ? unnamedStorage() : undefined;
    const g = core(
      () =>
        new WasmGet(
          this._getOptions(input, { mode, range: input.Range, ...(own && { storage: true, unverifiedPlaintextStorage: true }) }),
        ),
    );
    const run = this._drive(g, { ...options, ranged: mode === 'range', storage: own ?? this.storage, ownStorage: !!own });
    const head = {};
    run.head = head;
    if (options.as === 'stream') {
      // Drive until the first plaintext (or the end) so that failures before release throw here.
      // Parallel reads release verified chunks as their parts complete, in any order: hand
      // them on in plaintext order.
      const ordered = inOrder(run, mode === 'range');
      const first = await ordered.next();
      let pendingFirst = first;
      const stream = new ReadableStream({
        async pull(controller) {
          try {
            const r = pendingFirst ?? (await ordered.next());
            pendingFirst = null;
            if (r.done) controller.close();
            else controller.enqueue(r.value);
          } catch (e) {
            controller.error(e);
          }
        },
        async cancel() {
          await ordered.return();
          await run.return();
        },
      });
      // The output is the run's own record: ETag and VersionId are there now, ContentLength and
      // verification once the stream has been read to its end.
      run.info.Body = stream;
      return { out: run.info, meta: run.meta };
    }
    const pieces = [];
    let total = 0;
    for await (const { bytes, offset } of run) {
      pieces.push([offset, bytes]);
      total += bytes.length;
    }
    pieces.sort((a, b) => a[0] - b[0]);
    const out = pieces.length === 1 ? pieces[0][1] : concat(pieces.map((p) => p[1]), total);
    return { out: { ...run.info, Body: out }, meta: run.meta };
  }

  /** The machine loop of a GET, yielding released plaintext `{bytes, offset}` in order. */
  _drive(g, options) {
    const self = this;
    const info = {};
    // What the SDK layer (`send`) reads besides: the object's own SDK output (no body) and its
    // whole plaintext length, when the core knows them.
    const meta = { raw: undefined, total: undefined };
    const maxPiece = options.maxPiece ?? (() => 1 << 20);
    const sdkErrors = [];
    const core = (f) => coreCall(f, sdkErrors);
    // Writes to the storage overlap the body's next pieces (each piece is a buffer of its own);
    // at most STORE_AHEAD in flight, and all of them done before the storage is read.
    const writes = [];
    let writeError = null;
    // Buffers of pieces that were stored or dropped, reused for the next ones (a released piece is
    // the caller's and never comes back): fewer large allocations, less garbage collection.
    const spare = [];
    const stored = async () => {
      await Promise.all(writes.splice(0));
      if (writeError) throw writeError;
    };
    async function* loop() {
      const inflight = new Map();
      const bodies = new Map();
      try {
        for (;;) {
          const n = core(() => g.poll());
          if (n.kind === 'send') {
            const req = core(() => g.request(n.id));
            inflight.set(
              n.id,
              perform(self.s3Client, req).then(
                (r) => ({ id: n.id, req, r }),
                (error) => ({ id: n.id, req, error }),
              ),
            );
            // One connection: answer at once (the machine waits for it anyway).
          } else if (n.kind === 'wait') {
            if (inflight.size === 0) throw new UsageError('the read waits with nothing outstanding');
            const { id, req, r, error } = await Promise.race(inflight.values());
            inflight.delete(id);
            if (error) throw error;
            if (r.error) sdkErrors.push(r.error);
            if (!req.keySuffix && r.status < 300 && r.sdk && !meta.raw) {
              const { Body: _, ...rest } = r.sdk;
              meta.raw = rest;
            }
            if (!req.keySuffix && r.metadata && !info.Metadata) {
              info.Metadata = userMetadata(r.metadata);
              info.ContentType = r.contentType;
            }
            if (r.status >= 300) destroy(r.body);
            else bodies.set(id, r.body);
            core(() => g.response(id, r.status, r.headers));
            if (info.ETag === undefined) {
              // The object's identity is known from its first answer, before any release.
              const o = g.object();
              if (o) {
                if (o.etag != null) info.ETag = o.etag;
                if (o.versionId != null) info.VersionId = o.versionId;
              }
            }
            if (meta.total === undefined) {
              meta.total = g.plaintextLength();
              // A whole-object read releases the object's plaintext length (known now, from the
              // envelope and the stored length, before anything is released).
              if (meta.total !== undefined && !options.ranged) info.ContentLength = meta.total;
            }
          } else if (n.kind === 'readBody' || n.kind === 'replay') {
            let src;
            if (n.kind === 'readBody') {
              const b = bodies.get(n.id);
              bodies.delete(n.id);
              src = b ? chunks(b)[Symbol.asyncIterator]() : [][Symbol.iterator]();
              src.body = b;
            } else {
              const [a, b] = core(() => g.replayRange(n.id));
              await stored();
              const bytes = await options.storage.read(a, b);
              src = [bytes][Symbol.iterator]();
            }
            // A body cut short (the connection dropped) ends where it ended: the machine decides
            // what that means (a short body is TruncatedBody, and nothing unverified was released).
            const reader = new ExactReader(src, { tolerant: true });
            try {
              for (;;) {
                const f = core(() => g.feed(n.id));
                const want = f.len === 0 ? 64 * 1024 : f.exact ? f.len : Math.max(1, Math.min(f.len, maxPiece(f.len)));
                const reuse = want === POOLED ? (spare.pop() ?? new ArrayBuffer(POOLED)) : undefined;
                const piece = await reader.read(want, reuse);
                if (piece.length === 0) {
                  if (reuse) spare.push(reuse);
                  core(() => g.endOfBody(n.id));
                  break;
                }
                // The webcrypto engine opens an in-memory GCM body itself (lib/webcrypto.js). Not
                // bytes past the body's length (a feed of 0): the core refuses those in `body`.
                const host = f.exact && f.len > 0 && n.kind === 'readBody' ? await hostOpen(g, n.id, piece, core) : null;
                const rel = host ? host.rel : core(() => g.body(n.id, piece));
                if (rel.kind === 'plaintext' && rel.len > 0) {
                  let bytes = (host ? host.bytes : piece).subarray(rel.start, rel.start + rel.len);
                  // A released buffer is the caller's: only one this piece filled whole (so it
                  // shows nothing of an earlier piece); else a copy, and the buffer is reused.
                  // (WebCrypto's output is a buffer of its own: the piece is reused.)
                  if (reuse && (host || piece.length !== POOLED)) {
                    if (!host) bytes = bytes.slice();
                    spare.push(reuse);
                  }
                  yield { bytes, offset: rel.offset };
                } else if (rel.kind === 'store') {
                  const at = rel.offset;
                  // Our own storage is done with a buffer when its write is; yours may keep it.
                  const back = options.ownStorage ? reuse : undefined;
                  writes.push(
                    (async () => options.storage.write(at, piece))().then(
                      () => back && spare.push(back),
                      (e) => {
                        writeError ??= e;
                      },
                    ),
                  );
                  if (writes.length >= STORE_AHEAD) await writes.shift();
                  if (writeError) throw writeError;
                } else if (reuse) spare.push(reuse);
              }
            } finally {
              destroy(src.body);
            }
          } else if (n.kind === 'unwrapKey') {
            const req = core(() => g.keyRequest());
            await self.keyring.unwrap(g, req);
          } else if (n.kind === 'done') {
            info.ContentLength = n.released;
            info.verification = n.verification;
            info.ETag = n.object.etag ?? undefined;
            info.VersionId = n.object.versionId ?? undefined;
            if (n.rangeFirst !== null) info.rangeFirst = n.rangeFirst;
            await stored();
            if (n.verification === 'DecryptedInStorage') {
              // Verified now: the plaintext in our unnamed storage is released from there.
              for (let at = 0; at < n.released; at += RELEASE_BLOCK) {
                const last = Math.min(at + RELEASE_BLOCK, n.released) - 1;
                yield { bytes: await options.storage.read(at, last), offset: at };
              }
            }
            return;
          }
        }
      } catch (e) {
        throw mapError(e, sdkErrors);
      } finally {
        for (const b of bodies.values()) destroy(b);
        for (const p of inflight.values()) p.then((x) => x.r && destroy(x.r.body));
        g.free();
        await Promise.all(writes.splice(0));
        if (options.ownStorage) await options.storage.close();
      }
    }
    const it = loop();
    it.info = info;
    it.meta = meta;
    return it;
  }

  /**
   * The object's envelope and lengths without a key: `{ContentLength (plaintext, when the format
   * says), storedLength, ETag, VersionId, envelope, instructionFile}`.
   */
  async headObject(input) {
    return (await this._head(input)).out;
  }

  /** `headObject`, and the object's own SDK output (`raw`, for the SDK layer). */
  async _head(input) {
    const sdkErrors = [];
    const core = (f) => coreCall(f, sdkErrors);
    const d = core(() => new WasmDescribeObject(input.Bucket, input.Key, input.VersionId, this.instructionFileSuffix));
    try {
      let metadata;
      let raw;
      for (;;) {
        const n = core(() => d.poll());
        if (n.kind === 'done') break;
        const r = await sendSimple(this.s3Client, d, n.id, sdkErrors);
        if (metadata === undefined && r.metadata) metadata = r.metadata;
        if (raw === undefined && r.sdk && !r.req.keySuffix && r.status < 300) {
          const { Body: _, ...rest } = r.sdk;
          raw = rest;
        }
      }
      const o = d.object();
      const env = d.envelope();
      const out = {
        Metadata: userMetadata(metadata),
        ContentLength: d.plaintextLength() ?? undefined,
        storedLength: o ? o.storedLength : undefined,
        ETag: o ? o.etag ?? undefined : undefined,
        VersionId: o ? o.versionId ?? undefined : undefined,
        envelope: env,
        instructionFile: d.instructionFileUsed(),
      };
      return { out, raw };
    } catch (e) {
      throw mapError(e, sdkErrors);
    } finally {
      d.free();
    }
  }

  /** Delete an object and, when it has one, its instruction file: `{object, instructionFile}`. */
  async deleteObject(input) {
    const sdkErrors = [];
    const core = (f) => coreCall(f, sdkErrors);
    const d = core(() => new WasmDelete(input.Bucket, input.Key, this.instructionFileSuffix));
    try {
      for (;;) {
        const n = core(() => d.poll());
        if (n.kind === 'done') return { object: n.object, instructionFile: n.instructionFile };
        await sendSimple(this.s3Client, d, n.id, sdkErrors);
      }
    } catch (e) {
      throw mapError(e, sdkErrors);
    } finally {
      d.free();
    }
  }

  /**
   * Re-encrypt an instruction file under `newKeyring` (key rotation without touching the
   * object). `input`: `Bucket`, `Key`, `EncryptionContext` (of the old KMS wrap),
   * `NewEncryptionContext` (KMS) or `NewMaterialsDescription` (AES/RSA, else the new keyring's),
   * `SourceSuffix`, `NewSuffix`, `EnforceRotation`. Returns `{version}`.
   */
  async reEncryptInstructionFile(input) {
    const sdkErrors = [];
    const core = (f) => coreCall(f, sdkErrors);
    const given = input.newKeyring ?? input.NewKeyring;
    if (!given) throw new UsageError('reEncryptInstructionFile needs newKeyring');
    const newKeyring = engineKeyring(given, 'newKeyring');
    const discovery = input.EncryptionContext === undefined && this.keyring.discovery;
    const r = core(
      () =>
        new WasmRotate({
          bucket: input.Bucket,
          key: input.Key,
          ...this.policy,
          sourceSuffix: input.SourceSuffix ?? this.instructionFileSuffix,
          newSuffix: input.NewSuffix ?? this.instructionFileSuffix,
          encryptionContext: discovery ? undefined : flat(input.EncryptionContext),
          acceptStoredEncryptionContext: discovery,
          enforceRotation: !!input.EnforceRotation,
        }),
    );
    try {
      for (;;) {
        const n = core(() => r.poll());
        switch (n.kind) {
          case 'send':
            await sendSimple(this.s3Client, r, n.id, sdkErrors);
            break;
          case 'unwrapKey':
            await this.keyring.unwrap(r, core(() => r.keyRequest()));
            break;
          case 'wrapKey':
            if (input.NewMaterialsDescription && newKeyring.materialsDescription !== undefined) {
              const k = Object.create(newKeyring);
              k.materialsDescription = input.NewMaterialsDescription;
              await k.rewrap(r, input.NewEncryptionContext);
            } else await newKeyring.rewrap(r, input.NewEncryptionContext);
            break;
          case 'checkNewKey':
            // The new key must read back what it wrapped, before anything is written.
            if (newKeyring.canDecrypt === false) core(() => r.newKeyCannotDecrypt());
            else await newKeyring.unwrap(r, core(() => r.keyRequest()));
            break;
          case 'checkOldKey':
            {
            const opens = await this.keyring.opens(r);
            core(() => r.oldKeyOpens(opens));
          }
            break;
          case 'done':
            return { version: n.version };
          default:
            throw new UsageError(`unexpected step ${n.kind}`);
        }
      }
    } catch (e) {
      throw e instanceof S3EncryptionError ? e : mapError(e, sdkErrors);
    } finally {
      r.free();
    }
  }
}
