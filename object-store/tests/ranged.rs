//! Authenticated ranged reads: what they fetch, what they return, and what a lying inner store
//! gets (a typed error, never an unauthenticated byte).

mod lying;

use lying::{Lie, Lying};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use s3_encryption::{AesKey, AesKeyring, Error as CoreError};
use s3_encryption_object_store::{EncryptedStore, core_error};
use std::sync::Arc;

const CHUNK: u64 = 4096;

fn plaintext(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 7919) >> 3) as u8 ^ seed).collect()
}

fn store(inner: Arc<Lying<InMemory>>) -> EncryptedStore<Arc<Lying<InMemory>>> {
    EncryptedStore::builder(inner, Arc::new(AesKeyring::new(AesKey::new_256([9; 32]))))
        .table_chunk(CHUNK)
        .memory_budget(1 << 20)
        .build()
}

async fn setup(
    len: usize,
) -> (
    Arc<Lying<InMemory>>,
    EncryptedStore<Arc<Lying<InMemory>>>,
    Path,
    Vec<u8>,
) {
    let inner = Arc::new(Lying::new(InMemory::new()));
    let s = store(inner.clone());
    let p = Path::from("t/obj.bin");
    let data = plaintext(len, 1);
    s.put(&p, PutPayload::from(data.clone())).await.unwrap();
    (inner, s, p, data)
}

fn core(e: &object_store::Error) -> Option<CoreError> {
    core_error(e)
}

