//! Decryption: bind a data key to an envelope, then choose how plaintext may be released.

use crate::commit;
use crate::error::{Error, Result};
use crate::format::{ContentAlgorithm, Envelope};
use crate::gcm::{Gcm, GcmCtr};
use crate::keys::DataKey;
use crate::keywrap::unpad_pkcs7;
use crate::policy::DecryptPolicy;
use aes::cipher::{BlockModeDecrypt, InnerIvInit, KeyInit, array::Array};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
enum ContentKey {
    Gcm {
        key: [u8; 32],
        nonce: [u8; 12],
        aad_v3: bool,
    },
    Cbc {
        key: [u8; 32],
        key_len: u8,
        iv: [u8; 16],
    },
}

/// A data key bound to an envelope. Pick a release mode: [`Decryptor::decrypt_whole`],
/// [`Decryptor::verify_first`], [`Decryptor::delayed_authentication_hazmat`] or
/// [`Decryptor::ranged_hazmat`].
#[derive(Clone)]
pub struct Decryptor {
    key: ContentKey,
    content: ContentAlgorithm,
    policy: DecryptPolicy,
    declared_len: Option<u64>,
}

impl core::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decryptor")
            .field("content", &self.content)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Envelope {
    /// Bind the unwrapped data key. For V3 the key commitment is derived and compared with
    /// `x-amz-d` in constant time before anything else; a mismatch is [`Error::Authentication`].
    /// The policy is checked again here (it must be the one the envelope was parsed under).
    pub fn decryptor(&self, data_key: DataKey, policy: &DecryptPolicy) -> Result<Decryptor> {
        self.check_policy(policy)?;
        let key = match self.content {
            ContentAlgorithm::AesGcmCommitting => {
                let dk = data_key.as_256()?;
                // One HKDF extract for both outputs; the DEK is dropped (wiped) unless the
                // commitment matches.
                let (mut dek, ck) = commit::derive_v3(dk, &self.message_id);
                if !bool::from(ck.ct_eq(&self.commitment)) {
                    dek.zeroize();
                    return Err(Error::Authentication);
                }
                ContentKey::Gcm {
                    key: dek,
                    nonce: [1; 12],
                    aad_v3: true,
                }
            }
            ContentAlgorithm::AesGcm => {
                let dk = data_key.as_256()?;
                let mut nonce = [0u8; 12];
                nonce.copy_from_slice(&self.iv[..12]);
                ContentKey::Gcm {
                    key: *dk,
                    nonce,
                    aad_v3: false,
                }
            }
            ContentAlgorithm::AesCbc => {
                let mut key = [0u8; 32];
                key[..data_key.len()].copy_from_slice(data_key.as_bytes());
                ContentKey::Cbc {
                    key,
                    key_len: data_key.len() as u8,
                    iv: self.iv,
                }
            }
        };
        Ok(Decryptor {
            key,
            content: self.content,
            policy: *policy,
            declared_len: self.unencrypted_len,
        })
    }
}

// ---------------------------------------------------------------- engines

enum Cbc {
    A128(cbc::Decryptor<aes::Aes128>),
    A192(cbc::Decryptor<aes::Aes192>),
    A256(cbc::Decryptor<aes::Aes256>),
}

impl Cbc {
    fn new(key: &[u8], iv: &[u8; 16]) -> Result<Self> {
        let iv = Array::from(*iv);
        Ok(match key.len() {
            16 => Cbc::A128(cbc::Decryptor::inner_iv_init(
                aes::Aes128::new_from_slice(key).map_err(|_| Error::InvalidKey)?,
                &iv,
            )),
            24 => Cbc::A192(cbc::Decryptor::inner_iv_init(
                aes::Aes192::new_from_slice(key).map_err(|_| Error::InvalidKey)?,
                &iv,
            )),
            32 => Cbc::A256(cbc::Decryptor::inner_iv_init(
                aes::Aes256::new_from_slice(key).map_err(|_| Error::InvalidKey)?,
                &iv,
            )),
            _ => return Err(Error::InvalidKey),
        })
    }
    fn block(&mut self, input: &[u8], out: &mut [u8]) {
        let (Ok(i), Ok(o)) = (
            <&Array<u8, aes::cipher::consts::U16>>::try_from(&input[..16]),
            <&mut Array<u8, aes::cipher::consts::U16>>::try_from(&mut out[..16]),
        ) else {
            return;
        };
        match self {
            Cbc::A128(c) => c.decrypt_block_b2b(i, o),
            Cbc::A192(c) => c.decrypt_block_b2b(i, o),
            Cbc::A256(c) => c.decrypt_block_b2b(i, o),
        }
    }
}

