//! Amazon S3 client-side encryption (S3EC) for any [`object_store::ObjectStore`].
//!
//! [`EncryptedStore`] wraps an inner store (S3 through `AmazonS3`, `LocalFileSystem`,
//! `InMemory`, …) and implements `ObjectStore` itself: every object written through it is
//! encrypted (V3, key-committing AES-256-GCM by default) with a fresh data key wrapped by a
//! `Keyring` (the core's [`s3_encryption::Keyring`]); every object read through it is authenticated before a
//! byte of it is released. The format, the envelope and every release decision come from the
//! `s3-encryption` core; this crate only moves bytes.
//!
//! * **Whole reads** (`get`, `get_opts` without a range) are verified before they return: in one
//!   buffer up to the memory budget, and above it with one verifying pass that records a digest
//!   table, then a stream of pinned chunk reads each checked against that table.
//! * **Ranged reads** (`get_range`, `get_ranges`, `get_opts` with a range) are authenticated
//!   too. The first ranged access of an object reads it once, verifies its tag and keeps its
//!   [`ChunkTable`](s3_encryption::ChunkTable) (one 16-byte digest per 64 KiB chunk: the
//!   chunk's GHASH under the object's secret hash key) in a cache bounded in bytes, keyed by
//!   location and version. Each ranged read then fetches only the chunks it covers, pinned to
//!   the table's ETag and version (`If-Match`), checks every chunk against its digest and only
//!   then decrypts it. A changed object is refused (`Precondition` from the store, or the core's
//!   `ObjectChanged` when a store serves other bytes): the adapter rebuilds the table once after
//!   a precondition failure and never mixes two versions. `get_ranges` coalesces adjacent
//!   chunks into one request.
//! * **Envelope placement.** Where the inner store keeps user metadata (S3, `InMemory`), the
//!   envelope goes in `Attributes::Metadata` (S3's `x-amz-meta-*`, readable by every S3EC).
//!   Where it does not (`LocalFileSystem` refuses attributes with `NotImplemented`), the adapter
//!   notices on the first write and from then on writes the envelope's key material to an
//!   instruction file (`<key>.instruction`) and the object-side entries and user metadata to a
//!   metadata file (`<key>.s3ec-metadata`). Listings hide both; delete, copy and rename carry
//!   them along. [`MetadataPlacement`] pins the choice.
//! * **Writes**: `put`/`put_opts` (`PutMode::Create` and `Update` are the inner store's
//!   conditions on the ciphertext object), `put_multipart` (the parts are consecutive slices of
//!   one GCM stream, encrypted in call order; the tag ends the last part).
//! * `head` and `list` report **plaintext** sizes (stored size − 16 for GCM objects) and
//!   the ETag of the stored object (what `PutMode::Update` and `if_match` compare).
//!
//! ```no_run
//! # async fn demo() -> object_store::Result<()> {
//! use object_store::{ObjectStoreExt, PutPayload, memory::InMemory, path::Path};
//! use s3_encryption::{AesKey, AesKeyring};
//! use s3_encryption_object_store::EncryptedStore;
//! use std::sync::Arc;
//!
//! let keyring = Arc::new(AesKeyring::new(AesKey::new_256([7; 32])));
//! let store = EncryptedStore::builder(InMemory::new(), keyring).build();
//! let p = Path::from("data/a.bin");
//! store.put(&p, PutPayload::from_static(b"hello")).await?;
//! assert_eq!(store.get_range(&p, 1..4).await?.as_ref(), b"ell"); // authenticated
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod cache;
mod envelope_io;
pub mod error;
mod ranged;
mod upload;

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use s3_encryption::{DecryptPolicy, EncryptConfig, Keyring};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

pub use error::{STORE, core_error};
pub use s3_encryption::verified_range::DEFAULT_TABLE_CHUNK;

/// The suffix of the metadata file written next to an object where the inner store keeps no
/// user metadata.
pub const METADATA_SUFFIX: &str = ".s3ec-metadata";

/// Where the envelope and user metadata go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataPlacement {
    /// `Attributes::Metadata` until the inner store refuses attributes (`NotImplemented`), then
    /// files next to the object (the default).
    Auto,
    /// Always `Attributes::Metadata` (S3, `InMemory`).
    Attributes,
    /// Always files next to the object (an instruction file and a metadata file).
    Files,
}

const LEARNED_UNKNOWN: u8 = 0;
const LEARNED_ATTRIBUTES: u8 = 1;
const LEARNED_FILES: u8 = 2;

