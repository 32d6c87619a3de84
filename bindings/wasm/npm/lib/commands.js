// The `@aws-sdk/client-s3` command surface of S3EncryptionClient: `send(new GetObjectCommand(…))`
// and the rest. Object commands run through the client's machines and answer in the SDK's output
// shapes; commands that do not touch object contents pass through to the wrapped S3Client as they
// are; commands that would store plaintext, copy ciphertext apart from its envelope or read
// ciphertext as data are refused with a UsageError that names the way out.
import { UsageError } from './errors.js';
import { chunks, concat } from './bytes.js';
import { userMetadata } from './requests.js';
import { abort, complete, create, uploadPart } from './multipart.js';

/**
 * Refused: their bodies or results are object contents the encryption client cannot encrypt or
 * decrypt in this form (part copies, S3 Select).
 */
const REFUSED = {
  UploadPartCopyCommand: 'a part copy splices ciphertext into another object without its envelope',
  SelectObjectContentCommand: 'S3 Select would query the ciphertext',
  WriteGetObjectResponseCommand: 'an Object Lambda response would carry whatever body it is given, unencrypted',
};

/** Commands that copy or move an object, safe only when its envelope travels with it. */
const COPIES = new Set(['CopyObjectCommand', 'RenameObjectCommand']);

/** The fields each object command takes; any other field set is refused, not dropped. */
const FIELDS = {
  PutObjectCommand: ['Bucket', 'Key', 'Body', 'ContentLength', 'ContentType', 'Metadata'],
  GetObjectCommand: ['Bucket', 'Key', 'VersionId', 'Range'],
  HeadObjectCommand: ['Bucket', 'Key', 'VersionId'],
  DeleteObjectCommand: ['Bucket', 'Key'],
};

function nameOf(command) {
  const n = command && command.constructor && command.constructor.name;
  if (!n || !command.input || typeof command.input !== 'object') {
    throw new UsageError('send() takes a command of @aws-sdk/client-s3 (new GetObjectCommand({...}), ...)');
  }
  return n;
}

function checkFields(name, input) {
  const allowed = FIELDS[name];
  for (const [k, v] of Object.entries(input)) {
    if (v !== undefined && !allowed.includes(k)) {
      throw new UsageError(`${name}: ${k} is not supported by the encryption client (supported: ${allowed.join(', ')})`);
    }
  }
}


/** The SDK output fields that describe the stored ciphertext, not the plaintext: left out. */
const STORED_ONLY = /^(Checksum|ContentMD5$|ContentLength$|ContentRange$|Body$|Metadata$|ETag$|VersionId$|\$metadata$)/;

function objectFields(raw) {
  const out = {};
  for (const [k, v] of Object.entries(raw ?? {})) if (!STORED_ONLY.test(k)) out[k] = v;
  return out;
}

/**
 * A body in the SDK's shape: a web `ReadableStream` (async iterable in Node) with
 * `transformToByteArray()`, `transformToString(encoding)` and `transformToWebStream()`, each
 * usable once, as on the SDK's bodies.
 */
export function sdkBody(stream) {
  let used = false;
  const once = (what) => {
    if (used) throw new UsageError(`the body was already consumed (${what})`);
    used = true;
  };
  const bytes = async () => {
    const parts = [];
    let n = 0;
    for await (const c of chunks(stream)) {
      parts.push(c);
      n += c.length;
    }
    return concat(parts, n);
  };
  Object.defineProperties(stream, {
    transformToByteArray: {
      value: async () => {
        once('transformToByteArray');
        return bytes();
      },
    },
    transformToString: {
      value: async (encoding = 'utf-8') => {
        once('transformToString');
        return new TextDecoder(encoding).decode(await bytes());
      },
    },
    transformToWebStream: {
      value: () => {
        once('transformToWebStream');
        return stream;
      },
    },
  });
  return stream;
}