#[allow(clippy::large_enum_variant)] // no allocator: the engine lives inline
enum Engine {
    Gcm(Gcm<aes::Aes256>),
    Cbc(Cbc),
}

impl Decryptor {
    fn engine(&self) -> Result<Engine> {
        Ok(match &self.key {
            ContentKey::Gcm { key, nonce, aad_v3 } => {
                let aad: &[u8] = if *aad_v3 { &[0x00, 0x73] } else { &[] };
                Engine::Gcm(Gcm::new_256(key, nonce, aad))
            }
            ContentKey::Cbc { key, key_len, iv } => {
                Engine::Cbc(Cbc::new(&key[..*key_len as usize], iv)?)
            }
        })
    }

    /// Segment-wise (parallel) processing of this object's GCM stream: authenticate segments on any
    /// threads, [`crate::ParallelGcm::verify`] the combined tag, then decrypt the segments. GCM
    /// content only.
    pub fn parallel(&self) -> Result<crate::parallel::ParallelGcm> {
        match &self.key {
            ContentKey::Gcm { key, nonce, aad_v3 } => {
                let aad: &[u8] = if *aad_v3 { &[0x00, 0x73] } else { &[] };
                Ok(crate::parallel::ParallelGcm::new(key, nonce, aad))
            }
            ContentKey::Cbc { .. } => Err(Error::InvalidState),
        }
    }

    /// The content algorithm.
    pub fn content_algorithm(&self) -> ContentAlgorithm {
        self.content
    }

    /// Decrypt a whole object held in memory. For GCM the tag is verified **before** anything is
    /// written to `out`; for CBC (legacy) the padding is checked and `out` is wiped on failure.
    /// `out` must hold [`Decryptor::max_plaintext_len`] bytes. Returns the plaintext length.
    pub fn decrypt_whole(self, body: &[u8], out: &mut [u8]) -> Result<usize> {
        let need = self.max_plaintext_len(body.len() as u64)? as usize;
        if out.len() < need {
            return Err(Error::BufferTooSmall { required: need });
        }
        match self.engine()? {
            Engine::Gcm(mut g) => {
                let (ct, tag) = body.split_at(need);
                g.authenticate_only(ct)?;
                g.verify(tag)?;
                // A lying declared length is refused before any plaintext is written.
                self.check_len(need as u64)?;
                let Engine::Gcm(mut g2) = self.engine()? else {
                    return Err(Error::InvalidState);
                };
                g2.keystream_only(ct, &mut out[..need]);
                Ok(need)
            }
            Engine::Cbc(mut c) => {
                for (i, o) in body.chunks_exact(16).zip(out.chunks_exact_mut(16)) {
                    c.block(i, o);
                }
                match unpad_pkcs7(&out[..need]) {
                    Some(n) => {
                        if let Err(e) = self.check_len(n as u64) {
                            out[..need].zeroize();
                            return Err(e);
                        }
                        out[n..need].zeroize();
                        Ok(n)
                    }
                    None => {
                        out[..need].zeroize();
                        Err(Error::Authentication)
                    }
                }
            }
        }
    }

    /// [`Decryptor::decrypt_whole`] in place: `body` holds the stored body and, on success, the
    /// plaintext in its first bytes (the returned length). On failure `body` is wiped.
    pub fn decrypt_whole_in_place(self, body: &mut [u8]) -> Result<usize> {
        let need = self.max_plaintext_len(body.len() as u64)? as usize;
        match self.engine()? {
            Engine::Gcm(mut g) => {
                let (ct, tag) = body.split_at(need);
                g.authenticate_only(ct)?;
                g.verify(tag)?;
                self.check_len(need as u64)?;
                let Engine::Gcm(mut g2) = self.engine()? else {
                    return Err(Error::InvalidState);
                };
                g2.keystream_in_place(&mut body[..need]);
                Ok(need)
            }
            Engine::Cbc(mut c) => {
                let mut tmp = [0u8; 16];
                for blk in body.chunks_exact_mut(16) {
                    c.block(blk, &mut tmp);
                    blk.copy_from_slice(&tmp);
                }
                tmp.zeroize();
                match unpad_pkcs7(&body[..need]) {
                    Some(n) if self.check_len(n as u64).is_ok() => Ok(n),
                    Some(_) => {
                        body.zeroize();
                        Err(Error::LengthMismatch)
                    }
                    None => {
                        body.zeroize();
                        Err(Error::Authentication)
                    }
                }
            }
        }
    }

