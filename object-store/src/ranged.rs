//! Reads: whole objects verified before release, and authenticated ranged reads through the
//! core's verified digest tables.

use crate::EncryptedStore;
use crate::cache::Verified;
use crate::error::crypto;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, GetResultPayload, ObjectStore, Result};
use s3_encryption::{ChunkFetch, ChunkTableBuilder};
use std::ops::Range;
use std::sync::Arc;

/// Plaintext bytes per request when a large whole read is streamed out of its table.
const STREAM_SPAN: u64 = 8 << 20;

fn precondition(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::Precondition { .. })
}

fn conditions(o: &GetOptions) -> bool {
    o.if_match.is_some()
        || o.if_none_match.is_some()
        || o.if_modified_since.is_some()
        || o.if_unmodified_since.is_some()
}

/// The body as a buffer this adapter may decrypt in place: the inner store's own buffer when
/// this is the only reference to it, a copy otherwise.
fn owned(body: Bytes) -> BytesMut {
    body.try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]))
}

fn single(b: Bytes) -> GetResultPayload {
    GetResultPayload::Stream(stream::once(async move { Ok(b) }).boxed())
}

impl<S: ObjectStore> EncryptedStore<S> {
    /// `get_opts`.
    pub(crate) async fn read(&self, path: &Path, mut opts: GetOptions) -> Result<GetResult> {
        if opts.head {
            opts.range = None;
            let r = self.inner.get_opts(path, opts).await?;
            let attributes = crate::envelope_io::user_attributes(&r.attributes);
            let meta = Self::plain_meta(r.meta);
            return Ok(GetResult {
                payload: single(Bytes::new()),
                range: 0..meta.size,
                meta,
                attributes,
                extensions: r.extensions,
            });
        }
        if let Some(range) = opts.range.take() {
            return self.read_range(path, range, opts).await;
        }
        let r = self.inner.get_opts(path, opts.clone()).await?;
        let (dec, attributes) = self.open(path, &r.attributes).await?;
        let stored = r.meta.size;
        let extensions = r.extensions.clone();
        if stored <= self.memory_budget {
            let meta = r.meta.clone();
            let body = r.bytes().await?;
            if body.len() as u64 != stored {
                return Err(crypto(path, s3_encryption::Error::TruncatedBody));
            }
            let mut buf = owned(body);
            let n = dec
                .decrypt_whole_in_place(&mut buf)
                .map_err(|e| crypto(path, e))?;
            buf.truncate(n);
            let mut meta = meta;
            meta.size = n as u64;
            return Ok(GetResult {
                payload: single(buf.freeze()),
                range: 0..n as u64,
                meta,
                attributes,
                extensions,
            });
        }
        // Too large for one buffer: verify once into a table, then release chunk by chunk.
        let v = self
            .verify_stream(path, opts.version.as_deref(), dec, attributes, r)
            .await?;
        let len = v.table.plaintext_len();
        let me = self.clone_handle();
        let p = path.clone();
        let v2 = v.clone();
        let spans = (0..len.div_ceil(STREAM_SPAN))
            .map(move |i| i * STREAM_SPAN..((i + 1) * STREAM_SPAN).min(len));
        // The next span is fetched while the caller consumes this one: at most two spans
        // (16 MiB) in memory.
        let body = stream::iter(spans)
            .map(move |r| {
                let me = me.clone();
                let p = p.clone();
                let v = v2.clone();
                async move { me.fetch_pinned(&p, &v, &[r]).await.map(|mut b| b.remove(0)) }
            })
            .buffered(2)
            .boxed();
        Ok(GetResult {
            payload: GetResultPayload::Stream(body),
            range: 0..len,
            meta: v.meta.clone(),
            attributes: v.attributes.clone(),
            extensions,
        })
    }

    /// A cheap copy sharing the inner store, keyring and cache (for streams that outlive `&self`).
    pub(crate) fn clone_handle(&self) -> Arc<Self> {
        Arc::new(EncryptedStore {
            inner: self.inner.clone(),
            keyring: self.keyring.clone(),
            config: self.config,
            policy: self.policy,
            context: self.context.clone(),
            placement: self.placement,
            learned: self.learned.clone(),
            memory_budget: self.memory_budget,
            cache: self.cache.clone(),
            table_chunk: self.table_chunk,
            suffix: self.suffix.clone(),
        })
    }

