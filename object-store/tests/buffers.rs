//! Whose memory the adapter writes into, and the verifying pass over a local file.
//!
//! A put encrypts in the payload's own buffer only when the caller handed over the only
//! reference to it; a buffer the caller still holds is left intact. A whole read over the
//! memory budget on `LocalFileSystem` verifies the file in blocks before it releases a byte: a
//! flipped or missing byte on disk is refused.

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use s3_encryption::{AesKey, AesKeyring, Error as CoreError};
use s3_encryption_object_store::{EncryptedStore, core_error};
use std::sync::Arc;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 253) as u8 ^ (i >> 11) as u8 ^ seed)
        .collect()
}

fn store<S: ObjectStore>(inner: S) -> EncryptedStore<S> {
    EncryptedStore::builder(inner, Arc::new(AesKeyring::new(AesKey::new_256([5; 32]))))
        .memory_budget(1 << 20)
        .build()
}

async fn caller_buffers_stay_intact<S: ObjectStore>(s: &EncryptedStore<S>) {
    // Twice each: the first put of an `Auto` store learns the placement, later ones are settled.
    for round in 0..2u8 {
        let p = Path::from(format!("held/{round}.bin"));
        // The caller keeps a clone of the Bytes it puts.
        let held = Bytes::from(data(300_000, round));
        let before = held.to_vec();
        s.put(&p, PutPayload::from(held.clone())).await.unwrap();
        assert!(held == before, "the caller's buffer changed");
        assert!(s.get(&p).await.unwrap().bytes().await.unwrap() == before);
        // A payload of several chunks, one of them still held.
        let chunk = Bytes::from(data(70_001, round + 9));
        let payload: PutPayload = [chunk.clone(), Bytes::from(data(5, 1))]
            .into_iter()
            .collect();
        let mut want = chunk.to_vec();
        want.extend_from_slice(&data(5, 1));
        s.put(&p, payload).await.unwrap();
        assert!(chunk == want[..70_001], "the caller's chunk changed");
        assert!(s.get(&p).await.unwrap().bytes().await.unwrap() == want);
        // A buffer handed over whole (the in-place path): the object still reads back.
        let q = Path::from(format!("given/{round}.bin"));
        s.put(&q, PutPayload::from(data(200_003, round)))
            .await
            .unwrap();
        assert!(s.get(&q).await.unwrap().bytes().await.unwrap() == data(200_003, round));
    }
}

#[tokio::test]
async fn a_buffer_the_caller_still_holds_is_never_written_in_memory() {
    caller_buffers_stay_intact(&store(InMemory::new())).await;
}

#[tokio::test]
async fn a_buffer_the_caller_still_holds_is_never_written_on_a_file_system() {
    let dir = tempfile::tempdir().unwrap();
    caller_buffers_stay_intact(&store(
        LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn a_local_file_over_the_budget_is_verified_before_release() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let p = Path::from("big.bin");
    let plain = data((3 << 20) + 77, 4);
    s.put(&p, PutPayload::from(plain.clone())).await.unwrap();
    assert!(s.get(&p).await.unwrap().bytes().await.unwrap() == plain);

    let file = dir.path().join("big.bin");
    let stored = std::fs::read(&file).unwrap();
    let authentication = |e: object_store::Error| {
        assert_eq!(core_error(&e), Some(CoreError::Authentication), "{e}");
    };
    // A flipped bit in the middle of the file: refused before the first byte is released.
    let mut flipped = stored.clone();
    flipped[(2 << 20) + 5] ^= 0x10;
    std::fs::write(&file, &flipped).unwrap();
    let s = store(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    authentication(s.get(&p).await.expect_err("a flipped bit was released"));
    // The file cut short by a block and a half.
    std::fs::write(&file, &stored[..stored.len() - (1 << 19) - 3]).unwrap();
    let s = store(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    authentication(s.get(&p).await.expect_err("a truncated file was released"));
    // Restored, it reads again.
    std::fs::write(&file, &stored).unwrap();
    let s = store(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    assert!(s.get(&p).await.unwrap().bytes().await.unwrap() == plain);
}
