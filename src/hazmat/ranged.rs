//! The ranged stream: CTR (GCM objects) or CBC from the block before the range, over the bytes a
//! [`RangePlan`] fetched. Never authenticated.

use crate::decrypt::{Cbc, ContentKey, Decryptor};
use crate::error::{Error, Result};
use crate::gcm::GcmCtr;
use crate::range::RangePlan;
use crate::wrap::unpad_pkcs7;
use aes::cipher::KeyInit;
use zeroize::Zeroize;

/// [`crate::hazmat::ranged`].
pub(super) fn start(decryptor: Decryptor, plan: &RangePlan) -> Result<RangedStream> {
    if !decryptor.policy().legacy_unauthenticated_modes {
        return Err(Error::LegacyModeDisabled);
    }
    if plan.content != decryptor.content_algorithm() {
        return Err(Error::InvalidRange);
    }
    let inner = match decryptor.key() {
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
