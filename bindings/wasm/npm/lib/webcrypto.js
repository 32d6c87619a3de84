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
// is the wasm core's, as on the wasm engine. `decryptObject` (an object in hand) does the same
// through the envelope (the core's `Decryptor::host_aead`).
import { subtle } from './engine.js';

/**
 * WebCrypto's AES-GCM open of `body` (ciphertext then the 16-byte tag) under the hand-off `a`
 * (`{key, iv, aad}`; the key bytes are wiped once imported): the plaintext, or `null` when the
 * tag did not verify (WebCrypto then returns nothing).
 */
async function open(a, body) {
  let key;
  try {
    key = await subtle.importKey('raw', a.key, 'AES-GCM', false, ['decrypt']);
  } finally {
    a.key.fill(0);
  }
  try {
    return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: a.iv, additionalData: a.aad, tagLength: 128 }, key, body));
  } catch (e) {
    // WebCrypto's one failure of an AES-GCM open: the tag did not verify.
    if (e?.name !== 'OperationError') throw e;
    return null;
  }
}

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
  const bytes = await open(a, piece);
  try {
    return { rel: core(() => g.hostAeadResult(id, bytes !== null)), bytes };
  } catch (e) {
    // The core refused the release (a declared length that lies): wipe what WebCrypto returned.
    bytes?.fill(0);
    throw e;
  }
}

/**
 * `decryptObject`'s whole-object decrypt on the webcrypto engine: the plaintext of `body` under
 * the data key `dk` of the parsed envelope `env`, opened by WebCrypto and released when the core
 * says so; `null` where the core keeps the decrypt (legacy CBC) or the engine is not webcrypto.
 */
export async function hostOpenObject(env, dk, body, core) {
  if (!subtle) return null;
  const a = core(() => env.hostAead(dk, body.length));
  if (a === null || a === undefined) return null;
  const bytes = await open(a, body);
  try {
    const n = core(() => env.hostAeadResult(bytes !== null));
    return bytes.subarray(0, n);
  } catch (e) {
    bytes?.fill(0);
    throw e;
  }
}
