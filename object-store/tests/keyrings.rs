//! Keyrings through the core `Keyring` trait: RSA-OAEP, and a custom keyring (a stand-in HSM
//! that counts its calls), over `InMemory`.

use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use s3_encryption::{
    AesKey, AesKeyring, DataKey, EncryptConfig, EncryptionContext, EncryptionMaterials, Envelope,
    Keyring, RsaKeyring,
};
use s3_encryption_object_store::{EncryptedStore, core_error};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test]
async fn an_rsa_keyring_round_trips_and_a_wrong_key_is_the_opaque_error() {
    let key = s3_encryption::rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
    let other = s3_encryption::rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
    let mem = Arc::new(InMemory::new());
    let s = EncryptedStore::builder(mem.clone(), Arc::new(RsaKeyring::new(key))).build();
    let p = Path::from("rsa");
    let data = vec![7u8; 200_000];
    s.put(&p, PutPayload::from(data.clone())).await.unwrap();
    assert!(s.get(&p).await.unwrap().bytes().await.unwrap() == data);
    assert!(s.get_range(&p, 1000..1100).await.unwrap().as_ref() == &data[1000..1100]);
    let wrong = EncryptedStore::builder(mem, Arc::new(RsaKeyring::new(other))).build();
    let e = wrong.get_range(&p, 0..10).await.unwrap_err();
    assert_eq!(
        core_error(&e),
        Some(s3_encryption::Error::Authentication),
        "{e}"
    );
}

/// A custom keyring: an AES key nobody else sees, counting wraps and unwraps.
#[derive(Debug)]
struct Hsm {
    inner: AesKeyring,
    wraps: AtomicUsize,
    unwraps: AtomicUsize,
}

impl Keyring for Hsm {
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: EncryptionContext<'_>,
    ) -> s3_encryption::Result<EncryptionMaterials> {
        self.wraps.fetch_add(1, Ordering::SeqCst);
        self.inner.wrap_data_key(config, data_key, context)
    }
    fn decrypt_data_key(
        &self,
        envelope: &Envelope,
        context: EncryptionContext<'_>,
    ) -> s3_encryption::Result<DataKey> {
        self.unwraps.fetch_add(1, Ordering::SeqCst);
        self.inner.decrypt_data_key(envelope, context)
    }
}

#[tokio::test]
async fn a_custom_keyring_is_asked_once_per_write_and_once_per_verified_table() {
    let hsm = Arc::new(Hsm {
        inner: AesKeyring::new(AesKey::new_256([0x11; 32])),
        wraps: AtomicUsize::new(0),
        unwraps: AtomicUsize::new(0),
    });
    let s = EncryptedStore::builder(InMemory::new(), hsm.clone())
        .context(&[("hsm", "slot-1")])
        .build();
    let p = Path::from("hsm");
    let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    s.put(&p, PutPayload::from(data.clone())).await.unwrap();
    assert_eq!(hsm.wraps.load(Ordering::SeqCst), 1);
    for r in [0..10u64, 70_000..80_000, 299_990..300_000] {
        let got = s.get_range(&p, r.clone()).await.unwrap();
        assert!(got.as_ref() == &data[r.start as usize..r.end as usize]);
    }
    // One unwrap built the table; the ranged reads after it need no key request.
    assert_eq!(hsm.unwraps.load(Ordering::SeqCst), 1);
}
