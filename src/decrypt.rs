//! Decryption: bind a data key to an envelope, then choose how verified plaintext is released:
//! the whole body in a buffer, or verify-first in two passes. The unverified modes are in
//! [`crate::hazmat`].

use crate::envelope::{ContentAlgorithm, Envelope};
use crate::error::{Error, Result};
use crate::gcm::Gcm;
use crate::key_commitment as commit;
use crate::policy::DecryptPolicy;
use crate::secret::DataKey;
use crate::wrap::unpad_pkcs7;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

mod host;
mod stream;
pub use host::HostAead;
use stream::Engine;
pub(crate) use stream::{Cbc, CbcInPlace, Stream};

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) enum ContentKey {
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

/// A data key bound to an envelope. Pick a release mode: [`Decryptor::decrypt_whole`] or
/// [`Decryptor::verify_first`] (verified), or one of [`crate::hazmat`]'s gated ones
/// ([`crate::hazmat::delayed_authentication`], [`crate::hazmat::ranged()`]).
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

impl Decryptor {
    /// [`Envelope::decryptor`].
    pub(crate) fn new(env: &Envelope, data_key: DataKey, policy: &DecryptPolicy) -> Result<Self> {
        env.check_policy(policy)?;
        let key = match env.content_algorithm() {
            ContentAlgorithm::AesGcmCommitting => {
                let dk = data_key.as_256()?;
                // One HKDF extract for both outputs; the DEK is dropped (wiped) unless the
                // commitment matches.
                let (mut dek, ck) = commit::derive_v3(
                    dk,
                    env.message_id()
                        .ok_or(Error::Internal("a V3 envelope without a message id"))?,
                );
                if !bool::from(
                    ck.ct_eq(
                        env.key_commitment()
                            .ok_or(Error::Internal("a V3 envelope without a key commitment"))?,
                    ),
                ) {
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
                nonce.copy_from_slice(
                    env.iv()
                        .ok_or(Error::Internal("an envelope without a content IV"))?
                        .get(..12)
                        .ok_or(Error::Internal("an envelope without a content IV"))?,
                );
                ContentKey::Gcm {
                    key: *dk,
                    nonce,
                    aad_v3: false,
                }
            }
            ContentAlgorithm::AesCbc => {
                let mut key = [0u8; 32];
                key[..data_key.len()].copy_from_slice(data_key.as_bytes());
                let mut iv = [0u8; 16];
                iv.copy_from_slice(
                    env.iv()
                        .filter(|v| v.len() == 16)
                        .ok_or(Error::Internal("an envelope without a content IV"))?,
                );
                ContentKey::Cbc {
                    key,
                    key_len: data_key.len() as u8,
                    iv,
                }
            }
        };
        Ok(Decryptor {
            key,
            content: env.content_algorithm(),
            policy: *policy,
            declared_len: env.unencrypted_content_length(),
        })
    }

    /// The policy this decryptor was built under (the hazmat gates read it).
    pub(crate) fn policy(&self) -> &DecryptPolicy {
        &self.policy
    }
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

    /// Segment-wise (parallel) processing of this object's GCM stream, verified:
    /// [`ParallelGcm::decrypt_in_place_threaded`](crate::ParallelGcm) authenticates every segment
    /// on any threads and checks the combined tag before it decrypts, and
    /// [`crate::ParallelGcm::authenticate_segment`] with [`crate::ParallelGcm::verify`] checks a
    /// body spread over machines. Decrypting a segment before the tag is checked is
    /// [`crate::hazmat`]. GCM content only.
    pub fn parallel(&self) -> Result<crate::parallel::ParallelGcm> {
        match &self.key {
            ContentKey::Gcm { key, nonce, aad_v3 } => {
                let aad: &[u8] = if *aad_v3 { &[0x00, 0x73] } else { &[] };
                Ok(crate::parallel::ParallelGcm::new(key, nonce, aad))
            }
            ContentKey::Cbc { .. } => Err(Error::ApiMisuse(
                "Decryptor::parallel: not valid in this state",
            )),
        }
    }

    pub(crate) fn key(&self) -> &ContentKey {
        &self.key
    }

    /// The content algorithm.
    pub fn content_algorithm(&self) -> ContentAlgorithm {
        self.content
    }

    /// The sequential GCM engine of this object (GCM content).
    pub(crate) fn gcm_engine(&self) -> Result<Gcm<aes::Aes256>> {
        match self.engine()? {
            Engine::Gcm(g) => Ok(g),
            Engine::Cbc(_) => Err(Error::Internal("a GCM engine asked of a CBC decryptor")),
        }
    }

    /// In-place CBC decryption of this object from its start (CBC content).
    pub(crate) fn cbc_in_place(&self) -> Result<CbcInPlace> {
        match self.engine()? {
            Engine::Cbc(c) => Ok(CbcInPlace(c)),
            Engine::Gcm(_) => Err(Error::Internal("a CBC engine asked of a GCM decryptor")),
        }
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
                    return Err(Error::ApiMisuse(
                        "Decryptor::decrypt_whole: not valid in this state",
                    ));
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
                        if self.check_len(n as u64).is_err() {
                            out[..need].zeroize();
                            return Err(Error::Authentication);
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
                // One fused pass (GHASH of the ciphertext as it is decrypted), then the tag and
                // the declared length, in that order (as `decrypt_whole`): the buffer holds
                // unverified plaintext only inside this call, and is wiped if a check fails, so
                // nothing unauthenticated ever leaves it.
                let (ct, tag) = body.split_at_mut(need);
                g.decrypt_in_place(ct)?;
                let mut t = [0u8; 16];
                t.copy_from_slice(tag);
                match g.verify(&t).and_then(|()| self.check_len(need as u64)) {
                    Ok(()) => Ok(need),
                    Err(e) => {
                        body.zeroize();
                        Err(e)
                    }
                }
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
                    // CBC is unauthenticated: a length that does not match after unpadding looks
                    // exactly like a wrong key, and fails the same way (no oracle).
                    Some(_) | None => {
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
            dec: self.dec.clone(),
        })
    }
}

/// Pass two of verify-first decryption: releases plaintext of bytes already authenticated.
pub struct ReleasePass {
    stream: Stream,
    tag: [u8; 16],
    len: u64,
    dec: Decryptor,
}

impl core::fmt::Debug for ReleasePass {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReleasePass").finish_non_exhaustive()
    }
}

impl ReleasePass {
    /// What pass one verified: the decryptor, the tag and the ciphertext length (for
    /// [`crate::hazmat::rechecked_segments`]).
    pub(crate) fn verified(&self) -> (&Decryptor, &[u8; 16], u64) {
        (&self.dec, &self.tag, self.len)
    }
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
        let ReleasePass {
            stream, tag, len, ..
        } = self;
        if stream.released != len || !bool::from(stream.hold.ct_eq(&tag)) {
            return Err(Error::Authentication);
        }
        stream.finish(output)
    }
}

/// Decryption starts from an envelope and its data key.
impl Envelope {
    /// Bind the unwrapped data key. For V3 the key commitment is derived and compared with
    /// `x-amz-d` in constant time before anything else; a mismatch is [`Error::Authentication`].
    /// The policy is checked again here (it must be the one the envelope was parsed under).
    pub fn decryptor(&self, data_key: DataKey, policy: &DecryptPolicy) -> Result<Decryptor> {
        Decryptor::new(self, data_key, policy)
    }
}
