// The browser test page: decrypt every vector, and round-trip through an in-memory S3 with a
// WebCrypto key, using the package as served (the .wasm fetched beside browser.js), on the engine
// the test chose (globalThis.S3EC_ENGINE, set before the package loads).
import * as m from '/pkg/browser.js';

const out = document.getElementById('out');
const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const hex = (buf) => [...new Uint8Array(buf)].map((x) => x.toString(16).padStart(2, '0')).join('');
const sha256 = async (b) => hex(await crypto.subtle.digest('SHA-256', b));

function offlineKms(k) {
  const blob = b64(k.ciphertext_blob_b64);
  const want = JSON.stringify(Object.entries(k.encryption_context).sort());
  return {
    async send(cmd) {
      const i = cmd.input;
      const got = JSON.stringify(Object.entries(i.EncryptionContext ?? {}).sort());
      const same = i.CiphertextBlob.length === blob.length && i.CiphertextBlob.every((x, j) => x === blob[j]);
      if (!same || got !== want) {
        const e = new Error('InvalidCiphertextException');
        e.$metadata = { httpStatusCode: 400 };
        throw e;
      }
      return { Plaintext: b64(k.plaintext_b64) };
    },
  };
}

function className(e) {
  if (e instanceof m.AuthenticationError) return 'authentication';
  if (e instanceof m.PolicyError) return 'policy';
  if (e instanceof m.FormatError) return 'format';
  return `other ${e}`;
}

async function vectors() {
  const list = await (await fetch('/vector-index.json')).json();
  const failures = [];
  for (const c of list) {
    const v = c.v;
    const d = v.decrypt;
    const body = new Uint8Array(await (await fetch(c.body)).arrayBuffer());
    const instructionFile = c.ifile ? new Uint8Array(await (await fetch(c.ifile)).arrayBuffer()) : undefined;
    const k = v.key;
    const keyring =
      k.kind === 'aes'
        ? new m.AesKeyring({ key: await crypto.subtle.importKey('raw', b64(k.key_b64), 'AES-GCM', true, ['encrypt']) })
        : k.kind === 'rsa'
          ? new m.RsaKeyring({ privateKey: k.private_key_pem })
          : new m.KmsDiscoveryKeyring({ kmsClient: offlineKms(k) });
    let verdict = null;
    try {
      const pt = await m.decryptObject({
        metadata: v.object.metadata,
        body,
        instructionFile,
        keyring,
        commitmentPolicy: d.commitment_policy,
        enableLegacyWrappingAlgorithms: !!d.legacy_wrapping_algorithms,
        enableLegacyUnauthenticatedModes: !!d.legacy_unauthenticated_modes,
        encryptionContext: d.encryption_context ?? {},
        range: d.range ?? undefined,
      });
      if (v.expect.error !== undefined) verdict = 'decrypted a negative case';
      else if (pt.length !== v.expect.plaintext_len || (await sha256(pt)) !== v.expect.plaintext_sha256.toLowerCase()) verdict = 'mismatch';
    } catch (e) {
      const want = v.expect.error === undefined ? null : [].concat(v.expect.error);
      if (!want || !want.includes(className(e))) verdict = `got ${className(e)} ${e.code}`;
    }
    if (verdict) failures.push(`${c.label}: ${verdict}`);
  }
  return { count: list.length, failures };
}

