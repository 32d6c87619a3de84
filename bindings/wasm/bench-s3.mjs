// Benchmark (printed, not a test): put (multipart) and get through a local S3 (moto, on
// 127.0.0.1), Node, 40 MiB and 400 MiB: ours on the native engine, ours on the wasm engine, and
// raw @aws-sdk/client-s3, in the same run against the same server. Every transfer runs in its
// own child process, so its peak RSS is its own; bodies are generated in 1 MiB chunks on the fly
// and read bodies are discarded, so RSS is the transfer's, not the data's.
//   node bindings/wasm/bench-s3.mjs   (after bindings/wasm/build.sh, bindings/node/build.sh,
//                                      npm ci in npm/; moto from ci.sh's venv, S3EC_JS_CACHE)
//   BENCH_SIZES=40,400 (MiB)  BENCH_RUNS=1 (best of)  BENCH_OPS=put,get  BENCH_ENGINES=native,wasm
//   (add native-two-reads: the native engine with `storage: false`, reads over the budget twice)
import { spawnSync, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const MIB = 1 << 20;
const PART = 8 * MIB;
const IN_FLIGHT = 4;
const self = fileURLToPath(import.meta.url);
const npm = new URL('./npm/', import.meta.url);
// The SDK as the package's tests install it (npm ci in npm/).
const sdk = () => import(createRequire(new URL('package.json', npm)).resolve('@aws-sdk/client-s3'));

/** `size` bytes in fresh 1 MiB chunks (copies of one random block), as a Node Readable. */
function body(size) {
  const block = randomBytes(MIB);
  let left = size;
  return Readable.from(
    (function* () {
      while (left > 0) {
        const n = Math.min(MIB, left);
        left -= n;
        yield Buffer.from(block.subarray(0, n));
      }
    })(),
  );
}

async function discard(stream) {
  let n = 0;
  for await (const c of stream) n += c.length;
  return n;
}

/** Raw multipart put: 8 MiB parts, 4 in flight (our client's defaults). */
async function rawPut(s3, cmds, Bucket, Key, size) {
  const { UploadId } = await s3.send(new cmds.CreateMultipartUploadCommand({ Bucket, Key }));
  const parts = [];
  const inFlight = new Set();
  let pending = [];
  let have = 0;
  let number = 0;
  const send = (chunks) => {
    const PartNumber = ++number;
    const p = s3.send(new cmds.UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: Buffer.concat(chunks) })).then((r) => {
      parts.push({ PartNumber, ETag: r.ETag });
      inFlight.delete(p);
    });
    inFlight.add(p);
  };
  for await (const c of body(size)) {
    pending.push(c);
    have += c.length;
    if (have >= PART) {
      send(pending);
      pending = [];
      have = 0;
      while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
  }
  if (have > 0) send(pending);
  await Promise.all(inFlight);
  parts.sort((a, b) => a.PartNumber - b.PartNumber);
  await s3.send(new cmds.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
}

/** One transfer in this (child) process: prints `{ms, rss, engine}` as JSON. */
async function child(op, who, endpoint, size) {
  const cmds = await sdk();
  const s3 = new cmds.S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const Bucket = 'bench';
  const Key = `${who === 'native-two-reads' ? 'native' : who}-${size}`;
  // Loading the package (and compiling its engine) and making the client are not timed.
  const m = who === 'raw' ? undefined : await import(new URL('node.js', npm).href);
  // `native-two-reads`: the native engine without its default storage (objects over the budget
  // read twice, as in browsers): the before of the one-read storage.
  const storage = who === 'native-two-reads' ? { storage: false } : {};
  const client = m && new m.S3EncryptionClient({ s3Client: s3, keyring: new m.AesKeyring({ key: Buffer.alloc(32, 7) }), ...storage });
  const engine = m ? m.engine : 'sdk';
  const t = performance.now();
  if (who === 'raw') {
    if (op === 'put') await rawPut(s3, cmds, Bucket, Key, size);
    else {
      const r = await s3.send(new cmds.GetObjectCommand({ Bucket, Key }));
      if ((await discard(r.Body)) !== size) throw new Error('short read');
    }
  } else if (op === 'put') await client.putObject({ Bucket, Key, Body: body(size), ContentLength: size });
  else {
    const r = await client.getObject({ Bucket, Key }, { as: 'stream' });
    if ((await discard(r.Body)) !== size) throw new Error('short read');
  }
  const ms = performance.now() - t;
  console.log(JSON.stringify({ ms, rss: process.resourceUsage().maxRSS * 1024, engine }));
}

function run(op, who, endpoint, size) {
  const env = { ...process.env };
  if (who !== 'raw') env.S3EC_ENGINE = who === 'wasm' ? 'wasm' : 'native';
  const r = spawnSync(process.execPath, [self, 'child', op, who, endpoint, String(size)], { env, encoding: 'utf8', cwd: fileURLToPath(npm) });
  if (r.status !== 0) throw new Error(`${op} ${who} ${size}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  if (who !== 'raw' && out.engine !== env.S3EC_ENGINE) throw new Error(`${who} ran on ${out.engine}`);
  return out;
}

async function main() {
  const sizes = (process.env.BENCH_SIZES ?? '40,400').split(',').map((s) => Number(s) * MIB);
  const runs = Number(process.env.BENCH_RUNS ?? 1);
  const ops = (process.env.BENCH_OPS ?? 'put,get').split(',');
  const engines = (process.env.BENCH_ENGINES ?? 'native,wasm').split(',');
  const who = ['raw', ...engines];
  const { startMoto } = await import(new URL('test/moto.js', npm).href);
  const moto = await startMoto();
  try {
    const cmds = await sdk();
    const s3 = new cmds.S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new cmds.CreateBucketCommand({ Bucket: 'bench' }));
    let cpu = 'unknown';
    try {
      cpu = execFileSync('lscpu', { encoding: 'utf8' }).match(/^Model name:\s*(.+)$/m)?.[1] ?? cpu;
    } catch {
      // no lscpu
    }
    console.log(`CPU: ${cpu}; Node ${process.version}; local S3: moto on 127.0.0.1; best of ${runs}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const twoCols = engines.includes('native-two-reads');
    console.log(`| size | operation | raw @aws-sdk/client-s3 | ours, native | ours, wasm | native / raw | peak RSS raw / native / wasm (MiB) |${twoCols ? ' native, storage: false | its ratio |' : ''}`);
    console.log(`|---|---|---:|---:|---:|---:|---|${twoCols ? '---:|---:|' : ''}`);
    for (const size of sizes) {
      // Gets alone (BENCH_OPS=get) read objects put here first, untimed.
      if (!ops.includes('put')) for (const w of who) if (w !== 'native-two-reads') run('put', w, moto.endpoint, size);
      for (const op of ops) {
        const res = {};
        // Alternating order (raw, ours, raw, ours, …) so that load changes hit both alike.
        for (let i = 0; i < runs; i++) {
          for (const w of who) {
            if (op === 'put' && w === 'native-two-reads') continue;
            const r = run(op, w, moto.endpoint, size);
            if (!res[w] || r.ms < res[w].ms) res[w] = r;
          }
        }
        const rate = (r) => (r ? `${(size / MIB / (r.ms / 1000)).toFixed(0)} MiB/s` : '–');
        const rss = ['raw', 'native', 'wasm'].map((w) => (res[w] ? (res[w].rss / MIB).toFixed(0) : '–')).join(' / ');
        const label = op === 'put' ? 'put (multipart, 8 MiB parts, 4 in flight)' : 'get (stream, discarded)';
        const two = res['native-two-reads'];
        const extra = engines.includes('native-two-reads') ? ` ${rate(two)} | ${two ? (res.raw.ms / two.ms).toFixed(2) : '–'} |` : '';
        console.log(`| ${size / MIB} MiB | ${label} | ${rate(res.raw)} | ${rate(res.native)} | ${rate(res.wasm)} | ${(res.raw.ms / res.native.ms).toFixed(2)} | ${rss} |${extra}`);
      }
    }
    console.log(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await moto.stop();
  }
}

if (process.argv[2] === 'child') await child(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]));
else await main();
