//! A verified (or, under the hazmat modes, unauthenticated) read: [`Get`] over [`GetObject`].

use crate::fail::{Core, Fail, R, usage};
use crate::opts::{
    Opts, decrypt_policy, expected_context, opt_bool, opt_bool_or_none, opt_str, opt_u64, suffix,
    texts,
};
use crate::shape;
use crate::texts::{GetCell, TextCell};
use crate::val::Val;
use s3_encryption::object::{
    GetDone, GetIntent, GetNext, GetObject, ReadMode, Released, RequestId,
};
use s3_encryption::rsa::PrivateKey;
use s3_encryption::{AesKey, ByteRange, DataKey, Error};

/// The machine of one read, with the texts it borrows.
#[derive(Debug)]
pub struct Get {
    m: GetCell,
}

machine_common!(Get, GetObject);

fn done(d: &GetDone) -> Val {
    Val::kind("done")
        .with("verification", format!("{:?}", d.verification))
        .with("released", d.released)
        .with("rangeFirst", d.range_first)
        .with("fetched", d.fetched)
        .with("object", shape::head(&d.object))
}

fn released(r: Released) -> Val {
    match r {
        Released::Plaintext { start, len, offset } => Val::kind("plaintext")
            .with("start", start)
            .with("len", len)
            .with("offset", offset),
        Released::Store { offset } => Val::kind("store").with("offset", offset),
        _ => Val::kind("nothing"),
    }
}

/// `{kind, id}`.
pub(crate) fn with_id(k: &str, id: RequestId) -> Val {
    Val::kind(k).with("id", id.get())
}

impl Get {
    /// Start a read. Options: `bucket`, `key`, `versionId`, `mode` (`"verified"` — the default —,
    /// `"delayedAuthentication"` or `"range"` with `range` = `"bytes=a-b"`, `"bytes=a-"` or
    /// `"bytes=-n"`), the policy options, `instructionFileSuffix`, `encryptionContext` /
    /// `acceptStoredEncryptionContext`, `memoryBudget`, `storage`, `connections`, `partSize`,
    /// `headFirst`, `readInstructionFile` (default true; false is `disableInstructionFile`),
    /// `unverifiedPlaintextStorage` (**hazmat**, with `storage`: the host's promise that its
    /// storage has no name and no reader until `done` and is discarded on any error — the core's
    /// [`s3_encryption::hazmat::unverified_plaintext_storage`] — so that a GCM object over the
    /// budget is decrypted into it in one pass).
    pub fn new(o: &dyn Opts) -> R<Get> {
        let mut t = texts(o)?;
        t.version_id = opt_str(o, "versionId")?;
        t.suffix = suffix(o, "instructionFileSuffix")?;
        t.context = expected_context(o)?;
        let mut it = GetIntent::new("", "");
        it.policy = decrypt_policy(o)?;
        it.mode = match opt_str(o, "mode")?.as_deref() {
            None | Some("verified") => ReadMode::Verified,
            Some("delayedAuthentication") => {
                ReadMode::Unauthenticated(s3_encryption::hazmat::delayed_authentication_read())
            }
            Some("range") => {
                let r =
                    opt_str(o, "range")?.ok_or_else(|| usage("mode range needs option range"))?;
                ReadMode::Unauthenticated(s3_encryption::hazmat::ranged_read(
                    ByteRange::parse(&r).c()?,
                ))
            }
            Some(other) => return Err(usage(&format!("unknown read mode {other}"))),
        };
        if let Some(b) = opt_bool_or_none(o, "readInstructionFile")? {
            it.read_instruction_file = b;
        }
        if let Some(b) = opt_u64(o, "memoryBudget")? {
            it.memory_budget = b;
        }
        it.storage = opt_bool(o, "storage")?;
        if opt_bool(o, "unverifiedPlaintextStorage")? {
            it.unverified_plaintext_storage =
                Some(s3_encryption::hazmat::unverified_plaintext_storage());
        }
        if let Some(c) = opt_u64(o, "connections")? {
            it.connections = u16::try_from(c).map_err(|_| Fail::from(Error::InvalidConfig))?;
        }
        if let Some(p) = opt_u64(o, "partSize")? {
            it.part_size = p;
        }
        it.head_first = opt_bool(o, "headFirst")?;
        let m = GetCell::try_new(TextCell::of(t), |c| {
            let t = c.texts();
            GetObject::new(GetIntent {
                bucket: &t.bucket,
                key: &t.key,
                version_id: t.version_id.as_deref(),
                instruction_file_suffix: &t.suffix,
                encryption_context: c.context(),
                ..it
            })
        })
        .c()?;
        Ok(Get { m })
    }

    /// What the machine needs: `{kind: "send" | "readBody" | "replay", id}`, `{kind:
    /// "unwrapKey"}`, `{kind: "wait"}` or `{kind: "done", verification, released, rangeFirst,
    /// fetched, object}`.
    pub fn poll(&mut self) -> R<Val> {
        Ok(match self.m_mut(|m| m.poll()).c()? {
            GetNext::Send(id) => with_id("send", id),
            GetNext::ReadBody(id) => with_id("readBody", id),
            GetNext::Replay(id) => with_id("replay", id),
            GetNext::UnwrapKey => Val::kind("unwrapKey"),
            GetNext::Wait => Val::kind("wait"),
            GetNext::Done(d) => done(&d),
        })
    }

