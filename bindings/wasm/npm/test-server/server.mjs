#!/usr/bin/env node
// A server of AWS's cross-SDK S3EC harness model (`S3ECTestServer`, restJson1; see
// test-server/README.md) for this npm package under Node.js.
//
//     node bindings/wasm/npm/test-server/server.mjs [--port N]    # 0 (default): any free port
//
// The first line on standard output is `listening on 127.0.0.1:PORT`; standard error names the
// engine (native where this platform's build is present, else wasm; S3EC_ENGINE forces one). S3
// and KMS endpoints, region and credentials come from the standard AWS environment
// (AWS_ENDPOINT_URL, ...).
//
// It lives inside the package folder (but outside its published `files`) so that it imports the
// package by its own name (`s3-encryption`, through the `exports` map: the public API only) and
// resolves `@aws-sdk/client-s3` / `@aws-sdk/client-kms` from the package's dev dependencies.
// HTTP is node:http alone.
//
// Operations: `POST /client` (CreateClient), `PUT|GET /object/{bucket}/{key}` (PutObject,
// GetObject), `POST /object/{bucket}/{key}/reencrypt` (ReEncrypt). Errors are the model's two
// shapes: `S3EncryptionClientError` for what the package refused or failed (its typed errors),
// `GenericServerError` for this server's own problems (a malformed request 400, an unknown client
// 404, S3/KMS unreachable, a missing object 500). A feature the package lacks is answered with
// `GenericServerError` and HTTP 501 (the runner reports "unsupported"):
//   * instructionFileConfig.clientId: no separate instruction-file client.
import { createServer } from 'node:http';
import { parseMetadata, metadataList } from './metadata.mjs';
import {
  S3EncryptionClient,
  S3EncryptionError,
  StorageError,
  NotFoundError,
  ObjectChangedError,
  AesKeyring,
  RsaKeyring,
  KmsKeyring,
  engine,
} from 's3-encryption';
import { S3Client } from '@aws-sdk/client-s3';
import { KMSClient } from '@aws-sdk/client-kms';

const NAMESPACE = 'software.amazon.encryption.s3';
const MAX_BODY = 512 * 1024 * 1024;

/** An error answer in one of the model's two shapes. */
class Reply extends Error {
  constructor(shape, message, status = 500) {
    super(message);
    this.shape = shape;
    this.status = status;
  }
}
const generic = (message, status = 500) => new Reply('GenericServerError', message, status);
const clientError = (message) => new Reply('S3EncryptionClientError', message);
const unsupported = (message) => generic(`unsupported by the npm package: ${message}`, 501);

/**
 * Classify what the package threw: its typed errors are the S3EC's refusals and failures, except
 * a missing object and S3 failures that are no answer to judge (network, 5xx), which are the
 * harness's. Object key and bucket become `{key}` / `{bucket}` so two objects failing alike read
 * alike (the RSA padding-oracle scenario compares messages).
 */
function fromPackage(e, bucket, key) {
  if (e instanceof Reply) return e;
  let message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (key) message = message.split(key).join('{key}');
  if (bucket) message = message.split(bucket).join('{bucket}');
  if (!(e instanceof S3EncryptionError)) return generic(message);
  if (e instanceof NotFoundError) return generic(message);
  if (e instanceof StorageError && !(e instanceof ObjectChangedError) && (e.status === undefined || e.status === 0 || e.status >= 500)) {
    return generic(message);
  }
  return clientError(message);
}

// ----- configuration

