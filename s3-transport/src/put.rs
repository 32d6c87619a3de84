//! PUT: a driver of the core's [`PutObject`] machine over aws-sdk-s3 and tokio. The machine
//! plans the single PUT or the multipart parts, encrypts, combines the tag and decides when to
//! abort; this file reads the body, runs part encryption on the blocking pool, and performs the
//! requests (several parts at once).

use crate::client::{PutOptions, S3EncryptionClient};
use crate::error::{Error, Result};
use crate::sdk;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use s3_encryption::Placement;
use s3_encryption::object::{
    EncryptedPart, MAX_PARTS_IN_FLIGHT, Operation, PutIntent, PutNext, PutObject, RequestBody,
    RequestId,
};
use std::collections::HashMap;
use std::path::Path;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The result of a PUT.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PutOutput {
    /// The stored object's ETag.
    pub e_tag: Option<String>,
    /// The stored object's version id (versioned buckets).
    pub version_id: Option<String>,
    /// Plaintext bytes stored.
    pub plaintext_len: u64,
    /// Stored (ciphertext + tag) bytes.
    pub stored_len: u64,
    /// Number of parts (1 for a single PutObject).
    pub parts: u32,
    /// Whether a multipart upload was used.
    pub multipart: bool,
    /// The instruction file written, if the placement asked for one.
    pub instruction_file_key: Option<String>,
}

/// Read until `buf` holds `want` bytes or the reader ends; returns the bytes read.
async fn fill<R: AsyncRead + Unpin>(r: &mut R, buf: &mut Vec<u8>, want: usize) -> Result<usize> {
    buf.clear();
    buf.resize(want, 0);
    let mut filled = 0;
    while filled < want {
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(filled)
}

async fn ensure_end<R: AsyncRead + Unpin>(body: &mut R) -> Result<()> {
    let mut one = [0u8; 1];
    if body.read(&mut one).await? != 0 {
        return Err(Error::config("the body is longer than the declared length"));
    }
    Ok(())
}

fn is_reserved_metadata(k: &str) -> bool {
    let l = k.to_ascii_lowercase();
    let l = l.strip_prefix("x-amz-meta-").unwrap_or(&l);
    l.starts_with("x-amz-")
}

/// Aborts the multipart upload if the PUT future is dropped before it finishes.
struct AbortOnDrop {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    upload_id: Option<String>,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.upload_id.take() else {
            return;
        };
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            let req = self
                .s3
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(id);
            h.spawn(async move {
                let _ = req.send().await;
            });
        }
    }
}

/// What a background task of the PUT finished.
#[allow(clippy::large_enum_variant)] // one per part in flight
enum Event {
    Encrypted {
        number: u32,
        buf: Vec<u8>,
        result: s3_encryption::Result<EncryptedPart>,
    },
    Uploaded {
        id: RequestId,
        number: u32,
        result: Result<CompletedPart>,
    },
}

fn completed_part(
    number: i32,
    o: &aws_sdk_s3::operation::upload_part::UploadPartOutput,
) -> CompletedPart {
    CompletedPart::builder()
        .part_number(number)
        .set_e_tag(o.e_tag().map(str::to_owned))
        .set_checksum_crc32(o.checksum_crc32().map(str::to_owned))
        .set_checksum_crc32_c(o.checksum_crc32_c().map(str::to_owned))
        .set_checksum_crc64_nvme(o.checksum_crc64_nvme().map(str::to_owned))
        .set_checksum_sha1(o.checksum_sha1().map(str::to_owned))
        .set_checksum_sha256(o.checksum_sha256().map(str::to_owned))
        .build()
}

