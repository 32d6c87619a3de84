//! ToV3: the source read (pinned, verified) streams its released plaintext through a guarded pipe
//! into the V3 write (conditional), then the new object is read back and compared.

use super::{MigrateOptions, MigrateOutcome, MigrateStatus, own_description, owned, short};
use crate::client::{GetOptions, PutOptions, S3EncryptionClient};
use crate::error::{Error, Result};
use crate::sdk::{self, ReadReq};
use s3_encryption::CommitmentPolicy;
use s3_encryption::object::MAX_PARTS_IN_FLIGHT;
use s3_encryption::object::Operation;
use s3_encryption::object::migrate::{
    PlaintextDigest, Reencrypt, ReencryptDone, RemoveInstructionFile, RemoveNext, Source,
};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Tells a [`GuardedReader`] whether its writer ended because the read succeeded.
type Flag = Arc<AtomicBool>;

/// The PUT's end of the plaintext pipe: the end of the pipe is the end of the body only if the
/// GET succeeded; otherwise it is an error, so that the PUT aborts and never stores a prefix.
struct GuardedReader {
    inner: tokio::io::DuplexStream,
    ok: Flag,
}

impl AsyncRead for GuardedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                if self.ok.load(Ordering::SeqCst) {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(std::io::Error::other(
                        "the source read failed: the body is incomplete",
                    )))
                }
            }
            r => r,
        }
    }
}

