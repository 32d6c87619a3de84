//! The GET machine's key and plan: the data key the caller unwrapped, then how the body is read
//! (in memory, storage, two passes, parallel parts, a ranged or delayed read) and which requests
//! that takes, and the digest table of pass one.

use super::*;

/// Chunk digests of pass one.
pub(super) struct Digests {
    #[cfg(feature = "alloc")]
    pub(super) v: alloc::vec::Vec<[u8; 32]>,
    #[cfg(not(feature = "alloc"))]
    pub(super) v: [[u8; 32]; 512],
    pub(super) chunk: u64,
}

impl Digests {
    pub(super) fn new() -> Self {
        Digests {
            #[cfg(feature = "alloc")]
            v: alloc::vec::Vec::new(),
            #[cfg(not(feature = "alloc"))]
            v: [[0; 32]; 512],
            chunk: DIGEST_CHUNK,
        }
    }
    /// Size the table for `ct_len` ciphertext bytes: without an allocator the chunk grows so that
    /// 512 digests cover the object; with one, the table grows only as chunks arrive (`set`).
    pub(super) fn size_for(&mut self, ct_len: u64) -> Result<()> {
        let n = ct_len.div_ceil(DIGEST_CHUNK);
        #[cfg(feature = "alloc")]
        {
            usize::try_from(n).map_err(|_| Error::TooLarge)?;
            self.v.clear();
        }
        #[cfg(not(feature = "alloc"))]
        {
            let per = n.div_ceil(self.v.len() as u64).max(1);
            self.chunk = DIGEST_CHUNK * per;
        }
        Ok(())
    }
    pub(super) fn count(&self, ct_len: u64) -> u64 {
        ct_len.div_ceil(self.chunk)
    }
    /// The digest of chunk `i`, if pass one recorded it.
    pub(super) fn get(&self, i: u64) -> Option<&[u8; 32]> {
        self.v.get(usize::try_from(i).ok()?)
    }
    pub(super) fn set(&mut self, i: u64, d: [u8; 32]) -> Result<()> {
        let i = usize::try_from(i).map_err(|_| Error::TooLarge)?;
        #[cfg(feature = "alloc")]
        if i >= self.v.len() {
            let more = i + 1 - self.v.len();
            self.v.try_reserve(more).map_err(|_| Error::TooLarge)?;
            self.v.resize(i + 1, [0; 32]);
        }
        let slot = self.v.get_mut(i);
        *slot.ok_or(Error::Internal("a chunk past the digest table"))? = d;
        Ok(())
    }
}