function endpoint(service) {
  return process.env[`AWS_ENDPOINT_URL_${service}`] || process.env.AWS_ENDPOINT_URL || undefined;
}
// The SDK clients every S3EC client shares; made once the first line is out (the SDK may print
// a warning on construction, and the runner reads the first line of the merged output).
let s3;
let kms;
function sdkClients() {
  const region = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';
  s3 = new S3Client({
    region,
    endpoint: endpoint('S3'),
    forcePathStyle: true,
    // Only the checksums S3 requires: moto does not check the SDK's default CRC32s.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  kms = new KMSClient({ region, endpoint: endpoint('KMS') });
}

const typeOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function flag(c, name) {
  const v = c[name];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw generic(`${name} must be a boolean`, 400);
  return v;
}
function string(c, name) {
  const v = c[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw generic(`${name} must be a string`, 400);
  return v;
}
function object(c, name) {
  const v = c[name];
  if (v === undefined || v === null) return undefined;
  if (typeOf(v) !== 'object') throw generic(`${name} must be an object`, 400);
  return v;
}

function base64(s) {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) throw generic('a key blob is not valid base64', 400);
  return new Uint8Array(Buffer.from(t, 'base64'));
}

/**
 * A keyring from the model's `KeyMaterial`: exactly one of `aesKey` (raw bytes, base64),
 * `rsaKey` (PKCS#8 DER private key, base64), `kmsKeyId`; `materialsDescription` for AES / RSA.
 */
function keyring(km) {
  const aes = string(km, 'aesKey');
  const rsa = string(km, 'rsaKey');
  const kmsKeyId = string(km, 'kmsKeyId');
  if ([aes, rsa, kmsKeyId].filter((x) => x !== undefined).length !== 1) {
    throw generic('keyMaterial must hold exactly one of aesKey, rsaKey, kmsKeyId', 400);
  }
  const desc = object(km, 'materialsDescription');
  if (desc) {
    for (const v of Object.values(desc)) if (typeof v !== 'string') throw generic('materialsDescription values must be strings', 400);
  }
  const materialsDescription = desc ? { ...desc } : undefined;
  const key = aes !== undefined ? base64(aes) : rsa !== undefined ? base64(rsa) : undefined;
  try {
    if (aes !== undefined) return new AesKeyring({ key, materialsDescription });
    if (rsa !== undefined) return new RsaKeyring({ privateKey: key, materialsDescription });
    return new KmsKeyring({ kmsClient: kms, kmsKeyId });
  } catch (e) {
    // A key the package refuses is the S3EC's refusal.
    throw fromPackage(e);
  }
}

/** The package's client options from an `S3ECConfig`. */
function clientOptions(c) {
  const km = object(c, 'keyMaterial');
  if (!km) throw generic('config.keyMaterial is required', 400);
  const ifc = object(c, 'instructionFileConfig') ?? {};
  if (string(ifc, 'clientId') !== undefined) {
    throw unsupported('instructionFileConfig.clientId (no separate instruction-file client)');
  }
  const o = {
    s3Client: s3,
    keyring: keyring(km),
    enableLegacyWrappingAlgorithms: flag(c, 'enableLegacyWrappingAlgorithms'),
    enableLegacyUnauthenticatedModes: flag(c, 'enableLegacyUnauthenticatedModes'),
    enableDelayedAuthenticationMode: flag(c, 'enableDelayedAuthenticationMode'),
    instructionFilePut: flag(ifc, 'enableInstructionFilePutObject'),
    disableInstructionFile: flag(ifc, 'disableInstructionFile'),
  };
  const policy = string(c, 'commitmentPolicy');
  // The names, and whether the algorithm fits the policy, are the package's (its core's) to
  // judge when the client is made: an unknown name is the harness's 400, a refusal the S3EC's.
  if (policy !== undefined) o.commitmentPolicy = policy;
  const alg = string(c, 'encryptionAlgorithm');
  if (alg !== undefined) o.encryptionAlgorithm = alg;
  const buffer = c.setBufferSize;
  if (buffer !== undefined && buffer !== null) {
    if (!Number.isSafeInteger(buffer) || buffer < 0) throw generic('setBufferSize must be a non-negative integer', 400);
    // Spec (client.md, "Set Buffer Size"): a buffer size together with delayed authentication
    // is a configuration error. The package's equivalent of the buffer is `bufferSize` (objects
    // up to that stored size are verified in one buffer; larger ones in two passes).
    if (o.enableDelayedAuthenticationMode) {
      throw clientError('a buffer size cannot be set with delayed authentication mode enabled');
    }
    o.bufferSize = buffer;
  }
  return o;
}

/** A client of the package; its errors at construction are the S3EC's refusals. */
function makeClient(options) {
  try {
    return new S3EncryptionClient(options);
  } catch (e) {
    if (/^unknown (commitment policy|encryptionAlgorithm) /.test(e.message ?? '')) throw generic(e.message, 400);
    throw fromPackage(e);
  }
}

const clients = new Map();
let nextId = 1;

function clientFor(req) {
  const id = req.headers.clientid;
  if (!id) throw generic('the ClientID header is required', 400);
  const entry = clients.get(id);
  if (!entry) throw generic(`no client with ClientID ${id}`, 404);
  return entry;
}

// ----- operations

function createClient(body) {
  let doc;
  try {
    doc = JSON.parse(body.length ? body.toString('utf8') : '{}');
  } catch (e) {
    throw generic(`invalid JSON: ${e.message}`, 400);
  }
  const c = doc && doc.config !== undefined && doc.config !== null ? doc.config : {};
  if (typeOf(c) !== 'object') throw generic('config must be an object', 400);
  const options = clientOptions(c);
  const client = makeClient(options);
  const id = `node-${nextId++}-${Math.random().toString(36).slice(2, 10)}`;
  clients.set(id, { client, options });
  return json({ clientId: id });
}

async function putObject(req, bucket, key, body) {
  const { client } = clientFor(req);
  const md = parseMetadata(req.headers['content-metadata'], generic);
  // Content-Metadata is the KMS encryption context, or, for AES / RSA keyrings (the model's C++
  // convention), the materials description: the package stores `EncryptionContext` as either.
  const input = { Bucket: bucket, Key: key, Body: body };
  if (md.length) input.EncryptionContext = md;
  try {
    await client.putObject(input);
  } catch (e) {
    throw fromPackage(e, bucket, key);
  }
  return json({ bucket, key, metadata: md.map(([k, v]) => metadataList([[k, v]])) });
}

async function getObject(req, bucket, key) {
  const entry = clientFor(req);
  const md = parseMetadata(req.headers['content-metadata'], generic);
  const suffix = req.headers.instructionfilesuffix;
  // The package takes the instruction-file suffix per client: a GET naming one uses a client of
  // the same configuration with that suffix (verbatim, as the model passes it).
  const client = suffix ? makeClient({ ...entry.options, instructionFileSuffix: suffix }) : entry.client;
  const input = { Bucket: bucket, Key: key };
  if (md.length) input.EncryptionContext = md;
  if (req.headers.range) input.Range = req.headers.range;
  let out;
  try {
    out = await client.getObject(input);
  } catch (e) {
    throw fromPackage(e, bucket, key);
  }
  const headers = { 'Content-Type': 'application/octet-stream' };
  const listed = metadataList(Object.entries(out.Metadata ?? {}));
  // A header value must be Latin-1; user metadata that is not is left out.
  if (/^[\x20-\x7e\x80-\xff]*$/.test(listed)) headers['Content-Metadata'] = listed;
  return { status: 200, headers, body: Buffer.from(out.Body.buffer, out.Body.byteOffset, out.Body.byteLength) };
}

async function reencrypt(req, bucket, key, body) {
  const { client } = clientFor(req);
  let km;
  try {
    km = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw generic(`invalid JSON: ${e.message}`, 400);
  }
  if (typeOf(km) !== 'object') throw generic('the body must be a KeyMaterial object', 400);
  const newKeyring = keyring(km);
  const suffix = req.headers.instructionfilesuffix || undefined;
  const er = req.headers.enforcerotation;
  let enforce;
  if (er !== undefined && er !== '') {
    if (/^true$/i.test(er)) enforce = true;
    else if (/^false$/i.test(er)) enforce = false;
    else throw generic('EnforceRotation must be true or false', 400);
  }
  // The scenarios give the new suffix without its dot ("instruction-rsa") and read it back
  // with one, as the Java S3EC's ReEncryptInstructionFileRequest prepends a dot: so does this.
  const input = { Bucket: bucket, Key: key, newKeyring, EnforceRotation: !!enforce };
  if (suffix) input.NewSuffix = suffix.startsWith('.') ? suffix : `.${suffix}`;
  try {
    await client.reEncryptInstructionFile(input);
  } catch (e) {
    throw fromPackage(e, bucket, key);
  }
  const doc = { bucket, key };
  if (suffix) doc.instructionFileSuffix = suffix;
  if (enforce !== undefined) doc.enforceRotation = enforce;
  return json(doc);
}

// ----- HTTP

function json(doc) {
  return { status: 200, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(doc)) };
}

function errorAnswer(r) {
  const body = Buffer.from(JSON.stringify({ __type: `${NAMESPACE}#${r.shape}`, message: r.message }));
  return { status: r.status, headers: { 'Content-Type': 'application/json', 'X-Amzn-Errortype': r.shape }, body };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(generic('the body is too large', 400));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts, n)));
    req.on('error', (e) => reject(generic(`cannot read the body: ${e.message}`, 400)));
  });
}

