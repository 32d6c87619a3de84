// The plaintext of a PUT, read into buffers of this package's own.
import { ExactReader, chunks, concat } from './bytes.js';

/** Room left after every buffer a Source hands out: the tag is appended in place. */
const TAG_ROOM = 16;

/**
 * A source of plaintext for a PUT. Every read returns bytes in a buffer of this package's own
 * (followed by `TAG_ROOM` spare bytes), never a view of the caller's memory: the machine
 * encrypts them in place.
 */
export class Source {
  constructor(body) {
    this.body = body;
    if (body === undefined || body === null) this.bytes = new Uint8Array(0);
    else if (typeof body === 'string') this.bytes = new TextEncoder().encode(body);
    else if (body instanceof ArrayBuffer) this.bytes = new Uint8Array(body);
    else if (ArrayBuffer.isView(body)) this.bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    else if (typeof Blob !== 'undefined' && body instanceof Blob) this.blob = body;
    else this.reader = new ExactReader(chunks(body)[Symbol.asyncIterator](), { spare: TAG_ROOM });
  }
  get length() {
    if (this.bytes) return this.bytes.length;
    if (this.blob) return this.blob.size;
    return undefined;
  }
  /** For a stream of declared length: whether bytes are left after everything was read. */
  async overrun() {
    if (!this.reader) return false;
    return (await this.reader.read(1)).length > 0;
  }
  /** A copy of `len` bytes at `offset` (sequential offsets for streams), fewer at the end. */
  async read(offset, len) {
    if (this.bytes) {
      const n = Math.max(0, Math.min(len, this.bytes.length - offset));
      const out = new Uint8Array(new ArrayBuffer(n + TAG_ROOM), 0, n);
      out.set(this.bytes.subarray(offset, offset + n));
      return out;
    }
    // A Blob's arrayBuffer() is a fresh copy already (the tag then goes on by concatenation).
    if (this.blob) return new Uint8Array(await this.blob.slice(offset, offset + len).arrayBuffer());
    return this.reader.read(len);
  }
}

/** `bytes ‖ tag`, in place when the buffer has room after `bytes` (a Source's always has). */
export function withTag(bytes, tag) {
  if (bytes.byteOffset + bytes.length + tag.length <= bytes.buffer.byteLength) {
    const out = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length + tag.length);
    out.set(tag, bytes.length);
    return out;
  }
  return concat([bytes, tag]);
}
