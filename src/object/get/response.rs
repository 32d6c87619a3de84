//! The GET machine's responses: each status and header set checked against its request and
//! against what earlier responses said (lengths, ETag, version, Content-Range, the envelope).

use super::*;

impl GetObject<'_> {
    /// Report the status and headers of the response to `id` (header names in any case; the user
    /// metadata as `x-amz-meta-*`). A status the request cannot succeed with is the error it means:
    /// 404 [`Error::NotFound`], 412 on a pinned read [`Error::ObjectChanged`], 416
    /// [`Error::InvalidRange`], others [`Error::RequestFailed`].
    pub fn response<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.response_inner(id, status, headers);
        r.map_err(|e| self.fail(e))
    }

    pub(super) fn response_inner<'h, I>(
        &mut self,
        id: RequestId,
        status: u16,
        headers: I,
    ) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        let i = self.slot(id)?;
        let mut s = self.slots[i].ok_or(Error::ApiMisuse(
            "GetObject::response: not valid in this state",
        ))?;
        if s.state != SlotState::Sent {
            return Err(Error::ApiMisuse(
                "GetObject::response: not valid in this state",
            ));
        }
        match s.kind {
            Kind::Open { head } => {
                let h = read_head(status, headers, Some(self.lookup.metadata_mut()))?;
                h.check_status(self.intent.version_id.is_some() || self.intent.if_match.is_some())?;
                if let (Some(want), Some(got)) = (self.intent.if_match, h.etag.as_ref())
                    && !crate::object::head::same_etag(want, got.as_str())
                {
                    // A store that ignores If-Match: the object is not the one asked for.
                    return Err(Error::ObjectChanged);
                }
                if h.content_range.is_some() {
                    return Err(Error::UnexpectedResponse(
                        "a whole-object response carries a Content-Range",
                    ));
                }
                let len = h
                    .content_length
                    .ok_or(Error::UnexpectedResponse("no Content-Length"))?;
                if let (Some(want), Some(got)) = (self.intent.version_id, h.version_id.as_ref())
                    && want != got.as_str()
                {
                    return Err(Error::UnexpectedResponse("another version than asked for"));
                }
                self.object = Some(h.object(len));
                s.first = 0;
                s.last = len.saturating_sub(1);
                if head {
                    self.slots[i] = None;
                } else {
                    s.state = SlotState::Answered;
                    self.slots[i] = Some(s);
                }
                self.after_open()
            }
            Kind::InstructionFile => {
                let h = read_head(status, headers, None)?;
                if let Err(e) = self.lookup.answered(&h) {
                    self.slots[i] = None;
                    return Err(e);
                }
                s.state = SlotState::Answered;
                s.first = 0;
                s.last = INSTRUCTION_FILE_LIMIT as u64 - 1;
                self.slots[i] = Some(s);
                Ok(())
            }
            Kind::Body | Kind::Release { .. } | Kind::Ranged => {
                let h = read_head(status, headers, None)?;
                h.check_status(true)?;
                self.check_pinned(&h, &s)?;
                s.state = SlotState::Answered;
                self.slots[i] = Some(s);
                Ok(())
            }
        }
    }

    /// A pinned body response must be the object the first response described, and exactly the
    /// bytes asked for.
    pub(super) fn check_pinned(&self, h: &ResponseHead, s: &Slot) -> Result<()> {
        let o = self.object.as_ref().ok_or(Error::ApiMisuse(
            "GetObject::response: not valid in this state",
        ))?;
        if let (Some(a), Some(b)) = (o.etag(), h.etag.as_ref())
            && a != b.as_str()
        {
            return Err(Error::ObjectChanged);
        }
        if let (Some(a), Some(b)) = (o.version_id(), h.version_id.as_ref())
            && a != b.as_str()
        {
            return Err(Error::ObjectChanged);
        }
        let want = s.last + 1 - s.first;
        if s.ranged {
            if h.status != 206 {
                return Err(Error::UnexpectedResponse(
                    "a ranged GET was not answered with 206 Partial Content",
                ));
            }
            match h.content_range {
                Some((a, b, total)) if a == s.first && b == s.last => {
                    if total.is_some_and(|t| t != o.stored_len) {
                        return Err(Error::ObjectChanged);
                    }
                }
                _ => {
                    return Err(Error::UnexpectedResponse(
                        "the Content-Range is not the range asked for",
                    ));
                }
            }
        } else if h.content_range.is_some() {
            return Err(Error::UnexpectedResponse(
                "a whole-object response carries a Content-Range",
            ));
        } else if h.status != 200 {
            return Err(Error::UnexpectedResponse("a GET was not answered with 200"));
        }
        match h.content_length {
            Some(l) if l == want => Ok(()),
            Some(_) if !s.ranged => Err(Error::ObjectChanged),
            Some(_) => Err(Error::UnexpectedResponse(
                "the Content-Length is not the length asked for",
            )),
            None => Ok(()),
        }
    }

    /// The object's first response arrived: fetch the instruction file, or parse the envelope.
    pub(super) fn after_open(&mut self) -> Result<()> {
        if self.lookup.needs_instruction_file()? {
            if !self.intent.read_instruction_file {
                return Err(self.lookup.instruction_file_disabled());
            }
            self.phase = Phase::InstructionFile;
            self.issue(Kind::InstructionFile, 0, 0, false)?;
            return Ok(());
        }
        self.parse_envelope()
    }

    pub(super) fn parse_envelope(&mut self) -> Result<()> {
        let env = self.lookup.envelope(Some(&self.intent.policy))?;
        // The body must be able to hold this content before any key work, so that a body of the
        // wrong length fails the same way whatever the key unwraps to (no padding oracle).
        let stored = self.stored_len()?;
        let fits = match env.content_algorithm() {
            ContentAlgorithm::AesCbc => stored > 0 && stored.is_multiple_of(16),
            _ => stored >= 16,
        };
        if !fits {
            return Err(Error::TruncatedBody);
        }
        self.declared_len = env.unencrypted_content_length();
        self.envelope = Some(env);
        self.phase = Phase::Key;
        Ok(())
    }
}
