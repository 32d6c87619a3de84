// The S3 requests the machines ask for, made with the caller's S3Client (commands of
// `@aws-sdk/client-s3`), and their answers as the machines read them.
import { isEnvelopeKey } from './engine.js';
import { UsageError, core as coreCall, useS3Module } from './errors.js';
import { chunks, concat } from './bytes.js';

let s3Module = null;
/** The `@aws-sdk/client-s3` module (loaded at the first request). */
export async function s3() {
  if (!s3Module) {
    s3Module = await import('@aws-sdk/client-s3');
    useS3Module(s3Module);
  }
  return s3Module;
}

const INSTRUCTION_FILE_LIMIT = 16 * 1024;

/** User metadata without the envelope's keys (the core's list). */
export function userMetadata(metadata) {
  const out = {};
  for (const [k, v] of Object.entries(metadata ?? {})) if (!isEnvelopeKey(k)) out[k] = v;
  return out;
}

/** The headers of an SDK output, as the machines read them. */
function headersOf(out, bodyLength) {
  const h = [];
  if (out.ETag !== undefined) h.push('ETag', out.ETag);
  const len = out.ContentLength !== undefined ? out.ContentLength : bodyLength;
  if (len !== undefined) h.push('Content-Length', String(len));
  if (out.ContentRange !== undefined) h.push('Content-Range', out.ContentRange);
  if (out.VersionId !== undefined) h.push('x-amz-version-id', out.VersionId);
  if (out.Metadata) for (const [k, v] of Object.entries(out.Metadata)) h.push(`x-amz-meta-${k}`, String(v));
  return h;
}

/** The HTTP status of an SDK error, or 0 when no response came. */
function statusOf(e) {
  const s = e && e.$metadata && e.$metadata.httpStatusCode;
  return typeof s === 'number' ? s : 0;
}

export function destroy(body) {
  if (!body) return;
  try {
    if (typeof body.destroy === 'function') body.destroy();
    else if (typeof body.cancel === 'function') body.cancel().catch(() => {});
  } catch {
    // already closed
  }
}

/** Read at most `limit` + 1 bytes of a small body (instruction files), then stop. */
async function readCapped(body, limit) {
  const parts = [];
  let n = 0;
  if (!body) return new Uint8Array(0);
  try {
    for await (const c of chunks(body)) {
      parts.push(c);
      n += c.length;
      if (n > limit) break;
    }
  } finally {
    destroy(body);
  }
  return concat(parts, n);
}

function commonInput(req) {
  const i = { Bucket: req.bucket, Key: req.key };
  if (req.versionId) i.VersionId = req.versionId;
  return i;
}

/** Perform one machine request with the S3Client: `{status, headers, body, uploadId}`. */
export async function perform(client, req, body) {
  const m = await s3();
  const input = commonInput(req);
  let cmd;
  switch (req.operation) {
    case 'HeadObject':
      if (req.ifMatch) input.IfMatch = req.ifMatch;
      cmd = new m.HeadObjectCommand(input);
      break;
    case 'GetObject':
      if (req.ifMatch) input.IfMatch = req.ifMatch;
      if (req.rangeHeader) input.Range = req.rangeHeader;
      cmd = new m.GetObjectCommand(input);
      break;
    case 'PutObject':
      Object.assign(input, { Body: body, ContentLength: body.length, Metadata: req.metadata });
      if (req.contentType) input.ContentType = req.contentType;
      if (req.ifMatch) input.IfMatch = req.ifMatch;
      cmd = new m.PutObjectCommand(input);
      break;
    case 'CreateMultipartUpload':
      input.Metadata = req.metadata;
      if (req.contentType) input.ContentType = req.contentType;
      cmd = new m.CreateMultipartUploadCommand(input);
      break;
    case 'UploadPart':
      Object.assign(input, { UploadId: req.uploadId, PartNumber: req.partNumber, Body: body, ContentLength: body.length });
      cmd = new m.UploadPartCommand(input);
      break;
    case 'CompleteMultipartUpload':
      Object.assign(input, { UploadId: req.uploadId, MultipartUpload: { Parts: body } });
      cmd = new m.CompleteMultipartUploadCommand(input);
      break;
    case 'AbortMultipartUpload':
      input.UploadId = req.uploadId;
      cmd = new m.AbortMultipartUploadCommand(input);
      break;
    case 'DeleteObject':
      cmd = new m.DeleteObjectCommand(input);
      break;
    default:
      throw new UsageError(`unknown operation ${req.operation}`);
  }
  try {
    const out = await client.send(cmd);
    return {
      status: out.$metadata.httpStatusCode ?? 200,
      headers: headersOf(out, req.operation === 'HeadObject' || req.operation === 'GetObject' ? undefined : 0),
      body: out.Body,
      uploadId: out.UploadId,
      etag: out.ETag,
      versionId: out.VersionId,
      metadata: out.Metadata,
      sdk: out,
      contentType: out.ContentType,
    };
  } catch (e) {
    const status = statusOf(e);
    if (status === 0) throw e;
    return { status, headers: [], body: undefined, error: e };
  }
}

/** Released pieces `{bytes, offset}` in plaintext order (a ranged read starts at its first). */
export async function* inOrder(run, ranged) {
  let next = ranged ? null : 0;
  const held = new Map();
  for await (const { bytes, offset } of run) {
    if (next === null) next = offset;
    held.set(offset, bytes);
    while (held.has(next)) {
      const b = held.get(next);
      held.delete(next);
      next += b.length;
      yield b;
    }
  }
  if (held.size) throw new UsageError('released pieces do not tile the object');
}

/** Drive a small machine (describe, delete, rotate): one request at a time. */
export async function sendSimple(client, mach, id, sdkErrors) {
  const core = (f) => coreCall(f, sdkErrors);
  const req = core(() => mach.request(id));
  const body = req.body.kind === 'bytes' ? req.body.bytes : undefined;
  const r = await perform(client, req, body);
  if (r.error) sdkErrors.push(r.error);
  if (req.operation === 'GetObject') {
    const bytes = r.status < 300 ? await readCapped(r.body, req.responseBodyLimit ?? INSTRUCTION_FILE_LIMIT) : new Uint8Array(0);
    core(() => mach.body(id, bytes));
  } else destroy(r.body);
  core(() => mach.response(id, r.status, r.headers));
  r.req = req;
  return r;
}