impl S3EncryptionClient {
    /// Encrypt and store `data`.
    pub async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        data: impl AsRef<[u8]>,
        opts: &PutOptions,
    ) -> Result<PutOutput> {
        let d = data.as_ref();
        self.put_object(bucket, key, d, Some(d.len() as u64), opts)
            .await
    }

    /// Encrypt and store the file at `path` (streamed; memory stays within the part budget).
    pub async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        path: impl AsRef<Path>,
        opts: &PutOptions,
    ) -> Result<PutOutput> {
        let f = tokio::fs::File::open(path.as_ref()).await?;
        let len = f.metadata().await?.len();
        self.put_object(bucket, key, f, Some(len), opts).await
    }

    /// Encrypt and store what `body` yields. With a known `len` the body must yield exactly that
    /// many bytes. Bodies larger than the multipart threshold go up as a multipart upload: parts
    /// are encrypted as independent segments of the one GCM stream on the blocking pool while
    /// up to `parts_in_flight` parts upload, in any order, and the combined tag ends the last
    /// part; each part's ciphertext is kept until its upload succeeds, so a retry re-sends the
    /// same bytes. Any failure aborts the upload, leaving neither an object nor parts.
    pub async fn put_object<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        body: R,
        len: Option<u64>,
        opts: &PutOptions,
    ) -> Result<PutOutput> {
        Box::pin(self.put_inner(bucket, key, body, len, opts)).await
    }

    async fn put_inner<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        body: R,
        len: Option<u64>,
        opts: &PutOptions,
    ) -> Result<PutOutput> {
        let inner = &self.inner;
        if !inner.keyring.can_encrypt() {
            return Err(Error::config(format!(
                "the keyring ({}) cannot encrypt",
                inner.keyring.describe()
            )));
        }
        for (k, _) in &opts.metadata {
            if is_reserved_metadata(k) {
                return Err(Error::config(format!(
                    "user metadata key {k:?} is reserved (x-amz-*)"
                )));
            }
        }
        let placement = opts.placement.unwrap_or(inner.placement);
        if inner.instruction_files_disabled && placement == Placement::InstructionFile {
            return Err(Error::config(
                "instruction-file placement needs instruction files: they are disabled",
            ));
        }
        let user: Vec<(&str, &str)> = opts
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut intent = PutIntent::new(bucket, key, len);
        intent.config = self.encrypt_config(placement)?;
        intent.part_size = inner.part_size;
        intent.multipart_threshold = inner.multipart_threshold.unwrap_or(inner.part_size);
        intent.parts_in_flight = inner.parts_in_flight.min(MAX_PARTS_IN_FLIGHT as usize) as u16;
        intent.content_type = opts.content_type.as_deref();
        intent.metadata = &user;
        intent.instruction_file_suffix = &inner.suffix;
        self.put_with_intent(intent, body, len, opts).await
    }

    /// Drive a PUT of `intent` (made by this crate: the options' metadata and content type are
    /// already in it; `opts` gives the encryption context and the progress callback).
    pub(crate) async fn put_with_intent<R: AsyncRead + Unpin + Send>(
        &self,
        intent: PutIntent<'_>,
        mut body: R,
        len: Option<u64>,
        opts: &PutOptions,
    ) -> Result<PutOutput> {
        let inner = &self.inner;
        let (bucket, key) = (intent.bucket, intent.key);
        let mut put = PutObject::new(intent)?;
        let mut guard = AbortOnDrop {
            s3: inner.s3.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: None,
        };
        let mut tasks: JoinSet<Event> = JoinSet::new();
        let mut bufs: HashMap<u32, Vec<u8>> = HashMap::new();
        let mut completed: Vec<CompletedPart> = Vec::new();
        // The transport's own error, when a request failed: it says more than the machine's.
        let mut failure: Option<Error> = None;
        let mut last_answer: Option<sdk::Answer> = None;
        let mut upload_id: Option<String> = None;
        loop {
            let next = match put.poll() {
                Ok(n) => n,
                Err(e) => {
                    guard.upload_id = None;
                    // Parts still encrypting finish on the blocking pool; nothing uploads.
                    tasks.abort_all();
                    return Err(failure.unwrap_or(Error::Crypto(e)));
                }
            };
            if std::env::var_os("S3EC_DEBUG_PUT").is_some() {
                eprintln!("put: {next:?}");
            }
            match next {
                PutNext::EncryptionMaterials => {
                    let m = inner
                        .keyring
                        .encryption_materials(
                            put.config(),
                            inner.kms.as_ref(),
                            opts.encryption_context.as_ref(),
                        )
                        .await;
                    match m {
                        Ok(m) => put.materials(m)?,
                        Err(e) => return Err(e),
                    }
                }
                PutNext::ReadPart {
                    number,
                    offset,
                    len: want,
                } => {
                    let mut buf = Vec::with_capacity(want as usize + 16);
                    let read = fill(&mut body, &mut buf, want as usize).await;
                    let n = match read {
                        Ok(n) => n,
                        Err(e) => {
                            failure = Some(e);
                            put.abort(s3_encryption::Error::TruncatedBody);
                            continue;
                        }
                    };
                    if let Some(l) = len {
                        if (n as u64) < want {
                            failure = Some(Error::config(format!(
                                "the body ended after {} of the {l} bytes declared",
                                offset + n as u64
                            )));
                            put.abort(s3_encryption::Error::LengthMismatch);
                            continue;
                        }
                        if offset + want == l
                            && let Err(e) = ensure_end(&mut body).await
                        {
                            failure = Some(e);
                            put.abort(s3_encryption::Error::LengthMismatch);
                            continue;
                        }
                    }
                    bufs.insert(number, buf);
                    put.part_read(number, n as u64)?;
                }
                PutNext::EncryptPart(job) => {
                    let number = job.number();
                    let mut buf = bufs.remove(&number).unwrap_or_default();
                    tasks.spawn(async move {
                        let r = tokio::task::spawn_blocking(move || {
                            let result = job.encrypt(&mut buf);
                            (buf, result)
                        })
                        .await;
                        match r {
                            Ok((buf, result)) => Event::Encrypted {
                                number,
                                buf,
                                result,
                            },
                            Err(_) => Event::Encrypted {
                                number,
                                buf: Vec::new(),
                                result: Err(s3_encryption::Error::Internal(
                                    "a part-encryption task panicked",
                                )),
                            },
                        }
                    });
                }
                PutNext::Send(id) => {
                    let req = put.request(id)?;
                    match (req.operation, req.body) {
                        (Operation::UploadPart, RequestBody::Ciphertext { ends_with_tag, .. }) => {
                            let number = req.part_number.unwrap_or(0);
                            let upload = upload_id.clone().unwrap_or_default();
                            let mut buf = bufs.remove(&number).unwrap_or_default();
                            let plain = buf.len() as u64;
                            if ends_with_tag {
                                buf.extend_from_slice(&put.tag()?);
                            }
                            let r = inner
                                .s3
                                .upload_part()
                                .bucket(bucket)
                                .key(key)
                                .upload_id(upload)
                                .part_number(number as i32)
                                .content_length(buf.len() as i64)
                                .set_checksum_algorithm(inner.checksum.clone())
                                // The SDK retries transient failures with this same buffer: a
                                // retried part re-sends exactly the same ciphertext.
                                .body(ByteStream::from(Bytes::from(buf)));
                            let progress = opts.progress.clone();
                            tasks.spawn(async move {
                                let result = r
                                    .send()
                                    .await
                                    .map(|o| {
                                        if let Some(p) = progress {
                                            p(plain);
                                        }
                                        completed_part(number as i32, &o)
                                    })
                                    .map_err(|e| Error::from_s3("UploadPart", e));
                                Event::Uploaded { id, number, result }
                            });
                        }
                        (Operation::PutObject, RequestBody::Ciphertext { len: stored, .. }) => {
                            // A body of unknown length that fit one part was read already.
                            let probed = bufs.remove(&1);
                            let r = self
                                .single_put(&mut put, id, &mut body, probed, stored, opts)
                                .await;
                            match r {
                                Ok(a) => {
                                    put.response(id, a.status, a.pairs())?;
                                    last_answer = Some(a);
                                }
                                Err(e) => {
                                    let m = machine_view(&e, s3_encryption::Error::TruncatedBody);
                                    failure = Some(e);
                                    put.request_failed(id, m);
                                }
                            }
                        }
                        (Operation::PutObject, RequestBody::Bytes(b)) => {
                            let body = ByteStream::from(b.to_vec());
                            match sdk::put_object(&inner.s3, &req, body, None).await {
                                Ok(a) => put.response(id, a.status, a.pairs())?,
                                Err(e) => {
                                    failure = Some(e);
                                    put.request_failed(
                                        id,
                                        s3_encryption::Error::RequestFailed { status: 500 },
                                    );
                                }
                            }
                        }
                        (Operation::CreateMultipartUpload, _) => {
                            let metadata: HashMap<String, String> = req
                                .metadata()
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect();
                            let r = inner
                                .s3
                                .create_multipart_upload()
                                .bucket(bucket)
                                .key(key)
                                .set_metadata(Some(metadata))
                                .set_content_type(req.content_type.map(str::to_owned))
                                .set_tagging(req.tagging.map(str::to_owned))
                                .set_checksum_algorithm(inner.checksum.clone())
                                .send()
                                .await;
                            match r {
                                Ok(o) => {
                                    let up = o.upload_id().unwrap_or("").to_owned();
                                    guard.upload_id = Some(up.clone());
                                    upload_id = Some(up.clone());
                                    put.upload_created(id, 200, &up)?;
                                }
                                Err(e) => {
                                    failure = Some(Error::from_s3("CreateMultipartUpload", e));
                                    put.request_failed(
                                        id,
                                        s3_encryption::Error::RequestFailed { status: 500 },
                                    );
                                }
                            }
                        }
                        (Operation::CompleteMultipartUpload, _) => {
                            completed.sort_by_key(|p| p.part_number());
                            let r = inner
                                .s3
                                .complete_multipart_upload()
                                .bucket(bucket)
                                .key(key)
                                .set_upload_id(upload_id.clone())
                                .set_if_match(req.if_match.map(str::to_owned))
                                .multipart_upload(
                                    CompletedMultipartUpload::builder()
                                        .set_parts(Some(std::mem::take(&mut completed)))
                                        .build(),
                                )
                                .send()
                                .await;
                            match r {
                                Ok(o) => {
                                    guard.upload_id = None;
                                    let mut h = Vec::new();
                                    if let Some(e) = o.e_tag() {
                                        h.push(("etag".to_owned(), e.to_owned()));
                                    }
                                    if let Some(v) = o.version_id() {
                                        h.push(("x-amz-version-id".to_owned(), v.to_owned()));
                                    }
                                    let a = sdk::Answer {
                                        status: 200,
                                        headers: h,
                                        body: None,
                                    };
                                    put.response(id, 200, a.pairs())?;
                                    last_answer = Some(a);
                                }
                                Err(e) => {
                                    let e = Error::from_s3("CompleteMultipartUpload", e);
                                    let m = machine_view(
                                        &e,
                                        s3_encryption::Error::RequestFailed { status: 500 },
                                    );
                                    failure = Some(e);
                                    put.request_failed(id, m);
                                }
                            }
                        }
                        (Operation::AbortMultipartUpload, _) => {
                            let a = sdk::abort(&inner.s3, &req).await;
                            guard.upload_id = None;
                            let status = a.as_ref().map(|a| a.status).unwrap_or(500);
                            let _ = put.response(id, status, []);
                        }
                        (Operation::DeleteObject, _) => {
                            let a = sdk::delete_object(&inner.s3, &req).await;
                            let status = a.as_ref().map(|a| a.status).unwrap_or(500);
                            let _ = put.response(id, status, []);
                        }
                        _ => return Err(Error::Internal("unexpected request")),
                    }
                }
                PutNext::Wait => {
                    let Some(ev) = tasks.join_next().await else {
                        return Err(Error::Internal("the PUT waits with nothing outstanding"));
                    };
                    match ev.map_err(|e| Error::Io(std::io::Error::other(e)))? {
                        Event::Encrypted {
                            number,
                            buf,
                            result,
                        } => {
                            bufs.insert(number, buf);
                            match result {
                                Ok(p) => put.part_encrypted(p)?,
                                Err(e) => put.abort(e),
                            }
                        }
                        Event::Uploaded { id, number, result } => {
                            let _ = number;
                            match result {
                                Ok(p) => {
                                    completed.push(p);
                                    put.response(id, 200, [])?;
                                }
                                Err(e) => {
                                    failure.get_or_insert(e);
                                    put.request_failed(
                                        id,
                                        s3_encryption::Error::RequestFailed { status: 500 },
                                    );
                                }
                            }
                        }
                    }
                }
                PutNext::Done(done) => {
                    let a = last_answer.as_ref();
                    let header = |name: &str| {
                        a.and_then(|a| {
                            a.headers
                                .iter()
                                .find(|(k, _)| k == name)
                                .map(|(_, v)| v.clone())
                        })
                    };
                    return Ok(PutOutput {
                        e_tag: header("etag"),
                        version_id: header("x-amz-version-id"),
                        plaintext_len: done.plaintext_len,
                        stored_len: done.stored_len,
                        parts: done.parts,
                        multipart: done.multipart,
                        instruction_file_key: done
                            .instruction_file
                            .then(|| format!("{key}{}", inner.suffix)),
                    });
                }
            }
        }
    }

    /// One PutObject of `stored` bytes: a body up to one part is read, encrypted and sent whole
    /// (the SDK can retry it); a larger one is encrypted a chunk at a time while it streams.
    async fn single_put<R: AsyncRead + Unpin + Send>(
        &self,
        put: &mut PutObject<'_>,
        id: RequestId,
        body: &mut R,
        probed: Option<Vec<u8>>,
        stored: u64,
        opts: &PutOptions,
    ) -> Result<sdk::Answer> {
        let len = stored - 16;
        let req = put.request(id)?;
        let metadata: HashMap<String, String> = req
            .metadata()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let builder = self
            .inner
            .s3
            .put_object()
            .bucket(req.bucket)
            .key(req.key)
            .content_length(stored as i64)
            .set_metadata(Some(metadata))
            .set_content_type(req.content_type.map(str::to_owned))
            .set_if_match(req.if_match.map(str::to_owned))
            .set_tagging(req.tagging.map(str::to_owned))
            .set_checksum_algorithm(self.inner.checksum.clone());
        if len <= self.inner.part_size || probed.is_some() {
            let mut buf = match probed {
                Some(b) => b,
                None => {
                    let mut buf = Vec::with_capacity(stored as usize);
                    let n = fill(body, &mut buf, len as usize).await?;
                    if n as u64 != len {
                        return Err(s3_encryption::Error::LengthMismatch.into());
                    }
                    ensure_end(body).await?;
                    buf
                }
            };
            let enc = buf.len() >= 64 << 10;
            if enc {
                // Large enough to be worth the blocking pool.
                buf = encrypt_on_pool(put, buf).await?;
            } else {
                put.encrypt(&mut buf)?;
            }
            buf.extend_from_slice(&put.tag()?);
            let r = builder
                .body(ByteStream::from(Bytes::from(buf)))
                .send()
                .await
                .map_err(|e| Error::from_s3("PutObject", e))?;
            if let Some(p) = &opts.progress {
                p(len);
            }
            return Ok(answer(r.e_tag(), r.version_id()));
        }
        const CHUNK: usize = 1 << 20;
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
        let req = builder.body(ByteStream::from_body_1_x(EncryptedBody {
            rx,
            remaining: stored,
        }));
        let progress = opts.progress.clone();
        let produce = async {
            // Owned here, so the body ends when the producer does.
            let tx = tx;
            let mut consumed = 0u64;
            let r: Result<bool> = async {
                while consumed < len {
                    let want = ((len - consumed) as usize).min(CHUNK);
                    let mut b = Vec::with_capacity(want + 16);
                    let n = fill(body, &mut b, want).await?;
                    if n < want {
                        return Err(Error::config(format!(
                            "the body ended after {} of the {len} bytes declared",
                            consumed + n as u64
                        )));
                    }
                    consumed += n as u64;
                    put.encrypt(&mut b)?;
                    if consumed == len {
                        ensure_end(body).await?;
                        b.extend_from_slice(&put.tag()?);
                    }
                    if tx.send(Ok(Bytes::from(b))).await.is_err() {
                        return Ok(false);
                    }
                    if let Some(p) = &progress {
                        p(n as u64);
                    }
                }
                Ok(true)
            }
            .await;
            if let Err(e) = &r {
                // Fail the request body: S3 stores nothing for a body shorter than declared.
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
            }
            r
        };
        let (produced, sent) = tokio::join!(produce, req.send());
        match (produced?, sent) {
            (true, Ok(r)) => Ok(answer(r.e_tag(), r.version_id())),
            (_, Err(e)) => Err(Error::from_s3("PutObject", e)),
            (false, Ok(_)) => Err(Error::config(
                "PutObject answered before its whole body was sent",
            )),
        }
    }
}