function bytesStream(bytes) {
  return new ReadableStream({
    start(c) {
      if (bytes.length) c.enqueue(bytes);
      c.close();
    },
  });
}

const ok = (status = 200) => ({ $metadata: { httpStatusCode: status, attempts: 1, totalRetryDelay: 0 } });

/** `CopySource` (`bucket/key`, URL-encoded, `?versionId=` optional) as `{Bucket, Key, VersionId}`. */
function copySource(s) {
  if (typeof s !== 'string' || s.length === 0) throw new UsageError('CopyObjectCommand needs CopySource');
  const [path, query] = s.replace(/^\//, '').split('?', 2);
  const slash = path.indexOf('/');
  if (slash <= 0) throw new UsageError(`CopySource ${s} is not bucket/key`);
  const out = { Bucket: decodeURIComponent(path.slice(0, slash)), Key: decodeURIComponent(path.slice(slash + 1)) };
  const v = query && new URLSearchParams(query).get('versionId');
  if (v) out.VersionId = v;
  return out;
}

async function put(client, input, extra) {
  checkFields('PutObjectCommand', input);
  const r = await client.putObject({ ...input, EncryptionContext: extra.EncryptionContext });
  const out = { ...ok(), ETag: r.ETag };
  if (r.VersionId !== undefined) out.VersionId = r.VersionId;
  return out;
}

async function get(client, input, extra) {
  checkFields('GetObjectCommand', input);
  const ranged = input.Range !== undefined;
  // Whole objects stream (verified before release, as getObject's stream); a ranged read is
  // small and returned at once, so that its ContentRange is exact.
  const { out, meta } = await client._get({ ...input, EncryptionContext: extra.EncryptionContext }, { as: ranged ? 'bytes' : 'stream' });
  const shaped = { ...ok(ranged ? 206 : 200), ...objectFields(meta.raw) };
  shaped.Metadata = userMetadata(out.Metadata);
  if (out.ETag !== undefined) shaped.ETag = out.ETag;
  if (out.VersionId !== undefined) shaped.VersionId = out.VersionId;
  if (ranged) {
    const first = out.rangeFirst ?? 0;
    shaped.ContentLength = out.Body.length;
    if (out.Body.length > 0) shaped.ContentRange = `bytes ${first}-${first + out.Body.length - 1}/${meta.total ?? '*'}`;
    shaped.Body = sdkBody(bytesStream(out.Body));
  } else {
    if (out.ContentLength !== undefined) shaped.ContentLength = out.ContentLength;
    shaped.Body = sdkBody(out.Body);
    // verification is this package's own field, set when the stream has ended (as getObject's).
    Object.defineProperty(shaped, 'verification', { enumerable: true, get: () => out.verification });
  }
  return shaped;
}

async function head(client, command, options) {
  const input = command.input;
  checkFields('HeadObjectCommand', input);
  let got;
  try {
    got = await client._head(input);
  } catch (e) {
    // An object without an envelope: its HEAD says nothing the encryption client could add.
    if (e.code === 'NotEncrypted') return client.s3Client.send(command, options);
    throw e;
  }
  const { out, raw } = got;
  const shaped = { ...ok(), ...objectFields(raw), Metadata: userMetadata(out.Metadata) };
  if (out.ContentLength !== undefined) shaped.ContentLength = out.ContentLength;
  if (out.ETag !== undefined) shaped.ETag = out.ETag;
  if (out.VersionId !== undefined) shaped.VersionId = out.VersionId;
  return shaped;
}

async function del(client, input) {
  checkFields('DeleteObjectCommand', input);
  await client.deleteObject(input);
  return ok(204);
}

/** DeleteObjects: one request, each object's instruction file named beside it. */
async function deleteMany(client, command, options) {
  const input = command.input;
  const objects = input.Delete?.Objects ?? [];
  for (const o of objects) {
    if (o.VersionId !== undefined) {
      throw new UsageError('DeleteObjectsCommand with a VersionId is not supported by the encryption client (an instruction file has versions of its own)');
    }
  }
  if (client.disableInstructionFile) return client.s3Client.send(command, options);
  const suffix = client.instructionFileSuffix;
  const ifiles = new Set(objects.map((o) => `${o.Key}${suffix}`));
  const m = await client._s3();
  const all = [...objects, ...objects.filter((o) => !objects.some((p) => p.Key === `${o.Key}${suffix}`)).map((o) => ({ Key: `${o.Key}${suffix}` }))];
  const results = { Deleted: [], Errors: [] };
  let last;
  // At most 1000 keys a request (S3's limit): objects and their instruction files together.
  for (let at = 0; at < all.length; at += 1000) {
    last = await client.s3Client.send(new m.DeleteObjectsCommand({ ...input, Delete: { ...input.Delete, Objects: all.slice(at, at + 1000) } }), options);
    results.Deleted.push(...(last.Deleted ?? []).filter((d) => !ifiles.has(d.Key) || objects.some((o) => o.Key === d.Key)));
    results.Errors.push(...(last.Errors ?? []));
  }
  const out = { ...(last ?? {}), ...ok() };
  if (last?.$metadata) out.$metadata = last.$metadata;
  out.Deleted = results.Deleted;
  out.Errors = results.Errors;
  if (out.Deleted.length === 0) delete out.Deleted;
  if (out.Errors.length === 0) delete out.Errors;
  return out;
}

/** A copy or rename moves the object's metadata, not its instruction file: refused then. */
async function copy(client, name, command, options) {
  const input = command.input;
  const src = name === 'CopyObjectCommand' ? copySource(input.CopySource) : copySource(`${input.Bucket}/${input.RenameSource ?? ''}`);
  let h;
  try {
    h = await client.headObject(src);
  } catch (e) {
    if (e.code === 'NotEncrypted') return client.s3Client.send(command, options);
    throw e;
  }
  if (h.instructionFile) {
    throw new UsageError(
      `${name}: the envelope of ${src.Key} is in its instruction file, which the copy would leave behind (the copy could not be decrypted); read it with GetObjectCommand and write it with PutObjectCommand`,
    );
  }
  if (name === 'CopyObjectCommand' && input.MetadataDirective === 'REPLACE') {
    throw new UsageError('CopyObjectCommand with MetadataDirective REPLACE drops the envelope kept in the metadata (the copy could not be decrypted)');
  }
  return client.s3Client.send(command, options);
}

/**
 * `send(command, options)`: object commands through the encryption client, the rest passed to
 * the wrapped S3Client. `options.EncryptionContext`: the KMS encryption context (or the materials
 * description of an AES / RSA write) of a Put or Get; every other option goes to the wrapped
 * client's `send` on pass-through.
 */
export async function sendCommand(client, command, options = {}) {
  const name = nameOf(command);
  const { EncryptionContext, ...sdkOptions } = options ?? {};
  const extra = { EncryptionContext };
  const input = command.input;
  switch (name) {
    case 'PutObjectCommand':
      return put(client, input, extra);
    case 'GetObjectCommand':
      return get(client, input, extra);
    case 'HeadObjectCommand':
      return head(client, command, sdkOptions);
    case 'DeleteObjectCommand':
      return del(client, input);
    case 'DeleteObjectsCommand':
      return deleteMany(client, command, sdkOptions);
    case 'CreateMultipartUploadCommand':
      return create(client, input, extra);
    case 'UploadPartCommand':
      return uploadPart(client, input);
    case 'CompleteMultipartUploadCommand':
      return complete(client, input);
    case 'AbortMultipartUploadCommand':
      return (await abort(client, input)) ?? client.s3Client.send(command, sdkOptions);
    default:
      break;
  }
  if (REFUSED[name]) throw new UsageError(`${name} is refused by the encryption client: ${REFUSED[name]}`);
  if (COPIES.has(name)) return copy(client, name, command, sdkOptions);
  return client.s3Client.send(command, sdkOptions);
}
