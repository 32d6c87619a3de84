//! An inner store that counts what it serves and can lie about it.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, Result,
};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How the store lies on body reads of the object it is told about.
#[derive(Debug, Clone, Default)]
pub enum Lie {
    /// It does not.
    #[default]
    Honest,
    /// Flips one bit of the stored byte at this offset wherever it is served.
    FlipBit(u64),
    /// Serves one byte less than the response says.
    Truncate,
    /// Serves the bytes of the object at this other path for the same range, with the real
    /// object's description (ETag included), ignoring `If-Match`.
    OtherObject(Path),
    /// Like `OtherObject`, but describes it honestly (its own ETag), still ignoring `If-Match`.
    OtherObjectHonestMeta(Path),
    /// Serves the stored bytes 16 further on than the range asked for.
    ShiftRange,
}

/// The wrapper.
#[derive(Debug)]
pub struct Lying<S> {
    pub inner: S,
    pub lie: Mutex<Lie>,
    pub requests: AtomicU64,
    pub ranged_requests: AtomicU64,
    pub bytes: AtomicU64,
}

impl<S> Lying<S> {
    pub fn new(inner: S) -> Self {
        Lying {
            inner,
            lie: Mutex::new(Lie::Honest),
            requests: AtomicU64::new(0),
            ranged_requests: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }
    pub fn set(&self, lie: Lie) {
        *self.lie.lock().unwrap() = lie;
    }
    pub fn reset_counts(&self) {
        self.requests.store(0, Ordering::SeqCst);
        self.ranged_requests.store(0, Ordering::SeqCst);
        self.bytes.store(0, Ordering::SeqCst);
    }
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.requests.load(Ordering::SeqCst),
            self.ranged_requests.load(Ordering::SeqCst),
            self.bytes.load(Ordering::SeqCst),
        )
    }
}

impl<S: std::fmt::Display> std::fmt::Display for Lying<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lying({})", self.inner)
    }
}

fn is_side(p: &Path) -> bool {
    let s = p.as_ref();
    s.ends_with(".instruction") || s.ends_with(".s3ec-metadata")
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for Lying<S> {
    async fn put_opts(&self, l: &Path, p: PutPayload, o: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(l, p, o).await
    }
    async fn put_multipart_opts(
        &self,
        l: &Path,
        o: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(l, o).await
    }
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        // As a store on a network would: concurrent reads interleave.
        tokio::task::yield_now().await;
        let lie = self.lie.lock().unwrap().clone();
        if options.head || is_side(location) {
            return self.inner.get_opts(location, options).await;
        }
        self.requests.fetch_add(1, Ordering::SeqCst);
        if options.range.is_some() {
            self.ranged_requests.fetch_add(1, Ordering::SeqCst);
        }
        let (other, honest_meta) = match &lie {
            Lie::OtherObject(p) => (Some(p.clone()), false),
            Lie::OtherObjectHonestMeta(p) => (Some(p.clone()), true),
            _ => (None, false),
        };
        let r = if let Some(o) = &other {
            let real = self.inner.head(location).await?;
            let mut opts = options.clone();
            opts.if_match = None;
            let mut r = self.inner.get_opts(o, opts).await?;
            if !honest_meta {
                r.meta = real;
            } else {
                r.meta.location = location.clone();
            }
            r
        } else if matches!(lie, Lie::ShiftRange) {
            let mut opts = options.clone();
            if let Some(GetRange::Bounded(b)) = &opts.range {
                opts.range = Some(GetRange::Bounded(b.start + 16..b.end + 16));
            }
            let asked = match &options.range {
                Some(GetRange::Bounded(b)) => Some(b.clone()),
                _ => None,
            };
            let mut r = self.inner.get_opts(location, opts).await?;
            if let Some(a) = asked {
                r.range = a;
            }
            r
        } else {
            self.inner.get_opts(location, options).await?
        };
        let range = r.range.clone();
        let meta = r.meta.clone();
        let attributes = r.attributes.clone();
        let extensions = r.extensions.clone();
        let mut body = r.bytes().await?.to_vec();
        match lie {
            Lie::FlipBit(at) if range.contains(&at) => body[(at - range.start) as usize] ^= 0x04,
            Lie::Truncate => {
                body.pop();
            }
            _ => {}
        }
        self.bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
        let b = Bytes::from(body);
        Ok(GetResult {
            payload: GetResultPayload::Stream(
                futures_util::stream::once(async move { Ok(b) }).boxed(),
            ),
            meta,
            range,
            attributes,
            extensions,
        })
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &Path, to: &Path, o: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, o).await
    }
}