/** An in-memory S3 that answers the package's commands (bodies as uneven ReadableStreams). */
function fakeS3() {
  const objects = new Map();
  const uploads = new Map();
  let n = 0;
  const fail = (status) => {
    const e = new Error(`status ${status}`);
    e.$metadata = { httpStatusCode: status };
    return e;
  };
  const stream = (bytes) =>
    new ReadableStream({
      start(c) {
        for (let at = 0, k = 1; at < bytes.length; at += k, k = (k * 7 + 13) % 65521 || 1) c.enqueue(bytes.slice(at, at + k));
        c.close();
      },
    });
  return {
    objects,
    async send(cmd) {
      const i = cmd.input;
      const name = cmd.constructor.name;
      const id = `${i.Bucket}/${i.Key}`;
      const ok = (x = {}) => ({ $metadata: { httpStatusCode: 200 }, ...x });
      switch (name) {
        case 'PutObjectCommand': {
          const etag = `"e${++n}"`;
          objects.set(id, { body: new Uint8Array(i.Body), metadata: { ...i.Metadata }, etag });
          return ok({ ETag: etag });
        }
        case 'CreateMultipartUploadCommand': {
          const u = `u${++n}`;
          uploads.set(u, { id, metadata: { ...i.Metadata }, parts: new Map() });
          return ok({ UploadId: u });
        }
        case 'UploadPartCommand':
          uploads.get(i.UploadId).parts.set(i.PartNumber, new Uint8Array(i.Body));
          return ok({ ETag: `"p${i.PartNumber}"` });
        case 'CompleteMultipartUploadCommand': {
          const u = uploads.get(i.UploadId);
          uploads.delete(i.UploadId);
          const parts = [...u.parts.entries()].sort((a, b) => a[0] - b[0]).map((p) => p[1]);
          const len = parts.reduce((a, p) => a + p.length, 0);
          const body = new Uint8Array(len);
          let at = 0;
          for (const p of parts) {
            body.set(p, at);
            at += p.length;
          }
          const etag = `"m${++n}-${parts.length}"`;
          objects.set(u.id, { body, metadata: u.metadata, etag });
          return ok({ ETag: etag });
        }
        case 'AbortMultipartUploadCommand':
          uploads.delete(i.UploadId);
          return { $metadata: { httpStatusCode: 204 } };
        case 'DeleteObjectCommand':
          objects.delete(id);
          return { $metadata: { httpStatusCode: 204 } };
        case 'HeadObjectCommand':
        case 'GetObjectCommand': {
          const o = objects.get(id);
          if (!o) throw fail(404);
          if (i.IfMatch && i.IfMatch !== o.etag) throw fail(412);
          let body = o.body;
          const r = { ETag: o.etag, Metadata: o.metadata };
          let status = 200;
          if (i.Range) {
            const total = body.length;
            const mm = /bytes=(\d*)-(\d*)/.exec(i.Range);
            let a, b;
            if (mm[1] === '') {
              a = Math.max(0, total - +mm[2]);
              b = total - 1;
            } else {
              a = +mm[1];
              b = mm[2] === '' ? total - 1 : Math.min(+mm[2], total - 1);
            }
            body = body.subarray(a, b + 1);
            r.ContentRange = `bytes ${a}-${b}/${total}`;
            status = 206;
          }
          r.ContentLength = body.length;
          if (name === 'GetObjectCommand') r.Body = stream(body);
          return { $metadata: { httpStatusCode: status }, ...r };
        }
        default:
          throw new Error(`fake S3: ${name}`);
      }
    },
  };
}

async function roundTrips() {
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  const s3 = fakeS3();
  const keyring = new m.AesKeyring({ key });
  const failures = [];
  const MIB = 1 << 20;
  for (const [n, o] of [
    [0, {}],
    [5000, {}],
    [5000, { instructionFilePut: true }],
    [6 * MIB + 17, {}],
    [6 * MIB + 17, { bufferSize: 0 }],
  ]) {
    const pt = crypto.getRandomValues(new Uint8Array(Math.min(n, 65536)));
    const full = new Uint8Array(n);
    for (let at = 0; at < n; at += pt.length) full.set(pt.subarray(0, Math.min(pt.length, n - at)), at);
    const c = new m.S3EncryptionClient({ s3Client: s3, keyring, multipartThreshold: 5 * MIB, multipartPartSize: 5 * MIB, ...o });
    const k = `obj-${n}-${JSON.stringify(o)}`;
    await c.putObject({ Bucket: 'b', Key: k, Body: n > MIB ? new Blob([full]) : full });
    const got = await c.getObject({ Bucket: 'b', Key: k });
    if ((await sha256(got.Body)) !== (await sha256(full))) failures.push(`${k}: mismatch`);
    const s = await c.getObject({ Bucket: 'b', Key: k }, { as: 'stream' });
    const parts = [];
    for (const reader = s.Body.getReader(); ; ) {
      const r = await reader.read();
      if (r.done) break;
      parts.push(r.value);
    }
    if ((await sha256(await new Blob(parts).arrayBuffer())) !== (await sha256(full))) failures.push(`${k}: stream mismatch`);
  }
  // Tampered objects (a body byte, the tag; in memory and in two passes; bytes and stream): the
  // opaque authentication failure, nothing released. The test compares these records across
  // the engines.
  const tampered = [];
  for (const [k, at, o] of [
    ['obj-5000-{}', 100, {}],
    [`obj-${6 * MIB + 17}-{}`, -1, {}],
    [`obj-${6 * MIB + 17}-{}`, 7, { bufferSize: 0 }],
  ]) {
    const obj = s3.objects.get(`b/${k}`);
    const i = at < 0 ? obj.body.length + at : at;
    obj.body[i] ^= 1;
    const c = new m.S3EncryptionClient({ s3Client: s3, keyring, ...o });
    for (const as of ['bytes', 'stream']) {
      let released = 0;
      let verdict = 'decrypted';
      try {
        const got = await c.getObject({ Bucket: 'b', Key: k }, { as });
        if (as === 'bytes') released = got.Body.length;
        else for (const reader = got.Body.getReader(); ; ) {
          const r = await reader.read();
          if (r.done) break;
          released += r.value.length;
        }
      } catch (e) {
        verdict = `${className(e)} ${e.code}`;
      }
      tampered.push({ k, at, o, as, verdict, released });
      if (verdict !== 'authentication Authentication' || released !== 0) failures.push(`tampered ${k} at ${at} ${JSON.stringify(o)} ${as}: ${verdict}, ${released} bytes released`);
    }
    obj.body[i] ^= 1;
  }
  return { failures, tampered };
}

