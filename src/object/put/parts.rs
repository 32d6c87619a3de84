//! The multipart upload's parts: the jobs that encrypt each part as an independent segment of the
//! object's GCM stream (on any thread, in any order), and how the machine plans their reads and
//! combines their GHASH into the tag.

use super::*;

/// The encryption of one part: an independent segment of the object's GCM stream.
#[derive(Clone)]
pub struct PartJob {
    number: u32,
    offset: u64,
    len: u64,
    gcm: ParallelGcm,
}

impl core::fmt::Debug for PartJob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PartJob")
            .field("number", &self.number)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl PartJob {
    /// The part number.
    pub fn number(&self) -> u32 {
        self.number
    }
    /// The plaintext length of the part.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether the part is empty (only the tag).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Encrypt the part's plaintext in place (`buf` must be exactly the part).
    pub fn encrypt(&self, buf: &mut [u8]) -> Result<EncryptedPart> {
        if buf.len() as u64 != self.len {
            return Err(Error::LengthMismatch);
        }
        let partial = self.gcm.encrypt_segment(self.offset, buf)?;
        Ok(EncryptedPart {
            number: self.number,
            partial,
        })
    }
}

impl PartJob {
    /// Encrypt the part in pieces, in order ([`PartEncryptor`]), instead of whole in one buffer:
    /// for a transport that reads the part's plaintext again as it sends it. Each encryptor
    /// gives the same ciphertext.
    pub fn encryptor(&self) -> PartEncryptor {
        PartEncryptor {
            number: self.number,
            len: self.len,
            engine: self.gcm.segment_engine(self.offset),
            start: self.offset,
        }
    }
}

/// One pass over a part's plaintext, in pieces of any size ([`PartJob::encryptor`]).
pub struct PartEncryptor {
    number: u32,
    len: u64,
    start: u64,
    engine: crate::gcm::Gcm<aes::Aes256>,
}

impl core::fmt::Debug for PartEncryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PartEncryptor")
            .field("number", &self.number)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl PartEncryptor {
    /// Plaintext bytes of the part encrypted so far.
    pub fn position(&self) -> u64 {
        self.engine.processed() - self.start
    }

    fn check(&self, n: usize) -> Result<()> {
        match self.position().checked_add(n as u64) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::LengthMismatch),
        }
    }

    /// Encrypt the next plaintext bytes of the part in place (past its end:
    /// [`Error::LengthMismatch`]).
    pub fn encrypt_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.check(buf.len())?;
        self.engine.encrypt_in_place(buf)
    }

    /// Encrypt the next plaintext bytes `input` into `output[..input.len()]`.
    pub fn encrypt(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        let out = output.get_mut(..input.len()).ok_or(Error::BufferTooSmall {
            required: input.len(),
        })?;
        self.check(input.len())?;
        self.engine.encrypt_b2b(input, out)
    }

    /// The encrypted part, once all of it was encrypted ([`Error::LengthMismatch`] before). Two
    /// passes over the same plaintext give equal values; a pass over changed plaintext does not.
    pub fn finish(self) -> Result<EncryptedPart> {
        if self.position() != self.len {
            return Err(Error::LengthMismatch);
        }
        let (offset, len, number) = (self.start, self.len, self.number);
        Ok(EncryptedPart {
            number,
            partial: PartialGhash::from_parts(offset, len, self.engine.partial()),
        })
    }
}

/// A part encrypted by [`PartJob::encrypt`] (or a [`PartEncryptor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedPart {
    number: u32,
    partial: PartialGhash,
}

