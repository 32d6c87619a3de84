// The webcrypto engine: the WebAssembly core drives every read and makes every decision, and for
// an in-memory read of a GCM object (V2 or V3, up to `bufferSize`) WebCrypto's AES-GCM does the
// bulk decrypt with the host's hardware AES (the wasm core has no AES instructions, ~45 MB/s).
//
// The hand-off (the core's `GetObject::host_aead`): once the whole stored body is in one buffer,
// the core checks its length (as it checks every body) and gives out the content key it derived
// and checked (for V3: after the key commitment matched), the IV and the AAD. `crypto.subtle.decrypt`
// checks the tag before it returns anything and returns nothing when the tag fails; its verdict
// goes back to the core, which releases the plaintext (or throws the same opaque
// AuthenticationError as the wasm engine, or LengthMismatch for a lying declared length). Every
// other read (two passes, storage, parallel parts, ranges, delayed authentication, legacy CBC)
// is the wasm core's, as on the wasm engine.
import { subtle } from './engine.js';

/**
 * For the piece `piece` of the body of request `id` of the GET machine `g`: when the engine is
 * webcrypto and the core offers the hand-off, open it with WebCrypto and return `{rel, bytes}`:
 * the core's release (`g.body`'s shape) over WebCrypto's output `bytes`. Otherwise `null`: feed
 * the piece to `g.body` as usual. `core` maps the core's errors.
 */
export async function hostOpen(g, id, piece, core) {
  if (!subtle) return null;
  const a = core(() => g.hostAead(id, piece.length));
  if (a === null || a === undefined) return null;
  let key;
  try {
    key = await subtle.importKey('raw', a.key, 'AES-GCM', false, ['decrypt']);
  } finally {
    a.key.fill(0);
  }
  let bytes = null;
  try {
    bytes = new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: a.iv, additionalData: a.aad, tagLength: 128 }, key, piece));
  } catch (e) {
    // WebCrypto's one failure of an AES-GCM open: the tag did not verify (nothing was returned).
    if (e?.name !== 'OperationError') throw e;
  }
  try {
    return { rel: core(() => g.hostAeadResult(id, bytes !== null)), bytes };
  } catch (e) {
    // The core refused the release (a declared length that lies): wipe what WebCrypto returned.
    bytes?.fill(0);
    throw e;
  }
}
