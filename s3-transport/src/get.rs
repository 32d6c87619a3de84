//! GET: verified reads within a memory bound, delayed authentication and ranged reads (opt-ins),
//! HEAD / LIST helpers, and re-encryption of instruction files.

use crate::client::{GetOptions, LargeObjectVerification, S3EncryptionClient};
use crate::error::{Error, Result};
use crate::keyring::{Keyring, Pairs};
use aws_sdk_s3::primitives::ByteStream;
use s3_encryption::envelope::keys::is_envelope_key;
use s3_encryption::{
    ByteRange, ContentAlgorithm, Decryptor, EncryptConfig, Envelope, FormatVersion, Placement,
    RangePlan, VerifyPass, WrapAlgorithm,
};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};

/// What an envelope says, for display (never key material).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvelopeInfo {
    /// Format version (V1, V2, V3).
    pub format_version: FormatVersion,
    /// Content algorithm (algorithm suite).
    pub content_algorithm: ContentAlgorithm,
    /// Key-wrapping algorithm.
    pub wrap_algorithm: WrapAlgorithm,
    /// Where the key material is stored.
    pub placement: Placement,
    /// The instruction file's key, when the envelope came from one.
    pub instruction_file_key: Option<String>,
    /// Whether the envelope carries a V3 key commitment.
    pub key_commitment: bool,
    /// Materials description JSON (AES / RSA wraps).
    pub materials_description: Option<String>,
    /// KMS encryption context JSON (KMS wraps).
    pub encryption_context: Option<String>,
    /// The stored plaintext length (`x-amz-unencrypted-content-length`), if any.
    pub unencrypted_content_length: Option<u64>,
}

impl EnvelopeInfo {
    /// Summarise a parsed envelope.
    pub fn new(env: &Envelope, instruction_file_key: Option<String>) -> Self {
        EnvelopeInfo {
            format_version: env.version(),
            content_algorithm: env.content_algorithm(),
            wrap_algorithm: env.wrap_algorithm(),
            placement: env.placement(),
            instruction_file_key,
            key_commitment: env.key_commitment().is_some(),
            materials_description: env.materials_description().map(str::to_owned),
            encryption_context: env.encryption_context().map(str::to_owned),
            unencrypted_content_length: env.unencrypted_content_length(),
        }
    }
}

/// An encrypted object's description from HEAD (and its instruction file).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Stored (ciphertext) length.
    pub stored_len: u64,
    /// Plaintext length, where it can be derived without decrypting.
    pub plaintext_len: Option<u64>,
    /// ETag.
    pub e_tag: Option<String>,
    /// Version id.
    pub version_id: Option<String>,
    /// The envelope.
    pub envelope: EnvelopeInfo,
    /// User metadata that is not part of the envelope.
    pub user_metadata: Vec<(String, String)>,
}

/// How plaintext was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// The whole object was held in memory and verified before release.
    InMemory,
    /// Verified by a first pass; released by a second GET pinned to the ETag / version.
    TwoPass,
    /// Verified while spilling to a temporary file; released from the file.
    SpillFile,
    /// Verified while the ciphertext was written to the (not yet visible) destination file, then
    /// decrypted in place there ([`S3EncryptionClient::get_object_to_file`], objects over the
    /// memory budget). One GET.
    InPlace,
    /// Released before the tag was checked; the tag verified at the end.
    DelayedAuthentication,
    /// A ranged read: never authenticated.
    UnauthenticatedRange,
}

/// The result of a GET.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GetOutput {
    /// The object.
    pub info: ObjectInfo,
    /// Plaintext bytes released.
    pub released: u64,
    /// For ranged reads, the first plaintext byte released.
    pub range_first: Option<u64>,
    /// How the plaintext was verified.
    pub verification: Verification,
    /// Stored-body bytes downloaded for this read (all passes).
    pub fetched: u64,
}

fn stream_err(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Io(std::io::Error::other(e))
}

fn is_404(e: &Error) -> bool {
    match e {
        Error::S3 { status, code, .. } => {
            *status == Some(404) || matches!(code.as_deref(), Some("NoSuchKey" | "NotFound"))
        }
        _ => false,
    }
}

struct Head {
    metadata: HashMap<String, String>,
    stored_len: u64,
    e_tag: Option<String>,
    version_id: Option<String>,
}

/// An object opened for reading: the envelope parsed, the data key not yet unwrapped.
struct Opened {
    head: Head,
    env: Envelope,
    info: ObjectInfo,
    body: Option<ByteStream>,
}

impl S3EncryptionClient {
    fn not_found(bucket: &str, key: &str) -> Error {
        Error::NotFound {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }
    }