    /// Stream a whole stored body through a table builder; cache and return the verified table.
    async fn verify_stream(
        &self,
        path: &Path,
        version: Option<&str>,
        dec: s3_encryption::Decryptor,
        attributes: object_store::Attributes,
        r: GetResult,
    ) -> Result<Arc<Verified>> {
        let meta = r.meta.clone();
        let mut b = ChunkTableBuilder::new(
            &dec,
            meta.size,
            meta.e_tag.as_deref(),
            meta.version.as_deref(),
            self.table_chunk,
        )
        .map_err(|e| crypto(path, e))?;
        drop(dec);
        let GetResult {
            payload,
            range,
            meta: m,
            attributes: a,
            extensions,
        } = r;
        let stream = match payload {
            #[cfg(all(feature = "fs", not(target_arch = "wasm32")))]
            GetResultPayload::File(file, _) => {
                b = verify_file(path, b, file, range).await?;
                None
            }
            // A stream, or a file while ours is off (`object_store`'s `fs` turned on elsewhere).
            other => Some(
                GetResult {
                    payload: other,
                    range,
                    meta: m,
                    attributes: a,
                    extensions,
                }
                .into_stream(),
            ),
        };
        if let Some(mut s) = stream {
            while let Some(piece) = s.try_next().await? {
                b.update(&piece).map_err(|e| crypto(path, e))?;
            }
        }
        let table = b.finish().map_err(|e| crypto(path, e))?;
        let v = Arc::new(Verified {
            table,
            meta: Self::plain_meta(meta),
            attributes,
        });
        self.cache.insert(path, version, v.clone());
        Ok(v)
    }

    /// The verified table of `path` (from the cache, or by one verifying read).
    pub(crate) async fn verified(&self, path: &Path, opts: &GetOptions) -> Result<Arc<Verified>> {
        let version = opts.version.as_deref();
        if conditions(opts) {
            // The caller's conditions, checked against the current object: its ETag picks the
            // table.
            let mut h = opts.clone();
            h.head = true;
            h.range = None;
            let cur = self.inner.get_opts(path, h).await?;
            if let Some(v) = self.cache.get(path, version)
                && v.table
                    .check_object(
                        cur.meta.e_tag.as_deref(),
                        cur.meta.version.as_deref(),
                        Some(cur.meta.size),
                    )
                    .is_ok()
            {
                return Ok(v);
            }
            let mut g = opts.clone();
            g.range = None;
            g.if_match = cur.meta.e_tag.clone();
            let r = self.inner.get_opts(path, g).await?;
            let (dec, attributes) = self.open(path, &r.attributes).await?;
            return self.verify_stream(path, version, dec, attributes, r).await;
        }
        if let Some(v) = self.cache.get(path, version) {
            return Ok(v);
        }
        // One verifying read per object however many readers arrive before its table exists (a
        // query engine's concurrent first reads): the others wait, then take the table.
        let gate = self.cache.gate(path, version);
        let held = gate.lock().await;
        let r = match self.cache.get(path, version) {
            Some(v) => Ok(v),
            None => {
                let g = GetOptions {
                    version: opts.version.clone(),
                    ..Default::default()
                };
                async {
                    let r = self.inner.get_opts(path, g).await?;
                    let (dec, attributes) = self.open(path, &r.attributes).await?;
                    self.verify_stream(path, version, dec, attributes, r).await
                }
                .await
            }
        };
        drop(held);
        self.cache.built(path, version, &gate);
        r
    }

    /// `get_opts` with a range.
    async fn read_range(
        &self,
        path: &Path,
        range: GetRange,
        opts: GetOptions,
    ) -> Result<GetResult> {
        let (v, bytes, r) = self
            .with_table(path, &opts, |v| {
                range
                    .as_range(v.table.plaintext_len())
                    .map_err(|e| object_store::Error::Generic {
                        store: crate::STORE,
                        source: Box::new(e),
                    })
                    .map(|r| vec![r])
            })
            .await?;
        let b = bytes.into_iter().next().unwrap_or_default();
        Ok(GetResult {
            payload: single(b),
            range: r[0].clone(),
            meta: v.meta.clone(),
            attributes: v.attributes.clone(),
            extensions: Default::default(),
        })
    }

