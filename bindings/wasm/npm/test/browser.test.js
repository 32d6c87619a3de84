// `npm pack` gives a tarball that a fresh project installs and uses from Node and from a browser
// page: the page (served on 127.0.0.1, opened in Debian's chromium by playwright-core) decrypts
// every vector and round-trips through an in-memory S3 with a WebCrypto key, on each browser
// engine (webcrypto, the default there, and wasm), and both refuse tampered objects alike. This
// platform's native package (bindings/node/build.sh) is packed and installed beside it where it
// was built, as npm installs an optional dependency, and Node runs on the engine this suite runs
// on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, relative } from 'node:path';
import { here, loadVectors, vectorRoot } from './helpers.js';
import { engine } from '../node.js';
import { platformTriple } from '../lib/native.js';

const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const pkgSrc = join(here, '..');
let work, project, server, base;

before(() => {
  work = mkdtempSync(join(tmpdir(), 's3ec-js-pack-'));
  const pack = (dir) => join(work, execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop());
  const tgzs = [pack(pkgSrc)];
  const platform = join(pkgSrc, 'platforms', platformTriple());
  if (existsSync(join(platform, 'package.json'))) tgzs.push(pack(platform));
  project = join(work, 'fresh');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fresh', version: '1.0.0', type: 'module', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', ...tgzs], { cwd: project, stdio: 'pipe' });
});
after(async () => {
  if (server) await new Promise((r) => server.close(r));
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the packed tarball installs into a fresh project and works from Node', () => {
  const pkg = join(project, 'node_modules', 's3-encryption');
  assert.ok(existsSync(join(pkg, 'dist', 's3ec_core_bg.wasm')));
  assert.ok(existsSync(join(pkg, 'index.d.ts')));
  const v = loadVectors().find((c) => c.label === 'python/v3-kms-ec-metadata-17.json') ?? loadVectors().find((c) => c.v.key.kind === 'aes' && !c.v.expect.error);
  writeFileSync(join(project, 'case.json'), JSON.stringify({ v: v.v, body: Buffer.from(v.body).toString('base64') }));
  const script = `
    import { decryptObject, AesKeyring, KmsDiscoveryKeyring, AuthenticationError, engine } from 's3-encryption';
    import { readFileSync } from 'node:fs';
    import { createHash } from 'node:crypto';
    const { v, body } = JSON.parse(readFileSync('case.json', 'utf8'));
    const k = v.key;
    const keyring = k.kind === 'aes' ? new AesKeyring({ key: Buffer.from(k.key_b64, 'base64') })
      : new KmsDiscoveryKeyring({ kmsClient: { send: async () => ({ Plaintext: Buffer.from(k.plaintext_b64, 'base64') }) } });
    const pt = await decryptObject({ metadata: v.object.metadata, body: Buffer.from(body, 'base64'), keyring,
      commitmentPolicy: v.decrypt.commitment_policy, encryptionContext: v.decrypt.encryption_context ?? {} });
    if (createHash('sha256').update(pt).digest('hex') !== v.expect.plaintext_sha256) throw new Error('mismatch');
    console.log('ok', pt.length, typeof AuthenticationError, engine);
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project, encoding: 'utf8' });
  assert.match(out, new RegExp(`^ok \\d+ function ${engine}\\n`));
});

const types = { '.js': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm', '.json': 'application/json' };

function serve(res, file) {
  if (!existsSync(file)) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
}

const browserResults = {};

for (const browserEngine of ['webcrypto', 'wasm']) {
test(`a browser page decrypts every vector and round-trips with a WebCrypto key (engine ${browserEngine})`, { skip: !existsSync(chromiumPath) && 'no chromium' }, async () => {
  const pkg = join(project, 'node_modules', 's3-encryption');
  const index = loadVectors().map((c) => {
    const dir = relative(vectorRoot, join(vectorRoot, c.label, '..'));
    return {
      label: c.label,
      v: c.v,
      body: `/vectors/${dir}/${c.v.object.body}`,
      ifile: c.v.instruction_file ? `/vectors/${dir}/${c.v.instruction_file.body}` : null,
    };
  });
  server ??= http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const inside = (root, rest) => {
      const f = normalize(join(root, rest));
      return f.startsWith(root) ? f : join(root, '__none__');
    };
    if (p === '/') return serve(res, join(here, 'browser', 'index.html'));
    if (p === '/vector-index.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(index));
    }
    if (p.startsWith('/pkg/')) return serve(res, inside(pkg, p.slice(5)));
    if (p.startsWith('/vectors/')) return serve(res, inside(vectorRoot, p.slice(9)));
    if (p.startsWith('/test-shim/')) return serve(res, inside(join(here, 'browser'), p.slice(11)));
    res.writeHead(404);
    res.end();
  });
  if (!server.listening) await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}/`;
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(work, 'profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await ctx.newPage();
    // webcrypto is the default where crypto.subtle exists (127.0.0.1 is a secure context); wasm
    // is forced the documented way, before the package loads.
    if (browserEngine === 'wasm') {
      await page.addInitScript(() => {
        globalThis.S3EC_ENGINE = 'wasm';
      });
    }
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(base);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 240_000 });
    const result = await page.evaluate(() => window.__result);
    console.log(`browser (${result.engine}): ${result.vectors} vectors, ${result.failures.length} failures (${result.userAgent})`);
    assert.deepEqual(errors, []);
    assert.equal(result.engine, browserEngine);
    assert.ok(result.vectors > 900);
    assert.deepEqual(result.failures, []);
    assert.equal(result.tampered.length, 6);
    browserResults[browserEngine] = result;
  } finally {
    await ctx.close();
  }
});
}

test('the browser engines refuse tampered objects alike', { skip: !existsSync(chromiumPath) && 'no chromium' }, () => {
  assert.deepEqual(browserResults.webcrypto.tampered, browserResults.wasm.tampered);
});
