//! The decryption engines (GCM, legacy CBC) and the hold-back stream both verify-first passes
//! and [`crate::hazmat::DelayedStream`] run on.

use super::Decryptor;
use crate::error::{Error, Result};
use crate::gcm::Gcm;
use crate::wrap::unpad_pkcs7;
use aes::cipher::{BlockModeDecrypt, InnerIvInit, KeyInit, array::Array};
use zeroize::Zeroize;

pub(crate) enum Cbc {
    A128(cbc::Decryptor<aes::Aes128>),
    A192(cbc::Decryptor<aes::Aes192>),
    A256(cbc::Decryptor<aes::Aes256>),
}

impl Cbc {
    pub(crate) fn new(key: &[u8], iv: &[u8; 16]) -> Result<Self> {
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
    pub(crate) fn block(&mut self, input: &[u8], out: &mut [u8]) {
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

/// Sequential in-place CBC decryption (legacy content) of whole blocks.
pub(crate) struct CbcInPlace(pub(super) Cbc);

impl CbcInPlace {
    /// Decrypt `buf` (whole blocks) in place; when it ends the object, check and strip the
    /// padding ([`Error::Authentication`], the buffer wiped). Returns the plaintext length.
    pub(crate) fn decrypt(&mut self, buf: &mut [u8], last: bool) -> Result<usize> {
        if !buf.len().is_multiple_of(16) || (last && buf.is_empty()) {
            return Err(Error::TruncatedBody);
        }
        let mut tmp = [0u8; 16];
        for blk in buf.chunks_exact_mut(16) {
            self.0.block(blk, &mut tmp);
            blk.copy_from_slice(&tmp);
        }
        tmp.zeroize();
        if !last {
            return Ok(buf.len());
        }
        let tail = buf.len() - 16;
        match unpad_pkcs7(&buf[tail..]) {
            Some(n) => Ok(tail + n),
            None => {
                buf.zeroize();
                Err(Error::Authentication)
            }
        }
    }
}

#[allow(clippy::large_enum_variant)] // no allocator: the engine lives inline
pub(crate) enum Engine {
    Gcm(Gcm<aes::Aes256>),
    Cbc(Cbc),
}

/// Bytes of the piece that joins the held bytes with the first input bytes (sixteen blocks).
const LEAD: usize = 256;

/// A streaming decryption with a hold-back of the final bytes (the GCM tag, or the last CBC block):
/// the engine of both verify-first passes and of [`crate::hazmat::DelayedStream`].
pub(crate) struct Stream {
    engine: Engine,
    pub(super) hold: [u8; 16],
    hold_len: usize,
    pub(super) released: u64,
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
    pub(crate) fn new(d: &Decryptor) -> Result<Self> {
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

    pub(super) fn step(&mut self, input: &[u8], output: Option<&mut [u8]>) -> Result<usize> {
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
        match &mut self.engine {
            Engine::Gcm(g) => {
                // The held bytes first, joined with the first input bytes into one 256-byte
                // piece (one iteration of the wide kernels): a chunk of a multiple of 256 bytes
                // then reaches the engine as whole iterations, none split at either end.
                let lead = if from_hold > 0 {
                    from_in.min(LEAD - from_hold)
                } else {
                    0
                };
                let mut first = [0u8; LEAD];
                first[..from_hold].copy_from_slice(&self.hold[..from_hold]);
                first[from_hold..from_hold + lead].copy_from_slice(&input[..lead]);
                let m = from_hold + lead;
                match out_slice.as_deref_mut() {
                    Some(o) => {
                        g.decrypt_b2b(&first[..m], &mut o[..m])?;
                        g.decrypt_b2b(&input[lead..from_in], &mut o[m..n])?;
                    }
                    None => {
                        g.authenticate_only(&first[..m])?;
                        g.authenticate_only(&input[lead..from_in])?;
                    }
                }
            }
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

    pub(super) fn finish_inner(&mut self, output: Option<&mut [u8]>) -> Result<usize> {
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
                            Err(Error::Authentication)
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