    /// `get_ranges`: every range authenticated, adjacent chunks fetched together.
    pub(crate) async fn read_ranges(
        &self,
        path: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>> {
        let want = ranges.to_vec();
        let (_, bytes, _) = self
            .with_table(path, &GetOptions::default(), move |v| {
                let len = v.table.plaintext_len();
                want.iter()
                    .map(|r| {
                        if r.start > r.end || r.start > len {
                            Err(crypto(path, s3_encryption::Error::InvalidRange))
                        } else {
                            Ok(r.start..r.end.min(len))
                        }
                    })
                    .collect()
            })
            .await?;
        Ok(bytes)
    }

    /// Resolve ranges against the verified table and read them; after a precondition failure
    /// (the object changed since the table was built) the table is rebuilt once.
    async fn with_table<F>(
        &self,
        path: &Path,
        opts: &GetOptions,
        resolve: F,
    ) -> Result<(Arc<Verified>, Vec<Bytes>, Vec<Range<u64>>)>
    where
        F: Fn(&Verified) -> Result<Vec<Range<u64>>>,
    {
        let mut retried = false;
        loop {
            let v = self.verified(path, opts).await?;
            let ranges = resolve(&v)?;
            match self.fetch_pinned(path, &v, &ranges).await {
                Err(e) if precondition(&e) && !retried => {
                    self.cache.remove_if(path, opts.version.as_deref(), &v);
                    retried = true;
                }
                Err(e) => return Err(e),
                Ok(b) => return Ok((v, b, ranges)),
            }
        }
    }

    /// Fetch the chunks covering `ranges`, pinned to the table's object, coalescing adjacent and
    /// overlapping chunk spans; authenticate and decrypt them; slice out each range.
    pub(crate) async fn fetch_pinned(
        &self,
        path: &Path,
        v: &Verified,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>> {
        let t = &v.table;
        let mut plans: Vec<(usize, ChunkFetch)> = Vec::with_capacity(ranges.len());
        for (i, r) in ranges.iter().enumerate() {
            plans.push((i, t.plan(r.start, r.end).map_err(|e| crypto(path, e))?));
        }
        let mut order: Vec<(usize, ChunkFetch)> = plans
            .iter()
            .filter(|(_, f)| !f.is_empty())
            .cloned()
            .collect();
        order.sort_by_key(|(_, f)| f.first);
        // Coalesce: a span absorbs the next plan when its chunks touch or overlap.
        let mut spans: Vec<ChunkFetch> = Vec::new();
        for (_, f) in &order {
            match spans.last_mut() {
                Some(s) if f.first <= s.end => {
                    *s = t.merge(s, f).map_err(|e| crypto(path, e))?;
                }
                _ => spans.push(*f),
            }
        }
        let fetched =
            futures_util::future::try_join_all(spans.iter().map(|s| self.fetch_span(path, v, s)))
                .await?;
        let mut out = Vec::with_capacity(ranges.len());
        for (i, f) in &plans {
            let r = &ranges[*i];
            if f.is_empty() {
                out.push(Bytes::new());
                continue;
            }
            let k = spans
                .iter()
                .position(|s| s.first <= f.first && f.end <= s.end)
                .ok_or_else(|| {
                    crypto(
                        path,
                        s3_encryption::Error::Internal("a fetched range outside every span"),
                    )
                })?;
            let base = spans[k].first;
            out.push(fetched[k].slice((r.start - base) as usize..(r.end - base) as usize));
        }
        Ok(out)
    }

    /// One pinned ranged GET of a span's stored bytes, authenticated and decrypted.
    async fn fetch_span(&self, path: &Path, v: &Verified, s: &ChunkFetch) -> Result<Bytes> {
        let t = &v.table;
        let g = GetOptions {
            if_match: t.etag().map(String::from),
            version: t.version_id().map(String::from),
            range: Some(GetRange::Bounded(s.first..s.end)),
            ..Default::default()
        };
        let r = self.inner.get_opts(path, g).await?;
        t.check_object(
            r.meta.e_tag.as_deref(),
            r.meta.version.as_deref(),
            Some(r.meta.size),
        )
        .map_err(|e| crypto(path, e))?;
        if r.range != (s.first..s.end) {
            return Err(crypto(
                path,
                s3_encryption::Error::UnexpectedResponse("another range than asked for"),
            ));
        }
        let mut buf = owned(r.bytes().await?);
        // The whole span, decrypted; the caller slices the ranges out of it.
        let span = ChunkFetch {
            plaintext: (s.first, s.end),
            ..*s
        };
        let keep = t.open(&span, &mut buf).map_err(|e| crypto(path, e))?;
        buf.truncate(keep.end);
        Ok(buf.freeze())
    }
}

/// Feed `range` of a local file to the table builder in 1 MiB blocks, on the blocking pool when
/// there is a runtime (`object_store`'s own stream of a file yields 8 KiB per blocking task).
#[cfg(all(feature = "fs", not(target_arch = "wasm32")))]
async fn verify_file(
    path: &Path,
    mut b: ChunkTableBuilder,
    mut file: std::fs::File,
    range: Range<u64>,
) -> Result<ChunkTableBuilder> {
    use std::io::{Read, Seek, SeekFrom};
    let p = path.clone();
    let read = move || -> Result<ChunkTableBuilder> {
        let io = |e: std::io::Error| object_store::Error::Generic {
            store: crate::STORE,
            source: Box::new(e),
        };
        file.seek(SeekFrom::Start(range.start)).map_err(io)?;
        let mut rest = range.end - range.start;
        let mut buf = vec![0u8; 1 << 20];
        while rest > 0 {
            let want = rest.min(buf.len() as u64) as usize;
            let n = file.read(&mut buf[..want]).map_err(io)?;
            if n == 0 {
                break; // shorter than its metadata said: `finish` refuses the truncated body
            }
            b.update(&buf[..n]).map_err(|e| crypto(&p, e))?;
            rest -= n as u64;
        }
        Ok(b)
    };
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => rt
            .spawn_blocking(read)
            .await
            .map_err(|e| object_store::Error::Generic {
                store: crate::STORE,
                source: Box::new(e),
            })?,
        Err(_) => read(),
    }
}