    fn check_len(&self, n: u64) -> Result<()> {
        match self.declared_len {
            Some(d) if d != n => Err(Error::LengthMismatch),
            _ => Ok(()),
        }
    }

    /// The largest plaintext a stored body of `body_len` bytes can hold (exact for GCM; for CBC
    /// the padded length). A body too short to be valid is [`Error::TruncatedBody`].
    pub fn max_plaintext_len(&self, body_len: u64) -> Result<u64> {
        match self.content {
            ContentAlgorithm::AesCbc => {
                if body_len == 0 || !body_len.is_multiple_of(16) {
                    Err(Error::TruncatedBody)
                } else {
                    Ok(body_len)
                }
            }
            _ => body_len.checked_sub(16).ok_or(Error::TruncatedBody),
        }
    }

    /// Verify-first streaming: pass one authenticates the whole body and releases nothing; pass two
    /// (over the same bytes: pin the object with its ETag or version id, or keep a spill copy)
    /// decrypts and checks the tag again.
    pub fn verify_first(self) -> Result<VerifyPass> {
        let stream = Stream::new(&self)?;
        Ok(VerifyPass { stream, dec: self })
    }

    /// Streaming decryption that releases plaintext **before** the tag is verified. The caller must
    /// discard everything released if [`Stream::finish`] fails. Requires
    /// [`DecryptPolicy::delayed_authentication`] (CBC objects are always unauthenticated and were
    /// admitted by `legacy_unauthenticated_modes`).
    pub fn delayed_authentication_hazmat(self) -> Result<Stream> {
        if !self.policy.delayed_authentication && self.content != ContentAlgorithm::AesCbc {
            return Err(Error::LegacyModeDisabled);
        }
        Stream::new(&self)
    }

    /// Unauthenticated ranged read of the bytes that `plan` fetched. Requires
    /// [`DecryptPolicy::legacy_unauthenticated_modes`]. V3 objects still had their key commitment
    /// checked when this decryptor was built.
    pub fn ranged_hazmat(self, plan: &RangePlan) -> Result<RangedStream> {
        if !self.policy.legacy_unauthenticated_modes {
            return Err(Error::LegacyModeDisabled);
        }
        if plan.content != self.content {
            return Err(Error::InvalidRange);
        }
        let inner = match &self.key {
            ContentKey::Gcm { key, nonce, .. } => RangedInner::Ctr(GcmCtr::new(
                aes::Aes256::new(&(*key).into()),
                nonce,
                plan.fetch_first,
            )?),
            ContentKey::Cbc { key, key_len, iv } => RangedInner::Cbc {
                key: *key,
                key_len: *key_len,
                iv: *iv,
                cbc: if plan.fetch_first == 0 {
                    Some(Cbc::new(&key[..*key_len as usize], iv)?)
                } else {
                    None
                },
                hold: [0; 16],
                hold_len: 0,
            },
        };
        Ok(RangedStream {
            inner,
            plan: *plan,
            pos: plan.fetch_first,
            emitted: 0,
        })
    }
}

// ---------------------------------------------------------------- streams

/// A streaming decryption with a hold-back of the final bytes (the GCM tag, or the last CBC block).
pub struct Stream {
    engine: Engine,
    hold: [u8; 16],
    hold_len: usize,
    released: u64,
    declared_len: Option<u64>,
}

impl core::fmt::Debug for Stream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stream")
            .field("released", &self.released)
            .finish_non_exhaustive()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.hold.zeroize();
    }
}

impl Stream {
    fn new(d: &Decryptor) -> Result<Self> {
        Ok(Stream {
            engine: d.engine()?,
            hold: [0; 16],
            hold_len: 0,
            released: 0,
            declared_len: d.declared_len,
        })
    }

