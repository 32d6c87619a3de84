//! `put_multipart`: the parts are consecutive slices of one GCM stream, encrypted in the order
//! `put_part` is called; the inner upload gets parts of at least [`PART`] bytes, and the tag
//! ends the last one. The envelope is rendered before the first byte (it goes with
//! `put_multipart_opts`, or to the side files after `complete`).

use crate::EncryptedStore;
use crate::envelope_io::Begun;
use crate::error::crypto;
use async_trait::async_trait;
use object_store::path::Path;
use object_store::{
    MultipartUpload, ObjectStore, PutMultipartOptions, PutPayload, PutResult, Result, UploadPart,
};
use s3_encryption::Encryptor;
use std::sync::Arc;

/// Bytes of ciphertext per inner part (S3's minimum for every part but the last is 5 MiB).
pub const PART: usize = 8 << 20;

struct Upload<S: ObjectStore> {
    store: Arc<EncryptedStore<S>>,
    path: Path,
    inner: Box<dyn MultipartUpload>,
    enc: Option<Encryptor>,
    pending: Vec<u8>,
    side: crate::envelope_io::SideFiles,
    failed: bool,
}

impl<S: ObjectStore> std::fmt::Debug for Upload<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedUpload")
            .field("path", &self.path)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<S: ObjectStore> EncryptedStore<S> {
    pub(crate) async fn start_upload(
        &self,
        path: &Path,
        mut opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.check_user_metadata(path, &opts.attributes)?;
        loop {
            let files = self.files_placement();
            let b: Begun = self.begin(path, None, files)?;
            let (attrs, side) = self.placement_of(path, &b, &opts.attributes, files)?;
            let mut o = opts.clone();
            o.attributes = attrs;
            match self.inner.put_multipart_opts(path, o).await {
                Err(object_store::Error::NotImplemented { .. })
                    if !files && self.placement == crate::MetadataPlacement::Auto =>
                {
                    self.learn(true);
                    continue;
                }
                Err(e) => return Err(e),
                Ok(inner) => {
                    opts.attributes = Default::default();
                    return Ok(Box::new(Upload {
                        store: self.clone_handle(),
                        path: path.clone(),
                        inner,
                        enc: Some(b.enc),
                        pending: Vec::new(),
                        side,
                        failed: false,
                    }));
                }
            }
        }
    }
}

#[async_trait]
impl<S: ObjectStore> MultipartUpload for Upload<S> {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let Some(enc) = self.enc.as_mut() else {
            let p = self.path.clone();
            return Box::pin(async move {
                Err(crypto(
                    &p,
                    s3_encryption::Error::ApiMisuse(
                        "MultipartUpload::put_part after complete or abort",
                    ),
                ))
            });
        };
        for b in data.iter() {
            let at = self.pending.len();
            self.pending.extend_from_slice(b);
            if let Err(e) = enc.encrypt_in_place(&mut self.pending[at..]) {
                self.failed = true;
                let p = self.path.clone();
                return Box::pin(async move { Err(crypto(&p, e)) });
            }
        }
        if self.pending.len() < PART {
            return Box::pin(async { Ok(()) });
        }
        let rest = self.pending.split_off(PART * (self.pending.len() / PART));
        let full = std::mem::replace(&mut self.pending, rest);
        let mut futs = Vec::new();
        for c in full.chunks(PART) {
            futs.push(self.inner.put_part(PutPayload::from(c.to_vec())));
        }
        Box::pin(async move {
            for f in futs {
                f.await?;
            }
            Ok(())
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let enc = self.enc.take().ok_or_else(|| {
            crypto(
                &self.path,
                s3_encryption::Error::ApiMisuse("MultipartUpload::complete called twice"),
            )
        })?;
        if self.failed {
            let _ = self.inner.abort().await;
            return Err(crypto(
                &self.path,
                s3_encryption::Error::ApiMisuse("MultipartUpload::complete after a part failed"),
            ));
        }
        let tag = enc.finish().map_err(|e| crypto(&self.path, e))?;
        let mut last = std::mem::take(&mut self.pending);
        last.extend_from_slice(&tag);
        self.inner.put_part(PutPayload::from(last)).await?;
        let r = self.inner.complete().await?;
        let side = std::mem::take(&mut self.side);
        self.store.write_side_files(&self.path, side).await?;
        self.store.cache.invalidate(&self.path);
        Ok(r)
    }

    async fn abort(&mut self) -> Result<()> {
        self.enc = None;
        self.inner.abort().await
    }
}
