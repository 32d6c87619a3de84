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
        if self.phase == Phase::Single {
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