    /// How many bytes [`Stream::update`] will write for an input of `input_len` bytes.
    pub fn output_len(&self, input_len: usize) -> usize {
        let avail = self.hold_len + input_len;
        match self.engine {
            Engine::Gcm(_) => avail.saturating_sub(16),
            Engine::Cbc(_) => {
                if avail == 0 {
                    0
                } else {
                    (avail - 1) / 16 * 16
                }
            }
        }
    }

    /// Process the next body bytes; writes exactly [`Stream::output_len`] bytes to `output`
    /// and returns that count. Too small an `output` changes nothing.
    pub fn update(&mut self, input: &[u8], output: &mut [u8]) -> Result<usize> {
        self.step(input, Some(output))
    }

    fn step(&mut self, input: &[u8], output: Option<&mut [u8]>) -> Result<usize> {
        let n = self.output_len(input.len());
        let out_slice: Option<&mut [u8]> = match output {
            Some(o) => {
                if o.len() < n {
                    return Err(Error::BufferTooSmall { required: n });
                }
                Some(&mut o[..n])
            }
            None => None,
        };
        if let Engine::Gcm(g) = &self.engine {
            // Reject before any state change if the limit would be passed.
            if g.processed() + n as u64 > crate::gcm::GCM_MAX_PLAINTEXT {
                return Err(Error::MessageTooLong);
            }
        }
        let from_hold = self.hold_len.min(n);
        let from_in = n - from_hold;
        let mut out_slice = out_slice;
        // Bytes from the hold first.
        {
            let held = self.hold;
            match (&mut self.engine, out_slice.as_deref_mut()) {
                (Engine::Gcm(g), Some(o)) => {
                    g.decrypt_b2b(&held[..from_hold], &mut o[..from_hold])?
                }
                (Engine::Gcm(g), None) => g.authenticate_only(&held[..from_hold])?,
                (Engine::Cbc(_), _) => {}
            }
        }
        match &mut self.engine {
            Engine::Gcm(g) => match out_slice.as_deref_mut() {
                Some(o) => g.decrypt_b2b(&input[..from_in], &mut o[from_hold..n])?,
                None => g.authenticate_only(&input[..from_in])?,
            },
            Engine::Cbc(c) => {
                // Whole blocks taken from hold ‖ input.
                let mut blk = [0u8; 16];
                let mut ob = [0u8; 16];
                let mut written = 0;
                while written < n {
                    for (j, b) in blk.iter_mut().enumerate() {
                        let idx = written + j;
                        *b = if idx < from_hold {
                            self.hold[idx]
                        } else {
                            input[idx - from_hold]
                        };
                    }
                    c.block(&blk, &mut ob);
                    if let Some(o) = out_slice.as_deref_mut() {
                        o[written..written + 16].copy_from_slice(&ob);
                    }
                    written += 16;
                }
                ob.zeroize();
            }
        }
        // New hold: remaining hold bytes, then the rest of the input.
        let rest_hold = self.hold_len - from_hold;
        self.hold.copy_within(from_hold..self.hold_len, 0);
        let tail = &input[from_in..];
        self.hold[rest_hold..rest_hold + tail.len()].copy_from_slice(tail);
        self.hold_len = rest_hold + tail.len();
        self.released += n as u64;
        Ok(n)
    }

    /// Bytes [`Stream::finish`] writes: 0 for GCM, up to 15 for CBC (the last block).
    pub fn finish_output_len(&self) -> usize {
        match self.engine {
            Engine::Gcm(_) => 0,
            Engine::Cbc(_) => 15,
        }
    }

    /// End of body: verify the tag (GCM) or padding (CBC) and write any final plaintext (CBC) to
    /// `output`. On error, discard everything this stream released.
    #[must_use = "an error here means the released plaintext must be discarded"]
    pub fn finish(mut self, output: &mut [u8]) -> Result<usize> {
        let n = self.finish_inner(Some(output))?;
        Ok(n)
    }