function segments(url) {
  const path = url.split('?', 1)[0];
  try {
    return path.replace(/^\/+/, '').split('/').map(decodeURIComponent);
  } catch {
    throw generic('malformed percent-encoding in the path', 400);
  }
}

async function route(req) {
  const seg = segments(req.url);
  const m = req.method;
  if (m === 'POST' && seg.length === 1 && seg[0] === 'client') return createClient(await readBody(req));
  if (seg[0] === 'object' && seg.length === 3) {
    if (m === 'PUT') return putObject(req, seg[1], seg[2], await readBody(req));
    if (m === 'GET') return getObject(req, seg[1], seg[2]);
  }
  if (m === 'POST' && seg[0] === 'object' && seg.length === 4 && seg[3] === 'reencrypt') {
    return reencrypt(req, seg[1], seg[2], await readBody(req));
  }
  throw generic(`no operation for ${m} ${req.url}`, 404);
}

async function handle(req, res) {
  let a;
  try {
    a = await route(req);
  } catch (e) {
    // A Reply, or a bug of this server (never a client error).
    a = errorAnswer(e instanceof Reply ? e : generic(`${e && e.name}: ${e && e.message}`));
  }
  // Drain what the request still holds (an error before its body was read).
  req.resume();
  res.writeHead(a.status, { ...a.headers, 'Content-Length': a.body.length });
  res.end(a.body);
}

function main() {
  const args = process.argv.slice(2);
  let port = 0;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port' && i + 1 < args.length) port = Number(args[++i]);
    else if (args[i].startsWith('--port=')) port = Number(args[i].slice(7));
    else {
      process.stderr.write(`usage: server.mjs [--port N]\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('--port must be 0..65535\n');
    process.exit(2);
  }
  const server = createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
    process.stderr.write(`s3-encryption engine: ${engine}\n`);
    sdkClients();
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    s3?.destroy();
    kms?.destroy();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
