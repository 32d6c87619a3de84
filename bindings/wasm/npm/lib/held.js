// The storage of a one-pass verified read (Node; see spool.js) when the object fits in
// `bufferSize`: memory. The core decrypts each piece of a GCM object as it arrives, before the
// object's tag is checked (the core's hazmat `unverified_plaintext_storage`), and this storage
// keeps that plaintext where nobody can read it until the core says `Done`: in buffers of its own
// that nothing else references, dropped on any error. The cipher work thus overlaps the network,
// instead of following the last byte as in a read verified in one buffer. Objects larger than
// `limit` go to `file`, the unnamed temporary file.

/**
 * `{sized, keeps, write, read, held, close}`: memory for an object whose plaintext length (told by
 * `sized`, before the first write) is at most `limit`, else `file`. In memory, `contiguous` (a
 * whole-body read) gathers the pieces into one buffer as they come; otherwise the pieces written
 * are kept as they are (`keeps`: the caller must not reuse them) and released without a copy.
 */
export function heldOrFile(limit, file, { contiguous = false } = {}) {
  let memory = null; // the pieces [offset, bytes], or { buffer } when contiguous
  return {
    /** The object's plaintext length, once the core knows it. */
    sized(total) {
      if (memory === null && total !== undefined && total <= limit) {
        memory = contiguous ? { buffer: new Uint8Array(total) } : { pieces: [] };
      }
    },
    /** Whether a write keeps the buffer it is given (do not reuse it). */
    get keeps() {
      return memory !== null && !memory.buffer;
    },
    /** Whether the plaintext is held in memory (`held`), not in the file. */
    get inMemory() {
      return memory !== null;
    },
    async write(offset, bytes) {
      if (memory === null) return file.write(offset, bytes);
      if (memory.buffer) memory.buffer.set(bytes, offset);
      else memory.pieces.push([offset, bytes]);
    },
    async read(first, last) {
      if (memory === null) return file.read(first, last);
      throw new Error('a read held in memory is released with held()');
    },
    /** The plaintext held in memory, as `[offset, bytes]` in plaintext order (no copy). */
    held() {
      if (memory.buffer) return [[0, memory.buffer]];
      return memory.pieces.sort((a, b) => a[0] - b[0]);
    },
    async close() {
      memory = null;
      await file.close();
    },
  };
}
