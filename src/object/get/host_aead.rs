//! The GET machine's in-memory GCM read with the bulk AEAD done by the host (see
//! [`HostAead`] for the hand-off, and why it is not hazmat).
//!
//! ```text
//! GetNext::ReadBody(id) => {
//!     let body = read_exactly(get.feed(id)?.len);            // the whole stored body
//!     match get.host_aead(id, body.len())? {
//!         Some(aead) => {                                    // an in-memory GCM read
//!             let r = host_aes_gcm_open(aead.key(), aead.nonce(), aead.aad(), &body);
//!             match get.host_aead_result(id, r.is_ok())? {   // the core decides the release
//!                 Released::Plaintext { start, len, offset } => emit(offset, &r?[start..start + len]),
//!                 _ => {}
//!             }
//!         }
//!         None => { get.body(id, &mut body)?; .. }           // every other read: as before
//!     }
//!     get.end_of_body(id)?;
//! }
//! ```

use super::*;
use crate::decrypt::HostAead;

/// Where a host AEAD stands in a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum HostState {
    /// Not offered (the machine decrypts itself).
    #[default]
    None,
    /// The key is with the host; its verdict is due before the body may end.
    Pending(RequestId),
    /// The host's AEAD verified and the core released the plaintext.
    Released,
}

impl GetObject<'_> {
    /// For the whole stored body of `id` (`len` bytes, which the host holds), when this read is
    /// an in-memory GCM read: the core checks the piece as [`GetObject::body`] does, records it,
    /// and hands out what the host's AEAD needs instead of decrypting ([`HostAead`]). Then call
    /// [`GetObject::host_aead_result`], before [`GetObject::end_of_body`]. `None` (and nothing
    /// recorded) for every other read — storage, two passes, parallel, ranged, delayed, legacy
    /// CBC, an instruction file —: feed the body to [`GetObject::body`] as usual.
    pub fn host_aead(&mut self, id: RequestId, len: usize) -> Result<Option<HostAead>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.host_aead_inner(id, len);
        r.map_err(|e| self.fail(e))
    }

    fn host_aead_inner(&mut self, id: RequestId, len: usize) -> Result<Option<HostAead>> {
        let i = self.slot(id)?;
        let s = self.slots[i].ok_or(Error::ApiMisuse(
            "GetObject::host_aead: not valid in this state",
        ))?;
        let body = matches!(s.kind, Kind::Open { .. } | Kind::Body);
        let gcm = self.content().is_ok_and(|c| c != ContentAlgorithm::AesCbc);
        if !body || self.plan != Plan::InMemory || !gcm || self.phase != Phase::Body {
            return Ok(None);
        }
        if self.host != HostState::None {
            return Err(Error::ApiMisuse(
                "GetObject::host_aead: not valid in this state",
            ));
        }
        let stored = self.stored_len()?;
        let dec = self
            .decryptor
            .as_ref()
            .ok_or(Error::Internal("no decryptor for an in-memory read"))?;
        let Some(aead) = dec.host_aead(stored)? else {
            return Ok(None);
        };
        // The same checks as a body piece; an in-memory read takes its whole body at once.
        let Some((_, s, _)) = self.accept_piece(id, len)? else {
            return Ok(None);
        };
        if s.remaining() != 0 {
            return Err(Error::ApiMisuse(
                "GetObject::host_aead: not valid in this state",
            ));
        }
        self.host = HostState::Pending(id);
        Ok(Some(aead))
    }

    /// The host's verdict on the body of `id` after [`GetObject::host_aead`]: `verified` only when
    /// its AEAD open checked the tag and succeeded. A failure is [`Error::Authentication`]; a
    /// declared plaintext length that differs from the object's is [`Error::LengthMismatch`] (as
    /// the in-core read, after the tag). On success: [`Released::Plaintext`] over the host's
    /// output (`start` 0, the whole plaintext, offset 0) — release nothing before this says so.
    pub fn host_aead_result(&mut self, id: RequestId, verified: bool) -> Result<Released> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.host_aead_result_inner(id, verified);
        r.map_err(|e| self.fail(e))
    }

    fn host_aead_result_inner(&mut self, id: RequestId, verified: bool) -> Result<Released> {
        if self.host != HostState::Pending(id) {
            return Err(Error::ApiMisuse(
                "GetObject::host_aead_result: not valid in this state",
            ));
        }
        let stored = self.stored_len()?;
        let aead = self
            .decryptor
            .as_ref()
            .ok_or(Error::Internal("no decryptor for an in-memory read"))?
            .host_aead(stored)?
            .ok_or(Error::Internal("a host AEAD result for a CBC object"))?;
        let n = aead.verdict(verified)?;
        let len = usize::try_from(n).map_err(|_| Error::TooLarge)?;
        self.host = HostState::Released;
        self.released = n;
        Ok(Released::Plaintext {
            start: 0,
            len,
            offset: 0,
        })
    }

    /// Whether the body of `id` waits for the host's verdict ([`GetObject::end_of_body`] refuses
    /// to end it before).
    pub(super) fn host_pending(&self, id: RequestId) -> bool {
        self.host == HostState::Pending(id)
    }
}
