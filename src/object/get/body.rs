//! The GET machine's bodies: how much to feed, pass one (authenticated chunk by chunk, with a
//! digest per chunk), pass two and the storage replay (released only when a chunk matches pass
//! one), and the in-memory, delayed and ranged reads.

use super::*;

impl GetObject<'_> {
    /// How many bytes to pass in the next [`GetObject::body`] call for `id`.
    pub fn feed(&self, id: RequestId) -> Result<Feed> {
        let i = self.slot(id)?;
        let s =
            self.slots[i].ok_or(Error::ApiMisuse("GetObject::feed: not valid in this state"))?;
        let rem = s.remaining();
        let cap = |n: u64| n.min(usize::MAX as u64) as usize;
        let cbc = self.content().is_ok_and(|c| c == ContentAlgorithm::AesCbc);
        Ok(match (s.kind, self.plan) {
            (Kind::InstructionFile, _) => Feed {
                len: cap(rem),
                exact: false,
            },
            (Kind::Open { .. } | Kind::Body, Plan::InMemory) => Feed {
                len: cap(rem),
                exact: true,
            },
            (Kind::Release { .. }, _) => {
                // Up to the next chunk boundary, or to the end of the ciphertext, or the tag.
                let at = s.at();
                let ct_len = self.ct_len()?;
                let end = if at < ct_len {
                    ((at / self.digests.chunk + 1) * self.digests.chunk).min(ct_len)
                } else {
                    s.last + 1
                };
                Feed {
                    len: cap((end - at).min(rem)),
                    exact: true,
                }
            }
            (Kind::Open { .. } | Kind::Body, Plan::UnverifiedStorage) => {
                // Never across the end of the ciphertext: a stored piece is plaintext only.
                let at = s.at();
                let ct_len = self.ct_len()?;
                let to = if at < ct_len { ct_len - at } else { rem };
                Feed {
                    len: cap(rem.min(to).min(1 << 20)),
                    exact: false,
                }
            }
            (_, Plan::Delayed | Plan::Ranged) if cbc => Feed {
                len: cap(rem.min(64 << 10)),
                exact: true,
            },
            _ => Feed {
                len: cap(rem.min(1 << 20)),
                exact: false,
            },
        })
    }

    /// Feed the next piece of the body of `id` (sized by [`GetObject::feed`]). The machine may
    /// decrypt it in place: it tells which bytes of `piece` are now releasable plaintext, or where
    /// to store it (storage mode, pass one). Bytes past the length the request asked for are
    /// refused.
    pub fn body(&mut self, id: RequestId, piece: &mut [u8]) -> Result<Released> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.body_inner(id, piece);
        r.map_err(|e| self.fail(e))
    }

    /// The checks every body piece of `len` bytes passes (the request is being read, the piece
    /// is no longer than the request asked for nor than [`GetObject::feed`] allows, and an exact
    /// feed is met unless the body ended), then the piece is counted. Returns the slot index, the
    /// slot after the piece and the piece's stored offset; `None` for an empty piece.
    pub(super) fn accept_piece(
        &mut self,
        id: RequestId,
        len: usize,
    ) -> Result<Option<(usize, Slot, u64)>> {
        let i = self.slot(id)?;
        let mut s =
            self.slots[i].ok_or(Error::ApiMisuse("GetObject::body: not valid in this state"))?;
        if s.state != SlotState::Reading {
            return Err(Error::ApiMisuse("GetObject::body: not valid in this state"));
        }
        if len == 0 {
            return Ok(None);
        }
        if len as u64 > s.remaining() {
            return Err(if s.kind == Kind::InstructionFile {
                Error::InvalidMetadata("instruction file")
            } else {
                Error::UnexpectedResponse("the body is longer than the length asked for")
            });
        }
        let feed = self.feed(id)?;
        if len > feed.len {
            return Err(Error::ApiMisuse("GetObject::body: not valid in this state"));
        }
        if feed.exact && len < feed.len {
            // Fewer bytes than an exact feed asks for only come when the body ends (the
            // contract of `Feed`): the response is shorter than its length.
            return Err(Error::TruncatedBody);
        }
        let at = s.at();
        s.received += len as u64;
        if s.kind != Kind::InstructionFile && !(s.kind == Kind::Release { replay: true }) {
            self.fetched += len as u64;
        }
        self.slots[i] = Some(s);
        Ok(Some((i, s, at)))
    }

    pub(super) fn body_inner(&mut self, id: RequestId, piece: &mut [u8]) -> Result<Released> {
        let Some((i, s, at)) = self.accept_piece(id, piece.len())? else {
            return Ok(Released::Nothing);
        };
        match s.kind {
            Kind::InstructionFile => {
                self.lookup.body(piece)?;
                Ok(Released::Nothing)
            }
            Kind::Ranged => self.body_ranged(piece),
            Kind::Release { .. } => self.body_release(at, piece),
            Kind::Open { .. } | Kind::Body => match self.plan {
                Plan::InMemory => self.body_in_memory(&s, piece),
                Plan::Delayed => self.body_delayed(at, piece),
                Plan::UnverifiedStorage => {
                    // Hazmat (the caller's promise): authenticated and decrypted in one pass;
                    // the plaintext goes to the caller's unnamed storage, never to a reader.
                    let ct_len = self.ct_len()?;
                    self.pass_one(i, at, piece, true)?;
                    Ok(if at < ct_len {
                        Released::Store { offset: at }
                    } else {
                        Released::Nothing
                    })
                }
                Plan::Storage | Plan::TwoPass => {
                    self.pass_one(i, at, piece, false)?;
                    Ok(if self.plan == Plan::Storage {
                        Released::Store { offset: at }
                    } else {
                        Released::Nothing
                    })
                }
                Plan::Ranged => Err(Error::ApiMisuse("GetObject::body: not valid in this state")),
            },
        }
    }

    pub(super) fn body_in_memory(&mut self, s: &Slot, piece: &mut [u8]) -> Result<Released> {
        if s.remaining() != 0 {
            return Err(Error::ApiMisuse("GetObject::body: not valid in this state"));
        }
        let dec = self
            .decryptor
            .clone()
            .ok_or(Error::Internal("no decryptor for an in-memory read"))?;
        let n = dec.decrypt_whole_in_place(piece)?;
        self.released = n as u64;
        Ok(Released::Plaintext {
            start: 0,
            len: n,
            offset: 0,
        })
    }

    /// Pass one: authenticate `piece` (at stored offset `at`), chunk by chunk; with `decrypt`
    /// (GCM only, the hazmat unverified storage) also decrypt it in place in the same pass.
    pub(super) fn pass_one(
        &mut self,
        slot: usize,
        mut at: u64,
        mut piece: &mut [u8],
        decrypt: bool,
    ) -> Result<()> {
        let ct_len = self.ct_len()?;
        let chunk = self.digests.chunk;
        while !piece.is_empty() {
            if at >= ct_len {
                // The tag (GCM) — CBC has none, so `at` never reaches here for it.
                let k = (at - ct_len) as usize;
                let n = piece.len().min(16 - k);
                self.tag[k..k + n].copy_from_slice(&piece[..n]);
                piece = &mut core::mem::take(&mut piece)[n..];
                at += n as u64;
                continue;
            }
            let chunk_start = at / chunk * chunk;
            let chunk_end = (chunk_start + chunk).min(ct_len);
            let n = (piece.len() as u64).min(chunk_end - at) as usize;
            let hasher = match self.hashers[slot].take() {
                Some(h) => h,
                None => {
                    if at != chunk_start {
                        return Err(Error::ApiMisuse("GetObject::body: not valid in this state"));
                    }
                    match &self.parallel {
                        Some(pg) => Hasher::Gcm {
                            g: pg.segment_engine(chunk_start),
                            chunk_start,
                        },
                        None => Hasher::Sha {
                            h: sha2::Sha256::new(),
                            chunk_start,
                        },
                    }
                }
            };
            let hasher = match hasher {
                Hasher::Gcm { mut g, chunk_start } => {
                    if decrypt {
                        g.decrypt_in_place(&mut piece[..n])?;
                    } else {
                        g.authenticate_only(&piece[..n])?;
                    }
                    Hasher::Gcm { g, chunk_start }
                }
                Hasher::Sha { .. } if decrypt => {
                    return Err(Error::Internal("a CBC object in a fused pass"));
                }
                Hasher::Sha { mut h, chunk_start } => {
                    h.update(&piece[..n]);
                    Hasher::Sha { h, chunk_start }
                }
            };
            at += n as u64;
            piece = &mut core::mem::take(&mut piece)[n..];
            if at == chunk_end {
                let idx = chunk_start / chunk;
                let mut d = [0u8; 32];
                match hasher {
                    Hasher::Gcm { g, .. } => d[..16].copy_from_slice(&g.partial()),
                    Hasher::Sha { h, .. } => d.copy_from_slice(&h.finalize()),
                }
                self.digests.set(idx, d)?;
                self.chunks_done += 1;
            } else {
                self.hashers[slot] = Some(hasher);
            }
        }
        Ok(())
    }

    /// Pass two (or the storage replay): `piece` is one chunk (or the tag); release it only when
    /// it matches pass one.
    pub(super) fn body_release(&mut self, at: u64, piece: &mut [u8]) -> Result<Released> {
        let ct_len = self.ct_len()?;
        let changed = Error::ObjectChanged;
        if at >= ct_len {
            let k = (at - ct_len) as usize;
            if !bool::from(piece.ct_eq(&self.tag[k..k + piece.len()])) {
                return Err(changed);
            }
            return Ok(Released::Nothing);
        }
        let chunk = self.digests.chunk;
        let idx = at / chunk;
        if !at.is_multiple_of(chunk) {
            return Err(Error::ApiMisuse("GetObject::body: not valid in this state"));
        }
        let want = *self.digests.get(idx).ok_or(Error::Internal(
            "pass two reached a chunk pass one never recorded",
        ))?;
        if let Some(pg) = &self.parallel {
            let p = pg.authenticate_segment(at, piece)?;
            if !bool::from(p.value().ct_eq(&want[..16])) {
                return Err(changed);
            }
            pg.decrypt_segment_unauthenticated(at, piece)?;
            self.released += piece.len() as u64;
            self.chunks_done += 1;
            return Ok(Released::Plaintext {
                start: 0,
                len: piece.len(),
                offset: at,
            });
        }
        // CBC: SHA-256 digests, decrypted in order.
        let d: [u8; 32] = sha2::Sha256::digest(&piece[..]).into();
        if !bool::from(d.ct_eq(&want)) {
            return Err(changed);
        }
        if self.chunks_done != idx {
            return Err(Error::ApiMisuse("GetObject::body: not valid in this state"));
        }
        let cbc = self
            .cbc
            .as_mut()
            .ok_or(Error::Internal("no CBC state for a CBC release"))?;
        let last = at + piece.len() as u64 == ct_len;
        let n = cbc.decrypt(piece, last)?;
        self.chunks_done += 1;
        if last {
            let total = at + n as u64;
            if self.declared_len.is_some_and(|d| d != total) {
                piece.fill(0);
                return Err(Error::Authentication);
            }
        }
        self.released += n as u64;
        Ok(Released::Plaintext {
            start: 0,
            len: n,
            offset: at,
        })
    }

    /// **Hazmat** (delayed authentication): decrypt as it arrives; the tag is checked at the end.
    pub(super) fn body_delayed(&mut self, at: u64, piece: &mut [u8]) -> Result<Released> {
        let ct_len = self.ct_len()?;
        let d = self
            .delayed
            .as_mut()
            .ok_or(Error::Internal("no delayed-release state"))?;
        let n = d.release(at, ct_len, piece, &mut self.tag)?;
        // The plaintext offset, not the stored one: they part at the tag.
        let offset = self.released;
        self.released += n as u64;
        Ok(Released::Plaintext {
            start: 0,
            len: n,
            offset,
        })
    }

    /// **Hazmat** (ranged): decrypt the fetched bytes, keep the asked-for ones.
    pub(super) fn body_ranged(&mut self, piece: &mut [u8]) -> Result<Released> {
        let plan = self
            .range_plan
            .ok_or(Error::Internal("no range plan for a ranged read"))?;
        let stream = self
            .ranged
            .as_mut()
            .ok_or(Error::Internal("no ranged stream for a ranged read"))?;
        let offset = plan.first + self.released;
        let written = crate::hazmat::release_range(stream, piece)?;
        self.released += written as u64;
        Ok(Released::Plaintext {
            start: 0,
            len: written,
            offset,
        })
    }

    /// The body of `id` ended. Fewer bytes than asked for is [`Error::TruncatedBody`].
    pub fn end_of_body(&mut self, id: RequestId) -> Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.end_inner(id);
        r.map_err(|e| self.fail(e))
    }

    pub(super) fn end_inner(&mut self, id: RequestId) -> Result<()> {
        let i = self.slot(id)?;
        let s = self.slots[i].ok_or(Error::ApiMisuse(
            "GetObject::end_of_body: not valid in this state",
        ))?;
        if s.state != SlotState::Reading {
            return Err(Error::ApiMisuse(
                "GetObject::end_of_body: not valid in this state",
            ));
        }
        if self.host_pending(id) {
            return Err(Error::ApiMisuse(
                "GetObject::end_of_body: the host AEAD's result is due first",
            ));
        }
        self.slots[i] = None;
        self.hashers[i] = None;
        match s.kind {
            Kind::InstructionFile => return self.parse_envelope(),
            _ if s.remaining() != 0 => return Err(Error::TruncatedBody),
            Kind::Ranged => {
                self.ranged
                    .take()
                    .ok_or(Error::Internal(
                        "no ranged stream at the end of a ranged read",
                    ))?
                    .finish()?;
            }
            Kind::Open { .. } | Kind::Body if self.plan == Plan::Delayed => {
                self.delayed
                    .take()
                    .ok_or(Error::ApiMisuse(
                        "GetObject::end_of_body: not valid in this state",
                    ))?
                    .finish(&self.tag)?;
                let n = self.released;
                if self.declared_len.is_some_and(|d| d != n) {
                    return Err(Error::LengthMismatch);
                }
            }
            Kind::Body | Kind::Release { .. } => self.parts_done += 1,
            _ => {}
        }
        Ok(())
    }
}
