//! PUT: single-request uploads and multipart uploads with bounded memory.

use crate::client::{PutOptions, S3EncryptionClient};
use crate::error::{Error, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use s3_encryption::{Encryptor, GCM_MAX_PLAINTEXT, MAX_PARTS, PartPlan, Placement};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;
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
            let enc = Encryptor::new_random(materials, len)?;
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
            let mut first = Vec::with_capacity(first_want + 16);
            let n = fill(&mut body, &mut first, first_want).await?;
            let single = match len {
                Some(l) => l <= part_size as u64,
                None => n < part_size,
            };
            let mut out = if single {
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
                let r = inner
                    .s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_length(stored as i64)
                    .set_metadata(Some(metadata))
                    .set_content_type(opts.content_type.clone())
                    .set_checksum_algorithm(inner.checksum.clone())
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
            };

            if let Some(json) = instruction {
                let ikey = format!("{key}{}", inner.suffix);
                let r = inner
                    .s3
                    .put_object()
                    .bucket(bucket)
                    .key(&ikey)
                    .metadata("x-amz-crypto-instr-file", "")
                    .content_type("application/json")
                    .body(ByteStream::from(json.into_bytes()))
                    .send()
                    .await;
                if let Err(e) = r {
                    // An object without its instruction file cannot be decrypted: remove it.
                    let _ = inner
                        .s3
                        .delete_object()
                        .bucket(bucket)
                        .key(key)
                        .send()
                        .await;
                    return Err(Error::from_s3("PutObject (instruction file)", e));
                }
                out.instruction_file_key = Some(ikey);
            }
            Ok(out)
        })
        .await
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

    /// Read, encrypt and hand parts to upload tasks. Returns (parts, stored bytes).
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
        mut enc: Encryptor,
        sem: &Arc<Semaphore>,
        tasks: &mut JoinSet<Result<CompletedPart>>,
        done: &mut Vec<CompletedPart>,
        opts: &PutOptions,
    ) -> Result<(u32, u64)> {
        let mut number: u32 = 0;
        let mut consumed: u64 = 0;
        let mut stored: u64 = 0;
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
            let mut buf = match next.take() {
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
            let (e, b) = encrypt(enc, buf).await?;
            enc = e;
            buf = b;
            if last {
                if len.is_some() {
                    self.ensure_end(body).await?;
                }
                let tag = enc.finish()?;
                buf.extend_from_slice(&tag);
                stored += buf.len() as u64;
                self.spawn_part(bucket, key, upload_id, number, buf, n, permit, tasks, opts);
                return Ok((number, stored));
            }
            stored += buf.len() as u64;
            self.spawn_part(bucket, key, upload_id, number, buf, n, permit, tasks, opts);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        ciphertext: Vec<u8>,
        plaintext_len: u64,
        permit: tokio::sync::OwnedSemaphorePermit,
        tasks: &mut JoinSet<Result<CompletedPart>>,
        opts: &PutOptions,
    ) {
        let len = ciphertext.len() as i64;
        // The SDK retries transient failures with this same buffer: a retried part re-sends
        // exactly the same ciphertext.
        let req = self
            .inner
            .s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number as i32)
            .content_length(len)
            .set_checksum_algorithm(self.inner.checksum.clone())
            .body(ByteStream::from(Bytes::from(ciphertext)));
        let progress = opts.progress.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let r = req
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