    fn finish_inner(&mut self, output: Option<&mut [u8]>) -> Result<usize> {
        if self.hold_len != 16 {
            return Err(Error::TruncatedBody);
        }
        let engine =
            core::mem::replace(&mut self.engine, Engine::Cbc(Cbc::new(&[0; 16], &[0; 16])?));
        match engine {
            Engine::Gcm(g) => {
                g.verify(&self.hold)?;
                match self.declared_len {
                    Some(d) if d != self.released => Err(Error::LengthMismatch),
                    _ => Ok(0),
                }
            }
            Engine::Cbc(mut c) => {
                let mut blk = [0u8; 16];
                let hold = self.hold;
                c.block(&hold, &mut blk);
                let r = unpad_pkcs7(&blk);
                let res = match r {
                    Some(p) => {
                        let total = self.released + p as u64;
                        if self.declared_len.is_some_and(|d| d != total) {
                            Err(Error::LengthMismatch)
                        } else if let Some(o) = output {
                            if o.len() < p {
                                blk.zeroize();
                                return Err(Error::BufferTooSmall { required: p });
                            }
                            o[..p].copy_from_slice(&blk[..p]);
                            Ok(p)
                        } else {
                            Ok(p)
                        }
                    }
                    None => Err(Error::Authentication),
                };
                blk.zeroize();
                res
            }
        }
    }
}

/// Pass one of verify-first decryption: authenticates, releases nothing.
pub struct VerifyPass {
    stream: Stream,
    dec: Decryptor,
}

impl core::fmt::Debug for VerifyPass {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifyPass").finish_non_exhaustive()
    }
}

impl VerifyPass {
    /// Feed the next body bytes.
    pub fn update(&mut self, input: &[u8]) -> Result<()> {
        self.stream.step(input, None).map(|_| ())
    }
    /// End of pass one: verify. On success, pass two may begin over the same bytes.
    pub fn finish(mut self) -> Result<ReleasePass> {
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&self.stream.hold);
        let len = self.stream.released;
        self.stream.finish_inner(None)?;
        Ok(ReleasePass {
            stream: Stream::new(&self.dec)?,
            tag,
            len,
        })
    }
}

/// Pass two of verify-first decryption: releases plaintext of bytes already authenticated.
pub struct ReleasePass {
    stream: Stream,
    tag: [u8; 16],
    len: u64,
}

impl core::fmt::Debug for ReleasePass {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReleasePass").finish_non_exhaustive()
    }
}

impl ReleasePass {
    /// Bytes [`ReleasePass::update`] writes for `input_len` input bytes.
    pub fn output_len(&self, input_len: usize) -> usize {
        self.stream.output_len(input_len)
    }
    /// Decrypt the next body bytes (the same bytes as pass one). Bytes past the length pass one
    /// authenticated are refused.
    pub fn update(&mut self, input: &[u8], output: &mut [u8]) -> Result<usize> {
        let n = self.stream.output_len(input.len());
        if self.stream.released + n as u64 > self.len {
            return Err(Error::LengthMismatch);
        }
        self.stream.update(input, output)
    }
    /// End of pass two: the body must be the one pass one verified (same length and tag, and the
    /// tag verifies again). On error, discard what pass two released.
    #[must_use = "an error here means the released plaintext must be discarded"]
    pub fn finish(self, output: &mut [u8]) -> Result<usize> {
        let ReleasePass { stream, tag, len } = self;
        if stream.released != len || !bool::from(stream.hold.ct_eq(&tag)) {
            return Err(Error::Authentication);
        }
        stream.finish(output)
    }
}

// ---------------------------------------------------------------- ranges

/// A requested plaintext byte range, as in an HTTP `Range: bytes=` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last` (inclusive).
    Inclusive(u64, u64),
    /// `bytes=first-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parse `bytes=a-b`, `bytes=a-` or `bytes=-n` (one range only).
    pub fn parse(s: &str) -> Result<Self> {
        let r = s.trim().strip_prefix("bytes=").ok_or(Error::InvalidRange)?;
        let (a, b) = r.split_once('-').ok_or(Error::InvalidRange)?;
        let num = |t: &str| -> Result<u64> {
            if t.is_empty() || t.len() > 20 || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Error::InvalidRange);
            }
            t.parse().map_err(|_| Error::InvalidRange)
        };
        match (a.trim(), b.trim()) {
            ("", n) => Ok(ByteRange::Suffix(num(n)?)),
            (a, "") => Ok(ByteRange::From(num(a)?)),
            (a, b) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    return Err(Error::InvalidRange);
                }
                Ok(ByteRange::Inclusive(a, b))
            }
        }
    }
}