/// Builds an [`EncryptedStore`].
pub struct Builder<S> {
    inner: S,
    keyring: Arc<dyn Keyring + Send + Sync>,
    config: EncryptConfig,
    policy: DecryptPolicy,
    context: Vec<(String, String)>,
    placement: MetadataPlacement,
    memory_budget: u64,
    cache_bytes: usize,
    table_chunk: u64,
    suffix: String,
}

impl<S: ObjectStore> Builder<S> {
    /// The write configuration (default: V3, REQUIRE_ENCRYPT_REQUIRE_DECRYPT, metadata placement;
    /// instruction-file placement writes `<key>.instruction` on every store).
    pub fn config(mut self, config: EncryptConfig) -> Self {
        self.config = config;
        self
    }
    /// What may be decrypted (default: [`DecryptPolicy::default`]).
    pub fn policy(mut self, policy: DecryptPolicy) -> Self {
        self.policy = policy;
        self
    }
    /// The materials description (AES/RSA keyrings) passed to the keyring on every write and read.
    pub fn context(mut self, context: &[(&str, &str)]) -> Self {
        self.context = context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }
    /// Where the envelope goes (default [`MetadataPlacement::Auto`]).
    pub fn metadata_placement(mut self, p: MetadataPlacement) -> Self {
        self.placement = p;
        self
    }
    /// Whole reads up to this stored size are verified in one buffer (default 64 MiB); larger
    /// ones are verified by a first pass and released chunk by chunk.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }
    /// Bytes of verified digest tables kept for ranged reads (default 64 MiB: 16 bytes per
    /// 64 KiB chunk, so about 256 GiB of objects).
    pub fn table_cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }
    /// Bytes per digest of the tables (default [`DEFAULT_TABLE_CHUNK`]); a ranged read fetches
    /// whole chunks.
    pub fn table_chunk(mut self, bytes: u64) -> Self {
        self.table_chunk = bytes;
        self
    }
    /// The instruction-file suffix (default `.instruction`).
    pub fn instruction_file_suffix(mut self, suffix: &str) -> Self {
        self.suffix = suffix.to_string();
        self
    }
    /// The store.
    pub fn build(self) -> EncryptedStore<S> {
        EncryptedStore {
            inner: Arc::new(self.inner),
            keyring: self.keyring,
            config: self.config,
            policy: self.policy,
            context: self.context,
            placement: self.placement,
            learned: Arc::new(AtomicU8::new(LEARNED_UNKNOWN)),
            memory_budget: self.memory_budget,
            cache: Arc::new(cache::TableCache::new(self.cache_bytes)),
            table_chunk: self.table_chunk,
            suffix: self.suffix,
        }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Builder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// An [`ObjectStore`] that encrypts everything it writes to `S` and authenticates everything
/// it reads from it. See the [crate documentation](crate).
pub struct EncryptedStore<S> {
    inner: Arc<S>,
    keyring: Arc<dyn Keyring + Send + Sync>,
    config: EncryptConfig,
    policy: DecryptPolicy,
    context: Vec<(String, String)>,
    placement: MetadataPlacement,
    learned: Arc<AtomicU8>,
    memory_budget: u64,
    cache: Arc<cache::TableCache>,
    table_chunk: u64,
    suffix: String,
}

impl<S: std::fmt::Debug> std::fmt::Debug for EncryptedStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedStore")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("placement", &self.placement)
            .finish_non_exhaustive()
    }
}

impl<S: std::fmt::Display> std::fmt::Display for EncryptedStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptedStore({})", self.inner)
    }
}

impl<S: ObjectStore> EncryptedStore<S> {
    /// A builder over `inner` with `keyring` (an `AesKeyring`, `RsaKeyring`, `MultiKeyring` or
    /// your own).
    pub fn builder(inner: S, keyring: Arc<dyn Keyring + Send + Sync>) -> Builder<S> {
        Builder {
            inner,
            keyring,
            config: EncryptConfig::default(),
            policy: DecryptPolicy::default(),
            context: Vec::new(),
            placement: MetadataPlacement::Auto,
            memory_budget: 64 << 20,
            cache_bytes: 64 << 20,
            table_chunk: DEFAULT_TABLE_CHUNK,
            suffix: s3_encryption::envelope::keys::INSTRUCTION_SUFFIX.to_string(),
        }
    }

    /// The inner store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Bytes held by the digest-table cache, and the number of tables in it.
    pub fn table_cache_usage(&self) -> (usize, usize) {
        self.cache.usage()
    }

    /// Whether a path is one of the adapter's files next to an object.
    fn is_side_file(&self, p: &Path) -> bool {
        let s = p.as_ref();
        s.ends_with(&self.suffix) || s.ends_with(METADATA_SUFFIX)
    }

