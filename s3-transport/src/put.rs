//! PUT: single-request uploads and multipart uploads with bounded memory.

use crate::client::{PutOptions, S3EncryptionClient};
use crate::error::{Error, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use s3_encryption::{
    Encryptor, GCM_MAX_PLAINTEXT, MAX_PARTS, ParallelGcm, PartPlan, PartialGhash, Placement,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{Semaphore, mpsc, oneshot};
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

/// Encrypt `buf` in place on the blocking pool (encryption runs while uploads are in flight).
async fn encrypt(mut enc: Encryptor, mut buf: Vec<u8>) -> Result<(Encryptor, Vec<u8>)> {
    if buf.len() < 64 * 1024 {
        enc.encrypt_in_place(&mut buf)?;
        return Ok((enc, buf));
    }
    let (enc, buf, r) = tokio::task::spawn_blocking(move || {
        let r = enc.encrypt_in_place(&mut buf);
        (enc, buf, r)
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    r?;
    Ok((enc, buf))
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
    upload_id: String,
    armed: bool,
}

impl AbortOnDrop {
    async fn abort_now(&mut self) -> Result<()> {
        self.armed = false;
        self.s3
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await
            .map_err(|e| Error::from_s3("AbortMultipartUpload", e))?;
        Ok(())
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            let req = self
                .s3
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(&self.upload_id);
            h.spawn(async move {
                let _ = req.send().await;
            });
        }
    }
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
    /// many bytes. Bodies larger than one part go up as a multipart upload: parts are encrypted in
    /// order while up to `parts_in_flight` earlier parts upload; each part's ciphertext is kept
    /// until its upload succeeds, so a retry re-sends the same bytes. Any failure aborts the
    /// upload, leaving neither an object nor parts.
    pub async fn put_object<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        mut body: R,
        len: Option<u64>,
        opts: &PutOptions,
    ) -> Result<PutOutput> {
        Box::pin(async move {
            let inner = &self.inner;
            if !inner.keyring.can_encrypt() {
                return Err(Error::config(format!(
                    "the keyring ({}) cannot encrypt",
                    inner.keyring.describe()
                )));
            }
            if let Some(l) = len
                && l > GCM_MAX_PLAINTEXT
            {
                return Err(s3_encryption::Error::MessageTooLong.into());
            }
            for (k, _) in &opts.metadata {
                if is_reserved_metadata(k) {
                    return Err(Error::config(format!(
                        "user metadata key {k:?} is reserved (x-amz-*)"
                    )));
                }
            }
            let placement = opts.placement.unwrap_or(inner.placement);
            let config = self.encrypt_config(placement)?;
            let materials = inner
                .keyring
                .encryption_materials(
                    &config,
                    inner.kms.as_ref(),
                    opts.encryption_context.as_ref(),
                )
                .await?;
            let enc = Encryptor::new(materials, len)?;
            let mut metadata: HashMap<String, String> = enc
                .envelope()
                .metadata()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            for (k, v) in &opts.metadata {
                metadata.insert(k.clone(), v.clone());
            }
            let instruction = (placement == Placement::InstructionFile)
                .then(|| enc.envelope().instruction_file());

            let part_size = match len {
                Some(l) => PartPlan::new(l, inner.part_size)?.part_size(),
                None => inner.part_size,
            } as usize;
            let first_want = match len {
                Some(l) => (l as usize).min(part_size),
                None => part_size,
            };
            let threshold = inner.multipart_threshold.unwrap_or(inner.part_size);
            let streaming = matches!(len, Some(l) if l > part_size as u64 && l <= threshold);
            let mut out = if streaming {
                let l = len.unwrap_or_default();
                self.put_streaming(bucket, key, &mut body, l, enc, metadata, opts)
                    .await?
            } else {
                let mut first = Vec::with_capacity(first_want + 16);
                let n = fill(&mut body, &mut first, first_want).await?;
                let single = match len {
                    Some(l) => l <= part_size as u64,
                    None => n < part_size,
                };
                if single {
                    if let Some(l) = len
                        && (n as u64) != l
                    {
                        return Err(s3_encryption::Error::LengthMismatch.into());
                    }
                    self.ensure_end(&mut body).await?;
                    let (enc, mut buf) = encrypt(enc, first).await?;
                    let tag = enc.finish()?;
                    buf.extend_from_slice(&tag);
                    let stored = buf.len() as u64;
                    let r = self
                        .put_request(bucket, key, stored, metadata, opts)
                        .body(ByteStream::from(Bytes::from(buf)))
                        .send()
                        .await
                        .map_err(|e| Error::from_s3("PutObject", e))?;
                    if let Some(p) = &opts.progress {
                        p(n as u64);
                    }
                    PutOutput {
                        e_tag: r.e_tag().map(str::to_owned),
                        version_id: r.version_id().map(str::to_owned),
                        plaintext_len: n as u64,
                        stored_len: stored,
                        parts: 1,
                        multipart: false,
                        instruction_file_key: None,
                    }
                } else {
                    self.multipart(
                        bucket, key, body, len, part_size, first, enc, metadata, opts,
                    )
                    .await?
                }
            };

            if let Some(json) = instruction {
                let ikey = format!("{key}{}", inner.suffix);
                if let Err(e) = self.put_instruction_file(bucket, &ikey, json).await {
                    // An object without its instruction file cannot be decrypted: remove it.
                    let _ = inner
                        .s3
                        .delete_object()
                        .bucket(bucket)
                        .key(key)
                        .send()
                        .await;
                    return Err(e);
                }
                out.instruction_file_key = Some(ikey);
            }
            Ok(out)
        })
        .await
    }

    /// Store an instruction file (the JSON envelope) under `ikey`.
    pub(crate) async fn put_instruction_file(
        &self,
        bucket: &str,
        ikey: &str,
        json: String,
    ) -> Result<()> {
        self.inner
            .s3
            .put_object()
            .bucket(bucket)
            .key(ikey)
            .metadata(s3_encryption::envelope::keys::INSTRUCTION_FILE_MARKER, "")
            .content_type("application/json")
            .body(ByteStream::from(json.into_bytes()))
            .send()
            .await
            .map_err(|e| Error::from_s3("PutObject (instruction file)", e))?;
        Ok(())
    }

    /// A PutObject of `stored` bytes with the envelope metadata (the body still to set).
    fn put_request(
        &self,
        bucket: &str,
        key: &str,
        stored: u64,
        metadata: HashMap<String, String>,
        opts: &PutOptions,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        self.inner
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_length(stored as i64)
            .set_metadata(Some(metadata))
            .set_content_type(opts.content_type.clone())
            .set_checksum_algorithm(self.inner.checksum.clone())
    }

    /// One PutObject whose body is encrypted on the fly, a chunk at a time, while it uploads
    /// (known length up to the multipart threshold). Memory stays at a few chunks. The body is
    /// not replayable, so the SDK does not retry this request; a failure leaves no object.
    #[allow(clippy::too_many_arguments)]
    async fn put_streaming<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        body: &mut R,
        len: u64,
        enc: Encryptor,
        metadata: HashMap<String, String>,
        opts: &PutOptions,
    ) -> Result<PutOutput> {
        const CHUNK: usize = 1 << 20;
        let stored = len + 16;
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
        let req =
            self.put_request(bucket, key, stored, metadata, opts)
                .body(ByteStream::from_body_1_x(EncryptedBody {
                    rx,
                    remaining: stored,
                }));
        let progress = opts.progress.clone();
        let produce = async move {
            let mut enc = Some(enc);
            let mut consumed = 0u64;
            // Ok(false): the request ended before taking the whole body (its own error says why).
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
                    let e = enc.take().ok_or(s3_encryption::Error::InvalidState)?;
                    let (e, mut b) = encrypt(e, b).await?;
                    if consumed == len {
                        self.ensure_end(body).await?;
                        b.extend_from_slice(&e.finish()?);
                    } else {
                        enc = Some(e);
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
        let r = match (produced?, sent) {
            (true, Ok(r)) => r,
            (_, Err(e)) => return Err(Error::from_s3("PutObject", e)),
            (false, Ok(_)) => {
                return Err(Error::config(
                    "PutObject answered before its whole body was sent",
                ));
            }
        };
        Ok(PutOutput {
            e_tag: r.e_tag().map(str::to_owned),
            version_id: r.version_id().map(str::to_owned),
            plaintext_len: len,
            stored_len: stored,
            parts: 1,
            multipart: false,
            instruction_file_key: None,
        })
    }

    async fn ensure_end<R: AsyncRead + Unpin>(&self, body: &mut R) -> Result<()> {
        let mut one = [0u8; 1];
        if body.read(&mut one).await? != 0 {
            return Err(Error::config("the body is longer than the declared length"));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn multipart<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        mut body: R,
        len: Option<u64>,
        part_size: usize,
        first: Vec<u8>,
        enc: Encryptor,
        metadata: HashMap<String, String>,
        opts: &PutOptions,
    ) -> Result<PutOutput> {
        let inner = &self.inner;
        let created = inner
            .s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .set_metadata(Some(metadata))
            .set_content_type(opts.content_type.clone())
            .set_checksum_algorithm(inner.checksum.clone())
            .send()
            .await
            .map_err(|e| Error::from_s3("CreateMultipartUpload", e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::config("CreateMultipartUpload returned no upload id"))?
            .to_owned();
        let mut guard = AbortOnDrop {
            s3: inner.s3.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.clone(),
            armed: true,
        };

        let sem = Arc::new(Semaphore::new(inner.parts_in_flight));
        let mut tasks: JoinSet<Result<CompletedPart>> = JoinSet::new();
        let mut done: Vec<CompletedPart> = Vec::new();
        let produced = self
            .produce_parts(
                bucket, key, &upload_id, &mut body, len, part_size, first, enc, &sem, &mut tasks,
                &mut done, opts,
            )
            .await;
        // Wait for every part still in flight, success or not: nothing may be uploading when the
        // upload is completed or aborted.
        let mut err: Option<Error> = None;
        let (parts, stored) = match produced {
            Ok(v) => v,
            Err(e) => {
                err = Some(e);
                (0, 0)
            }
        };
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(Ok(p)) => done.push(p),
                Ok(Err(e)) => {
                    err.get_or_insert(e);
                }
                Err(j) => {
                    err.get_or_insert(Error::Io(std::io::Error::other(j)));
                }
            }
        }
        if let Some(e) = err {
            let _ = guard.abort_now().await;
            return Err(e);
        }
        done.sort_by_key(|p| p.part_number());
        let r = inner
            .s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let _ = guard.abort_now().await;
                return Err(Error::from_s3("CompleteMultipartUpload", e));
            }
        };
        guard.armed = false;
        Ok(PutOutput {
            e_tag: r.e_tag().map(str::to_owned),
            version_id: r.version_id().map(str::to_owned),
            plaintext_len: stored - 16,
            stored_len: stored,
            parts,
            multipart: true,
            instruction_file_key: None,
        })
    }

    /// Read parts in order and hand each to a task that encrypts it as an independent segment of
    /// the one GCM stream (CTR seeked to the part's offset, a partial GHASH) on the blocking pool
    /// and then uploads it: parts are encrypted on several cores and upload out of order. The
    /// last part waits for every partial GHASH value, appends the combined tag, and uploads.
    /// Returns (parts, stored bytes).
    #[allow(clippy::too_many_arguments)]
    async fn produce_parts<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        body: &mut R,
        len: Option<u64>,
        part_size: usize,
        first: Vec<u8>,
        enc: Encryptor,
        sem: &Arc<Semaphore>,
        tasks: &mut JoinSet<Result<CompletedPart>>,
        done: &mut Vec<CompletedPart>,
        opts: &PutOptions,
    ) -> Result<(u32, u64)> {
        let gcm = Arc::new(enc.into_parallel()?);
        let (partial_tx, mut partial_rx) = mpsc::unbounded_channel::<PartialGhash>();
        let mut number: u32 = 0;
        let mut consumed: u64 = 0;
        let mut next = Some(first);
        loop {
            // Surface failures of finished parts early.
            while let Some(r) = tasks.try_join_next() {
                done.push(r.map_err(|j| Error::Io(std::io::Error::other(j)))??);
            }
            let permit = sem
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Error::config("upload semaphore closed"))?;
            let buf = match next.take() {
                Some(b) => b,
                None => {
                    let want = match len {
                        Some(l) => ((l - consumed) as usize).min(part_size),
                        None => part_size,
                    };
                    let mut b = Vec::with_capacity(want + 16);
                    fill(body, &mut b, want).await?;
                    b
                }
            };
            let n = buf.len() as u64;
            let offset = consumed;
            consumed += n;
            let last = match len {
                Some(l) => {
                    if n == 0 && consumed < l {
                        return Err(Error::config(format!(
                            "the body ended after {consumed} of the {l} bytes declared"
                        )));
                    }
                    consumed == l
                }
                None => (n as usize) < part_size,
            };
            number += 1;
            if u64::from(number) > MAX_PARTS {
                return Err(Error::config(format!(
                    "the body needs more than {MAX_PARTS} parts of {part_size} bytes; raise the part size"
                )));
            }
            if last && len.is_some() {
                self.ensure_end(body).await?;
            }
            // The last part also waits for the tag combined from every part's partial value.
            let (tag_tx, tag_rx) = if last {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            self.spawn_part(
                bucket,
                key,
                upload_id,
                number,
                Segment {
                    gcm: gcm.clone(),
                    offset,
                    plaintext: buf,
                    partial_tx: Some(partial_tx.clone()),
                    tag: tag_rx,
                },
                permit,
                tasks,
                opts,
            );
            let Some(tag_tx) = tag_tx else {
                continue;
            };
            // Every part sends its partial GHASH value once encrypted (before its upload); a part
            // that failed drops its sender, and the channel then closes short.
            drop(partial_tx);
            let mut partials = Vec::with_capacity(number as usize);
            while let Some(p) = partial_rx.recv().await {
                partials.push(p);
            }
            if partials.len() != number as usize {
                // A part failed before encrypting; its error surfaces when the tasks are joined.
                return Ok((number, consumed + 16));
            }
            partials.sort_by_key(PartialGhash::offset);
            let tag = gcm.tag(&partials)?;
            // The last part's task may have failed already; its error surfaces on join.
            let _ = tag_tx.send(tag);
            return Ok((number, consumed + 16));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        seg: Segment,
        permit: tokio::sync::OwnedSemaphorePermit,
        tasks: &mut JoinSet<Result<CompletedPart>>,
        opts: &PutOptions,
    ) {
        let plaintext_len = seg.plaintext.len() as u64;
        let req = self
            .inner
            .s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number as i32)
            .set_checksum_algorithm(self.inner.checksum.clone());
        let progress = opts.progress.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let ciphertext = seg.encrypt().await?;
            let len = ciphertext.len() as i64;
            // The SDK retries transient failures with this same buffer: a retried part re-sends
            // exactly the same ciphertext.
            let r = req
                .content_length(len)
                .body(ByteStream::from(Bytes::from(ciphertext)))
                .send()
                .await
                .map_err(|e| Error::from_s3("UploadPart", e))?;
            if let Some(p) = progress {
                p(plaintext_len);
            }
            Ok(completed_part(number as i32, &r))
        });
    }
}

/// One part of a multipart upload: its plaintext, its offset in the body, and where its partial
/// GHASH value goes. The last part also waits for the combined tag.
struct Segment {
    gcm: Arc<ParallelGcm>,
    offset: u64,
    plaintext: Vec<u8>,
    partial_tx: Option<mpsc::UnboundedSender<PartialGhash>>,
    tag: Option<oneshot::Receiver<[u8; 16]>>,
}

impl Segment {
    /// Encrypt on the blocking pool, report the partial value, and (last part) append the tag.
    async fn encrypt(mut self) -> Result<Vec<u8>> {
        let gcm = self.gcm.clone();
        let offset = self.offset;
        let mut buf = std::mem::take(&mut self.plaintext);
        let (mut buf, partial) = tokio::task::spawn_blocking(move || {
            let r = gcm.encrypt_segment(offset, &mut buf);
            (buf, r)
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let partial = partial?;
        if let Some(tx) = self.partial_tx.take() {
            let _ = tx.send(partial);
        }
        if let Some(rx) = self.tag.take() {
            let tag = rx
                .await
                .map_err(|_| Error::config("another part failed; the upload is aborted"))?;
            buf.extend_from_slice(&tag);
        }
        Ok(buf)
    }
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