/// What to fetch for a ranged read, and which decrypted bytes to keep (S3EC-FORMAT §6: one block
/// of slack before and after the request, the end clamped to the object length minus the tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangePlan {
    content: ContentAlgorithm,
    /// First plaintext byte returned.
    pub first: u64,
    /// Number of plaintext bytes returned at most (CBC ranges that reach the end may return
    /// fewer: the padding is removed).
    pub len: u64,
    /// First stored-body byte to fetch.
    pub fetch_first: u64,
    /// Last stored-body byte to fetch (inclusive): use `Range: bytes=fetch_first-fetch_last`.
    pub fetch_last: u64,
    object_len: u64,
}

impl RangePlan {
    /// Plan a ranged read of an object whose stored body is `object_len` bytes. A range that runs
    /// past the end is clamped, like S3; one that starts past the end is [`Error::InvalidRange`]
    /// (S3 answers 416). For CBC (legacy) objects the plaintext length is not known from the body
    /// length: a suffix range needs [`RangePlan::for_envelope`] and the declared length.
    pub fn new(range: ByteRange, object_len: u64, content: ContentAlgorithm) -> Result<Self> {
        if content == ContentAlgorithm::AesCbc && matches!(range, ByteRange::Suffix(_)) {
            return Err(Error::InvalidRange);
        }
        Self::plan(range, object_len, content, None)
    }

    /// [`RangePlan::new`] for the object `envelope` describes: for CBC objects the declared
    /// plaintext length (`x-amz-unencrypted-content-length`), if present, bounds the range, so
    /// suffix ranges work.
    pub fn for_envelope(range: ByteRange, object_len: u64, envelope: &Envelope) -> Result<Self> {
        let content = envelope.content_algorithm();
        let known = match content {
            ContentAlgorithm::AesCbc => envelope.unencrypted_content_length(),
            _ => None,
        };
        if let Some(k) = known {
            // The declared length must fit the padded body.
            if k >= object_len || object_len - k > 16 {
                return Err(Error::LengthMismatch);
            }
        } else if content == ContentAlgorithm::AesCbc && matches!(range, ByteRange::Suffix(_)) {
            return Err(Error::InvalidRange);
        }
        Self::plan(range, object_len, content, known)
    }

    fn plan(
        range: ByteRange,
        object_len: u64,
        content: ContentAlgorithm,
        known_plain: Option<u64>,
    ) -> Result<Self> {
        let tag = content.tag_len();
        let plain_max = match known_plain {
            Some(k) => k,
            None => object_len.checked_sub(tag).ok_or(Error::InvalidRange)?,
        };
        if plain_max == 0 {
            return Err(Error::InvalidRange);
        }
        let (a, b) = match range {
            ByteRange::Inclusive(a, b) => (a, b),
            ByteRange::From(a) => (a, u64::MAX),
            ByteRange::Suffix(n) => {
                if n == 0 {
                    return Err(Error::InvalidRange);
                }
                (plain_max.saturating_sub(n), plain_max - 1)
            }
        };
        if a >= plain_max || b < a {
            return Err(Error::InvalidRange);
        }
        let b = b.min(plain_max - 1);
        let fetch_first = if a < 16 { 0 } else { a - a % 16 - 16 };
        let fetch_last = (b / 16 + 2)
            .saturating_mul(16)
            .saturating_sub(1)
            .min(object_len - 1);
        Ok(RangePlan {
            content,
            first: a,
            len: b - a + 1,
            fetch_first,
            fetch_last,
            object_len,
        })
    }
    /// The HTTP `Range` header value to send.
    pub fn fetch_header(&self) -> RangeHeader {
        RangeHeader(self.fetch_first, self.fetch_last)
    }
    /// Bytes to fetch.
    pub fn fetch_len(&self) -> u64 {
        self.fetch_last - self.fetch_first + 1
    }
}

/// Displays as `bytes=a-b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeHeader(u64, u64);

impl core::fmt::Display for RangeHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "bytes={}-{}", self.0, self.1)
    }
}

enum RangedInner {
    Ctr(GcmCtr),
    Cbc {
        key: [u8; 32],
        key_len: u8,
        iv: [u8; 16],
        cbc: Option<Cbc>,
        hold: [u8; 16],
        hold_len: usize,
    },
}