    fn side_files(&self, p: &Path) -> [Path; 2] {
        [side_path(p, &self.suffix), side_path(p, METADATA_SUFFIX)]
    }

    fn plain_meta(mut m: ObjectMeta) -> ObjectMeta {
        m.size = m.size.saturating_sub(s3_encryption::TAG_LEN as u64);
        m
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for EncryptedStore<S> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.cache.invalidate(location);
        self.write(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.cache.invalidate(location);
        self.start_upload(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.read(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.read_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = self.inner.clone();
        let cache = self.cache.clone();
        let suffix = self.suffix.clone();
        locations
            .then(move |p| {
                let inner = inner.clone();
                let cache = cache.clone();
                let suffix = suffix.clone();
                async move {
                    let p = p?;
                    cache.invalidate(&p);
                    let mut one =
                        inner.delete_stream(futures_util::stream::iter([Ok(p.clone())]).boxed());
                    while let Some(r) = one.next().await {
                        r?;
                    }
                    for side in [side_path(&p, &suffix), side_path(&p, METADATA_SUFFIX)] {
                        let mut s =
                            inner.delete_stream(futures_util::stream::iter([Ok(side)]).boxed());
                        while let Some(r) = s.next().await {
                            match r {
                                Ok(_) => {}
                                Err(e) if error::is_not_found(&e) => {}
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    Ok(p)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let suffix = self.suffix.clone();
        self.inner
            .list(prefix)
            .filter_map(move |r| {
                let keep = match &r {
                    Ok(m) => {
                        let s = m.location.as_ref();
                        !(s.ends_with(&suffix) || s.ends_with(METADATA_SUFFIX))
                    }
                    Err(_) => true,
                };
                futures_util::future::ready(keep.then(|| r.map(Self::plain_meta)))
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let mut r = self.inner.list_with_delimiter(prefix).await?;
        r.objects.retain(|m| !self.is_side_file(&m.location));
        r.objects = r.objects.into_iter().map(Self::plain_meta).collect();
        Ok(r)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.cache.invalidate(to);
        self.inner.copy_opts(from, to, options).await?;
        for (a, b) in self.side_files(from).into_iter().zip(self.side_files(to)) {
            match self.inner.copy_opts(&a, &b, CopyOptions::new()).await {
                Ok(()) => {}
                Err(e) if error::is_not_found(&e) => {
                    // No such file next to the source: make sure none is left at the target.
                    let mut s = self
                        .inner
                        .delete_stream(futures_util::stream::iter([Ok(b)]).boxed());
                    while let Some(r) = s.next().await {
                        if let Err(e) = r
                            && !error::is_not_found(&e)
                        {
                            return Err(e);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        let mode = match options.target_mode {
            object_store::RenameTargetMode::Overwrite => object_store::CopyMode::Overwrite,
            object_store::RenameTargetMode::Create => object_store::CopyMode::Create,
        };
        self.copy_opts(from, to, CopyOptions::new().with_mode(mode))
            .await?;
        self.cache.invalidate(from);
        let mut s = self.delete_stream(futures_util::stream::iter([Ok(from.clone())]).boxed());
        while let Some(r) = s.next().await {
            r?;
        }
        Ok(())
    }
}

use bytes::Bytes;

/// `p` with `suffix` appended to its last segment (the raw, already encoded form is kept).
fn side_path(p: &Path, suffix: &str) -> Path {
    let raw = format!("{}{}", p.as_ref(), suffix);
    Path::parse(&raw).unwrap_or_else(|_| Path::from(raw))
}

/// Which placement a write uses now.
impl<S: ObjectStore> EncryptedStore<S> {
    fn files_placement(&self) -> bool {
        match self.placement {
            MetadataPlacement::Files => true,
            MetadataPlacement::Attributes => false,
            MetadataPlacement::Auto => self.learned.load(Ordering::Relaxed) == LEARNED_FILES,
        }
    }
    /// Whether the placement of the next write is known for good (pinned, or learned from the
    /// inner store), so that no write will be retried with the other one.
    fn placement_settled(&self) -> bool {
        self.placement != MetadataPlacement::Auto
            || self.learned.load(Ordering::Relaxed) != LEARNED_UNKNOWN
    }
    fn learn(&self, files: bool) {
        if self.placement == MetadataPlacement::Auto {
            self.learned.store(
                if files {
                    LEARNED_FILES
                } else {
                    LEARNED_ATTRIBUTES
                },
                Ordering::Relaxed,
            );
        }
    }
}
