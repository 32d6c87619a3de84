// Benchmark (printed, not a test): headless Chromium, a 64 MiB V3 object read in memory with a
// verified decrypt through S3EncryptionClient.getObject (an in-memory S3 in the page, so the
// client, the core and the AEAD are timed, no network), on each browser engine: webcrypto (the
// wasm core hands the in-memory GCM open to crypto.subtle) and wasm (the core's portable AES and
// GHASH in WebAssembly). Beside them, crypto.subtle's own AES-256-GCM decrypt of the same bytes,
// and the page's S3 body stream read alone.
//   node bindings/wasm/bench-browser.mjs
// after bindings/wasm/build.sh and `npm ci` in bindings/wasm/npm; CHROMIUM (default
// /usr/bin/chromium), BENCH_RUNS (best of, default 3), BENCH_MIB (default 64).
import http from 'node:http';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = fileURLToPath(new URL('.', import.meta.url));
const npm = join(here, 'npm');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const runs = Number(process.env.BENCH_RUNS ?? 3);
const mib = Number(process.env.BENCH_MIB ?? 64);
if (!existsSync(join(npm, 'dist', 's3ec_core_bg.wasm'))) throw new Error('run bindings/wasm/build.sh first');
const { chromium } = createRequire(join(npm, 'package.json'))('playwright-core');

const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": { "@aws-sdk/client-s3": "/aws-shim.js", "@aws-sdk/client-kms": "/aws-shim.js" } }</script>
<script type="module">
const MIB = 1 << 20;
const N = ${mib} * MIB;
const runs = ${runs};
try {
  const m = await import('/pkg/browser.js');
  const { fakeS3 } = await import('/fake-s3.js');
  const s3 = fakeS3();
  const key = crypto.getRandomValues(new Uint8Array(32));
  // A memory budget over the stored length (plaintext + 16-byte tag): the in-memory plan.
  const c = new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key }), bufferSize: N + MIB });
  const pt = new Uint8Array(N);
  for (let at = 0; at < N; at += 65536) crypto.getRandomValues(pt.subarray(at, at + 65536));
  await c.putObject({ Bucket: 'b', Key: 'k', Body: pt });
  const best = async (f) => {
    let b = Infinity;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await f();
      b = Math.min(b, performance.now() - t);
    }
    return b;
  };
  let got;
  const ms = await best(async () => {
    got = await c.getObject({ Bucket: 'b', Key: 'k' });
  });
  let same = got.Body.length === N;
  for (let i = 0; same && i < N; i += 4093) same = got.Body[i] === pt[i];
  // The page's S3 alone: the stored body's stream read into one buffer (what any get pays here).
  const { GetObjectCommand } = await import('/aws-shim.js');
  const streamMs = await best(async () => {
    const r = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }));
    const parts = [];
    let n = 0;
    for (const rd = r.Body.getReader(); ; ) {
      const x = await rd.read();
      if (x.done) break;
      parts.push(x.value);
      n += x.value.length;
    }
    const all = new Uint8Array(n);
    let at = 0;
    for (const q of parts) {
      all.set(q, at);
      at += q.length;
    }
  });
  // crypto.subtle alone over the same number of bytes (its own key and IV).
  const k2 = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const iv = new Uint8Array(12);
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, k2, pt);
  const rawMs = await best(() => crypto.subtle.decrypt({ name: 'AES-GCM', iv }, k2, ct));
  window.__result = { engine: m.engine, ms, rawMs, streamMs, same, verification: got.verification, userAgent: navigator.userAgent };
} catch (e) {
  window.__result = { error: String(e && e.stack) };
}
</script>`;

const types = { '.js': 'text/javascript', '.wasm': 'application/wasm' };
const serve = (res, root, rest) => {
  const f = normalize(join(root, rest));
  if (!f.startsWith(root) || !existsSync(f)) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { 'content-type': types[extname(f)] ?? 'application/octet-stream' });
  res.end(readFileSync(f));
};
const server = http.createServer((req, res) => {
  const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (p === '/') {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end(page);
  }
  if (p === '/fake-s3.js') return serve(res, join(npm, 'test'), 'fake-s3.js');
  if (p === '/aws-shim.js') return serve(res, join(npm, 'test', 'browser'), 'aws-shim.js');
  if (p.startsWith('/pkg/')) return serve(res, npm, p.slice(5));
  res.writeHead(404);
  res.end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}/`;
const profile = mkdtempSync(join(tmpdir(), 's3ec-bench-browser-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const rows = [];
try {
  for (const engine of ['wasm', 'webcrypto']) {
    const p = await ctx.newPage();
    await p.addInitScript((e) => {
      globalThis.S3EC_ENGINE = e;
    }, engine);
    await p.goto(base);
    await p.waitForFunction(() => window.__result !== undefined, null, { timeout: 600_000 });
    const r = await p.evaluate(() => window.__result);
    await p.close();
    if (r.error) throw new Error(`${engine}: ${r.error}`);
    if (r.engine !== engine || !r.same || r.verification !== 'InMemory') throw new Error(`${engine}: ${JSON.stringify(r)}`);
    rows.push(r);
  }
} finally {
  await ctx.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
const n = mib * (1 << 20);
const mbs = (ms) => (n / 1e6 / (ms / 1000)).toFixed(0);
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores); ${rows[0].userAgent}`);
console.log(`${mib} MiB V3 object, getObject in memory (verified decrypt), best of ${runs}:`);
console.log('| engine | ms | MB/s |');
console.log('|---|---:|---:|');
for (const r of rows) console.log(`| ${r.engine} | ${r.ms.toFixed(0)} | ${mbs(r.ms)} |`);
console.log(`| (crypto.subtle.decrypt alone) | ${rows[1].rawMs.toFixed(0)} | ${mbs(rows[1].rawMs)} |`);
console.log(`| (the page's S3 body stream read into one buffer, no decrypt) | ${rows[1].streamMs.toFixed(0)} | ${mbs(rows[1].streamMs)} |`);