/// Unauthenticated decryption of a fetched range.
pub struct RangedStream {
    inner: RangedInner,
    plan: RangePlan,
    pos: u64,
    emitted: u64,
}

impl core::fmt::Debug for RangedStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RangedStream")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl Drop for RangedStream {
    fn drop(&mut self) {
        if let RangedInner::Cbc { key, hold, .. } = &mut self.inner {
            key.zeroize();
            hold.zeroize();
        }
    }
}

impl RangedStream {
    /// Feed fetched bytes (in order, starting at `plan.fetch_first`); writes the requested
    /// plaintext bytes they yield and returns how many. `output` must hold `input.len()` bytes.
    pub fn update(&mut self, input: &[u8], output: &mut [u8]) -> Result<usize> {
        if output.len() < input.len() {
            return Err(Error::BufferTooSmall {
                required: input.len(),
            });
        }
        let held = match &self.inner {
            RangedInner::Cbc { hold_len, .. } => *hold_len as u64,
            RangedInner::Ctr(_) => 0,
        };
        if self.pos + held + input.len() as u64 > self.plan.fetch_last + 1 {
            return Err(Error::LengthMismatch);
        }
        let want_lo = self.plan.first;
        let want_hi = self.plan.first + self.plan.len; // exclusive
        let mut written = 0;
        match &mut self.inner {
            RangedInner::Ctr(c) => {
                let mut buf = [0u8; 1024];
                for chunk in input.chunks(1024) {
                    let start = self.pos;
                    let end = start + chunk.len() as u64;
                    c.apply(chunk, &mut buf[..chunk.len()])?;
                    let lo = want_lo.max(start);
                    let hi = want_hi.min(end);
                    if lo < hi {
                        let s = (lo - start) as usize;
                        let e = (hi - start) as usize;
                        output[written..written + (e - s)].copy_from_slice(&buf[s..e]);
                        written += e - s;
                    }
                    self.pos = end;
                }
                buf.zeroize();
            }
            RangedInner::Cbc {
                key,
                key_len,
                iv,
                cbc,
                hold,
                hold_len,
            } => {
                let mut i = 0;
                while i < input.len() {
                    let take = (16 - *hold_len).min(input.len() - i);
                    hold[*hold_len..*hold_len + take].copy_from_slice(&input[i..i + take]);
                    *hold_len += take;
                    i += take;
                    if *hold_len < 16 {
                        break;
                    }
                    let block_start = self.pos;
                    self.pos += 16;
                    *hold_len = 0;
                    let Some(c) = cbc.as_mut() else {
                        // The first fetched block is the IV of the next.
                        *iv = *hold;
                        *cbc = Some(Cbc::new(&key[..*key_len as usize], iv)?);
                        continue;
                    };
                    let mut pt = [0u8; 16];
                    c.block(&hold[..], &mut pt);
                    // The final block of the object: strip padding.
                    let mut valid = 16u64;
                    if self.pos == self.plan.object_len {
                        valid = unpad_pkcs7(&pt).ok_or(Error::Authentication)? as u64;
                    }
                    let lo = want_lo.max(block_start);
                    let hi = want_hi.min(block_start + valid);
                    if lo < hi {
                        let s = (lo - block_start) as usize;
                        let e = (hi - block_start) as usize;
                        output[written..written + (e - s)].copy_from_slice(&pt[s..e]);
                        written += e - s;
                    }
                    pt.zeroize();
                }
                // Account for partially filled hold in pos later.
            }
        }
        self.emitted += written as u64;
        Ok(written)
    }

    /// End of the fetched bytes. Fails if fewer bytes than planned arrived.
    pub fn finish(self) -> Result<u64> {
        let pos = match &self.inner {
            RangedInner::Ctr(_) => self.pos,
            RangedInner::Cbc { hold_len, .. } => self.pos + *hold_len as u64,
        };
        if pos != self.plan.fetch_last + 1 {
            return Err(Error::TruncatedBody);
        }
        if let RangedInner::Cbc { hold_len, .. } = &self.inner
            && *hold_len != 0
        {
            return Err(Error::TruncatedBody);
        }
        Ok(self.emitted)
    }
}
