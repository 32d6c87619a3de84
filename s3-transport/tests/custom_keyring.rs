//! A keyring from outside the transport (`ClientKeyring::custom`): a test "HSM" implementing the
//! core `Keyring` trait, its AES key behind a mutex that counts calls, used for every operation
//! of the client against the embedded S3 server: put (single and multipart), every read mode,
//! rotation (including the new-key check), migration with it as the old and as the new key, and
//! inside a multi-keyring.

#![cfg(feature = "embedded-s3")]

mod common;

use common::*;
use s3_encryption::{
    AesKey, AesKeyring, ByteRange, CommitmentPolicy, DataKey, EncryptConfig, EncryptionContext,
    EncryptionMaterials, Envelope, Keyring, Placement, WrapAlgorithm,
};
use s3_encryption_transport::{
    ClientKeyring, Error, ErrorKind, GetOptions, MigrateMode, MigrateOptions, MigrateStatus,
    PutOptions, ReEncryptOptions, S3EncryptionClient,
};
use std::sync::{Arc, Mutex};

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Calls {
    wraps: usize,
    unwraps: usize,
}

/// The stand-in HSM: it holds an AES key nobody else sees, answers only `AES/GCM` envelopes
/// (anything else is `UnsupportedWrap`), and counts what it was asked.
struct Hsm {
    slot: Mutex<(AesKeyring, Calls)>,
}

impl Hsm {
    fn new(seed: u8) -> Arc<Hsm> {
        Arc::new(Hsm {
            slot: Mutex::new((
                AesKeyring::new(AesKey::new_256([seed; 32])),
                Calls::default(),
            )),
        })
    }
    fn calls(&self) -> Calls {
        self.slot.lock().unwrap().1
    }
}

impl Keyring for Hsm {
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: EncryptionContext<'_>,
    ) -> s3_encryption::Result<EncryptionMaterials> {
        // A real HSM call blocks: the client must not run it on an async worker.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let mut s = self.slot.lock().unwrap();
        s.1.wraps += 1;
        s.0.wrap_data_key(config, data_key, context)
    }
    fn decrypt_data_key(
        &self,
        envelope: &Envelope,
        context: EncryptionContext<'_>,
    ) -> s3_encryption::Result<DataKey> {
        std::thread::sleep(std::time::Duration::from_millis(5));
        let mut s = self.slot.lock().unwrap();
        s.1.unwraps += 1;
        if envelope.wrap_algorithm() != WrapAlgorithm::AesGcm {
            return Err(s3_encryption::Error::UnsupportedWrap);
        }
        s.0.decrypt_data_key(envelope, context)
    }
}

fn custom(hsm: &Arc<Hsm>) -> ClientKeyring {
    ClientKeyring::custom(hsm.clone()).with_context([("hsm", "slot-1")])
}

fn opts() -> GetOptions {
    GetOptions::default()
}