/// What the machine is told when a request failed: a failed condition (412) is the object
/// having changed; anything else `otherwise`.
fn machine_view(e: &Error, otherwise: s3_encryption::Error) -> s3_encryption::Error {
    if e.is_precondition_failed() {
        s3_encryption::Error::ObjectChanged
    } else {
        otherwise
    }
}

fn answer(etag: Option<&str>, version: Option<&str>) -> sdk::Answer {
    let mut headers = Vec::new();
    if let Some(e) = etag {
        headers.push(("etag".to_owned(), e.to_owned()));
    }
    if let Some(v) = version {
        headers.push(("x-amz-version-id".to_owned(), v.to_owned()));
    }
    sdk::Answer {
        status: 200,
        headers,
        body: None,
    }
}

/// Encrypt a single PUT's body through the machine, off the async threads.
async fn encrypt_on_pool(put: &mut PutObject<'_>, buf: Vec<u8>) -> Result<Vec<u8>> {
    // The machine is borrowed here, so the work stays on this task: `block_in_place` where the
    // runtime allows it, otherwise inline.
    let mut buf = buf;
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
            tokio::task::block_in_place(|| put.encrypt(&mut buf))?;
        }
        _ => put.encrypt(&mut buf)?,
    }
    Ok(buf)
}

/// A request body fed with ciphertext chunks by the encrypting producer.
struct EncryptedBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    remaining: u64,
}