impl GetObject<'_> {
    /// The key the caller must supply ([`GetNext::UnwrapKey`]): a KMS `Decrypt` request (the
    /// encryption context was checked against the intent's), or a local unwrap.
    pub fn key_request(&self) -> Result<KeyRequest<'_>> {
        let env = self.envelope.as_ref().ok_or(Error::ApiMisuse(
            "GetObject::key_request: not valid in this state",
        ))?;
        match self.intent.encryption_context {
            Some(ctx) => env.key_request(ctx),
            None => env.key_request_accepting_stored_context(),
        }
    }

    /// The unwrapped data key. For V3 the key commitment is checked before anything else; a
    /// mismatch is [`Error::Authentication`].
    pub fn data_key(&mut self, key: DataKey) -> Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.data_key_inner(key);
        r.map_err(|e| self.fail(e))
    }

    pub(super) fn data_key_inner(&mut self, key: DataKey) -> Result<()> {
        if self.phase != Phase::Key {
            return Err(Error::ApiMisuse(
                "GetObject::data_key: not valid in this state",
            ));
        }
        let env = self.envelope.as_ref().ok_or(Error::ApiMisuse(
            "GetObject::data_key: not valid in this state",
        ))?;
        let dec = env.decryptor(key, &self.intent.policy)?;
        self.plan_body(dec)
    }

    /// Unwrap the data key with a local AES master key (AES/GCM, and the legacy wraps the policy
    /// admits).
    pub fn unwrap_aes(&mut self, master: &crate::secret::AesKey) -> Result<()> {
        let env = self.envelope.as_ref().ok_or(Error::ApiMisuse(
            "GetObject::unwrap_aes: not valid in this state",
        ))?;
        let dk = env.unwrap_aes(master).map_err(|e| self.fail(e))?;
        self.data_key(dk)
    }

    /// Unwrap the data key with a local RSA private key.
    #[cfg(feature = "rsa")]
    pub fn unwrap_rsa<R: rsa::rand_core::TryCryptoRng + ?Sized>(
        &mut self,
        key: &rsa::PrivateKey,
        rng: &mut R,
    ) -> Result<()> {
        let env = self.envelope.as_ref().ok_or(Error::ApiMisuse(
            "GetObject::unwrap_rsa: not valid in this state",
        ))?;
        let dk = env.unwrap_rsa(key, rng).map_err(|e| self.fail(e))?;
        self.data_key(dk)
    }

    // ------------------------------------------------------------ planning

    pub(super) fn stored_len(&self) -> Result<u64> {
        Ok(self
            .object
            .as_ref()
            .ok_or(Error::ApiMisuse("GetObject::poll: not valid in this state"))?
            .stored_len)
    }

    pub(super) fn ct_len(&self) -> Result<u64> {
        let stored = self.stored_len()?;
        let tag = self.content()?.tag_len();
        stored.checked_sub(tag).ok_or(Error::TruncatedBody)
    }

    pub(super) fn content(&self) -> Result<ContentAlgorithm> {
        Ok(self
            .envelope
            .as_ref()
            .ok_or(Error::ApiMisuse("GetObject::poll: not valid in this state"))?
            .content_algorithm())
    }

    pub(super) fn plan_body(&mut self, dec: Decryptor) -> Result<()> {
        let stored = self.stored_len()?;
        let content = dec.content_algorithm();
        let gcm = content != ContentAlgorithm::AesCbc;
        dec.max_plaintext_len(stored)?;
        let open_body = self
            .open_id
            .and_then(|id| self.slot(id).ok())
            .filter(|&i| self.slots[i].is_some());
        self.plan = match self.intent.mode {
            ReadMode::Unauthenticated(UnauthenticatedRead(ReadKind::Range(range))) => {
                let env = self
                    .envelope
                    .as_ref()
                    .ok_or(Error::Internal("no envelope when planning the body"))?;
                let plan = RangePlan::for_envelope(range, stored, env)?;
                let stream = crate::hazmat::ranged(dec.clone(), &plan)?;
                self.ranged = Some(stream);
                self.range_plan = Some(plan);
                self.issue(Kind::Ranged, plan.fetch_first, plan.fetch_last, true)?;
                self.plan = Plan::Ranged;
                self.phase = Phase::Body;
                self.decryptor = Some(dec);
                return Ok(());
            }
            ReadMode::Unauthenticated(UnauthenticatedRead(ReadKind::Delayed)) => Plan::Delayed,
            ReadMode::Verified if stored <= self.intent.memory_budget => Plan::InMemory,
            ReadMode::Verified
                if self.intent.storage
                    && self.intent.unverified_plaintext_storage.is_some()
                    && gcm =>
            {
                Plan::UnverifiedStorage
            }
            ReadMode::Verified if self.intent.storage => Plan::Storage,
            ReadMode::Verified => Plan::TwoPass,
        };
        match self.plan {
            Plan::Delayed => self.delayed = Some(DelayedRelease::new(&dec)?),
            Plan::Storage | Plan::TwoPass | Plan::UnverifiedStorage => {
                self.digests.size_for(self.ct_len()?)?;
                if gcm {
                    self.parallel = Some(dec.parallel()?);
                } else {
                    self.cbc = Some(dec.cbc_in_place()?);
                }
            }
            _ => {}
        }
        self.decryptor = Some(dec);
        self.phase = Phase::Body;
        let parallel = self.parallel_parts()?;
        match open_body {
            // The open GET's body is pass one (or the whole read).
            Some(_) if parallel.is_none() => {}
            Some(i) => {
                // Parallel reads open with HEAD, so this does not happen; refuse rather than guess.
                let _ = i;
                return Err(Error::ApiMisuse("GetObject::poll: not valid in this state"));
            }
            None if parallel.is_none() => {
                let last = stored.saturating_sub(1);
                self.issue(Kind::Body, 0, last, false)?;
                if stored == 0 {
                    return Err(Error::TruncatedBody);
                }
            }
            None => {}
        }
        Ok(())
    }

    /// `(part size, parts)` when the body is read as concurrent ranged GETs.
    pub(super) fn parallel_parts(&self) -> Result<Option<(u64, u64)>> {
        if self.intent.connections <= 1
            || !matches!(
                self.plan,
                Plan::Storage | Plan::TwoPass | Plan::UnverifiedStorage
            )
            || self.parallel.is_none()
        {
            return Ok(None);
        }
        let stored = self.stored_len()?;
        let part = self.intent.part_size.max(self.digests.chunk);
        if stored <= part {
            return Ok(None);
        }
        Ok(Some((part, stored.div_ceil(part))))
    }

    /// Issue ranged part requests while fewer than `connections` are in flight. Returns whether
    /// one was issued.
    pub(super) fn issue_parts(&mut self) -> Result<bool> {
        let Some((part, parts)) = self.parallel_parts()? else {
            return Ok(false);
        };
        let kind = match self.phase {
            Phase::Body => Kind::Body,
            Phase::Release => Kind::Release {
                replay: self.plan == Plan::Storage,
            },
            _ => return Ok(false),
        };
        let in_flight = self.slots.iter().flatten().count() as u64;
        // In-order release: never more than `connections` parts ahead of the oldest unfinished
        // one, so the caller holds at most that many parts waiting for an earlier one.
        let oldest = self
            .slots
            .iter()
            .flatten()
            .map(|s| s.first / part)
            .min()
            .unwrap_or(self.parts_issued);
        let window_ok = self.phase != Phase::Release
            || self.plan != Plan::TwoPass
            || self.parts_issued < oldest + self.intent.connections as u64;
        if self.parts_issued >= parts || in_flight >= self.intent.connections as u64 || !window_ok {
            return Ok(false);
        }
        let stored = self.stored_len()?;
        let first = self.parts_issued * part;
        let last = (first + part).min(stored) - 1;
        self.parts_issued += 1;
        self.issue(kind, first, last, true)?;
        Ok(true)
    }

    /// Every body of the current phase is in: verify (pass one) or finish.
    pub(super) fn advance(&mut self) -> Result<GetNext> {
        match (self.phase, self.plan) {
            (Phase::Body, Plan::Storage | Plan::TwoPass) => {
                self.verify_pass_one()?;
                self.phase = Phase::Release;
                self.parts_issued = 0;
                self.parts_done = 0;
                self.chunks_done = 0;
                if self.parallel_parts()?.is_none() {
                    let stored = self.stored_len()?;
                    let replay = self.plan == Plan::Storage;
                    self.issue(Kind::Release { replay }, 0, stored - 1, replay)?;
                }
                self.poll_inner()
            }
            (Phase::Body, Plan::UnverifiedStorage) => {
                // Every byte is in the storage as unverified plaintext: Done (which lets the
                // caller expose it) only once the whole object's tag and length verified.
                self.verify_pass_one()?;
                let ct_len = self.ct_len()?;
                if self.declared_len.is_some_and(|d| d != ct_len) {
                    return Err(Error::LengthMismatch);
                }
                self.released = ct_len;
                self.phase = Phase::Done;
                Ok(GetNext::Done(self.done()?))
            }
            (Phase::Body | Phase::Release, _) => {
                self.phase = Phase::Done;
                Ok(GetNext::Done(self.done()?))
            }
            _ => Err(Error::ApiMisuse("GetObject::poll: not valid in this state")),
        }
    }

    pub(super) fn verify_pass_one(&mut self) -> Result<()> {
        let ct_len = self.ct_len()?;
        let n = self.digests.count(ct_len);
        if self.chunks_done != n || (0..n).any(|i| self.digests.get(i).is_none()) {
            return Err(Error::TruncatedBody);
        }
        if let Some(pg) = &self.parallel {
            let chunk = self.digests.chunk;
            let digests = &self.digests;
            let parts = (0..n).map(|i| {
                let off = i * chunk;
                let mut v = [0u8; 16];
                if let Some(d) = digests.get(i) {
                    v.copy_from_slice(&d[..16]);
                }
                PartialGhash::from_parts(off, chunk.min(ct_len - off), v)
            });
            pg.verify_iter(parts, &self.tag)?;
        }
        // CBC (legacy, unauthenticated): pass one only recorded digests; padding is checked as pass
        // two releases the last block.
        Ok(())
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    /// The digest table costs nothing for the length a response claims, only for the chunks
    /// pass one authenticated (a Content-Length of 2^50 once reserved 32 GiB before any byte
    /// arrived; found by the `machine_responses` fuzz target).
    #[test]
    fn digests_grow_with_the_chunks_received_not_the_claimed_length() {
        let mut d = Digests::new();
        d.size_for(1 << 40).unwrap();
        assert_eq!(d.v.capacity(), 0);
        assert_eq!(d.count(1 << 40), 1 << 20);
        assert!(d.get(0).is_none());
        d.set(2, [7; 32]).unwrap();
        assert_eq!(d.v.len(), 3);
        assert_eq!(d.get(2), Some(&[7; 32]));
        assert_eq!(d.get(1), Some(&[0; 32]));
        assert!(d.get(3).is_none());
        // A table sized again (a second pass one) starts empty.
        d.size_for(10).unwrap();
        assert!(d.get(0).is_none());
    }
}