    async fn head_raw(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<Head> {
        let r = self
            .inner
            .s3
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .send()
            .await
            .map_err(|e| Error::from_s3("HeadObject", e));
        let r = match r {
            Err(e) if is_404(&e) => return Err(Self::not_found(bucket, key)),
            r => r?,
        };
        Ok(Head {
            metadata: r.metadata().cloned().unwrap_or_default(),
            stored_len: r.content_length().unwrap_or(0).max(0) as u64,
            e_tag: r.e_tag().map(str::to_owned),
            version_id: r.version_id().map(str::to_owned),
        })
    }

    /// GET a small object (an instruction file) whole; `None` on 404.
    async fn get_small(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let r = self
            .inner
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| Error::from_s3("GetObject (instruction file)", e));
        let r = match r {
            Err(e) if is_404(&e) => return Ok(None),
            r => r?,
        };
        if r.content_length().unwrap_or(0) > 1024 * 1024 {
            return Err(s3_encryption::Error::TooLarge.into());
        }
        let b = r.body.collect().await.map_err(stream_err)?;
        Ok(Some(b.into_bytes().to_vec()))
    }

    /// Parse the envelope of an object from its metadata and, when needed, its instruction file.
    async fn envelope_of(
        &self,
        bucket: &str,
        key: &str,
        metadata: &HashMap<String, String>,
        suffix: Option<&str>,
        checked: bool,
    ) -> Result<(Envelope, Option<String>)> {
        let needs = Envelope::needs_instruction_file(metadata.iter())?;
        let mut ikey = None;
        let ifile = if needs {
            let k = format!("{key}{}", suffix.unwrap_or(&self.inner.suffix));
            match self.get_small(bucket, &k).await? {
                Some(b) => {
                    ikey = Some(k);
                    Some(b)
                }
                None => {
                    if metadata.keys().any(|k| is_envelope_key(k)) {
                        // The object is encrypted, but its instruction file is gone.
                        return Err(Error::Crypto(s3_encryption::Error::InstructionFileRequired));
                    }
                    return Err(Error::NotEncrypted {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    });
                }
            }
        } else {
            None
        };
        let r = if checked {
            Envelope::parse(metadata.iter(), ifile.as_deref(), &self.inner.policy)
        } else {
            Envelope::parse_unchecked(metadata.iter(), ifile.as_deref())
        };
        match r {
            Ok(env) => Ok((env, ikey)),
            Err(s3_encryption::Error::NotEncrypted) => Err(Error::NotEncrypted {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The envelope of an object whose HEAD (or GET response) is `head`, and its description.
    async fn described(
        &self,
        bucket: &str,
        key: &str,
        head: &Head,
        opts: &GetOptions,
        checked: bool,
    ) -> Result<(Envelope, ObjectInfo)> {
        let (env, ikey) = self
            .envelope_of(
                bucket,
                key,
                &head.metadata,
                opts.instruction_file_suffix.as_deref(),
                checked,
            )
            .await?;
        let info = Self::info(bucket, key, head, &env, ikey);
        Ok((env, info))
    }

    fn info(
        bucket: &str,
        key: &str,
        head: &Head,
        env: &Envelope,
        ikey: Option<String>,
    ) -> ObjectInfo {
        ObjectInfo {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            stored_len: head.stored_len,
            plaintext_len: env.plaintext_len(head.stored_len),
            e_tag: head.e_tag.clone(),
            version_id: head.version_id.clone(),
            envelope: EnvelopeInfo::new(env, ikey),
            user_metadata: head
                .metadata
                .iter()
                .filter(|(k, _)| !is_envelope_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// HEAD an object and describe its envelope (no key needed, no policy applied). A plain
    /// object is [`Error::NotEncrypted`]; a missing one [`Error::NotFound`].
    pub async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<ObjectInfo> {
        Box::pin(async move {
            let head = self
                .head_raw(bucket, key, opts.version_id.as_deref())
                .await?;
            let (_, info) = self.described(bucket, key, &head, opts, false).await?;
            Ok(info)
        })
        .await
    }

    /// GET the object (body stream open), parse its envelope under the policy.
    async fn open(&self, bucket: &str, key: &str, opts: &GetOptions) -> Result<Opened> {
        let r = self
            .inner
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(opts.version_id.clone())
            .send()
            .await
            .map_err(|e| Error::from_s3("GetObject", e));
        let r = match r {
            Err(e) if is_404(&e) => return Err(Self::not_found(bucket, key)),
            r => r?,
        };
        if r.content_range().is_some() {
            return Err(Error::config(
                "S3 answered a whole-object GET with a Content-Range; refusing a partial body",
            ));
        }
        let head = Head {
            metadata: r.metadata().cloned().unwrap_or_default(),
            stored_len: r.content_length().unwrap_or(0).max(0) as u64,
            e_tag: r.e_tag().map(str::to_owned),
            version_id: r.version_id().map(str::to_owned),
        };
        let (env, info) = self.described(bucket, key, &head, opts, true).await?;
        Ok(Opened {
            head,
            env,
            info,
            body: Some(r.body),
        })
    }

    async fn decryptor(&self, env: &Envelope, opts: &GetOptions) -> Result<Decryptor> {
        let dk = self
            .inner
            .keyring
            .unwrap_data_key(
                env,
                self.inner.kms.as_ref(),
                opts.encryption_context.as_ref(),
            )
            .await?;
        Ok(env.decryptor(dk, &self.inner.policy)?)
    }

    /// Decrypt and return a whole object held in memory: it is verified before it is returned.
    /// Objects whose stored size exceeds the memory budget are refused (use
    /// [`S3EncryptionClient::get_object_to_writer`] or [`S3EncryptionClient::get_object_to_file`]).
    pub async fn get_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<(Vec<u8>, GetOutput)> {
        Box::pin(async move {
        let mut o = self.open(bucket, key, opts).await?;
        if o.head.stored_len > self.inner.memory_budget {
            return Err(Error::config(format!(
                "s3://{bucket}/{key} is {} bytes, over the memory budget of {} bytes; stream it to a writer or a file",
                o.head.stored_len, self.inner.memory_budget
            )));
        }
        let dec = self.decryptor(&o.env, opts).await?;
        let mut body = o.body.take().ok_or_else(|| Error::config("no body"))?;
        let buf = read_all(&mut body, o.head.stored_len).await?;
        let (pt, n) = decrypt_in_memory(dec, buf).await?;
        if let Some(p) = &opts.progress {
            p(n as u64);
        }
        Ok((
            pt,
            GetOutput {
                info: o.info,
                released: n as u64,
                range_first: None,
                verification: Verification::InMemory,
                fetched: o.head.stored_len,
            },
        ))
        })
        .await
    }

    /// Decrypt an object into `w`, releasing nothing before the whole object is authenticated:
    /// within the memory budget it is verified in memory; above it, by
    /// [`LargeObjectVerification`] (two pinned passes, or a spill file). If a second pass fails
    /// its final check (the stored bytes changed despite the pin) the error says so and what was
    /// written must be discarded.
    pub async fn get_object_to_writer<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        w: &mut W,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        Box::pin(async move {
            let o = self.open(bucket, key, opts).await?;
            let dec = self.decryptor(&o.env, opts).await?;
            self.release_to_writer(bucket, key, o, dec, w, opts).await
        })
        .await
    }

    /// The body of [`S3EncryptionClient::get_object_to_writer`] once the object is open.
    async fn release_to_writer<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        mut o: Opened,
        dec: Decryptor,
        w: &mut W,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        let mut body = o.body.take().ok_or_else(|| Error::config("no body"))?;
        let stored = o.head.stored_len;
        if stored <= self.inner.memory_budget {
            let buf = read_all(&mut body, stored).await?;
            let (pt, n) = decrypt_in_memory(dec, buf).await?;
            w.write_all(&pt[..n]).await?;
            w.flush().await?;
            if let Some(p) = &opts.progress {
                p(n as u64);
            }
            return Ok(GetOutput {
                info: o.info,
                released: n as u64,
                range_first: None,
                verification: Verification::InMemory,
                fetched: stored,
            });
        }
        let spill_dir = match &self.inner.large_get {
            LargeObjectVerification::SpillFile { dir } => Some(dir.clone()),
            // Without an ETag the second GET cannot be pinned: spill instead.
            LargeObjectVerification::TwoPass if o.head.e_tag.is_none() => Some(None),
            LargeObjectVerification::TwoPass => None,
        };
        let mut p1 = dec.verify_first()?;
        let (released, how) = if let Some(dir) = spill_dir {
            let f = match dir {
                Some(d) => tempfile::tempfile_in(d)?,
                None => tempfile::tempfile()?,
            };
            let mut f = tokio::fs::File::from_std(f);
            let mut seen = 0u64;
            while let Some(chunk) = body.try_next().await.map_err(stream_err)? {
                seen += chunk.len() as u64;
                p1.update(&chunk)?;
                f.write_all(&chunk).await?;
            }
            if seen != stored {
                return Err(s3_encryption::Error::TruncatedBody.into());
            }
            let mut p2 = p1.finish()?;
            f.flush().await?;
            f.seek(std::io::SeekFrom::Start(0)).await?;
            let mut inbuf = vec![0u8; 1 << 20];
            let mut out = vec![0u8; (1 << 20) + 16];
            let mut released = 0u64;
            loop {
                let n = f.read(&mut inbuf).await?;
                if n == 0 {
                    break;
                }
                let k = p2.update(&inbuf[..n], &mut out)?;
                w.write_all(&out[..k]).await?;
                released += k as u64;
                if let Some(p) = &opts.progress {
                    p(k as u64);
                }
            }
            let k = p2.finish(&mut out)?;
            w.write_all(&out[..k]).await?;
            (released + k as u64, Verification::SpillFile)
        } else {
            let mut seen = 0u64;
            while let Some(chunk) = body.try_next().await.map_err(stream_err)? {
                seen += chunk.len() as u64;
                p1.update(&chunk)?;
            }
            if seen != stored {
                return Err(s3_encryption::Error::TruncatedBody.into());
            }
            let mut p2 = p1.finish()?;
            let etag = o.head.e_tag.clone().unwrap_or_default();
            let r = self
                .inner
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .if_match(&etag)
                .set_version_id(o.head.version_id.clone().or(opts.version_id.clone()))
                .send()
                .await
                .map_err(|e| Error::from_s3("GetObject (second pass)", e));
            let r = match r {
                Err(Error::S3 {
                    status: Some(412 | 404),
                    ..
                }) => return Err(Error::ObjectChanged),
                r => r?,
            };
            if r.e_tag() != Some(etag.as_str())
                || r.content_length().unwrap_or(-1) != stored as i64
                || r.content_range().is_some()
            {
                return Err(Error::ObjectChanged);
            }
            let mut body2 = r.body;
            let mut out = Vec::new();
            let mut released = 0u64;
            while let Some(chunk) = body2.try_next().await.map_err(stream_err)? {
                out.resize(p2.output_len(chunk.len()), 0);
                let k = p2
                    .update(&chunk, &mut out)
                    .map_err(|_| Error::ObjectChanged)?;
                w.write_all(&out[..k]).await?;
                released += k as u64;
                if let Some(p) = &opts.progress {
                    p(k as u64);
                }
            }
            let mut tail = [0u8; 16];
            let k = p2.finish(&mut tail).map_err(|_| Error::ObjectChanged)?;
            w.write_all(&tail[..k]).await?;
            (released + k as u64, Verification::TwoPass)
        };
        w.flush().await?;
        Ok(GetOutput {
            info: o.info,
            released,
            range_first: None,
            verification: how,
            fetched: if how == Verification::TwoPass {
                2 * stored
            } else {
                stored
            },
        })
    }

    /// Decrypt an object as an [`AsyncRead`](tokio::io::AsyncRead) of verified plaintext. The
    /// object is opened and its data key unwrapped before this returns (so a missing object, a
    /// plain object or a wrong key is an error here); the body is then read by a background task
    /// exactly as [`S3EncryptionClient::get_object_to_writer`] does, and nothing reaches the
    /// reader before the whole object is authenticated. The reader reports end of stream only
    /// after the task succeeded; any failure is an `io::Error` wrapping this crate's [`Error`]
    /// (`get_ref()` and `downcast_ref`). Dropping the reader cancels the task.
    pub async fn get_object_reader(
        &self,
        bucket: &str,
        key: &str,
        opts: &GetOptions,
    ) -> Result<ObjectReader> {
        let o = self.open(bucket, key, opts).await?;
        let dec = self.decryptor(&o.env, opts).await?;
        let info = o.info.clone();
        let (mut tx, rx) = tokio::io::duplex(256 * 1024);
        let (verdict_tx, verdict_rx) = tokio::sync::oneshot::channel();
        let (this, bucket, key, opts) = (
            self.clone(),
            bucket.to_owned(),
            key.to_owned(),
            opts.clone(),
        );
        let task = tokio::spawn(async move {
            let r = this
                .release_to_writer(&bucket, &key, o, dec, &mut tx, &opts)
                .await;
            drop(tx);
            let _ = verdict_tx.send(r);
        });
        Ok(ObjectReader {
            info,
            pipe: rx,
            verdict: verdict_rx,
            output: None,
            failed: false,
            task,
        })
    }

    /// Decrypt an object into the file at `path`. The plaintext is written to a temporary file
    /// beside it and renamed into place only after the final check passes, so a failure leaves
    /// no partial plaintext behind. Objects over the memory budget take one GET: the ciphertext
    /// goes to that temporary file while the tag is checked, then is decrypted in place. Like
    /// `aws s3 cp`, the file is not fsynced; call `sync_all` on it if you need durability.
    pub async fn get_object_to_file(
        &self,
        bucket: &str,
        key: &str,
        path: impl AsRef<Path>,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        let path = path.as_ref();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let tmp = tempfile::NamedTempFile::new_in(&dir)?;
        let out = Box::pin(async {
            let o = self.open(bucket, key, opts).await?;
            let mut f = tokio::fs::File::from_std(tmp.reopen()?);
            let out = if o.head.stored_len <= self.inner.memory_budget {
                let dec = self.decryptor(&o.env, opts).await?;
                self.release_to_writer(bucket, key, o, dec, &mut f, opts)
                    .await?
            } else {
                self.decrypt_through_file(o, &mut f, opts).await?
            };
            f.flush().await?;
            Ok::<_, Error>(out)
        })
        .await?;
        tmp.persist(path).map_err(|e| Error::Io(e.error))?;
        Ok(out)
    }

    /// An object over the memory budget, into a file not yet visible under its final name: one
    /// GET writes the *ciphertext* to the file while pass one checks the tag; only then does pass
    /// two decrypt the file in place (re-checking the tag as it goes) and cut off the tag. The
    /// file holds plaintext only after the object verified, and is renamed into place only after
    /// pass two's check.
    async fn decrypt_through_file(
        &self,
        mut o: Opened,
        f: &mut tokio::fs::File,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        let dec = self.decryptor(&o.env, opts).await?;
        let mut body = o.body.take().ok_or_else(|| Error::config("no body"))?;
        let stored = o.head.stored_len;
        // GCM content: pass two runs on every core (segments authenticated and decrypted in one
        // fused pass each, the combined tag re-checked before the file is renamed).
        let p1 = dec.verify_first()?;
        // Pass one: the network side gathers the body into 1 MiB batches; a blocking thread
        // hashes each batch and appends it to the file, so neither waits on the other.
        const BATCH: usize = 1 << 20;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let mut file = f.try_clone().await?.into_std().await;
        let writer = tokio::task::spawn_blocking(move || -> Result<(VerifyPass, std::fs::File)> {
            use std::io::Write;
            let mut p1 = p1;
            while let Some(batch) = rx.blocking_recv() {
                p1.update(&batch)?;
                file.write_all(&batch)?;
            }
            Ok((p1, file))
        });
        let mut seen = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        let received: Result<()> = async {
            while let Some(chunk) = body.try_next().await.map_err(stream_err)? {
                seen += chunk.len() as u64;
                if seen > stored {
                    return Err(s3_encryption::Error::LengthMismatch.into());
                }
                batch.extend_from_slice(&chunk);
                if batch.len() >= BATCH
                    && tx
                        .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .await
                        .is_err()
                {
                    // The writer stopped; its error is reported below.
                    break;
                }
                // Progress counts the transfer (the bytes that will become plaintext).
                if let Some(p) = &opts.progress {
                    let before = (seen - chunk.len() as u64).min(stored.saturating_sub(16));
                    p(seen.min(stored.saturating_sub(16)) - before);
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(std::mem::take(&mut batch)).await;
            }
            Ok(())
        }
        .await;
        drop(tx);
        let (p1, std_file) = writer
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))??;
        received?;
        if seen != stored {
            return Err(s3_encryption::Error::TruncatedBody.into());
        }
        let mut p2 = p1.finish()?;
        let released = tokio::task::spawn_blocking(move || -> Result<u64> {
            use std::os::unix::fs::FileExt;
            if let Ok(pg) = s3_encryption::hazmat::rechecked_segments(&p2) {
                return recheck_in_place_parallel(&pg, &std_file, stored);
            }
            const CHUNK: usize = 4 << 20;
            let mut inbuf = vec![0u8; CHUNK];
            let mut out = vec![0u8; CHUNK + 32];
            let (mut read_at, mut write_at) = (0u64, 0u64);
            while read_at < stored {
                let n = ((stored - read_at) as usize).min(CHUNK);
                std_file.read_exact_at(&mut inbuf[..n], read_at)?;
                read_at += n as u64;
                let k = p2.update(&inbuf[..n], &mut out)?;
                // Plaintext never outruns the ciphertext read so far: writes stay behind reads.
                std_file.write_all_at(&out[..k], write_at)?;
                write_at += k as u64;
            }
            let k = p2.finish(&mut out)?;
            std_file.write_all_at(&out[..k], write_at)?;
            write_at += k as u64;
            std_file.set_len(write_at)?;
            Ok(write_at)
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))??;
        Ok(GetOutput {
            info: o.info,
            released,
            range_first: None,
            verification: Verification::InPlace,
            fetched: stored,
        })
    }

    /// **Hazmat.** Stream plaintext into `w` *before* the tag is checked (the spec's delayed
    /// authentication mode; needs `enable_delayed_authentication_mode`). Memory stays bounded
    /// whatever the object size. An `Err` at the end means the tag did not verify: everything
    /// written must be discarded.
    pub async fn get_object_delayed_authentication_hazmat<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        w: &mut W,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        Box::pin(async move {
            if !self.inner.policy.delayed_authentication {
                return Err(s3_encryption::Error::LegacyModeDisabled.into());
            }
            let mut o = self.open(bucket, key, opts).await?;
            let dec = self.decryptor(&o.env, opts).await?;
            let mut body = o.body.take().ok_or_else(|| Error::config("no body"))?;
            let mut s = s3_encryption::hazmat::delayed_authentication(dec)?;
            let mut out = Vec::new();
            let mut released = 0u64;
            while let Some(chunk) = body.try_next().await.map_err(stream_err)? {
                out.resize(s.output_len(chunk.len()), 0);
                let k = s.update(&chunk, &mut out)?;
                w.write_all(&out[..k]).await?;
                released += k as u64;
                if let Some(p) = &opts.progress {
                    p(k as u64);
                }
            }
            let mut tail = [0u8; 16];
            let k = s.finish(&mut tail)?;
            w.write_all(&tail[..k]).await?;
            w.flush().await?;
            Ok(GetOutput {
                info: o.info,
                released: released + k as u64,
                range_first: None,
                verification: Verification::DelayedAuthentication,
                fetched: o.head.stored_len,
            })
        })
        .await
    }

    /// **Hazmat.** A ranged read (never authenticated; needs
    /// `enable_legacy_unauthenticated_modes`). Fetches only the bytes the core's [`RangePlan`]
    /// asks for, pinned to the object's ETag. `bytes=a-b`, `bytes=a-` and `bytes=-n` are
    /// accepted; a range running past the end is clamped; one starting at or past the end is
    /// [`Error::RangeNotSatisfiable`].
    pub async fn get_object_range_hazmat<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        range: ByteRange,
        w: &mut W,
        opts: &GetOptions,
    ) -> Result<GetOutput> {
        Box::pin(async move {
            if !self.inner.policy.legacy_unauthenticated_modes {
                return Err(s3_encryption::Error::LegacyModeDisabled.into());
            }
            let head = self
                .head_raw(bucket, key, opts.version_id.as_deref())
                .await?;
            let (env, info) = self.described(bucket, key, &head, opts, true).await?;
            let plan = match RangePlan::new(range, head.stored_len, env.content_algorithm()) {
                Ok(p) => p,
                Err(s3_encryption::Error::InvalidRange) => {
                    return Err(Error::RangeNotSatisfiable {
                        range: range_text(range),
                        plaintext_len: info.plaintext_len.unwrap_or(0),
                    });
                }
                Err(e) => return Err(e.into()),
            };
            let dec = self.decryptor(&env, opts).await?;
            let mut r = s3_encryption::hazmat::ranged(dec, &plan)?;
            let resp = self
                .inner
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .range(plan.fetch_header().to_string())
                .set_if_match(head.e_tag.clone())
                .set_version_id(head.version_id.clone().or(opts.version_id.clone()))
                .send()
                .await
                .map_err(|e| Error::from_s3("GetObject (range)", e));
            let resp = match resp {
                Err(Error::S3 {
                    status: Some(412), ..
                }) => return Err(Error::ObjectChanged),
                r => r?,
            };
            let mut body = resp.body;
            let mut out = Vec::new();
            let mut released = 0u64;
            let mut fetched = 0u64;
            while let Some(chunk) = body.try_next().await.map_err(stream_err)? {
                fetched += chunk.len() as u64;
                out.resize(chunk.len(), 0);
                let k = r.update(&chunk, &mut out)?;
                w.write_all(&out[..k]).await?;
                released += k as u64;
                if let Some(p) = &opts.progress {
                    p(k as u64);
                }
            }
            r.finish()?;
            w.flush().await?;
            Ok(GetOutput {
                info,
                released,
                range_first: Some(plan.first),
                verification: Verification::UnauthenticatedRange,
                fetched,
            })
        })
        .await
    }

    /// List objects under `prefix` with their plaintext sizes (HEAD of each, and its instruction
    /// file where needed; up to 8 at a time). Instruction files beside their objects are listed
    /// as such.
    pub async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ListEntry>> {
        let mut objects: Vec<(String, u64)> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let r = self
                .inner
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| Error::from_s3("ListObjectsV2", e))?;
            for o in r.contents() {
                if let Some(k) = o.key() {
                    objects.push((k.to_owned(), o.size().unwrap_or(0).max(0) as u64));
                }
            }
            match r.next_continuation_token() {
                Some(t) if r.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        let names: BTreeSet<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
        let suffix = self.inner.suffix.clone();
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut set = tokio::task::JoinSet::new();
        let mut out: Vec<ListEntry> = Vec::new();
        for (i, (k, size)) in objects.iter().enumerate() {
            if let Some(base) = k.strip_suffix(suffix.as_str())
                && names.contains(base)
            {
                out.push(ListEntry {
                    key: k.clone(),
                    stored_len: *size,
                    status: ListStatus::InstructionFile,
                });
                continue;
            }
            let this = self.clone();
            let (b, k, size) = (bucket.to_owned(), k.clone(), *size);
            let sem = sem.clone();
            set.spawn(async move {
                let _p = sem.acquire_owned().await;
                let status = match this.head_object(&b, &k, &GetOptions::default()).await {
                    Ok(info) => ListStatus::Encrypted(Box::new(info)),
                    Err(e) if e.is_not_encrypted() => ListStatus::NotEncrypted,
                    Err(e) => ListStatus::Error(e.to_string()),
                };
                (
                    i,
                    ListEntry {
                        key: k,
                        stored_len: size,
                        status,
                    },
                )
            });
        }
        let mut rest = Vec::new();
        while let Some(r) = set.join_next().await {
            rest.push(r.map_err(|e| Error::Io(std::io::Error::other(e)))?);
        }
        rest.sort_by_key(|(i, _)| *i);
        out.extend(rest.into_iter().map(|(_, e)| e));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Re-encrypt the instruction file of `key` under `new_keyring` (key rotation without touching
    /// the object): the data key is unwrapped with this client's keyring, wrapped again (AES, RSA
    /// or KMS), and the new instruction file is written at `opts.new_suffix` (default: the
    /// client's suffix). The object, its IV or message id and its V3 key commitment are
    /// untouched; the result is checked to parse and, when `new_keyring` can decrypt, to unwrap
    /// to a key that matches the commitment.
    pub async fn reencrypt_instruction_file(
        &self,
        bucket: &str,
        key: &str,
        new_keyring: &Keyring,
        opts: &ReEncryptOptions,
    ) -> Result<ReEncryptOutput> {
        Box::pin(async move {
        let head = self.head_raw(bucket, key, None).await?;
        if !Envelope::needs_instruction_file(head.metadata.iter())? {
            return Err(Error::config(format!(
                "s3://{bucket}/{key} keeps its key material in the object metadata, which takes precedence over any instruction file; only objects stored with an instruction file can be re-encrypted without rewriting them"
            )));
        }
        let (env, _) = self
            .envelope_of(
                bucket,
                key,
                &head.metadata,
                opts.source_suffix.as_deref(),
                true,
            )
            .await?;
        let config = match env.version() {
            FormatVersion::V3 => EncryptConfig::v3(Placement::InstructionFile),
            FormatVersion::V2 if env.content_algorithm() == ContentAlgorithm::AesGcm => {
                EncryptConfig::v2(Placement::InstructionFile)
            }
            _ => {
                return Err(Error::config(
                    "only V2 (AES-GCM) and V3 objects can have their instruction file re-encrypted",
                ));
            }
        };
        let gopts = GetOptions {
            encryption_context: opts.encryption_context.clone(),
            ..GetOptions::default()
        };
        let dk = self
            .inner
            .keyring
            .unwrap_data_key(
                &env,
                self.inner.kms.as_ref(),
                gopts.encryption_context.as_ref(),
            )
            .await?;
        // The data key must open the object (V3: matches the commitment) before it is re-wrapped.
        env.decryptor(dk.clone(), &self.inner.policy)?;
        let materials = new_keyring
            .rewrap_data_key(&config, dk, self.inner.kms.as_ref())
            .await?;
        let new_env = env.rewrapped(materials)?;
        let json = new_env.instruction_file();
        // Check what we are about to store.
        let reparsed = Envelope::parse(
            head.metadata.iter(),
            Some(json.as_bytes()),
            &self.inner.policy,
        )?;
        if new_keyring.can_decrypt() {
            let dk2 = new_keyring
                .unwrap_data_key(&reparsed, self.inner.kms.as_ref(), None)
                .await?;
            reparsed.decryptor(dk2, &self.inner.policy)?;
        }
        if opts.enforce_rotation
            && self
                .inner
                .keyring
                .unwrap_data_key(
                    &reparsed,
                    self.inner.kms.as_ref(),
                    gopts.encryption_context.as_ref(),
                )
                .await
                .is_ok()
        {
            return Err(Error::config(
                "rotation not enforced: the old keyring can still unwrap the new instruction file",
            ));
        }
        let suffix = opts
            .new_suffix
            .clone()
            .unwrap_or_else(|| self.inner.suffix.clone());
        let ikey = format!("{key}{suffix}");
        self.put_instruction_file(bucket, &ikey, json).await?;
        Ok(ReEncryptOutput {
            instruction_file_key: ikey,
            envelope: EnvelopeInfo::new(&reparsed, None),
        })
        })
        .await
    }
}

fn range_text(r: ByteRange) -> String {
    match r {
        ByteRange::Inclusive(a, b) => format!("bytes={a}-{b}"),
        ByteRange::From(a) => format!("bytes={a}-"),
        ByteRange::Suffix(n) => format!("bytes=-{n}"),
    }
}

async fn read_all(body: &mut ByteStream, stored: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(stored as usize);
    while let Some(chunk) = body.try_next().await.map_err(stream_err)? {
        if (buf.len() + chunk.len()) as u64 > stored {
            return Err(s3_encryption::Error::LengthMismatch.into());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Pass two of [`S3EncryptionClient::get_object_to_file`] for GCM content: the file holds the
/// verified ciphertext ‖ tag; decrypt it in place window by window, each window split across the
/// cores (authenticated and decrypted in one fused pass per segment), then re-check the combined
/// tag and cut the tag off. On failure the caller discards the file (it was never renamed).
fn recheck_in_place_parallel(
    pg: &s3_encryption::hazmat::RecheckedSegments,
    file: &std::fs::File,
    stored: u64,
) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    const WINDOW: usize = 16 << 20;
    let ct_len = stored
        .checked_sub(16)
        .ok_or(s3_encryption::Error::TruncatedBody)?;
    let mut tag = [0u8; 16];
    file.read_exact_at(&mut tag, ct_len)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let mut buf = vec![0u8; WINDOW.min(ct_len as usize)];
    let mut partials = Vec::new();
    let mut at = 0u64;
    while at < ct_len {
        let n = ((ct_len - at) as usize).min(WINDOW);
        let window = &mut buf[..n];
        file.read_exact_at(window, at)?;
        let seg = n.div_ceil(threads).div_ceil(16).max(1) * 16;
        let results: Vec<s3_encryption::Result<s3_encryption::PartialGhash>> =
            std::thread::scope(|s| {
                let handles: Vec<_> = window
                    .chunks_mut(seg)
                    .enumerate()
                    .map(|(i, c)| {
                        s.spawn(move || pg.decrypt_segment_rechecked(at + (i * seg) as u64, c))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(Err(s3_encryption::Error::InvalidState)))
                    .collect()
            });
        for r in results {
            partials.push(r?);
        }
        file.write_all_at(window, at)?;
        at += n as u64;
    }
    pg.verify(&partials, &tag)?;
    file.set_len(ct_len)?;
    Ok(ct_len)
}

/// Verify and decrypt a whole body in place (on the blocking pool when it is large).
async fn decrypt_in_memory(dec: Decryptor, mut buf: Vec<u8>) -> Result<(Vec<u8>, usize)> {
    let large = buf.len() >= 1 << 20;
    let run = move || -> Result<(Vec<u8>, usize)> {
        let n = dec.decrypt_whole_in_place(&mut buf)?;
        buf.truncate(n);
        Ok((buf, n))
    };
    if !large {
        return run();
    }
    tokio::task::spawn_blocking(run)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
}

/// One listed object.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListEntry {
    /// Key.
    pub key: String,
    /// Stored size.
    pub stored_len: u64,
    /// What the object is.
    pub status: ListStatus,
}

/// What a listed object is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ListStatus {
    /// An S3EC object.
    Encrypted(Box<ObjectInfo>),
    /// A plain object.
    NotEncrypted,
    /// The instruction file of the object without the suffix.
    InstructionFile,
    /// It could not be described (the message says why).
    Error(String),
}

/// Options for [`S3EncryptionClient::reencrypt_instruction_file`].
#[derive(Debug, Clone, Default)]
pub struct ReEncryptOptions {
    /// Suffix of the instruction file to read (default: the client's).
    pub source_suffix: Option<String>,
    /// Suffix to write the new instruction file at (default: the client's), verbatim.
    pub new_suffix: Option<String>,
    /// KMS encryption context expected on the object (default: the keyring's).
    pub encryption_context: Option<Pairs>,
    /// Fail if the current keyring can still unwrap the new instruction file.
    pub enforce_rotation: bool,
}

/// The result of re-encrypting an instruction file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReEncryptOutput {
    /// The instruction file written.
    pub instruction_file_key: String,
    /// The new envelope.
    pub envelope: EnvelopeInfo,
}

/// Verified plaintext of one object as an [`AsyncRead`](tokio::io::AsyncRead); see
/// [`S3EncryptionClient::get_object_reader`].
#[derive(Debug)]
pub struct ObjectReader {
    info: ObjectInfo,
    pipe: tokio::io::DuplexStream,
    verdict: tokio::sync::oneshot::Receiver<Result<GetOutput>>,
    output: Option<GetOutput>,
    failed: bool,
    task: tokio::task::JoinHandle<()>,
}

impl ObjectReader {
    /// The object being read.
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    /// How the read went, once the reader has reported end of stream.
    pub fn output(&self) -> Option<&GetOutput> {
        self.output.as_ref()
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl tokio::io::AsyncRead for ObjectReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::{Poll, ready};
        let this = self.get_mut();
        if this.output.is_some() {
            return Poll::Ready(Ok(()));
        }
        if this.failed {
            return Poll::Ready(Err(std::io::Error::other(
                "the object failed to read (reported earlier)",
            )));
        }
        let before = buf.filled().len();
        ready!(std::pin::Pin::new(&mut this.pipe).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            return Poll::Ready(Ok(()));
        }
        // The task closed the pipe: end of stream only if it succeeded.
        match ready!(std::pin::Pin::new(&mut this.verdict).poll(cx)) {
            Ok(Ok(out)) => {
                this.output = Some(out);
                Poll::Ready(Ok(()))
            }
            Ok(Err(e)) => {
                this.failed = true;
                Poll::Ready(Err(std::io::Error::other(e)))
            }
            Err(_) => {
                this.failed = true;
                Poll::Ready(Err(std::io::Error::other("the GET task stopped")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3_encryption::{AesKey, DataKey, EncryptionMaterials, Encryptor};

    /// Pass two of the one-GET file path decrypts a verified ciphertext file in place, and its
    /// re-check refuses a file changed after pass one.
    #[test]
    fn in_place_pass_two_decrypts_and_rechecks() {
        let n = (40 << 20) + 5; // three windows, the last one short and not block-aligned
        let pt: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        let config = EncryptConfig::default();
        let m = EncryptionMaterials::aes_gcm_deterministic(
            &config,
            &AesKey::new_256([3; 32]),
            DataKey::new_256([4; 32]),
            &[5; 12],
            &[],
        )
        .unwrap();
        let enc = Encryptor::new_deterministic(m, &[6; 28], Some(n as u64)).unwrap();
        let policy = s3_encryption::DecryptPolicy::default();
        let env = Envelope::parse(enc.envelope().metadata(), None, &policy).unwrap();
        let pg = enc.into_parallel().unwrap();
        let mut body = pt.clone();
        let tag = pg.encrypt_in_place_threaded(&mut body, 2).unwrap();
        body.extend_from_slice(&tag);
        // Pass one verified this body: its `ReleasePass` is the proof pass two runs on.
        let dec = env.decryptor(DataKey::new_256([4; 32]), &policy).unwrap();
        let mut pass1 = dec.verify_first().unwrap();
        pass1.update(&body).unwrap();
        let pass2 = pass1.finish().unwrap();
        let pg = s3_encryption::hazmat::rechecked_segments(&pass2).unwrap();
        let stored = body.len() as u64;
        for flip in [None, Some(0usize), Some(n / 2), Some(n - 1), Some(n + 3)] {
            let mut b = body.clone();
            if let Some(i) = flip {
                b[i] ^= 0x10;
            }
            let f = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(f.path(), &b).unwrap();
            let r = recheck_in_place_parallel(&pg, f.as_file(), stored);
            match flip {
                None => {
                    assert_eq!(r.unwrap(), n as u64);
                    assert!(std::fs::read(f.path()).unwrap() == pt, "plaintext in place");
                }
                Some(i) => {
                    let e = r.unwrap_err();
                    assert_eq!(
                        e.kind(),
                        crate::ErrorKind::Authentication,
                        "flip at {i}: {e}"
                    );
                }
            }
        }
    }
}
