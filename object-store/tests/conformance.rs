//! `object_store`'s own conformance suite (its published `integration` helpers) run against
//! `EncryptedStore` over `InMemory` (envelope in attributes) and `LocalFileSystem` (envelope in
//! files next to the object), plus checks that what lands in the inner store is ciphertext.

use object_store::integration::*;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use s3_encryption::{AesKey, AesKeyring};
use s3_encryption_object_store::EncryptedStore;
use std::sync::Arc;

fn keyring() -> Arc<AesKeyring> {
    Arc::new(AesKeyring::new(AesKey::new_256([0x42; 32])))
}

async fn suite(store: &dyn ObjectStore) {
    put_get_delete_list(store).await;
    get_opts(store).await;
    list_uses_directories_correctly(store).await;
    list_with_delimiter(store).await;
    rename_and_copy(store).await;
    copy_if_not_exists(store).await;
    copy_rename_nonexistent_object(store).await;
    stream_get(store).await;
}

#[tokio::test]
async fn in_memory_passes_the_object_store_suite() {
    let store = EncryptedStore::builder(InMemory::new(), keyring()).build();
    suite(&store).await;
    put_opts(&store, true).await;
    // User attributes round-trip next to the envelope (InMemory keeps attributes).
    put_get_attributes(&store).await;
}

#[tokio::test]
async fn local_file_system_passes_the_object_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let fs = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    let store = EncryptedStore::builder(fs, keyring()).build();
    suite(&store).await;
    put_opts(&store, false).await;
}

#[tokio::test]
async fn the_inner_store_holds_ciphertext_and_side_files_on_a_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let store = EncryptedStore::builder(fs.clone(), keyring()).build();
    let p = Path::from("a/secret.txt");
    let plain = b"attack at dawn, attack at dawn".repeat(100);
    store
        .put(&p, PutPayload::from(plain.clone()))
        .await
        .unwrap();
    let raw = fs.get(&p).await.unwrap().bytes().await.unwrap();
    assert_eq!(raw.len(), plain.len() + 16);
    assert!(!raw.windows(14).any(|w| w == b"attack at dawn"));
    assert!(
        fs.head(&Path::from("a/secret.txt.instruction"))
            .await
            .is_ok()
    );
    assert!(
        fs.head(&Path::from("a/secret.txt.s3ec-metadata"))
            .await
            .is_ok()
    );
    assert_eq!(store.get(&p).await.unwrap().bytes().await.unwrap(), plain);
    let listed: Vec<_> = futures_util::TryStreamExt::try_collect::<Vec<_>>(store.list(None))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, plain.len() as u64);
    store.delete(&p).await.unwrap();
    assert!(
        fs.head(&Path::from("a/secret.txt.instruction"))
            .await
            .is_err()
    );
    assert!(
        fs.head(&Path::from("a/secret.txt.s3ec-metadata"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn in_memory_keeps_the_envelope_in_metadata() {
    let mem = Arc::new(InMemory::new());
    let store = EncryptedStore::builder(mem.clone(), keyring()).build();
    let p = Path::from("x");
    store
        .put(&p, PutPayload::from_static(b"hello"))
        .await
        .unwrap();
    let r = mem.get(&p).await.unwrap();
    let names: Vec<String> = r
        .attributes
        .iter()
        .filter_map(|(k, _)| match k {
            object_store::Attribute::Metadata(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    assert!(names.iter().any(|n| n == "x-amz-3"), "{names:?}");
    assert_eq!(r.bytes().await.unwrap().len(), 5 + 16);
    // Read with the wrong key: the one opaque error.
    let other = EncryptedStore::builder(
        mem.clone(),
        Arc::new(AesKeyring::new(AesKey::new_256([1; 32]))),
    )
    .build();
    let e = other.get(&p).await.unwrap_err();
    assert_eq!(
        s3_encryption_object_store::core_error(&e),
        Some(s3_encryption::Error::Authentication),
        "{e}"
    );
}