/// Every read mode of `client` returns `pt`; returns how many reads were made.
async fn read_every_way(client: &S3EncryptionClient, hsm: &Hsm, key: &str, pt: &[u8]) -> usize {
    let mut seen = hsm.calls().unwraps;
    let mut through = |what: &str| {
        let now = hsm.calls().unwraps;
        assert!(now > seen, "{key}: {what} did not unwrap through the HSM");
        seen = now;
    };
    let mut reads = 4; // writer, reader, ranged connections, delayed authentication
    if pt.len() < 10 * MIB {
        // (Over the memory budget, reading into memory is refused.)
        let (got, _) = client.get_object_bytes(BUCKET, key, &opts()).await.unwrap();
        assert!(got == pt, "{key}: bytes");
        through("bytes");
        reads += 1;
    }
    let mut out = Vec::new();
    client
        .get_object_to_writer(BUCKET, key, &mut out, &opts())
        .await
        .unwrap();
    assert!(out == pt, "{key}: writer");
    through("writer");
    let mut r = client
        .get_object_reader(BUCKET, key, &opts())
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut r, &mut out)
        .await
        .unwrap();
    assert!(out == pt, "{key}: reader");
    through("reader");
    let mut out = Vec::new();
    let o = GetOptions {
        connections: Some(3),
        ..opts()
    };
    client
        .get_object_to_writer(BUCKET, key, &mut out, &o)
        .await
        .unwrap();
    assert!(out == pt, "{key}: ranged connections");
    through("ranged connections");
    let mut out = Vec::new();
    client
        .get_object_delayed_authentication_hazmat(BUCKET, key, &mut out, &opts())
        .await
        .unwrap();
    assert!(out == pt, "{key}: delayed authentication");
    through("delayed authentication");
    if pt.len() > 20 {
        let mut out = Vec::new();
        client
            .get_object_range_hazmat(BUCKET, key, ByteRange::Inclusive(3, 19), &mut out, &opts())
            .await
            .unwrap();
        assert!(out == pt[3..20], "{key}: range");
        through("range");
        reads += 1;
    }
    reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_keyring_writes_and_reads_in_both_placements() {
    let local = Local::start().await;
    let hsm = Hsm::new(1);
    let sizes = [0usize, 17, 100_000, 11 * MIB + 5];
    let mut puts = 0;
    let mut reads = 0;
    for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
        let client = local
            .client(custom(&hsm))
            .placement(placement)
            .part_size(5 * MIB as u64)
            .memory_budget(10 * MIB as u64) // the large object goes the two-pass way
            .enable_delayed_authentication_mode(true)
            .enable_legacy_unauthenticated_modes(true)
            .build()
            .unwrap();
        for &n in &sizes {
            let key = format!("{placement:?}/{n}");
            let pt = data(n, n as u64);
            let put = client
                .put_bytes(BUCKET, &key, &pt, &PutOptions::default())
                .await
                .unwrap();
            puts += 1;
            assert_eq!(
                put.instruction_file_key.is_some(),
                placement == Placement::InstructionFile
            );
            let info = client.head_object(BUCKET, &key, &opts()).await.unwrap();
            assert_eq!(
                info.envelope.materials_description.as_deref(),
                Some(r#"{"hsm":"slot-1"}"#)
            );
            reads += read_every_way(&client, &hsm, &key, &pt).await;
            // The wrap is the standard one: the same key as a plain AES keyring reads it.
            let plain = local.client(aes_keyring(1)).build().unwrap();
            let mut got = Vec::new();
            plain
                .get_object_to_writer(BUCKET, &key, &mut got, &opts())
                .await
                .unwrap();
            assert!(got == pt);
        }
    }
    let c = hsm.calls();
    assert_eq!(c.wraps, puts, "one wrap per object, multipart included");
    assert!(
        c.unwraps >= reads,
        "{c:?}: every read unwrapped through the HSM"
    );
    // And the other way: an object of the plain AES keyring opens through the HSM.
    let plain = local.client(aes_keyring(1)).build().unwrap();
    plain
        .put_bytes(
            BUCKET,
            "plain",
            b"written without the HSM",
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let client = local.client(custom(&hsm)).build().unwrap();
    let before = hsm.calls().unwraps;
    let (got, _) = client
        .get_object_bytes(BUCKET, "plain", &opts())
        .await
        .unwrap();
    assert_eq!(got, b"written without the HSM");
    assert_eq!(hsm.calls().unwraps, before + 1);
    assert!(local.pending_uploads().is_empty());
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_hsm_key_is_the_opaque_authentication_error() {
    let local = Local::start().await;
    let (right, wrong) = (Hsm::new(2), Hsm::new(3));
    let w = local.client(custom(&right)).build().unwrap();
    w.put_bytes(BUCKET, "k", b"secret", &PutOptions::default())
        .await
        .unwrap();
    let r = local.client(custom(&wrong)).build().unwrap();
    let e = r.get_object_bytes(BUCKET, "k", &opts()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
    assert!(
        matches!(e, Error::Crypto(s3_encryption::Error::Authentication)),
        "{e:?}"
    );
    assert_eq!(wrong.calls().unwraps, 1);
    // A read-only key store is refused up front for writes, before anything is sent.
    let ro = local
        .client(ClientKeyring::custom(right.clone()).with_capabilities(false, true))
        .build()
        .unwrap();
    let e = ro
        .put_bytes(BUCKET, "ro", b"x", &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_wrap_falls_through_to_the_next_keyring() {
    let local = Local::start().await;
    let hsm = Hsm::new(4);
    let rsa = local
        .client(ClientKeyring::rsa_private(rsa_key()))
        .build()
        .unwrap();
    rsa.put_bytes(BUCKET, "rsa", b"under RSA", &PutOptions::default())
        .await
        .unwrap();
    // Alone, the HSM says it holds no key for this wrap: a configuration error naming both.
    let alone = local.client(custom(&hsm)).build().unwrap();
    let e = alone
        .get_object_bytes(BUCKET, "rsa", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
    assert!(e.to_string().contains("RSA-OAEP-SHA1"), "{e}");
    // First in a multi-keyring, it is asked, says unsupported, and the RSA key opens it.
    let multi =
        ClientKeyring::multi([custom(&hsm), ClientKeyring::rsa_private(rsa_key())]).unwrap();
    let before = hsm.calls().unwraps;
    let c = local.client(multi.clone()).build().unwrap();
    let (got, _) = c.get_object_bytes(BUCKET, "rsa", &opts()).await.unwrap();
    assert_eq!(got, b"under RSA");
    assert_eq!(hsm.calls().unwraps, before + 1, "the HSM was asked first");
    // The multi-keyring writes with its first member: the HSM.
    c.put_bytes(BUCKET, "multi", b"via the first", &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(hsm.calls().wraps, 1);
    let (got, _) = alone
        .get_object_bytes(BUCKET, "multi", &opts())
        .await
        .unwrap();
    assert_eq!(got, b"via the first");
    // A wrong HSM key first, the right key second: the second opens it.
    let wrong_first = ClientKeyring::multi([custom(&Hsm::new(9)), aes_keyring(4)]).unwrap();
    let c = local.client(wrong_first).build().unwrap();
    let (got, _) = c.get_object_bytes(BUCKET, "multi", &opts()).await.unwrap();
    assert_eq!(got, b"via the first");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_and_migration_through_a_custom_keyring() {
    let local = Local::start().await;
    let hsm = Hsm::new(5);
    let pt = data(30_000, 5);
    let aes = local
        .client(aes_keyring(6))
        .placement(Placement::InstructionFile)
        .build()
        .unwrap();
    aes.put_bytes(BUCKET, "rot", &pt, &PutOptions::default())
        .await
        .unwrap();
    // AES → HSM: the new-key check unwraps through the HSM before the file is written.
    let enforce = ReEncryptOptions {
        enforce_rotation: true,
        ..Default::default()
    };
    aes.reencrypt_instruction_file(BUCKET, "rot", &custom(&hsm), &enforce)
        .await
        .unwrap();
    assert_eq!(
        hsm.calls(),
        Calls {
            wraps: 1,
            unwraps: 1
        }
    );
    let via_hsm = local.client(custom(&hsm)).build().unwrap();
    let (got, _) = via_hsm
        .get_object_bytes(BUCKET, "rot", &opts())
        .await
        .unwrap();
    assert_eq!(got, pt);
    let e = aes
        .get_object_bytes(BUCKET, "rot", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication);
    // HSM → AES: the HSM is the old key (unwrap, then the enforced check that it no longer opens).
    let before = hsm.calls().unwraps;
    via_hsm
        .reencrypt_instruction_file(BUCKET, "rot", &aes_keyring(7), &enforce)
        .await
        .unwrap();
    assert_eq!(hsm.calls().unwraps, before + 2);
    let (got, _) = local
        .client(aes_keyring(7))
        .build()
        .unwrap()
        .get_object_bytes(BUCKET, "rot", &opts())
        .await
        .unwrap();
    assert_eq!(got, pt);

    // Migration: a V2 object of an AES key to V3 under the HSM (verified through it) …
    let v2 = local
        .client(aes_keyring(8))
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    v2.put_bytes(BUCKET, "mig", &pt, &PutOptions::default())
        .await
        .unwrap();
    let old = local
        .client(aes_keyring(8))
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build()
        .unwrap();
    let calls = hsm.calls();
    let out = old
        .migrate_object(
            BUCKET,
            "mig",
            &MigrateOptions::new(MigrateMode::ToV3, custom(&hsm)),
        )
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::Migrated, "{out:?}");
    assert_eq!(hsm.calls().wraps, calls.wraps + 1);
    assert!(
        hsm.calls().unwraps > calls.unwraps,
        "the read-back went through the HSM"
    );
    let (got, _) = via_hsm
        .get_object_bytes(BUCKET, "mig", &opts())
        .await
        .unwrap();
    assert_eq!(got, pt);
    // … then re-wrapped from the HSM (the old key) to another AES key.
    let calls = hsm.calls();
    let out = via_hsm
        .migrate_object(
            BUCKET,
            "mig",
            &MigrateOptions::new(MigrateMode::Rewrap, aes_keyring(9)),
        )
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::Migrated, "{out:?}");
    assert!(
        hsm.calls().unwraps > calls.unwraps,
        "the old key was the HSM"
    );
    let (got, _) = local
        .client(aes_keyring(9))
        .build()
        .unwrap()
        .get_object_bytes(BUCKET, "mig", &opts())
        .await
        .unwrap();
    assert_eq!(got, pt);
    local.stop().await;
}

/// AWS KMS through the core trait (`KmsKeyring`, which owns its client and runtime): objects it
/// writes through the client are read by the transport's own KMS keyring and the other way
/// round; discovery opens them; a wrong context is the opaque error; and the trait works from
/// plain synchronous code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_through_the_core_trait_interoperates_with_the_transports_kms_keyring() {
    use s3_encryption_transport::KmsKeyring;
    let moto = Moto::start("kms_through_the_core_trait");
    let local = Local::start().await;
    let key_id = moto.create_key().await;
    let core_kms = Arc::new(
        KmsKeyring::new(moto.kms(), key_id.clone())
            .unwrap()
            .with_context(&[("tenant", "a")]),
    );
    let via_trait = local
        .client(ClientKeyring::custom(core_kms.clone()))
        .build()
        .unwrap();
    let native = local
        .client(ClientKeyring::kms(&key_id).with_context([("tenant", "a")]))
        .kms_client(moto.kms())
        .build()
        .unwrap();
    for (writer, reader, key) in [
        (&via_trait, &native, "kms/a"),
        (&native, &via_trait, "kms/b"),
    ] {
        let pt = data(70_000, key.len() as u64);
        writer
            .put_bytes(BUCKET, key, &pt, &PutOptions::default())
            .await
            .unwrap();
        let (got, _) = reader.get_object_bytes(BUCKET, key, &opts()).await.unwrap();
        assert_eq!(got, pt, "{key}");
    }
    let discovery = local
        .client(ClientKeyring::custom(Arc::new(
            KmsKeyring::discovery(moto.kms()).unwrap(),
        )))
        .build()
        .unwrap();
    let (got, _) = discovery
        .get_object_bytes(BUCKET, "kms/a", &opts())
        .await
        .unwrap();
    assert_eq!(got, data(70_000, 5));
    let wrong = KmsKeyring::new(moto.kms(), key_id.clone())
        .unwrap()
        .with_context(&[("tenant", "b")]);
    let wrong = Arc::new(wrong);
    let err = local
        .client(ClientKeyring::custom(wrong.clone()))
        .build()
        .unwrap()
        .get_object_bytes(BUCKET, "kms/a", &opts())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Crypto(s3_encryption::Error::EncryptionContextMismatch)
        ),
        "{err}"
    );
    // From synchronous code, with no runtime of the caller's: wrap, then unwrap.
    let k = core_kms.clone();
    let dk = tokio::task::spawn_blocking(move || {
        std::thread::spawn(move || {
            let cfg = EncryptConfig::v3(Placement::ObjectMetadata);
            let dk = DataKey::generate().unwrap();
            let m = k.wrap_data_key(&cfg, dk.clone(), &[]).unwrap();
            let back = k.decrypt_data_key(m.envelope(), &[]).unwrap();
            assert_eq!(back.as_bytes(), dk.as_bytes());
            (dk, m)
        })
        .join()
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(dk.1.data_key().as_bytes(), dk.0.as_bytes());
    assert!(wrong.last_failure().is_none());
    local.stop().await;
}
