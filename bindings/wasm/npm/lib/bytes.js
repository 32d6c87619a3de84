// Byte sources: Uint8Array, ArrayBuffer, Blob, string, web ReadableStream, Node Readable or any
// (async) iterable of chunks.
import { UsageError } from './errors.js';

/** Collect a body into one Uint8Array. */
export async function collect(body) {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (typeof Blob !== 'undefined' && body instanceof Blob) return new Uint8Array(await body.arrayBuffer());
  const parts = [];
  let n = 0;
  for await (const c of chunks(body)) {
    parts.push(c);
    n += c.length;
  }
  return concat(parts, n);
}

/** Concatenate chunks. */
export function concat(parts, n = parts.reduce((a, p) => a + p.length, 0)) {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Iterate the chunks of a stream-like body as Uint8Arrays. */
export async function* chunks(body) {
  if (body && typeof body.getReader === 'function') {
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield asBytes(value);
      }
    } finally {
      reader.releaseLock();
    }
  }
  if (body && (typeof body[Symbol.asyncIterator] === 'function' || typeof body[Symbol.iterator] === 'function')) {
    for await (const c of body) yield asBytes(c);
    return;
  }
  throw new UsageError('unsupported body type');
}

function asBytes(c) {
  if (c instanceof Uint8Array) return c;
  if (typeof c === 'string') return new TextEncoder().encode(c);
  if (c instanceof ArrayBuffer) return new Uint8Array(c);
  if (ArrayBuffer.isView(c)) return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  throw new UsageError('a body chunk must be bytes');
}

/**
 * A reader that hands out exactly `n` bytes at a time (fewer only at the end) from a chunk
 * iterator, each time in a fresh buffer of its own.
 *
 * Each chunk is copied into that buffer as it arrives (and dropped), not kept until the last one
 * came: the copy overlaps the wait for the network, and the chunks are never held beside it.
 */
export class ExactReader {
  /** `tolerant`: a failing source (a connection cut mid-body) just ends; `error` keeps why. */
  constructor(iter, { tolerant = false, spare = 0 } = {}) {
    this.iter = iter;
    this.spare = spare;
    this.rest = null;
    this.done = false;
    this.tolerant = tolerant;
    this.error = null;
  }
  /** The next chunk of the source (after what the last read left), or null at its end. */
  async next() {
    if (this.rest) {
      const r = this.rest;
      this.rest = null;
      return r;
    }
    while (!this.done) {
      let r;
      try {
        r = await this.iter.next();
      } catch (e) {
        if (!this.tolerant) throw e;
        this.error = e;
        r = { done: true };
      }
      if (r.done) this.done = true;
      else if (r.value.length) return r.value;
    }
    return null;
  }
  /**
   * The next `n` bytes (fewer only at the end), in `into` (an ArrayBuffer of at least `n` bytes,
   * reused by the caller) or else in a fresh buffer.
   */
  async read(n, into) {
    // Always a copy (the caller's chunks are never handed out), with `spare` bytes of room after.
    // The buffer is sized for `n` up front: the machine's piece sizes are bounded by its budget.
    const out = new Uint8Array(into ?? new ArrayBuffer(n + this.spare), 0, n);
    let at = 0;
    while (at < n) {
      const c = await this.next();
      if (c === null) break;
      const k = Math.min(c.length, n - at);
      out.set(k === c.length ? c : c.subarray(0, k), at);
      at += k;
      if (k < c.length) this.rest = c.subarray(k);
    }
    return at === n ? out : out.subarray(0, at);
  }
}
