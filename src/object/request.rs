//! The S3 requests a machine asks its caller to make.

use crate::envelope::Envelope;
use crate::envelope::keys::INSTRUCTION_FILE_MARKER;
use crate::error::{Error, Result};
use crate::suite::TAG_LEN;

/// Identifies one request of a machine; pass it back with the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u32);

impl RequestId {
    /// The number, for logs and for bindings that pass ids across a language boundary.
    pub const fn get(self) -> u32 {
        self.0
    }
    /// The id with this number (bindings only: a wrong id is refused by the machine).
    pub const fn from_raw(n: u32) -> Self {
        RequestId(n)
    }
}

/// The bookkeeping of a machine with at most one request out at a time: the id of the one
/// outstanding, and the next id to hand out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OneAtATime {
    sent: Option<RequestId>,
    next: u32,
}

impl OneAtATime {
    pub(crate) const fn new() -> Self {
        OneAtATime {
            sent: None,
            next: 1,
        }
    }

    /// The outstanding request's id, or a new one, now outstanding.
    pub(crate) fn send(&mut self) -> RequestId {
        *self.sent.get_or_insert_with(|| {
            let id = RequestId(self.next);
            self.next += 1;
            id
        })
    }

    /// The outstanding request, if one is.
    pub(crate) fn outstanding(&self) -> Option<RequestId> {
        self.sent
    }

    /// Whether `id` is the outstanding request.
    pub(crate) fn is(&self, id: RequestId) -> bool {
        self.sent == Some(id)
    }

    /// `id` was answered: it must be the outstanding request ([`Error::ApiMisuse`]
    /// otherwise), which no longer is.
    pub(crate) fn answered(&mut self, id: RequestId) -> Result<()> {
        if !self.is(id) {
            return Err(Error::ApiMisuse(
                "a response to a request that is not the outstanding one",
            ));
        }
        self.sent = None;
        Ok(())
    }
}

/// The S3 operation a [`Request`] stands for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `HEAD /key`.
    HeadObject,
    /// `GET /key` (with `Range` when [`Request::range`] is set).
    GetObject,
    /// `PUT /key`.
    PutObject,
    /// `POST /key?uploads`.
    CreateMultipartUpload,
    /// `PUT /key?partNumber=N&uploadId=U`.
    UploadPart,
    /// `POST /key?uploadId=U` with every part's number and ETag (the caller keeps those, and the
    /// checksums its SDK wants, from the UploadPart responses).
    CompleteMultipartUpload,
    /// `DELETE /key?uploadId=U`.
    AbortMultipartUpload,
    /// `DELETE /key`.
    DeleteObject,
    /// `PUT /key` with `x-amz-copy-source` ([`Request::copy_source`]): a server-side copy (the
    /// migration's re-wrap of a metadata-placement object onto itself). No body byte passes
    /// through the client; `x-amz-metadata-directive: REPLACE` when [`Request::replace_metadata`]
    /// (the metadata to send is [`Request::metadata`], the content type
    /// [`Request::content_type`]; tags are copied: `x-amz-tagging-directive: COPY`).
    CopyObject,
    /// `PUT /key?partNumber=N&uploadId=U` with `x-amz-copy-source` and
    /// `x-amz-copy-source-range` ([`Request::copy_source`]).
    UploadPartCopy,
}

impl Operation {
    /// The operation's name in the S3 API (`"HeadObject"`, `"UploadPart"`, …), for logs,
    /// errors and bindings that hand requests to another language.
    pub const fn name(self) -> &'static str {
        match self {
            Operation::HeadObject => "HeadObject",
            Operation::GetObject => "GetObject",
            Operation::PutObject => "PutObject",
            Operation::CreateMultipartUpload => "CreateMultipartUpload",
            Operation::UploadPart => "UploadPart",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload => "AbortMultipartUpload",
            Operation::DeleteObject => "DeleteObject",
            Operation::CopyObject => "CopyObject",
            Operation::UploadPartCopy => "UploadPartCopy",
        }
    }
    /// The HTTP method.
    pub const fn method(self) -> &'static str {
        match self {
            Operation::HeadObject => "HEAD",
            Operation::GetObject => "GET",
            Operation::PutObject
            | Operation::UploadPart
            | Operation::CopyObject
            | Operation::UploadPartCopy => "PUT",
            Operation::CreateMultipartUpload | Operation::CompleteMultipartUpload => "POST",
            Operation::AbortMultipartUpload | Operation::DeleteObject => "DELETE",
        }
    }
}

impl core::fmt::Display for Operation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a request's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody<'a> {
    /// No body.
    Empty,
    /// These bytes (an instruction file).
    Bytes(&'a [u8]),
    /// `len` bytes of ciphertext the caller produced through the machine (the single PutObject's
    /// encrypted body, or an encrypted part): the encryption of `plaintext_len` bytes, followed
    /// by the 16-byte tag when `ends_with_tag` (the single PutObject, and the last part).
    Ciphertext {
        /// The exact body length (also [`Request::content_length`]): `plaintext_len`, plus
        /// [`TAG_LEN`](crate::TAG_LEN) when `ends_with_tag`.
        len: u64,
        /// The bytes of plaintext this body encrypts (the part's length, or the object's).
        plaintext_len: u64,
        /// Whether the body ends with the object's tag (the machine's `tag()`), appended after
        /// the encrypted bytes.
        ends_with_tag: bool,
    },
}

impl RequestBody<'_> {
    /// The body's length in bytes (what `Content-Length` says).
    pub const fn len(&self) -> u64 {
        match self {
            RequestBody::Empty => 0,
            RequestBody::Bytes(b) => b.len() as u64,
            RequestBody::Ciphertext { len, .. } => *len,
        }
    }
    /// Whether the body is empty.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The body of `plaintext_len` encrypted bytes, followed by the tag when `ends_with_tag`.
    pub(crate) const fn ciphertext(plaintext_len: u64, ends_with_tag: bool) -> Self {
        let tag = if ends_with_tag { TAG_LEN as u64 } else { 0 };
        RequestBody::Ciphertext {
            len: plaintext_len + tag,
            plaintext_len,
            ends_with_tag,
        }
    }
}