/**
 * The package in a module worker (workers have crypto.subtle too; the engine is the page's): a
 * Ruby V2 (AES-GCM) vector decrypted there, and a tampered copy refused. (An AES keyring: a
 * worker has no import map for the KMS keyrings' @aws-sdk/client-kms.)
 */
async function inWorker(engine) {
  const list = await (await fetch('/vector-index.json')).json();
  const c = list.find((x) => x.label === 'ruby/v2-aes-meta-0004101.json');
  if (!c) return ['worker: the vector ruby/v2-aes-meta-0004101.json is missing'];
  const body = new Uint8Array(await (await fetch(c.body)).arrayBuffer());
  const src = `
    globalThis.S3EC_ENGINE = ${JSON.stringify(engine)};
    const m = await import(${JSON.stringify(new URL('/pkg/browser.js', location.href).href)});
    const b64 = (s) => Uint8Array.from(atob(s), (x) => x.charCodeAt(0));
    onmessage = async ({ data: { v, body } }) => {
      const k = v.key;
      const keyring = new m.AesKeyring({ key: b64(k.key_b64) });
      const run = async (b) => {
        try {
          const pt = await m.decryptObject({ metadata: v.object.metadata, body: b, keyring, commitmentPolicy: v.decrypt.commitment_policy });
          return [...new Uint8Array(await crypto.subtle.digest('SHA-256', pt))].map((x) => x.toString(16).padStart(2, '0')).join('');
        } catch (e) {
          return e instanceof m.AuthenticationError ? 'authentication' : 'other ' + e;
        }
      };
      const bad = body.slice();
      bad[5] ^= 1;
      postMessage({ engine: m.engine, good: await run(body), bad: await run(bad) });
    };
    postMessage('ready');
  `;
  const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), { type: 'module' });
  try {
    const r = await new Promise((resolve, reject) => {
      w.onerror = (e) => reject(new Error(`worker: ${e.message}`));
      w.onmessage = ({ data }) => (data === 'ready' ? w.postMessage({ v: c.v, body }) : resolve(data));
    });
    const failures = [];
    if (r.engine !== engine) failures.push(`worker: engine ${r.engine}, not ${engine}`);
    if (r.good !== c.v.expect.plaintext_sha256.toLowerCase()) failures.push(`worker: ${r.good}`);
    if (r.bad !== 'authentication') failures.push(`worker, tampered: ${r.bad}`);
    return failures;
  } finally {
    w.terminate();
  }
}

(async () => {
  try {
    const v = await vectors();
    const rt = await roundTrips();
    const w = await inWorker(m.engine);
    window.__result = { engine: m.engine, vectors: v.count, failures: [...v.failures, ...rt.failures, ...w], tampered: rt.tampered, userAgent: navigator.userAgent };
  } catch (e) {
    window.__result = { vectors: 0, failures: [`page error: ${e && e.stack}`] };
  }
  out.textContent = JSON.stringify(window.__result, null, 1);
})();
