// moto (S3 + KMS) on 127.0.0.1, started and stopped by the tests that use it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from './helpers.js';

export const cacheDir = process.env.S3EC_JS_CACHE ?? join(repoRoot, 'target');
export const motoBin = process.env.MOTO_SERVER ?? join(cacheDir, 'venv-moto', 'bin', 'moto_server');
export const pythonS3ec = process.env.S3EC_PYTHON ?? join(cacheDir, 'venv-s3ec', 'bin', 'python');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function startMoto() {
  if (!existsSync(motoBin)) throw new Error(`moto_server not found at ${motoBin} (run bindings/wasm/ci.sh)`);
  const port = await freePort();
  const child = spawn(motoBin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const endpoint = `http://127.0.0.1:${port}`;
  // Up to a minute (a loaded machine starts moto slowly); never go on before it answers.
  let ready = false;
  for (const deadline = Date.now() + 60_000; !ready && Date.now() < deadline; ) {
    try {
      const r = await fetch(`${endpoint}/moto-api/`);
      if (r.status < 500) ready = true;
    } catch {
      // not yet
    }
    if (child.exitCode !== null) throw new Error(`moto exited: ${stderr}`);
    if (!ready) await new Promise((r) => setTimeout(r, 50));
  }
  if (!ready) {
    child.kill('SIGTERM');
    throw new Error(`moto did not answer on ${endpoint} within 60 s: ${stderr}`);
  }
  return {
    endpoint,
    port,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

export async function clients(endpoint) {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const { KMSClient, CreateKeyCommand } = await import('@aws-sdk/client-kms');
  const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const s3 = new S3Client({
    ...common,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const kms = new KMSClient(common);
  const bucket = `b${Math.random().toString(36).slice(2, 10)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const key = await kms.send(new CreateKeyCommand({}));
  return { s3, kms, bucket, kmsKeyId: key.KeyMetadata.KeyId, common };
}