impl PutObject<'_> {
    pub(super) fn poll_parts(&mut self) -> Result<PutNext> {
        // Parts ready to upload (the last one only with the tag).
        if let Some(i) = self.parts.iter().position(|p| {
            p.is_some_and(|p| p.state == PartState::Encrypted && (!p.last || self.tag.is_some()))
        }) {
            let id = self.id();
            let p = self.parts[i]
                .as_mut()
                .ok_or(Error::ApiMisuse("PutObject::poll: not valid in this state"))?;
            p.state = PartState::Uploading;
            p.request = id;
            return Ok(PutNext::Send(id));
        }
        // Parts read, to encrypt.
        if let Some(p) = self
            .parts
            .iter_mut()
            .flatten()
            .find(|p| p.state == PartState::Read)
        {
            p.state = PartState::Encrypting;
            let gcm = self
                .gcm
                .clone()
                .ok_or(Error::Internal("no GCM state for a multipart upload"))?;
            return Ok(PutNext::EncryptPart(PartJob {
                number: p.number,
                offset: p.offset,
                len: p.len,
                gcm,
            }));
        }
        let in_flight = self.parts.iter().flatten().count();
        let reading = self
            .parts
            .iter()
            .flatten()
            .any(|p| p.state == PartState::Reading);
        if !self.read_done && !reading && in_flight < self.intent.parts_in_flight as usize {
            return self.next_read();
        }
        if self.read_done && in_flight == 0 {
            if Some(self.uploaded) != self.last_part {
                return Err(Error::ApiMisuse("PutObject::poll: not valid in this state"));
            }
            self.phase = Phase::Complete;
            return self.poll_inner();
        }
        Ok(PutNext::Wait)
    }

    pub(super) fn next_read(&mut self) -> Result<PutNext> {
        let number = self.next_part;
        if u64::from(number) > MAX_PARTS {
            return Err(Error::TooLarge);
        }
        let (offset, len) = match &self.plan {
            Some(plan) => {
                let p = plan
                    .parts()
                    .nth(number as usize - 1)
                    .ok_or(Error::ApiMisuse("PutObject::poll: not valid in this state"))?;
                (p.plaintext_offset, p.plaintext_len)
            }
            None => (self.consumed, self.intent.part_size),
        };
        let slot = self
            .parts
            .iter()
            .position(Option::is_none)
            .ok_or(Error::ApiMisuse("PutObject::poll: not valid in this state"))?;
        self.parts[slot] = Some(Part {
            number,
            offset,
            len,
            last: false,
            state: PartState::Reading,
            request: RequestId(0),
        });
        self.next_part += 1;
        Ok(PutNext::ReadPart {
            number,
            offset,
            len,
        })
    }

    fn part_index(&self, number: u32) -> Result<usize> {
        self.parts
            .iter()
            .position(|p| p.is_some_and(|p| p.number == number))
            .ok_or(Error::ApiMisuse(
                "PutObject::part_read: not valid in this state",
            ))
    }

    /// `n` plaintext bytes of part `number` were read. With a known length every part must be
    /// as long as planned; with an unknown one a short part is the last.
    pub fn part_read(&mut self, number: u32, n: u64) -> Result<()> {
        let r = self.part_read_inner(number, n);
        r.map_err(|e| self.fail(e))
    }

    fn part_read_inner(&mut self, number: u32, n: u64) -> Result<()> {
        let i = self.part_index(number)?;
        let mut p = self.parts[i].ok_or(Error::ApiMisuse(
            "PutObject::part_read: not valid in this state",
        ))?;
        if p.state != PartState::Reading || n > p.len {
            return Err(if n > p.len {
                Error::LengthMismatch
            } else {
                Error::ApiMisuse("PutObject::part_read: not valid in this state")
            });
        }
        let last = match &self.plan {
            Some(plan) => {
                if n != p.len {
                    return Err(Error::LengthMismatch);
                }
                number == plan.len()
            }
            None => n < p.len,
        };
        self.consumed = p.offset + n;
        if self.consumed > GCM_MAX_PLAINTEXT {
            return Err(Error::MessageTooLong);
        }
        p.len = n;
        p.last = last;
        p.state = PartState::Read;
        self.parts[i] = Some(p);
        if self.phase == Phase::Probe {
            let enc = self
                .encryptor
                .take()
                .ok_or(Error::Internal("no encryptor for a sequential part"))?;
            if last {
                // The whole body fit one part: one PutObject of what was read (the caller sends
                // the part it holds as the body).
                self.parts[i] = None;
                self.probed = Some(n);
                self.encryptor = Some(enc);
                self.phase = Phase::Single;
                return Ok(());
            }
            self.gcm = Some(enc.into_parallel()?);
            self.multipart = true;
            self.phase = Phase::Create;
        }
        if last {
            self.read_done = true;
            self.last_part = Some(number);
        }
        Ok(())
    }

    /// A part was encrypted ([`PartJob::encrypt`]).
    pub fn part_encrypted(&mut self, part: EncryptedPart) -> Result<()> {
        let r = self.part_encrypted_inner(part);
        r.map_err(|e| self.fail(e))
    }

    fn part_encrypted_inner(&mut self, e: EncryptedPart) -> Result<()> {
        let i = self.part_index(e.number)?;
        let p = self.parts[i].as_mut().ok_or(Error::ApiMisuse(
            "PutObject::part_encrypted: not valid in this state",
        ))?;
        if p.state != PartState::Encrypting
            || e.partial.offset() != p.offset
            || e.partial.len() != p.len
        {
            return Err(Error::ApiMisuse(
                "PutObject::part_encrypted: not valid in this state",
            ));
        }
        p.state = PartState::Encrypted;
        let slot = (e.number as usize - 1) % self.pending.len();
        if self.pending[slot].is_some() {
            return Err(Error::ApiMisuse(
                "PutObject::part_encrypted: not valid in this state",
            ));
        }
        self.pending[slot] = Some(e.partial);
        // Combine the partial values in stream order as they become available.
        let gcm = self
            .gcm
            .as_ref()
            .ok_or(Error::Internal("no GCM state for a multipart upload"))?;
        let acc = self.acc.get_or_insert_with(|| gcm.accumulator());
        loop {
            let next = self.absorbed + 1;
            let s = (next as usize - 1) % self.pending.len();
            match self.pending[s] {
                Some(p) if p.offset() == acc.position() => {
                    gcm.absorb(acc, &p)?;
                    self.pending[s] = None;
                    self.absorbed = next;
                }
                _ => break,
            }
        }
        if self.last_part == Some(self.absorbed) {
            let acc = self
                .acc
                .take()
                .ok_or(Error::Internal("no tag accumulator at the last part"))?;
            self.tag = Some(gcm.finish_tag(acc));
        }
        Ok(())
    }
}
