// Keyrings: where the data key comes from. AES and RSA keys live in the wasm module's memory; KMS
// calls are made here with the caller's KMSClient, with exactly the request the core builds.
import { WasmAesKey, WasmRsaPrivateKey, WasmRsaPublicKey, WasmDataKey } from './engine.js';
import { AuthenticationError, FormatError, UsageError, core } from './errors.js';

const subtle = () => {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) throw new UsageError('WebCrypto (crypto.subtle) is not available in this runtime');
  return s;
};

const isCryptoKey = (k) =>
  typeof CryptoKey !== 'undefined' ? k instanceof CryptoKey : !!k && typeof k === 'object' && 'algorithm' in k && 'extractable' in k && 'usages' in k;

/** The raw bytes of an AES `CryptoKey` (keys given as bytes are taken by the constructor). */
async function rawBytes(key) {
  if (!key.extractable) {
    throw new UsageError(
      'a non-extractable CryptoKey cannot be used: the S3EC key wraps run in the WebAssembly core, ' +
        'which needs the key bytes (import the key with extractable: true, or pass its raw bytes)',
    );
  }
  return new Uint8Array(await subtle().exportKey('raw', key));
}

function pemToDer(pem) {
  const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!m) throw new UsageError('not a PEM block');
  const b64 = m[2].replace(/[^A-Za-z0-9+/=]/g, '');
  const bin = atob(b64);
  const der = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
  return { label: m[1], der };
}

/** The DER of an RSA key given as PEM text or DER bytes; `null` for the kinds read asynchronously. */
function rsaDerNow(key, want) {
  if (typeof key === 'string') {
    const { label, der } = pemToDer(key);
    const isPrivate = label.includes('PRIVATE');
    if (want === 'private' && !isPrivate) throw new UsageError('an RSA private key is required');
    return { der, isPrivate };
  }
  if (key instanceof Uint8Array) return { der: key, isPrivate: want === 'private' };
  return null;
}

const isRsaJwk = (key) => !!key && typeof key === 'object' && key.kty === 'RSA';

async function rsaDer(key, want) {
  const now = rsaDerNow(key, want);
  if (now) return now;
  if (isCryptoKey(key)) {
    if (!key.extractable) throw new UsageError('a non-extractable RSA CryptoKey cannot be used');
    const isPrivate = key.type === 'private';
    return { der: new Uint8Array(await subtle().exportKey(isPrivate ? 'pkcs8' : 'spki', key)), isPrivate };
  }
  if (isRsaJwk(key)) {
    const isPrivate = typeof key.d === 'string';
    const jwk = { ...key };
    delete jwk.alg;
    delete jwk.key_ops;
    delete jwk.use;
    const k = await subtle().importKey('jwk', jwk, { name: 'RSA-OAEP', hash: 'SHA-1' }, true, [isPrivate ? 'decrypt' : 'encrypt']);
    return { der: new Uint8Array(await subtle().exportKey(isPrivate ? 'pkcs8' : 'spki', k)), isPrivate };
  }
  throw new UsageError('an RSA key must be PEM text, a JWK, DER bytes or an extractable CryptoKey');
}

function wrongKey() {
  return new FormatError('unsupported or mismatched key wrapping algorithm', { code: 'UnsupportedWrap' });
}

/** An AES master key: raw bytes (16, 24 or 32) or an extractable WebCrypto `CryptoKey`. */
export class AesKeyring {
  constructor({ key, materialsDescription } = {}) {
    if (key === undefined) throw new UsageError('AesKeyring needs a key');
    this._input = key;
    this.materialsDescription = materialsDescription ?? {};
    this._key = null;
    // Bytes are copied and checked (their length) now, so that a bad key fails where it is
    // given; a CryptoKey is exported, and checked, at its first use.
    if (key instanceof Uint8Array || key instanceof ArrayBuffer) {
      const bytes = key instanceof ArrayBuffer ? new Uint8Array(key) : key;
      this._key = core(() => new WasmAesKey(bytes));
    } else if (!isCryptoKey(key)) {
      throw new UsageError('an AES key must be a Uint8Array, an ArrayBuffer or a CryptoKey');
    }
  }
  async _wasm() {
    if (!this._key) {
      const bytes = await rawBytes(this._input);
      this._key = core(() => new WasmAesKey(bytes));
    }
    return this._key;
  }
  /** @internal */
  async unwrap(target, req) {
    if (req.kind !== 'aes' && req.kind !== 'aesOrRsa') throw wrongKey();
    const k = await this._wasm();
    core(() => target.unwrapAes(k));
  }
  /** @internal */
  async encryptMaterials(put) {
    const k = await this._wasm();
    core(() => put.materialsAes(k));
  }
  /** @internal */
  async rewrap(rot) {
    const k = await this._wasm();
    core(() => rot.wrapAes(k, flat(this.materialsDescription)));
  }
  /** @internal */
  async opens(rot) {
    const k = await this._wasm();
    return rot.checkAes(k);
  }
}