impl http_body::Body for EncryptedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<std::result::Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.remaining = self.remaining.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(http_body::Frame::data(b))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) if self.remaining > 0 => Poll::Ready(Some(Err(
                std::io::Error::other("the encrypting producer stopped early"),
            ))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// An [`AsyncWrite`](tokio::io::AsyncWrite) that encrypts and uploads what is written to it; see
/// [`S3EncryptionClient::put_object_writer`]. Call [`ObjectWriter::finish`] to complete the
/// upload: dropping the writer without it aborts the upload (no object, no parts).
#[derive(Debug)]
pub struct ObjectWriter {
    pipe: Option<tokio::io::DuplexStream>,
    task: Option<tokio::task::JoinHandle<Result<PutOutput>>>,
}

impl S3EncryptionClient {
    /// Upload by writing: the returned [`ObjectWriter`] takes plaintext through `AsyncWrite`; a
    /// background task encrypts it and uploads it exactly as [`S3EncryptionClient::put_object`]
    /// does with a body of unknown length (one PutObject if it fits a part, else multipart).
    /// [`ObjectWriter::finish`] ends the body and waits for the upload; dropping the writer before
    /// that aborts it.
    pub fn put_object_writer(&self, bucket: &str, key: &str, opts: &PutOptions) -> ObjectWriter {
        let (tx, rx) = tokio::io::duplex(1 << 20);
        let (this, b, k, o) = (
            self.clone(),
            bucket.to_owned(),
            key.to_owned(),
            opts.clone(),
        );
        let task = tokio::spawn(async move { this.put_object(&b, &k, rx, None, &o).await });
        ObjectWriter {
            pipe: Some(tx),
            task: Some(task),
        }
    }
}

impl ObjectWriter {
    /// End the body and wait for the upload to complete.
    pub async fn finish(mut self) -> Result<PutOutput> {
        if let Some(mut p) = self.pipe.take() {
            tokio::io::AsyncWriteExt::shutdown(&mut p).await?;
        }
        let task = self
            .task
            .take()
            .ok_or_else(|| Error::Internal("the upload was already finished"))?;
        task.await
            .map_err(|e| Error::Io(std::io::Error::other(e)))?
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        // Not finished: cancel the upload task (its guard aborts a multipart upload) before the
        // body's end could be taken for the end of the object.
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl tokio::io::AsyncWrite for ObjectWriter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.pipe.as_mut() {
            Some(p) => std::pin::Pin::new(p).poll_write(cx, buf),
            None => std::task::Poll::Ready(Err(std::io::Error::other("the writer is finished"))),
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.pipe.as_mut() {
            Some(p) => std::pin::Pin::new(p).poll_flush(cx),
            None => std::task::Poll::Ready(Ok(())),
        }
    }

    /// Shutting down is not finishing: it does not complete the upload (use
    /// [`ObjectWriter::finish`]).
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
