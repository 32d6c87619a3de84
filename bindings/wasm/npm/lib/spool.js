// Node only (node.js installs it; browsers have none): the storage of a one-pass verified read of
// an object over `bufferSize`. The core decrypts each piece of such a (GCM) object as it arrives,
// before the object's tag is checked, and only because this storage keeps its promise (the core's
// hazmat `unverified_plaintext_storage`): no name and no reader until the read is done, discarded
// on any error. It is a temporary file that never has a name (Linux `O_TMPFILE`) or whose name is
// removed before its first byte is written (other unix systems); only this process holds it, and
// closing it frees it. Where neither holds (Windows: an open file cannot be removed), there is no
// such storage and large objects are read twice instead.
import { constants } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// O_TMPFILE (__O_TMPFILE | O_DIRECTORY) on Linux x86-64 and arm64; Node does not export it.
const O_TMPFILE = 0o20200000;

/** An open file handle without a name, under `dir`; `null` where this platform has none. */
async function unnamedFile(dir) {
  if (process.platform === 'win32') return null;
  if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) {
    try {
      return await open(dir, O_TMPFILE | constants.O_RDWR, 0o600);
    } catch (e) {
      // No O_TMPFILE on this filesystem (EOPNOTSUPP) or kernel (EISDIR, EINVAL): name, then unlink.
      if (!['EOPNOTSUPP', 'EISDIR', 'EINVAL'].includes(e.code)) throw e;
    }
  }
  // A fresh 0700 directory of our own, a 0600 file created in it, both removed before any write.
  const d = await mkdtemp(join(dir, 's3ec-'));
  try {
    return await open(join(d, 'read'), 'wx+', 0o600);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
}

/**
 * The read's storage, `{write(offset, bytes), read(first, last), close()}`, its file opened at the
 * first write (most reads are within the budget and never write).
 */
export function unnamedStorage(dir = tmpdir()) {
  let file;
  const handle = async () => {
    file ??= unnamedFile(dir).then((f) => {
      if (!f) throw new Error('no unnamed storage on this platform');
      return f;
    });
    return file;
  };
  return {
    async write(offset, bytes) {
      const f = await handle();
      let at = 0;
      while (at < bytes.length) {
        const { bytesWritten } = await f.write(bytes, at, bytes.length - at, offset + at);
        at += bytesWritten;
      }
    },
    /** Bytes `first..=last` (exactly; a short file is an error). */
    async read(first, last) {
      const f = await handle();
      const out = new Uint8Array(last - first + 1);
      let at = 0;
      while (at < out.length) {
        const { bytesRead } = await f.read(out, at, out.length - at, first + at);
        if (bytesRead === 0) throw new Error('the read storage is shorter than what was written');
        at += bytesRead;
      }
      return out;
    },
    /** Close (and so free) the file, if one was opened. */
    async close() {
      const f = file;
      file = undefined;
      if (f) await (await f.catch(() => null))?.close();
    },
  };
}

/** Whether this platform can give an unnamed storage (`unnamedStorage` works). */
export const available = process.platform !== 'win32';