/** An RSA key pair, or a public key alone (writes only). PEM, JWK, DER or extractable CryptoKey. */
export class RsaKeyring {
  constructor({ privateKey, publicKey, materialsDescription } = {}) {
    if (privateKey === undefined && publicKey === undefined) throw new UsageError('RsaKeyring needs a key');
    this._priv = privateKey;
    this._pub = publicKey;
    this.materialsDescription = materialsDescription ?? {};
    this._wpriv = null;
    this._wpub = null;
    // PEM text and DER bytes are parsed now, so that a bad key fails where it is given; a JWK
    // or a CryptoKey goes through WebCrypto at its first use.
    for (const [key, want] of [
      [privateKey, 'private'],
      [publicKey, 'public'],
    ]) {
      if (key === undefined) continue;
      const now = rsaDerNow(key, want);
      if (now && want === 'private') this._wpriv = core(() => WasmRsaPrivateKey.fromDer(now.der));
      else if (now) this._wpub = now.isPrivate ? core(() => WasmRsaPrivateKey.fromDer(now.der).publicKey()) : core(() => WasmRsaPublicKey.fromDer(now.der));
      else if (!isCryptoKey(key) && !isRsaJwk(key)) {
        throw new UsageError('an RSA key must be PEM text, a JWK, DER bytes or an extractable CryptoKey');
      }
    }
  }
  async _private() {
    if (!this._wpriv) {
      if (this._priv === undefined) throw new UsageError('this RsaKeyring has no private key: it can only write');
      const { der } = await rsaDer(this._priv, 'private');
      this._wpriv = core(() => WasmRsaPrivateKey.fromDer(der));
    }
    return this._wpriv;
  }
  async _public() {
    if (!this._wpub) {
      if (this._pub !== undefined) {
        const { der, isPrivate } = await rsaDer(this._pub, 'public');
        this._wpub = isPrivate ? core(() => WasmRsaPrivateKey.fromDer(der).publicKey()) : core(() => WasmRsaPublicKey.fromDer(der));
      } else {
        this._wpub = (await this._private()).publicKey();
      }
    }
    return this._wpub;
  }
  async unwrap(target, req) {
    if (req.kind !== 'rsa' && req.kind !== 'aesOrRsa') throw wrongKey();
    const k = await this._private();
    core(() => target.unwrapRsa(k));
  }
  async encryptMaterials(put) {
    const k = await this._public();
    core(() => put.materialsRsa(k));
  }
  async rewrap(rot) {
    const k = await this._public();
    core(() => rot.wrapRsa(k, flat(this.materialsDescription)));
  }
  async opens(rot) {
    if (this._priv === undefined) return false;
    return rot.checkRsa(await this._private());
  }
  /** Whether this keyring can unwrap (it holds the private key). */
  get canDecrypt() {
    return this._priv !== undefined;
  }
}

let kmsModule = null;
async function kms() {
  if (!kmsModule) {
    try {
      kmsModule = await import('@aws-sdk/client-kms');
    } catch (e) {
      throw new UsageError('the KMS keyrings need @aws-sdk/client-kms (npm install @aws-sdk/client-kms)', { cause: e });
    }
  }
  return kmsModule;
}

/**
 * The keyring's KMS client: the one given, or one made here (from `@aws-sdk/client-kms`, with
 * `region` or the SDK's default configuration) the first time KMS is called.
 */
async function kmsClientOf(k) {
  if (!k.kmsClient) {
    const { KMSClient } = await kms();
    k.kmsClient = new KMSClient(k._region ? { region: k._region } : {});
  }
  return k.kmsClient;
}

function checkKmsOptions(what, { kmsClient, region }) {
  if (kmsClient !== undefined && (kmsClient === null || typeof kmsClient.send !== 'function')) {
    throw new UsageError(`${what}: kmsClient must be a KMSClient of @aws-sdk/client-kms (it has no send method)`);
  }
  if (region !== undefined && (typeof region !== 'string' || !region)) throw new UsageError(`${what}: region must be a region name`);
  if (kmsClient !== undefined && region !== undefined) throw new UsageError(`${what}: region is for the KMSClient the keyring makes; a kmsClient was given`);
}

