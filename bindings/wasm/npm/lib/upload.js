// Upload: the shape of `@aws-sdk/lib-storage`'s helper over putObject, which already uploads
// large bodies as multipart uploads: `httpUploadProgress` events, `done()`, `abort()`.
import { UsageError } from './errors.js';

/**
 * `new Upload({ client, params })`: `client` an S3EncryptionClient, `params` a PutObject input
 * (`Bucket`, `Key`, `Body`, `ContentLength`, `ContentType`, `Metadata`, `EncryptionContext`).
 * Part size and parts in flight are the client's (`multipartPartSize`, `partsInFlight`).
 */
export class Upload {
  constructor({ client, params, ...rest } = {}) {
    if (!client || typeof client.putObject !== 'function') throw new UsageError('Upload needs client (an S3EncryptionClient)');
    if (!params || typeof params !== 'object') throw new UsageError('Upload needs params (Bucket, Key, Body, ...)');
    for (const k of Object.keys(rest)) {
      if (rest[k] !== undefined) {
        throw new UsageError(
          `Upload: ${k} is not supported (part size and parts in flight are the client's multipartPartSize and partsInFlight)`,
        );
      }
    }
    this._client = client;
    this._params = params;
    this._listeners = new Set();
    this._abort = new AbortController();
    this._started = false;
  }
  /** `on('httpUploadProgress', ({loaded, total, part, Bucket, Key}) => …)`. */
  on(event, listener) {
    if (event !== 'httpUploadProgress') throw new UsageError(`Upload has no event ${event} (only httpUploadProgress)`);
    if (typeof listener !== 'function') throw new UsageError('a listener must be a function');
    this._listeners.add(listener);
    return this;
  }
  /** Store the object: `{$metadata, Bucket, Key, ETag, VersionId}`. */
  async done() {
    if (this._started) throw new UsageError('done() was called already');
    this._started = true;
    const r = await this._client.putObject(this._params, {
      signal: this._abort.signal,
      onProgress: (p) => {
        for (const l of this._listeners) l(p);
      },
    });
    const out = { $metadata: { httpStatusCode: 200 }, Bucket: this._params.Bucket, Key: this._params.Key, ETag: r.ETag };
    if (r.VersionId !== undefined) out.VersionId = r.VersionId;
    return out;
  }
  /** Stop the upload: `done()` rejects with an `AbortError`, a multipart upload is aborted. */
  async abort() {
    this._abort.abort(Object.assign(new Error('the upload was aborted'), { name: 'AbortError' }));
  }
}