/// A writer that takes a SHA-256 of what passes (the verified plaintext, in order).
struct HashWriter<W> {
    inner: W,
    digest: PlaintextDigest,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                let at = this.digest.len();
                this.digest
                    .update(at, &buf[..n])
                    .map_err(std::io::Error::other)?;
                Poll::Ready(Ok(n))
            }
            r => r,
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl S3EncryptionClient {
    /// ToV3: read (pinned, verified) → write (V3, conditional) → read back and compare.
    pub(super) async fn reencrypt(
        &self,
        newc: &S3EncryptionClient,
        source: &Source,
        opts: &MigrateOptions,
    ) -> Result<MigrateOutcome> {
        let new_key = &newc.inner.keyring;
        let kms = new_key.uses_kms();
        let own = own_description(new_key, opts);
        let mut re = Reencrypt::new(source, CommitmentPolicy::RequireEncryptRequireDecrypt)?;
        re.set_new_key(super::new_key(new_key, &own))?;
        // What the core decided the new object carries (the source's when no new one was given).
        let desc = owned(re.new_description());
        let described;
        let newc = if kms {
            newc
        } else {
            described = self.for_migration(new_key.clone().with_context(desc.clone()))?;
            &described
        };
        let read_intent = re.read_intent(self.inner.policy)?;
        let mut write_intent = re.write_intent()?;
        let n = &newc.inner;
        write_intent.part_size = n.part_size;
        write_intent.multipart_threshold = n.multipart_threshold.unwrap_or(n.part_size);
        write_intent.parts_in_flight = n.parts_in_flight.min(MAX_PARTS_IN_FLIGHT as usize) as u16;
        write_intent.instruction_file_suffix = &n.suffix;
        let popts = PutOptions {
            encryption_context: kms.then(|| desc.clone()),
            ..PutOptions::default()
        };
        let ok: Flag = Arc::new(AtomicBool::new(false));
        let (pipe_w, pipe_r) = tokio::io::duplex(1 << 20);
        let reader = GuardedReader {
            inner: pipe_r,
            ok: ok.clone(),
        };
        let read = async {
            let mut w = HashWriter {
                inner: pipe_w,
                digest: PlaintextDigest::new(),
            };
            let r = self
                .read_verified_into(read_intent, &GetOptions::default(), &mut w)
                .await;
            if r.is_ok() {
                ok.store(true, Ordering::SeqCst);
            }
            let _ = w.shutdown().await;
            (r, w.digest)
        };
        let write = newc.put_with_intent(write_intent, reader, re.plaintext_len(), &popts);
        let ((read, digest), written) = tokio::join!(read, write);
        let (done, put) = match (read, written) {
            (Ok((done, _)), Ok(put)) => (done, put),
            // The source changed since the HEAD (a failed pin): nothing was written.
            (Err(e), _) if e.is_precondition_failed() => return Err(e),
            // A concurrent writer's object: the conditional write refused to replace it.
            (_, Err(w)) if w.is_precondition_failed() => return Err(w),
            // The pipe broke because the write failed first: its error is the cause.
            (Err(Error::Io(_)), Err(w)) => return Err(w),
            (Err(e), _) if e.ends_key_search() => return Err(e),
            (Err(e), _) => {
                // The source did not authenticate; the PUT saw an incomplete body and aborted.
                return Ok(MigrateOutcome::of(
                    source,
                    MigrateStatus::CannotOpen,
                    Some(short(&e)),
                ));
            }
            (Ok(_), Err(w)) => return Err(w),
        };
        re.read_done(&done, digest)?;
        re.written(
            put.plaintext_len,
            put.e_tag.as_deref(),
            put.version_id.as_deref(),
        )?;
        let mut out = MigrateOutcome::of(source, MigrateStatus::Migrated, None);
        out.new_etag = re.new_etag().map(str::to_owned);
        out.new_version = re.new_version_id().map(str::to_owned);
        out.bytes = put.plaintext_len;
        let mut notes = Vec::new();
        if opts.verify {
            let intent = re.verify_intent()?;
            let gopts = GetOptions {
                encryption_context: kms.then(|| desc.clone()),
                ..GetOptions::default()
            };
            let mut w = HashWriter {
                inner: tokio::io::sink(),
                digest: PlaintextDigest::new(),
            };
            let (vdone, info) = newc.read_verified_into(intent, &gopts, &mut w).await?;
            re.check_new_envelope(
                info.envelope.materials_description.as_deref(),
                info.envelope.encryption_context.as_deref(),
            )?;
            let v = re.verified(&vdone, info.envelope.format_version, w.digest)?;
            if v.description_not_carried {
                notes.push(
                    "the source's materials description or encryption context does not apply to the new key's kind and was not carried (give the new key's own with --new-context)"
                        .to_owned(),
                );
            }
            if v.instruction_file_left {
                let name = format!("{}{}", source.key(), source.suffix());
                notes.push(if !opts.remove_instruction_files {
                    format!("the old instruction file {name} was left in place")
                } else {
                    match self.remove_instruction_file(source, &v).await {
                        Ok(true) => {
                            out.instruction_file_removed = true;
                            format!("the old instruction file {name} was removed")
                        }
                        Ok(false) => format!("the old instruction file {name} was gone already"),
                        Err(e) if e.is_precondition_failed() => format!(
                            "the old instruction file {name} changed since it was read and was left in place"
                        ),
                        Err(e) => format!(
                            "the old instruction file {name} was left in place: {}",
                            short(&e)
                        ),
                    }
                });
            }
        } else {
            notes.push("not verified".to_owned());
        }
        out.detail = (!notes.is_empty()).then(|| notes.join("; "));
        Ok(out)
    }

    /// Remove the superseded instruction file of `source` (after `done`, a verified
    /// re-encryption): a HEAD pinned to its ETag, then a DELETE conditional on it. Whether it was
    /// removed (false: gone already); a replaced file is [`Error::ObjectChanged`].
    async fn remove_instruction_file(&self, source: &Source, done: &ReencryptDone) -> Result<bool> {
        let (bucket, key) = (source.bucket(), source.key());
        let err = |e| self.machine_error(e, bucket, key);
        let mut r = RemoveInstructionFile::new(source, done).map_err(err)?;
        loop {
            match r.poll().map_err(err)? {
                RemoveNext::Send(id) => {
                    let req = r.request(id).map_err(err)?;
                    let a = match req.operation {
                        Operation::DeleteObject => sdk::delete_object(&self.inner.s3, &req).await?,
                        _ => sdk::read(&self.inner.s3, &ReadReq::of(&req)).await?,
                    };
                    r.response(id, a.status, a.pairs()).map_err(err)?;
                }
                RemoveNext::Done(removed) => return Ok(removed),
            }
        }
    }
}
