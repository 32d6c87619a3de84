// Keyrings the user writes (an HSM, a Vault transit key, a hardware token): an object with
// `wrapDataKey(request)` and `unwrapDataKey(request)`, the protocol of KEYRINGS.md. The core draws
// the data key, builds the envelope from the keyring's wrap, and checks every data key handed
// back (the V3 key commitment, the tag) exactly as for the built-in keyrings.
import { WasmDataKey } from './engine.js';
import { AuthenticationError, FormatError, UsageError, core } from './errors.js';
import { flat } from './keyrings.js';

/** The wraps a user keyring may answer with. */
const WRAPS = new Set(['AES/GCM', 'RSA-OAEP-SHA1']);

function wrongKey() {
  return new FormatError('unsupported or mismatched key wrapping algorithm', { code: 'UnsupportedWrap' });
}

/** "Not my key": the keyring's own answer, or the core's for a wrap no user keyring may handle. */
const unsupported = (e) => !!e && (e.code === 'Unsupported' || e.code === 'UnsupportedWrap');

function bytesOf(b) {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  return null;
}

/** A user keyring driven through the engine's internal keyring methods. */
class CustomKeyring {
  constructor(keyring) {
    this._k = keyring;
    // The materials description stored when a write names none (a wrap answer may replace it).
    this.materialsDescription = keyring.materialsDescription ?? {};
  }
  get discovery() {
    return false;
  }
  /** Whether the keyring unwraps (a rotation reads back what it wrapped). */
  get canDecrypt() {
    return typeof this._k.unwrapDataKey === 'function';
  }

  /** Ask the keyring to wrap `req.dataKey`; the copy handed to it is wiped afterwards. */
  async _wrap(req) {
    if (typeof this._k.wrapDataKey !== 'function') {
      req.dataKey.fill(0);
      throw new UsageError('this keyring cannot wrap: it has no wrapDataKey');
    }
    let out;
    try {
      out = await this._k.wrapDataKey({
        dataKey: req.dataKey,
        contentCipher: req.contentCipher,
        materialsDescription: req.materialsDescription,
      });
    } finally {
      req.dataKey.fill(0);
    }
    if (!out || typeof out !== 'object' || !WRAPS.has(out.wrap)) {
      throw new UsageError("wrapDataKey must answer {wrap: 'AES/GCM' | 'RSA-OAEP-SHA1', encryptedDataKey, materialsDescription?}");
    }
    const edk = bytesOf(out.encryptedDataKey);
    if (!edk) throw new UsageError('wrapDataKey must answer encryptedDataKey as a Uint8Array');
    const md = flat(out.materialsDescription ?? req.materialsDescription);
    return { wrap: out.wrap, edk, md };
  }

  /** Ask the keyring to unwrap; the data key in the module (the keyring's copy is wiped). */
  async _unwrap(req) {
    if (!this.canDecrypt) throw new UsageError('this keyring cannot unwrap: it has no unwrapDataKey');
    let key;
    try {
      key = await this._k.unwrapDataKey(req);
    } catch (e) {
      // "Not my key" lets the caller try another key; every other failure is the opaque one.
      if (unsupported(e)) throw wrongKey();
      throw new AuthenticationError();
    }
    const bytes = bytesOf(key);
    if (!bytes) throw new UsageError('unwrapDataKey must return the data key as a Uint8Array');
    try {
      return WasmDataKey.fromBytes(bytes);
    } catch {
      throw new AuthenticationError();
    } finally {
      bytes.fill(0);
    }
  }

  /** @internal */
  async unwrap(target, req) {
    if (req.kind === 'kms') throw wrongKey();
    const dk = await this._unwrap(core(() => target.externalUnwrapRequest()));
    core(() => target.dataKey(dk));
  }
  /** @internal */
  async encryptMaterials(put) {
    const { wrap, edk, md } = await this._wrap(core(() => put.externalWrapRequest()));
    core(() => put.materialsExternal(wrap, edk, md));
  }
  /** @internal */
  async rewrap(rot) {
    const { wrap, edk, md } = await this._wrap(core(() => rot.externalWrapRequest(flat(this.materialsDescription))));
    core(() => rot.wrapExternal(wrap, edk, md));
  }
  /** @internal Whether this keyring opens the rotated envelope (`EnforceRotation`). */
  async opens(rot) {
    const req = core(() => rot.checkRequest());
    if (req.kind === 'kms' || !this.canDecrypt) return false;
    let dk;
    try {
      dk = await this._unwrap(core(() => rot.checkExternalRequest()));
    } catch (e) {
      if (e instanceof AuthenticationError || unsupported(e)) return false;
      throw e;
    }
    try {
      return rot.checkDataKey(dk);
    } finally {
      dk.free();
    }
  }
}

const isEngineKeyring = (k) => typeof k.unwrap === 'function' && typeof k.encryptMaterials === 'function';
const isUserKeyring = (k) => typeof k.wrapDataKey === 'function' || typeof k.unwrapDataKey === 'function';

/** A built-in keyring as it is, a user keyring adapted; anything else is a usage error. */
export function engineKeyring(keyring, what = 'keyring') {
  if (keyring && typeof keyring === 'object') {
    if (isEngineKeyring(keyring)) return keyring;
    if (isUserKeyring(keyring)) return new CustomKeyring(keyring);
  }
  throw new UsageError(`${what} must be a built-in keyring or an object with wrapDataKey and unwrapDataKey`);
}
