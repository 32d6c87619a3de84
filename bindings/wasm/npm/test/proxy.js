// A misbehaving store: a loopback HTTP proxy in front of moto that lies in one way per case
// (the lies of tests/object.rs's hostile_storage_matrix, over real HTTP).
import http from 'node:http';

export async function startLiar(upstream) {
  const up = new URL(upstream);
  const state = { lie: { kind: 'honest' }, gets: new Map() };
  const server = http.createServer((req, res) => {
    const lie = state.lie;
    const url = new URL(req.url, 'http://x');
    const key = decodeURIComponent(url.pathname);
    if (lie.kind === 'unavailable') {
      req.resume();
      res.writeHead(503, { 'content-length': '0' });
      res.end();
      return;
    }
    const headers = { ...req.headers, host: up.host };
    const isInstr = key.endsWith('.instruction');
    if (lie.kind === 'failInstructionPut' && isInstr && req.method === 'PUT') {
      req.resume();
      res.writeHead(500, { 'content-length': '0' });
      res.end();
      return;
    }
    if (req.method === 'GET' && headers.range && !isInstr) {
      if (lie.kind === 'ignoreRange') delete headers.range;
      if (lie.kind === 'shiftRange') {
        headers.range = headers.range.replace(/bytes=(\d+)-(\d+)/, (_, a, b) => `bytes=${+a + 16}-${+b + 16}`);
      }
    }
    let path = req.url;
    if (lie.kind === 'swapInstructionFile' && isInstr) path = path.replace(/[^/]+\.instruction/, 'other.instruction');
    let nth = 0;
    if (req.method === 'GET' && !isInstr && !url.searchParams.has('uploads')) {
      nth = (state.gets.get(key) ?? 0) + 1;
      state.gets.set(key, nth);
    }
    const preq = http.request({ host: up.hostname, port: up.port, method: req.method, path, headers }, (pres) => {
      const h = { ...pres.headers };
      const body = [];
      pres.on('data', (c) => body.push(c));
      pres.on('end', () => {
        let data = Buffer.concat(body);
        const isObjRead = (req.method === 'GET' || req.method === 'HEAD') && pres.statusCode < 300;
        if (isObjRead && isInstr && lie.kind === 'endlessInstructionFile' && req.method === 'GET') {
          delete h['content-length'];
          h['transfer-encoding'] = 'chunked';
          res.writeHead(200, h);
          const chunk = Buffer.alloc(64 * 1024, 65);
          let sent = 0;
          const pump = () => {
            while (!res.destroyed && sent < 256 * 1024 * 1024) {
              sent += chunk.length;
              if (!res.write(chunk)) return res.once('drain', pump);
            }
            res.end();
          };
          res.on('close', () => (sent = Infinity));
          pump();
          return;
        }
        if (isObjRead && !isInstr) {
          if (lie.kind === 'flip' && lie.nth === nth && req.method === 'GET') {
            const cr = /bytes (\d+)-(\d+)\//.exec(h['content-range'] ?? '');
            const start = cr ? +cr[1] : 0;
            const i = lie.at - start;
            if (i >= 0 && i < data.length) {
              data = Buffer.from(data);
              data[i] ^= 0x04;
            }
          }
          if (lie.kind === 'manyHeaders') for (let i = 0; i < 10000; i++) h[`x-amz-meta-junk${i}`] = 'x';
          if (lie.kind === 'hugeHeader') h['x-amz-meta-junk'] = 'x'.repeat(1 << 20);
          if (lie.kind === 'headGetDisagree' && req.method === 'GET') h.etag = `${h.etag}x`;
          if (req.method === 'GET' && lie.kind === 'truncate') {
            res.writeHead(pres.statusCode, h);
            res.flushHeaders();
            res.write(data.subarray(0, data.length >> 1), () => setTimeout(() => res.destroy(), 20));
            return;
          }
          if (req.method === 'GET' && lie.kind === 'extend') {
            delete h['content-length'];
            h['transfer-encoding'] = 'chunked';
            res.writeHead(pres.statusCode, h);
            res.write(data);
            res.end(Buffer.alloc(100));
            return;
          }
        }
        res.writeHead(pres.statusCode, h);
        res.end(data);
      });
    });
    preq.on('error', () => res.destroy());
    req.pipe(preq);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    set(lie) {
      state.lie = lie;
      state.gets.clear();
    },
    async stop() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
}