/// The source of a server-side copy: `x-amz-copy-source: /bucket/key?versionId=V`, guarded by
/// `x-amz-copy-source-if-match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopySource<'a> {
    /// Source bucket.
    pub bucket: &'a str,
    /// Source key (URL-encode it in the header).
    pub key: &'a str,
    /// Source version (pinned when the source has one).
    pub version_id: Option<&'a str>,
    /// `x-amz-copy-source-if-match` to send: the copy happens only if the source still has this
    /// ETag (a server that ignores it is caught by the read-back).
    pub if_match: Option<&'a str>,
    /// `x-amz-copy-source-range: bytes=first-last` (inclusive), for `UploadPartCopy`.
    pub range: Option<(u64, u64)>,
}

/// One S3 request, borrowed from its machine. Map it onto an SDK call (by [`Request::operation`])
/// or onto HTTP (method, key, query and headers).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Its id: pass it back with the response.
    pub id: RequestId,
    /// The operation.
    pub operation: Operation,
    /// The bucket.
    pub bucket: &'a str,
    /// The object key; the request is for `key` followed by [`Request::key_suffix`].
    pub key: &'a str,
    /// Appended to the key (the instruction-file suffix), or empty.
    pub key_suffix: &'a str,
    /// `versionId` to send.
    pub version_id: Option<&'a str>,
    /// `Range: bytes=first-last` (inclusive) to send.
    pub range: Option<(u64, u64)>,
    /// `If-Match` to send (on a PutObject or CompleteMultipartUpload: a conditional write; a 412
    /// means another writer changed the object).
    pub if_match: Option<&'a str>,
    /// `x-amz-tagging` to send (PutObject, CreateMultipartUpload): the tag set, URL-encoded.
    pub tagging: Option<&'a str>,
    /// The copy source (CopyObject, UploadPartCopy).
    pub copy_source: Option<CopySource<'a>>,
    /// CopyObject: `x-amz-metadata-directive: REPLACE` (else COPY).
    pub replace_metadata: bool,
    /// `uploadId` to send.
    pub upload_id: Option<&'a str>,
    /// `partNumber` to send.
    pub part_number: Option<u32>,
    /// `Content-Length` of the request body.
    pub content_length: Option<u64>,
    /// `Content-Type` to send.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: RequestBody<'a>,
    /// Read at most this many bytes of the response body: past it the machine refuses the
    /// response whatever its headers say; stop reading and close the connection.
    pub response_body_limit: Option<u64>,
    pub(crate) envelope: Option<&'a Envelope>,
    pub(crate) user_metadata: &'a [(&'a str, &'a str)],
    pub(crate) instruction_file_marker: bool,
}

impl<'a> Request<'a> {
    pub(crate) fn new(id: RequestId, operation: Operation, bucket: &'a str, key: &'a str) -> Self {
        Request {
            id,
            operation,
            bucket,
            key,
            key_suffix: "",
            version_id: None,
            range: None,
            if_match: None,
            tagging: None,
            copy_source: None,
            replace_metadata: false,
            upload_id: None,
            part_number: None,
            content_length: None,
            content_type: None,
            body: RequestBody::Empty,
            response_body_limit: None,
            envelope: None,
            user_metadata: &[],
            instruction_file_marker: false,
        }
    }

    /// The full object key (`key` + `key_suffix`), displayed.
    pub fn full_key(&self) -> FullKey<'a> {
        FullKey(self.key, self.key_suffix)
    }

    /// The user metadata to send, names without the `x-amz-meta-` prefix (send each as
    /// `x-amz-meta-<name>`): the envelope's entries, then the caller's.
    pub fn metadata(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let env = self
            .envelope
            .into_iter()
            .flat_map(|e| e.metadata().map(|(k, v)| (k as &'a str, v)));
        let marker = self
            .instruction_file_marker
            .then_some((INSTRUCTION_FILE_MARKER, ""));
        env.chain(self.user_metadata.iter().copied()).chain(marker)
    }

    /// The `Range` header value, `bytes=first-last`.
    pub fn range_header(&self) -> Option<RangeValue> {
        self.range.map(|(a, b)| RangeValue(a, b))
    }
}

/// `key` followed by a suffix, as a [`core::fmt::Display`].
#[derive(Debug, Clone, Copy)]
pub struct FullKey<'a>(&'a str, &'a str);

impl core::fmt::Display for FullKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)?;
        f.write_str(self.1)
    }
}

/// Displays as `bytes=first-last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeValue(u64, u64);

impl core::fmt::Display for RangeValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "bytes={}-{}", self.0, self.1)
    }
}