    /// How many bytes the next [`Get::body`] takes: `{len, exact}`.
    pub fn feed(&self, id: u32) -> R<Val> {
        let f = self.m().feed(RequestId::from_raw(id)).c()?;
        Ok(Val::obj().with("len", f.len).with("exact", f.exact))
    }

    /// A piece of the body of `id`, decrypted in place when released: `{kind: "plaintext", start,
    /// len, offset}` (`piece.subarray(start, start + len)` is plaintext at `offset`), `{kind:
    /// "store", offset}` (write the piece to the storage) or `{kind: "nothing"}`.
    pub fn body(&mut self, id: u32, piece: &mut [u8]) -> R<Val> {
        Ok(released(
            self.m_mut(|m| m.body(RequestId::from_raw(id), piece)).c()?,
        ))
    }

    /// For the whole body of `id` (`len` bytes, which the host holds) of an in-memory GCM read:
    /// `{key, iv, aad}` for the host's AES-256-GCM open of that body (ciphertext, then the 16-byte
    /// tag), to be followed by [`Get::host_aead_result`]; `null` for every other read (feed the
    /// body to [`Get::body`]). See the core's `GetObject::host_aead`.
    pub fn host_aead(&mut self, id: u32, len: f64) -> R<Val> {
        let len = usize::try_from(len as u64).map_err(|_| Fail::from(Error::TooLarge))?;
        let a = self
            .m_mut(|m| m.host_aead(RequestId::from_raw(id), len))
            .c()?;
        Ok(a.map_or(Val::Null, |a| {
            Val::obj()
                .with("key", Val::bytes(a.key().as_bytes()))
                .with("iv", Val::bytes(a.nonce()))
                .with("aad", Val::bytes(a.aad()))
        }))
    }

    /// The host AEAD's verdict on the body of `id`: `verified` only when its open checked the tag
    /// and succeeded. Returns what [`Get::body`] returns (`plaintext` over the host's output), or
    /// throws the opaque authentication error (or `LengthMismatch`).
    pub fn host_aead_result(&mut self, id: u32, verified: bool) -> R<Val> {
        Ok(released(
            self.m_mut(|m| m.host_aead_result(RequestId::from_raw(id), verified))
                .c()?,
        ))
    }

    /// The body of `id` ended.
    pub fn end_of_body(&mut self, id: u32) -> R<()> {
        self.m_mut(|m| m.end_of_body(RequestId::from_raw(id))).c()
    }

    /// The storage range `[first, last]` to replay for `id`.
    pub fn replay_range(&self, id: u32) -> R<Vec<f64>> {
        let (a, b) = self.m().replay_range(RequestId::from_raw(id)).c()?;
        Ok(vec![a as f64, b as f64])
    }

    /// The key to supply (see `shape::key_request`).
    pub fn key_request(&self) -> R<Val> {
        Ok(shape::key_request(&self.m().key_request().c()?))
    }

    /// The unwrapped data key (KMS `Decrypt`'s `Plaintext`).
    pub fn data_key(&mut self, key: &DataKey) -> R<()> {
        self.m_mut(|m| m.data_key(key.clone())).c()
    }

    /// Unwrap the data key with an AES master key.
    pub fn unwrap_aes(&mut self, key: &AesKey) -> R<()> {
        self.m_mut(|m| m.unwrap_aes(key)).c()
    }

    /// Unwrap the data key with an RSA private key.
    pub fn unwrap_rsa(&mut self, key: &PrivateKey) -> R<()> {
        self.m_mut(|m| m.unwrap_rsa(key, &mut getrandom::SysRng))
            .c()
    }

    /// The envelope, once read (see `shape::envelope`), or `null`.
    pub fn envelope(&self) -> Val {
        self.m().envelope().map_or(Val::Null, shape::envelope)
    }

    /// At `unwrapKey`, for a JavaScript keyring: see `external::unwrap_request`.
    pub fn external_unwrap_request(&self) -> R<Val> {
        crate::external::unwrap_request(self.m().envelope().ok_or_else(crate::fail::out_of_order)?)
    }

    /// The object (`storedLength`, `etag`, `versionId`), once its first response came, or `null`.
    pub fn object(&self) -> Val {
        self.m().object().map_or(Val::Null, shape::head)
    }

    /// Whether the envelope came from the instruction file.
    pub fn instruction_file_used(&self) -> bool {
        self.m().instruction_file_used()
    }

    /// Plaintext bytes released so far.
    pub fn released(&self) -> f64 {
        self.m().released() as f64
    }

    /// The object's whole plaintext length, once its envelope and stored length are known and
    /// they say it.
    pub fn plaintext_length(&self) -> Option<f64> {
        let env = self.m().envelope()?;
        let o = self.m().object()?;
        env.plaintext_len(o.stored_len()).map(|n| n as f64)
    }
}
