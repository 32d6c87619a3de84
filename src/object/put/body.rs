//! The single PutObject's body: encrypted in place in the caller's buffers as it streams, then
//! the tag that ends it.

use super::*;

impl PutObject<'_> {
    /// Encrypt the next bytes of a single PutObject's body in place (after its
    /// [`PutNext::Send`]). More than the declared length is [`Error::LengthMismatch`].
    pub fn encrypt(&mut self, buf: &mut [u8]) -> Result<()> {
        let r = self.encrypt_inner(buf);
        r.map_err(|e| self.fail(e))
    }

    fn encrypt_inner(&mut self, buf: &mut [u8]) -> Result<()> {
        if self.phase != Phase::Single
            || !matches!(self.outstanding, Some((_, Operation::PutObject)))
        {
            return Err(Error::ApiMisuse(
                "PutObject::encrypt: not valid in this state",
            ));
        }
        // The tag (taken, or refused) closed the body: nothing more is encrypted into it.
        let enc = self.encryptor.as_mut().ok_or(Error::ApiMisuse(
            "PutObject::encrypt: not valid after the tag",
        ))?;
        enc.encrypt_in_place(buf)?;
        self.encrypted += buf.len() as u64;
        Ok(())
    }

    /// The 16-byte tag: the end of a single PutObject's body (once all of it was encrypted), or
    /// of the last part (once every part is encrypted).
    pub fn tag(&mut self) -> Result<[u8; 16]> {
        let r = self.tag_inner();
        r.map_err(|e| self.fail(e))
    }

    fn tag_inner(&mut self) -> Result<[u8; 16]> {
        if let Some(t) = self.tag {
            return Ok(t);
        }
        // The body's end, so only while its PutObject is out (not before it was sent).
        if self.phase == Phase::Single
            && matches!(self.outstanding, Some((_, Operation::PutObject)))
        {
            let enc = self
                .encryptor
                .take()
                .ok_or(Error::Internal("no encryptor at the tag"))?;
            let t = enc.finish()?;
            self.consumed = self.encrypted;
            self.tag = Some(t);
            return Ok(t);
        }
        Err(Error::ApiMisuse("PutObject::tag: not valid in this state"))
    }
}

/// A single PutObject's body handed to the transport as an owned stream ([`PutObject::body`]):
/// the ciphertext of the plaintext fed to it, then the 16-byte tag. It can be read on another
/// thread while the machine waits for the PutObject's answer, and read again from the start
/// ([`SingleBody::rewind`]): the same key and nonce give the same bytes, so an HTTP client that
/// hashes or signs the body before sending it, or re-sends it on a retry, never needs the
/// ciphertext whole in memory.
pub struct SingleBody {
    gcm: ParallelGcm,
    engine: Option<crate::gcm::Gcm<aes::Aes256>>,
    plaintext_len: u64,
    tag: Option<[u8; 16]>,
}

impl core::fmt::Debug for SingleBody {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SingleBody")
            .field("plaintext_len", &self.plaintext_len)
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

impl SingleBody {
    /// The plaintext length (the body sent is 16 bytes longer).
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Plaintext bytes encrypted since the start (or the last [`SingleBody::rewind`]).
    pub fn position(&self) -> u64 {
        match &self.engine {
            Some(e) => e.processed(),
            None => self.plaintext_len,
        }
    }

    /// Start again from the first byte: what follows is the same ciphertext again.
    pub fn rewind(&mut self) {
        self.engine = Some(self.gcm.segment_engine(0));
        self.tag = None;
    }

    fn engine(&mut self, n: usize) -> Result<&mut crate::gcm::Gcm<aes::Aes256>> {
        let len = self.plaintext_len;
        let e = self.engine.as_mut().ok_or(Error::LengthMismatch)?;
        match e.processed().checked_add(n as u64) {
            Some(end) if end <= len => Ok(e),
            _ => Err(Error::LengthMismatch),
        }
    }

    /// Encrypt the next plaintext bytes in place. Past the plaintext length (or after the tag)
    /// is [`Error::LengthMismatch`].
    pub fn encrypt_in_place(&mut self, buf: &mut [u8]) -> Result<()> {
        self.engine(buf.len())?.encrypt_in_place(buf)
    }

    /// Encrypt the next plaintext bytes `input` into `output[..input.len()]`.
    pub fn encrypt(&mut self, input: &[u8], output: &mut [u8]) -> Result<()> {
        let out = output.get_mut(..input.len()).ok_or(Error::BufferTooSmall {
            required: input.len(),
        })?;
        self.engine(input.len())?.encrypt_b2b(input, out)
    }

    /// The tag that ends the body, once every plaintext byte was encrypted in this pass
    /// ([`Error::LengthMismatch`] before).
    pub fn tag(&mut self) -> Result<[u8; 16]> {
        if let Some(t) = self.tag {
            return Ok(t);
        }
        let e = self.engine.take().ok_or(Error::LengthMismatch)?;
        if e.processed() != self.plaintext_len {
            self.engine = Some(e);
            return Err(Error::LengthMismatch);
        }
        let partial = PartialGhash::from_parts(0, self.plaintext_len, e.partial());
        let t = self.gcm.tag(&[partial])?;
        self.tag = Some(t);
        Ok(t)
    }
}

impl PutObject<'_> {
    /// Hand a single PutObject's body (after its [`PutNext::Send`], before any
    /// [`PutObject::encrypt`]) to a [`SingleBody`] the transport reads, instead of encrypting it
    /// through the machine. Give it back with [`PutObject::body_sent`] once the PutObject is
    /// answered, before [`PutObject::response`].
    pub fn body(&mut self) -> Result<SingleBody> {
        let r = self.body_inner();
        r.map_err(|e| self.fail(e))
    }

    fn body_inner(&mut self) -> Result<SingleBody> {
        if self.phase != Phase::Single
            || !matches!(self.outstanding, Some((_, Operation::PutObject)))
            || self.encrypted != 0
        {
            return Err(Error::ApiMisuse("PutObject::body: not valid in this state"));
        }
        let plaintext_len = self
            .intent
            .plaintext_len
            .or(self.probed)
            .ok_or(Error::ApiMisuse("PutObject::body: not valid in this state"))?;
        let gcm = self
            .encryptor
            .take()
            .ok_or(Error::ApiMisuse("PutObject::body: not valid in this state"))?
            .into_parallel()?;
        Ok(SingleBody {
            engine: Some(gcm.segment_engine(0)),
            gcm,
            plaintext_len,
            tag: None,
        })
    }

    /// The [`SingleBody`] of the PutObject now answered: a body whose last pass did not reach
    /// its tag leaves the machine without one, so a success status is then
    /// [`Error::TruncatedBody`].
    pub fn body_sent(&mut self, body: SingleBody) {
        if self.phase == Phase::Single
            && self.tag.is_none()
            && let Some(t) = body.tag
        {
            self.encrypted = body.plaintext_len;
            self.consumed = body.plaintext_len;
            self.tag = Some(t);
        }
    }
}
