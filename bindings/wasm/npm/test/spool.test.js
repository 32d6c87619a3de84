// The unnamed storage of one-pass reads over the budget (lib/spool.js): what it holds is readable
// only through its handle, it never appears in its directory, and closing it frees it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unnamedStorage } from '../lib/spool.js';

test('the read storage has no name, reads back what was written, and closes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 's3ec-spool-test-'));
  try {
    const s = unnamedStorage(dir);
    const a = new Uint8Array(3 << 20).map((_, i) => i * 7);
    await s.write(1 << 20, a.subarray(1 << 20));
    await s.write(0, a.subarray(0, 1 << 20));
    assert.deepEqual(await readdir(dir), [], 'nothing named in the directory');
    assert.deepEqual(await s.read(5, (3 << 20) - 1), a.subarray(5));
    await assert.rejects(s.read(0, 3 << 20), /shorter/);
    await s.close();
    await s.close();
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a storage never written opens no file', async () => {
  const s = unnamedStorage(join(tmpdir(), 'no-such-dir-s3ec'));
  await s.close();
});
