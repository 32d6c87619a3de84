// Caller-driven multipart uploads through `send()`: CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload and AbortMultipartUpload, encrypted as one object.
//
// The parts of an encrypted upload are segments of one GCM stream, which the core's PUT machine
// cuts (its part size, multiples of 16), numbers, encrypts and completes itself, with the tag on
// the last part. So the caller's parts are not S3's: CreateMultipartUpload starts `putObject` on a
// body that UploadPart feeds, part after part in order, and CompleteMultipartUpload ends that body
// and answers with the object `putObject` stored. The `UploadId` is this client's (`s3ec-…`): the
// upload lives in this client object, in this process, and the S3 upload behind it is the
// machine's. UploadPart answers an `ETag` of its own (a random token), which
// CompleteMultipartUpload checks against the part list it is given. AbortMultipartUpload aborts
// the machine's upload: nothing is left in S3. An UploadPart or CompleteMultipartUpload of any
// other upload is refused: it would store plaintext.
import { UsageError } from './errors.js';
import { collect } from './bytes.js';

const PREFIX = 's3ec-';

const ok = (status = 200) => ({ $metadata: { httpStatusCode: status, attempts: 1, totalRetryDelay: 0 } });

/** The uploads of each client, by UploadId. */
const uploads = new WeakMap();

function sessions(client) {
  let m = uploads.get(client);
  if (!m) uploads.set(client, (m = new Map()));
  return m;
}

const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');

class Aborted extends Error {}

/** One upload: the body its `putObject` reads, fed by UploadPart. */
class Session {
  constructor(client, input, extra) {
    this.bucket = input.Bucket;
    this.key = input.Key;
    this.etags = [];
    this.queue = [];
    this.ended = false;
    this.failure = null;
    this.wake = null;
    // The machine reads this; each part is taken when the machine asks for what follows it.
    const self = this;
    async function* body() {
      for (;;) {
        while (self.queue.length === 0 && !self.ended && !self.failure) {
          await new Promise((r) => (self.wake = r));
        }
        if (self.failure) throw self.failure;
        if (self.queue.length === 0) return;
        const part = self.queue.shift();
        yield part.bytes;
        part.taken();
      }
    }
    this.done = client.putObject({
      Bucket: input.Bucket,
      Key: input.Key,
      Body: body(),
      ContentType: input.ContentType,
      Metadata: input.Metadata,
      EncryptionContext: extra.EncryptionContext,
    });
    // Settled once, whatever happens; its failure is read by the calls that wait on it.
    this.settled = this.done.then(
      () => null,
      (e) => e,
    );
  }
  nudge() {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
  /** Hand `bytes` to the machine; resolves when it took them (or fails with the upload). */
  async feed(bytes) {
    let taken;
    const took = new Promise((r) => (taken = r));
    this.queue.push({ bytes, taken });
    this.nudge();
    const failed = await Promise.race([took.then(() => null), this.settled]);
    if (failed) throw failed;
  }
  end() {
    this.ended = true;
    this.nudge();
  }
  abort() {
    this.failure = new Aborted('the upload was aborted');
    for (const p of this.queue.splice(0)) p.taken();
    this.nudge();
  }
}

function session(client, input, name) {
  const s = typeof input.UploadId === 'string' ? sessions(client).get(input.UploadId) : undefined;
  if (!s) {
    throw new UsageError(
      `${name}: ${JSON.stringify(input.UploadId)} is not an upload of this encryption client (only uploads started by its CreateMultipartUploadCommand are encrypted; a part of any other would be stored as plaintext)`,
    );
  }
  if (input.Bucket !== s.bucket || input.Key !== s.key) {
    throw new UsageError(`${name}: upload ${input.UploadId} is of ${s.bucket}/${s.key}, not ${input.Bucket}/${input.Key}`);
  }
  return s;
}

function only(name, input, allowed) {
  for (const [k, v] of Object.entries(input)) {
    if (v !== undefined && !allowed.includes(k)) {
      throw new UsageError(`${name}: ${k} is not supported by the encryption client (supported: ${allowed.join(', ')})`);
    }
  }
}

/** CreateMultipartUploadCommand: starts the upload's `putObject`. */
export function create(client, input, extra) {
  only('CreateMultipartUploadCommand', input, ['Bucket', 'Key', 'ContentType', 'Metadata']);
  const id = PREFIX + hex(globalThis.crypto.getRandomValues(new Uint8Array(16)));
  const s = new Session(client, input, extra);
  sessions(client).set(id, s);
  // A failure before Complete or Abort stays with the session, read by them.
  s.settled.then(() => {});
  return { ...ok(), Bucket: input.Bucket, Key: input.Key, UploadId: id };
}

/** UploadPartCommand: the next part, in order (PartNumber 1, 2, …). */
export async function uploadPart(client, input) {
  only('UploadPartCommand', input, ['Bucket', 'Key', 'UploadId', 'PartNumber', 'Body', 'ContentLength']);
  const s = session(client, input, 'UploadPartCommand');
  const want = s.etags.length + 1;
  if (input.PartNumber !== want) {
    throw new UsageError(`UploadPartCommand: the parts of an encrypted upload go in order: part ${want} is next, not ${input.PartNumber}`);
  }
  // A copy: the caller may reuse its buffer as soon as this returns, and the machine reads later.
  const bytes = (await collect(input.Body)).slice();
  if (input.ContentLength !== undefined && input.ContentLength !== bytes.length) {
    throw new UsageError(`UploadPartCommand: the body is ${bytes.length} bytes, ContentLength says ${input.ContentLength}`);
  }
  const etag = `"${hex(globalThis.crypto.getRandomValues(new Uint8Array(16)))}"`;
  s.etags.push(etag);
  if (bytes.length > 0) await s.feed(bytes);
  return { ...ok(), ETag: etag };
}

/** CompleteMultipartUploadCommand: the parts given must be the parts uploaded. */
export async function complete(client, input) {
  only('CompleteMultipartUploadCommand', input, ['Bucket', 'Key', 'UploadId', 'MultipartUpload']);
  const s = session(client, input, 'CompleteMultipartUploadCommand');
  const parts = input.MultipartUpload?.Parts ?? [];
  const given = parts.map((p) => `${p.PartNumber}:${p.ETag}`).join(',');
  const uploaded = s.etags.map((e, i) => `${i + 1}:${e}`).join(',');
  if (given !== uploaded) {
    throw new UsageError(
      `CompleteMultipartUploadCommand: the part list (${parts.length} parts) is not the ${s.etags.length} parts uploaded, in order, with their ETags`,
    );
  }
  sessions(client).delete(input.UploadId);
  s.end();
  const r = await s.done;
  const out = { ...ok(), Bucket: input.Bucket, Key: input.Key, ETag: r.ETag };
  if (r.VersionId !== undefined) out.VersionId = r.VersionId;
  return out;
}

/** AbortMultipartUploadCommand of one of ours: its upload is aborted; `undefined` otherwise. */
export async function abort(client, input) {
  const s = typeof input.UploadId === 'string' && input.UploadId.startsWith(PREFIX) ? sessions(client).get(input.UploadId) : undefined;
  if (!s) return undefined;
  session(client, input, 'AbortMultipartUploadCommand');
  sessions(client).delete(input.UploadId);
  s.abort();
  const e = await s.settled;
  if (e && !(e instanceof Aborted) && !(e.cause instanceof Aborted)) throw e;
  return ok(204);
}