#[tokio::test]
async fn ranged_reads_return_the_plaintext_and_fetch_only_their_chunks() {
    let len = 40 * CHUNK as usize + 123;
    let (inner, s, p, data) = setup(len).await;
    // First ranged access: one verifying read of the whole object, then the chunk.
    inner.reset_counts();
    let got = s.get_range(&p, 5000..5010).await.unwrap();
    assert_eq!(got.as_ref(), &data[5000..5010]);
    let (req, ranged, bytes) = inner.counts();
    assert_eq!((req, ranged), (2, 1));
    assert_eq!(bytes, len as u64 + 16 + CHUNK);
    // Later ones: only the chunks they cover.
    let edges = [
        0u64,
        1,
        15,
        16,
        17,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        3 * CHUNK + 9,
        len as u64 - 1,
        len as u64,
    ];
    for &a in &edges {
        for &b in &edges {
            if b <= a {
                continue;
            }
            inner.reset_counts();
            let got = s.get_range(&p, a..b).await.unwrap();
            assert_eq!(got.as_ref(), &data[a as usize..b as usize], "{a}..{b}");
            let (req, _, bytes) = inner.counts();
            assert_eq!(req, 1);
            let chunks = (b.div_ceil(CHUNK) - a / CHUNK) * CHUNK;
            assert!(bytes <= chunks, "{a}..{b}: {bytes} > {chunks}");
        }
    }
    // get_opts with each GetRange form reports the plaintext size and range.
    for (r, want) in [
        (GetRange::Bounded(7..70_000), 7..70_000u64),
        (GetRange::Offset(len as u64 - 5), len as u64 - 5..len as u64),
        (GetRange::Suffix(100), len as u64 - 100..len as u64),
    ] {
        let res = s
            .get_opts(&p, GetOptions::new().with_range(Some(r)))
            .await
            .unwrap();
        assert_eq!(res.meta.size, len as u64);
        assert_eq!(res.range, want.clone());
        let b = res.bytes().await.unwrap();
        assert_eq!(b.as_ref(), &data[want.start as usize..want.end as usize]);
    }
    assert!(
        s.get_range(&p, len as u64 + 1..len as u64 + 5)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn concurrent_first_reads_verify_the_object_once() {
    let len = 40 * CHUNK as usize + 7;
    let (inner, s, p, data) = setup(len).await;
    inner.reset_counts();
    let ranges = [
        0..10u64,
        9000..9100,
        50_000..50_001,
        100..4200,
        163_000..163_500,
    ];
    let got = futures_util::future::try_join_all(ranges.iter().map(|r| s.get_range(&p, r.clone())))
        .await
        .unwrap();
    for (r, g) in ranges.iter().zip(&got) {
        assert_eq!(g.as_ref(), &data[r.start as usize..r.end as usize]);
    }
    // One whole (verifying) read, then one ranged read per range.
    let (req, ranged, _) = inner.counts();
    assert_eq!((req - ranged, ranged), (1, ranges.len() as u64));
    // A failed build is not cached: each waiting reader tries its own, and a later one succeeds.
    let (inner2, s2, p2, _) = setup(len).await;
    inner2.set(Lie::FlipBit(100));
    let r = futures_util::future::join_all((0..3).map(|_| s2.get_range(&p2, 0..10))).await;
    assert!(r.iter().all(|x| x.is_err()));
    inner2.set(Lie::Honest);
    assert_eq!(s2.get_range(&p2, 0..10).await.unwrap().len(), 10);
}

#[tokio::test]
async fn get_ranges_coalesces_adjacent_chunks_into_one_request() {
    let len = 64 * CHUNK as usize;
    let (inner, s, p, data) = setup(len).await;
    s.get_range(&p, 0..1).await.unwrap();
    // Three ranges in chunks 2, 3 and 4 (adjacent), one in chunk 40: two requests.
    let ranges = vec![
        2 * CHUNK + 1..2 * CHUNK + 100,
        3 * CHUNK + 5..4 * CHUNK + 50,
        40 * CHUNK..40 * CHUNK + 10,
        2 * CHUNK + 50..2 * CHUNK + 60,
    ];
    inner.reset_counts();
    let got = s.get_ranges(&p, &ranges).await.unwrap();
    for (r, g) in ranges.iter().zip(&got) {
        assert_eq!(g.as_ref(), &data[r.start as usize..r.end as usize]);
    }
    let (req, ranged, bytes) = inner.counts();
    assert_eq!((req, ranged), (2, 2));
    assert_eq!(bytes, 4 * CHUNK);
}

#[tokio::test]
async fn the_table_cache_is_bounded_in_bytes() {
    let inner = Arc::new(Lying::new(InMemory::new()));
    let s = EncryptedStore::builder(
        inner.clone(),
        Arc::new(AesKeyring::new(AesKey::new_256([9; 32]))),
    )
    .table_chunk(CHUNK)
    .table_cache_bytes(4096)
    .build();
    for i in 0..20 {
        let p = Path::from(format!("o{i}"));
        s.put(&p, PutPayload::from(plaintext(10 * CHUNK as usize, i)))
            .await
            .unwrap();
        s.get_range(&p, 1..2).await.unwrap();
        let (bytes, _) = s.table_cache_usage();
        assert!(bytes <= 4096, "{bytes}");
    }
    let (bytes, n) = s.table_cache_usage();
    assert!(n >= 1 && bytes > 0);
}

#[tokio::test]
async fn a_flipped_bit_is_refused_whole_and_ranged_before_and_after_the_table() {
    let len = 10 * CHUNK as usize + 7;
    let (inner, s, p, data) = setup(len).await;
    // Whole read.
    inner.set(Lie::FlipBit(3 * CHUNK + 2));
    let e = s.get(&p).await.unwrap_err();
    assert_eq!(core(&e), Some(CoreError::Authentication), "{e}");
    // First ranged access: the verifying read fails, no table is kept.
    let e = s.get_range(&p, 0..10).await.unwrap_err();
    assert_eq!(core(&e), Some(CoreError::Authentication), "{e}");
    assert_eq!(s.table_cache_usage().1, 0);
    // A table built honestly, then a lie inside the fetched chunk: refused.
    inner.set(Lie::Honest);
    assert_eq!(s.get_range(&p, 0..10).await.unwrap().as_ref(), &data[..10]);
    inner.set(Lie::FlipBit(3 * CHUNK + 2));
    let e = s
        .get_range(&p, 3 * CHUNK + 100..3 * CHUNK + 200)
        .await
        .unwrap_err();
    assert_eq!(core(&e), Some(CoreError::ObjectChanged), "{e}");
    // The last ciphertext byte (inside the last, short chunk, which ends mid AES block).
    inner.set(Lie::FlipBit(len as u64 - 1));
    let e = s
        .get_range(&p, len as u64 - 3..len as u64)
        .await
        .unwrap_err();
    assert_eq!(core(&e), Some(CoreError::ObjectChanged), "{e}");
    // Ranges away from the lie still read.
    assert_eq!(s.get_range(&p, 0..10).await.unwrap().as_ref(), &data[..10]);
}

#[tokio::test]
async fn truncated_and_shifted_bodies_are_refused() {
    let len = 6 * CHUNK as usize;
    let (inner, s, p, _) = setup(len).await;
    inner.set(Lie::Truncate);
    let e = s.get(&p).await.unwrap_err();
    assert_eq!(core(&e), Some(CoreError::TruncatedBody), "{e}");
    let e = s.get_range(&p, 0..10).await.unwrap_err();
    assert_eq!(core(&e), Some(CoreError::TruncatedBody), "{e}");
    inner.set(Lie::Honest);
    s.get_range(&p, 0..10).await.unwrap();
    inner.set(Lie::Truncate);
    let e = s.get_range(&p, CHUNK..CHUNK + 10).await.unwrap_err();
    assert!(
        matches!(core(&e), Some(CoreError::UnexpectedResponse(_))),
        "{e}"
    );
    inner.set(Lie::ShiftRange);
    let e = s.get_range(&p, CHUNK..CHUNK + 10).await.unwrap_err();
    assert_eq!(core(&e), Some(CoreError::ObjectChanged), "{e}");
}

#[tokio::test]
async fn another_version_served_on_a_later_read_is_refused_never_mixed() {
    let len = 8 * CHUNK as usize;
    let (inner, s, p, data) = setup(len).await;
    // Another object of the same length under the same keyring (think: the next version).
    let q = Path::from("t/other.bin");
    s.put(&q, PutPayload::from(plaintext(len, 2)))
        .await
        .unwrap();
    assert_eq!(s.get_range(&p, 0..10).await.unwrap().as_ref(), &data[..10]);
    // Its bytes with our object's ETag, If-Match ignored: the digests refuse them.
    inner.set(Lie::OtherObject(q.clone()));
    let e = s
        .get_range(&p, 2 * CHUNK..2 * CHUNK + 10)
        .await
        .unwrap_err();
    assert_eq!(core(&e), Some(CoreError::ObjectChanged), "{e}");
    // Its bytes with its own ETag: the binding refuses them.
    inner.set(Lie::OtherObjectHonestMeta(q.clone()));
    let e = s
        .get_range(&p, 2 * CHUNK..2 * CHUNK + 10)
        .await
        .unwrap_err();
    assert_eq!(core(&e), Some(CoreError::ObjectChanged), "{e}");
}

#[tokio::test]
async fn an_object_replaced_behind_the_cache_is_read_fresh() {
    let len = 8 * CHUNK as usize;
    let (inner, s, p, data) = setup(len).await;
    assert_eq!(s.get_range(&p, 0..10).await.unwrap().as_ref(), &data[..10]);
    // Another writer replaces the object (another client over the same inner store).
    let other = store(inner.clone());
    let fresh = plaintext(len, 3);
    other
        .put(&p, PutPayload::from(fresh.clone()))
        .await
        .unwrap();
    // Our cached table is pinned to the old ETag: the store answers 412, the table is
    // rebuilt from the new object, and the bytes are all new.
    let got = s.get_range(&p, CHUNK..CHUNK + 100).await.unwrap();
    assert_eq!(got.as_ref(), &fresh[CHUNK as usize..CHUNK as usize + 100]);
    // The caller's own If-Match with the old ETag fails.
    let cur = s.head(&p).await.unwrap();
    let bad = GetOptions {
        if_match: Some("\"nope\"".into()),
        range: Some(GetRange::Bounded(0..4)),
        ..Default::default()
    };
    assert!(matches!(
        s.get_opts(&p, bad).await,
        Err(object_store::Error::Precondition { .. })
    ));
    let good = GetOptions {
        if_match: cur.e_tag.clone(),
        range: Some(GetRange::Bounded(0..4)),
        ..Default::default()
    };
    let b = s.get_opts(&p, good).await.unwrap().bytes().await.unwrap();
    assert_eq!(b.as_ref(), &fresh[..4]);
}

#[tokio::test]
async fn large_whole_reads_are_verified_then_streamed_in_pinned_chunks() {
    // Over the 1 MiB budget of `store`: verified by a first pass, released chunk by chunk.
    let len = (3 << 20) + 5;
    let (inner, s, p, data) = setup(len).await;
    let got = s.get(&p).await.unwrap().bytes().await.unwrap();
    assert_eq!(got.as_ref(), &data[..]);
    inner.set(Lie::FlipBit(2 << 20));
    let e = s.get(&p).await.unwrap_err();
    assert_eq!(core(&e), Some(CoreError::Authentication), "{e}");
}