function kmsRefusal(e) {
  // A KMS refusal (wrong key, wrong context, bad blob, access denied) is an authentication
  // failure, kept opaque; anything else (network, throttling, 5xx) passes through.
  const status = e && e.$metadata && e.$metadata.httpStatusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && e.name !== 'ThrottlingException') {
    return new AuthenticationError();
  }
  return e;
}

async function kmsDecrypt(client, req, keyId) {
  const { DecryptCommand } = await kms();
  let out;
  try {
    out = await client.send(
      new DecryptCommand({
        CiphertextBlob: req.ciphertextBlob,
        EncryptionContext: req.encryptionContext,
        ...(keyId ? { KeyId: keyId } : {}),
      }),
    );
  } catch (e) {
    throw kmsRefusal(e);
  }
  return core(() => WasmDataKey.fromBytes(out.Plaintext));
}

/** A KMS key: writes `kms+context` envelopes under `kmsKeyId`, reads only what that key decrypts. */
export class KmsKeyring {
  constructor({ kmsClient, kmsKeyId, region } = {}) {
    if (typeof kmsKeyId !== 'string' || !kmsKeyId) throw new UsageError('KmsKeyring needs kmsKeyId (a key id, ARN or alias)');
    checkKmsOptions('KmsKeyring', { kmsClient, region });
    this.kmsClient = kmsClient;
    this._region = region;
    this.kmsKeyId = kmsKeyId;
  }
  /** @internal */
  get discovery() {
    return false;
  }
  async unwrap(target, req) {
    if (req.kind !== 'kms') throw wrongKey();
    const dk = await kmsDecrypt(await kmsClientOf(this), req, this.kmsKeyId);
    core(() => target.dataKey(dk));
  }
  async encryptMaterials(put) {
    const { GenerateDataKeyCommand } = await kms();
    const r = core(() => put.kmsRequest());
    const out = await (await kmsClientOf(this)).send(
      new GenerateDataKeyCommand({ KeyId: this.kmsKeyId, KeySpec: r.keySpec, EncryptionContext: r.encryptionContext }),
    );
    core(() => put.materialsKms(out.Plaintext, out.CiphertextBlob));
  }
  async rewrap(rot, encryptionContext = {}) {
    const { EncryptCommand } = await kms();
    const r = core(() => rot.kmsWrapRequest(flat(encryptionContext)));
    const out = await (await kmsClientOf(this)).send(
      new EncryptCommand({ KeyId: this.kmsKeyId, Plaintext: r.plaintext, EncryptionContext: r.encryptionContext }),
    );
    r.plaintext.fill(0);
    core(() => rot.wrapKms(out.CiphertextBlob));
  }
  async opens(rot) {
    const req = core(() => rot.checkRequest());
    if (req.kind !== 'kms') return false;
    try {
      await kmsDecrypt(await kmsClientOf(this), req, this.kmsKeyId);
      return true;
    } catch (e) {
      if (e instanceof AuthenticationError) return false;
      throw e;
    }
  }
}

/** KMS discovery: reads objects under any KMS key the caller may use (no writes). */
export class KmsDiscoveryKeyring {
  constructor({ kmsClient, region } = {}) {
    checkKmsOptions('KmsDiscoveryKeyring', { kmsClient, region });
    this.kmsClient = kmsClient;
    this._region = region;
  }
  get discovery() {
    return true;
  }
  async unwrap(target, req) {
    if (req.kind !== 'kms') throw wrongKey();
    const dk = await kmsDecrypt(await kmsClientOf(this), req, undefined);
    core(() => target.dataKey(dk));
  }
  async encryptMaterials() {
    throw new UsageError('a KMS discovery keyring cannot encrypt');
  }
  async rewrap() {
    throw new UsageError('a KMS discovery keyring cannot encrypt');
  }
  async opens(rot) {
    const req = core(() => rot.checkRequest());
    if (req.kind !== 'kms') return false;
    try {
      await kmsDecrypt(await kmsClientOf(this), req, undefined);
      return true;
    } catch (e) {
      if (e instanceof AuthenticationError) return false;
      throw e;
    }
  }
}

/** `{k: v}` or `[[k, v], …]` or a Map as the flat array the core takes. */
export function flat(m) {
  if (m === undefined || m === null) return [];
  const out = [];
  const entries = m instanceof Map ? m.entries() : Array.isArray(m) ? m : Object.entries(m);
  for (const [k, v] of entries) {
    if (typeof k !== 'string' || typeof v !== 'string') throw new UsageError('maps must hold strings');
    out.push(k, v);
  }
  return out;
}
