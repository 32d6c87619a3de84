//! The embedded server's store: s3s-fs, except that a GetObject body is read from the file in
//! 1 MiB blocks on the blocking pool (s3s-fs reads 4 KiB per blocking call, which on a small
//! machine costs more CPU than the client it serves). Every other operation is s3s-fs's own.

use bytes::Bytes;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use std::future::Future as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::task::JoinHandle;

/// Bytes per read of a GetObject body.
const BLOCK: u64 = 1 << 20;

/// s3s-fs over `root`, with faster GetObject bodies.
pub(crate) struct Store {
    inner: s3s_fs::FileSystem,
    root: PathBuf,
}

impl Store {
    pub(crate) fn new(root: &Path) -> std::io::Result<Store> {
        let inner =
            s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        Ok(Store {
            inner,
            root: std::fs::canonicalize(root)?,
        })
    }

    /// The file of `bucket`/`key`, when the key is a plain relative path (anything else keeps
    /// s3s-fs's own body).
    fn path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let plain = |s: &str| {
            Path::new(s)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        };
        (plain(bucket) && plain(key)).then(|| self.root.join(bucket).join(key))
    }
}

/// The first byte of a `Content-Range: bytes a-b/n` value.
fn range_start(content_range: &str) -> Option<u64> {
    content_range
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// A block being read: the file comes back with it.
type BlockRead = JoinHandle<std::io::Result<(std::fs::File, Vec<u8>)>>;

/// A file range read in blocks, each on the blocking pool.
struct FileBody {
    file: Option<std::fs::File>,
    left: u64,
    reading: Option<BlockRead>,
}

impl futures_core::Stream for FileBody {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.reading.is_none() {
            if self.left == 0 {
                return Poll::Ready(None);
            }
            let Some(mut file) = self.file.take() else {
                return Poll::Ready(None);
            };
            let n = self.left.min(BLOCK) as usize;
            self.reading = Some(tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; n];
                file.read_exact(&mut buf)?;
                Ok((file, buf))
            }));
        }
        let Some(reading) = self.reading.as_mut() else {
            return Poll::Ready(None);
        };
        let done = ready!(Pin::new(reading).poll(cx));
        self.reading = None;
        match done {
            Ok(Ok((file, buf))) => {
                self.left -= buf.len() as u64;
                self.file = Some(file);
                Poll::Ready(Some(Ok(Bytes::from(buf))))
            }
            Ok(Err(e)) => Poll::Ready(Some(Err(e))),
            Err(e) => Poll::Ready(Some(Err(std::io::Error::other(e)))),
        }
    }
}

macro_rules! store {
    ($($op:ident($input:ident) -> $output:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for Store {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.inner.$op(req).await
                }
            )*

            async fn get_object(
                &self,
                req: S3Request<GetObjectInput>,
            ) -> S3Result<S3Response<GetObjectOutput>> {
                let path = self.path(&req.input.bucket, &req.input.key);
                // Opened before s3s-fs opens it: if the object is replaced in between, the two
                // disagree on length or modification time and s3s-fs's own body is kept.
                let file = path.and_then(|p| std::fs::File::open(p).ok());
                let mut resp = self.inner.get_object(req).await?;
                let Some(mut file) = file else { return Ok(resp) };
                let out = &mut resp.output;
                let Ok(meta) = file.metadata() else { return Ok(resp) };
                let same = out.last_modified.as_ref().zip(meta.modified().ok()).is_some_and(
                    |(a, b)| *a == Timestamp::from(b),
                );
                let start = match out.content_range.as_deref() {
                    Some(r) => range_start(r),
                    None => Some(0),
                };
                let len = out.content_length.and_then(|n| u64::try_from(n).ok());
                let (Some(start), Some(len), true) = (start, len, same) else {
                    return Ok(resp);
                };
                if start.checked_add(len).is_none_or(|end| end > meta.len())
                    || file.seek(SeekFrom::Start(start)).is_err()
                {
                    return Ok(resp);
                }
                out.body = Some(StreamingBlob::wrap(FileBody {
                    file: Some(file),
                    left: len,
                    reading: None,
                }));
                Ok(resp)
            }
        }
    };
}

store! {
    create_bucket(CreateBucketInput) -> CreateBucketOutput;
    copy_object(CopyObjectInput) -> CopyObjectOutput;
    delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    head_bucket(HeadBucketInput) -> HeadBucketOutput;
    head_object(HeadObjectInput) -> HeadObjectOutput;
    list_buckets(ListBucketsInput) -> ListBucketsOutput;
    list_objects(ListObjectsInput) -> ListObjectsOutput;
    list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    put_object(PutObjectInput) -> PutObjectOutput;
    create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    upload_part(UploadPartInput) -> UploadPartOutput;
    upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
    list_parts(ListPartsInput) -> ListPartsOutput;
    complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
}
