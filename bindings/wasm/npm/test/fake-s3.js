// An in-memory S3 that answers the package's commands (shared by the benchmark and tests).
// Commands are recognised by class name, so the real @aws-sdk classes and the test shims both work.
export function fakeS3() {
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
    uploads,
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

