//! The requests the PUT machine asks for, and the checks of their responses.

use super::*;

impl PutObject<'_> {
    /// The request `id` ([`PutNext::Send`]).
    pub fn request(&self, id: RequestId) -> Result<Request<'_>> {
        let i = &self.intent;
        let env = self.envelope.as_ref();
        if let Some((oid, op)) = self.outstanding
            && oid == id
        {
            let mut r = Request::new(id, op, i.bucket, i.key);
            match (op, self.phase) {
                (Operation::PutObject, Phase::InstructionFile) => {
                    r.key_suffix = i.instruction_file_suffix;
                    r.content_type = Some("application/json");
                    r.instruction_file_marker = true;
                    r.content_length = Some(self.ifile_len as u64);
                    r.body = RequestBody::Bytes(&self.ifile[..self.ifile_len]);
                }
                (Operation::PutObject, _) => {
                    let plain = i.plaintext_len.or(self.probed).ok_or(Error::ApiMisuse(
                        "PutObject::request: not valid in this state",
                    ))?;
                    r.body = RequestBody::ciphertext(plain, true);
                    r.content_length = Some(r.body.len());
                    r.content_type = i.content_type;
                    r.envelope = env;
                    r.user_metadata = i.metadata;
                    r.if_match = i.if_match;
                    r.tagging = i.tagging;
                }
                (Operation::CreateMultipartUpload, _) => {
                    r.content_type = i.content_type;
                    r.envelope = env;
                    r.user_metadata = i.metadata;
                    r.tagging = i.tagging;
                }
                (Operation::CompleteMultipartUpload, _) => {
                    r.upload_id = self.upload_id.as_ref().map(|u| u.as_str());
                    r.if_match = i.if_match;
                }
                (Operation::AbortMultipartUpload, _) => {
                    r.upload_id = self.upload_id.as_ref().map(|u| u.as_str());
                }
                (Operation::DeleteObject, _) => {}
                _ => {
                    return Err(Error::ApiMisuse(
                        "PutObject::request: not valid in this state",
                    ));
                }
            }
            return Ok(r);
        }
        let p = self
            .parts
            .iter()
            .flatten()
            .find(|p| p.state == PartState::Uploading && p.request == id)
            .ok_or(Error::ApiMisuse(
                "PutObject::request: not valid in this state",
            ))?;
        let mut r = Request::new(id, Operation::UploadPart, i.bucket, i.key);
        r.upload_id = self.upload_id.as_ref().map(|u| u.as_str());
        r.part_number = Some(p.number);
        r.body = RequestBody::ciphertext(p.len, p.last);
        r.content_length = Some(r.body.len());
        Ok(r)
    }

    /// The upload id of the `CreateMultipartUpload` answer (from its XML body or the SDK's
    /// output), with the response's status.
    pub fn upload_created(&mut self, id: RequestId, status: u16, upload_id: &str) -> Result<()> {
        let r = (|| {
            match self.outstanding {
                Some((oid, Operation::CreateMultipartUpload)) if oid == id => {}
                _ => {
                    return Err(Error::ApiMisuse(
                        "PutObject::upload_created: not valid in this state",
                    ));
                }
            }
            self.outstanding = None;
            read_head(status, [], None)?.check_status(false)?;
            if upload_id.is_empty() {
                return Err(Error::UnexpectedResponse("no upload id"));
            }
            self.upload_id = Some(
                Text::from_str(upload_id).map_err(|_| Error::UnexpectedResponse("upload id"))?,
            );
            if self.phase != Phase::Cleanup {
                self.phase = Phase::Parts;
            }
            Ok(())
        })();
        // Cleaning up already (phase kept above): the upload just created will be aborted.
        r.map_err(|e| self.fail(e))
    }

    /// Report the response to `id` (any request but `CreateMultipartUpload`).
    pub fn response<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        if self.phase == Phase::Cleanup {
            // Bookkeeping only: the write has failed and `poll` reports it.
            self.settle(id, status);
            return Ok(());
        }
        let r = self.response_inner(id, status, headers);
        r.map_err(|e| {
            // A refused response still ends its request: what the status says it did is kept
            // for the cleanup (an object written is deleted, an upload aborted).
            let e = self.fail(e);
            self.settle(id, status);
            e
        })
    }

    /// The request `id` is over, answered with `status`: record what it did (for the cleanup)
    /// and stop counting it in flight.
    fn settle(&mut self, id: RequestId, status: u16) {
        if let Some((oid, op)) = self.outstanding
            && oid == id
        {
            let ok = (200..300).contains(&status);
            match op {
                Operation::AbortMultipartUpload => self.upload_id = None,
                Operation::DeleteObject => self.object_written = false,
                Operation::CompleteMultipartUpload if ok => {
                    self.upload_id = None;
                    self.object_written = true;
                }
                Operation::PutObject if ok => self.object_written = true,
                _ => {}
            }
        }
        self.forget(id);
    }

    fn response_inner<'h, I>(&mut self, id: RequestId, status: u16, headers: I) -> Result<()>
    where
        I: IntoIterator<Item = (&'h str, &'h str)>,
    {
        // The request is over, whatever the response says: on a failure `response` settles it
        // (the cleanup waits for outstanding requests).
        let ours = matches!(self.outstanding, Some((oid, _)) if oid == id);
        let part = self
            .parts
            .iter()
            .position(|p| p.is_some_and(|p| p.state == PartState::Uploading && p.request == id));
        if !ours && part.is_none() {
            return Err(Error::ApiMisuse(
                "PutObject::response: not valid in this state",
            ));
        }
        // A conditional write (If-Match) that fails: another writer changed the object.
        let conditional = ours && self.intent.if_match.is_some();
        let checked = read_head(status, headers, None).and_then(|h| h.check_status(conditional));
        checked?;
        if let Some((oid, op)) = self.outstanding
            && oid == id
        {
            self.outstanding = None;
            match (op, self.phase) {
                (Operation::PutObject, Phase::Single) => {
                    // Written, whatever follows: an object refused below is deleted.
                    self.object_written = true;
                    if self.tag.is_none() {
                        // The response came before the whole body was encrypted.
                        return Err(Error::TruncatedBody);
                    }
                    self.after_object()
                }
                (Operation::CompleteMultipartUpload, Phase::Complete) => {
                    self.upload_id = None;
                    self.object_written = true;
                    self.after_object()
                }
                (Operation::PutObject, Phase::InstructionFile) => {
                    self.phase = Phase::Done;
                    Ok(())
                }
                _ => Err(Error::ApiMisuse(
                    "PutObject::response: not valid in this state",
                )),
            }
        } else {
            let i = self
                .parts
                .iter()
                .position(|p| p.is_some_and(|p| p.state == PartState::Uploading && p.request == id))
                .ok_or(Error::ApiMisuse(
                    "PutObject::response: not valid in this state",
                ))?;
            self.parts[i] = None;
            self.uploaded += 1;
            Ok(())
        }
    }

    fn after_object(&mut self) -> Result<()> {
        if let (Some(l), false) = (self.intent.plaintext_len.or(self.probed), self.multipart)
            && l != self.consumed
        {
            return Err(Error::LengthMismatch);
        }
        self.phase = if self.ifile_len > 0 {
            Phase::InstructionFile
        } else {
            Phase::Done
        };
        Ok(())
    }
}
