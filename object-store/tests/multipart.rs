//! Multipart uploads through `EncryptedStore`: parts of any size, encrypted in call order as
//! one GCM stream, read back whole and ranged, on `InMemory` and `LocalFileSystem`.

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use s3_encryption::{AesKey, AesKeyring};
use s3_encryption_object_store::EncryptedStore;
use std::sync::Arc;

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect()
}

async fn round_trip<S: ObjectStore>(inner: Arc<S>) {
    let s = EncryptedStore::builder(
        inner.clone(),
        Arc::new(AesKeyring::new(AesKey::new_256([3; 32]))),
    )
    .memory_budget(4 << 20)
    .build();
    let p = Path::from("mp/big.bin");
    let plain = data((19 << 20) + 13);
    let mut up = s.put_multipart(&p).await.unwrap();
    // Uneven parts, one of them empty, none a multiple of 16.
    let mut at = 0;
    for n in [1usize, 5_000_001, 0, 7 << 20, 3, 17] {
        up.put_part(plain[at..at + n].to_vec().into())
            .await
            .unwrap();
        at += n;
    }
    up.put_part(plain[at..].to_vec().into()).await.unwrap();
    up.complete().await.unwrap();
    // The stored object is one GCM stream with the tag at the end.
    let raw = inner.head(&p).await.unwrap();
    assert_eq!(raw.size, plain.len() as u64 + 16);
    assert_eq!(s.head(&p).await.unwrap().size, plain.len() as u64);
    let got = s.get(&p).await.unwrap().bytes().await.unwrap();
    assert!(got.as_ref() == &plain[..], "whole read differs");
    let r = (9 << 20) + 5..(9 << 20) + 70_000;
    let got = s.get_range(&p, r.clone()).await.unwrap();
    assert!(got.as_ref() == &plain[r.start as usize..r.end as usize]);

    // WriteMultipart (object_store's buffered writer) over the adapter.
    let q = Path::from("mp/writer.bin");
    let up = s.put_multipart(&q).await.unwrap();
    let mut w = WriteMultipart::new_with_chunk_size(up, 1 << 20);
    for c in plain[..3 << 20].chunks(333_333) {
        w.write(c);
    }
    w.finish().await.unwrap();
    let got = s.get(&q).await.unwrap().bytes().await.unwrap();
    assert!(got.as_ref() == &plain[..3 << 20]);

    // An aborted upload leaves no object.
    let z = Path::from("mp/aborted.bin");
    let mut up = s.put_multipart(&z).await.unwrap();
    up.put_part(plain[..100].to_vec().into()).await.unwrap();
    up.abort().await.unwrap();
    assert!(matches!(
        s.head(&z).await,
        Err(object_store::Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn multipart_round_trips_in_memory() {
    round_trip(Arc::new(InMemory::new())).await;
}

#[tokio::test]
async fn multipart_round_trips_on_a_file_system() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(Arc::new(
        LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
    ))
    .await;
}
