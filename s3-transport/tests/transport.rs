//! Integration tests against a real S3 implementation (s3s-fs, embedded, on 127.0.0.1) and, for
//! KMS, moto. Every server is started and stopped by the test that uses it.

#![cfg(feature = "embedded-s3")]

mod common;

use common::*;
use s3_encryption::{ByteRange, CommitmentPolicy, Placement, RangePlan};
use s3_encryption_transport::{
    ClientKeyring, ErrorKind, GetOptions, LargeObjectVerification, ListStatus, PutOptions,
    ReEncryptOptions, S3EncryptionClient, Verification,
};
use std::sync::Arc;

fn opts() -> GetOptions {
    GetOptions::default()
}

async fn roundtrip(client: &S3EncryptionClient, key: &str, pt: &[u8], placement: Placement) {
    let po = PutOptions {
        placement: Some(placement),
        ..PutOptions::default()
    };
    let put = client.put_bytes(BUCKET, key, pt, &po).await.unwrap();
    assert_eq!(put.plaintext_len, pt.len() as u64);
    assert_eq!(put.stored_len, pt.len() as u64 + 16);
    assert_eq!(
        put.instruction_file_key.is_some(),
        placement == Placement::InstructionFile
    );
    let info = client.head_object(BUCKET, key, &opts()).await.unwrap();
    assert_eq!(info.plaintext_len, Some(pt.len() as u64));
    assert_eq!(info.envelope.placement, placement);
    let mut out = Vec::new();
    let got = client
        .get_object_to_writer(BUCKET, key, &mut out, &opts())
        .await
        .unwrap();
    assert_eq!(got.released, pt.len() as u64);
    assert!(out == pt, "{key}: plaintext differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes_and_rsa_every_placement_and_size() {
    let local = Local::start().await;
    let keyrings = [
        ("aes", aes_keyring(1)),
        ("rsa", ClientKeyring::rsa_private(rsa_key())),
    ];
    let sizes = [0usize, 1, 15, 16, 17, 4095, 100_000, 12 * MIB + 7];
    for (name, kr) in keyrings {
        let client = local
            .client(kr.with_context([("purpose", "test")]))
            .part_size(5 * MIB as u64)
            .build()
            .unwrap();
        for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
            for &n in &sizes {
                let key = format!("{name}/{placement:?}/{n}");
                roundtrip(&client, &key, &data(n, n as u64), placement).await;
            }
        }
    }
    assert!(local.pending_uploads().is_empty());
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_every_placement_and_size() {
    let moto = Moto::start("kms_every_placement_and_size");
    let local = Local::start().await;
    let key_id = moto.create_key().await;
    let client = local
        .client(ClientKeyring::kms(&key_id).with_context([("tenant", "a")]))
        .kms_client(moto.kms())
        .part_size(5 * MIB as u64)
        .build()
        .unwrap();
    for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
        for n in [0usize, 1, 17, 11 * MIB + 3] {
            let key = format!("kms/{placement:?}/{n}");
            roundtrip(&client, &key, &data(n, 7), placement).await;
        }
    }
    // Discovery decrypts with whichever key the blob names.
    let disc = local
        .client(ClientKeyring::kms_discovery())
        .kms_client(moto.kms())
        .build()
        .unwrap();
    let (pt, _) = disc
        .get_object_bytes(BUCKET, "kms/ObjectMetadata/17", &opts())
        .await
        .unwrap();
    assert_eq!(pt, data(17, 7));
    // A different expected encryption context is refused before KMS is asked.
    let wrong = local
        .client(ClientKeyring::kms(&key_id).with_context([("tenant", "b")]))
        .kms_client(moto.kms())
        .build()
        .unwrap();
    let e = wrong
        .get_object_bytes(BUCKET, "kms/ObjectMetadata/17", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Policy, "{e}");
    // Another KMS key: KMS refuses.
    let other = moto.create_key().await;
    let wrong_key = local
        .client(ClientKeyring::kms(&other).with_context([("tenant", "a")]))
        .kms_client(moto.kms())
        .build()
        .unwrap();
    let e = wrong_key
        .get_object_bytes(BUCKET, "kms/ObjectMetadata/17", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
    // A discovery keyring cannot encrypt.
    assert!(
        disc.put_bytes(BUCKET, "x", b"x", &PutOptions::default())
            .await
            .is_err()
    );
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_against_moto_s3_leaves_no_uploads_on_failure() {
    let moto = Moto::start("multipart_against_moto_s3");
    let s3 = moto.s3();
    s3.create_bucket()
        .bucket("moto-bucket")
        .send()
        .await
        .unwrap();
    let client = S3EncryptionClient::builder(s3.clone(), aes_keyring(3))
        .part_size(5 * MIB as u64)
        .build()
        .unwrap();
    let pt = data(11 * MIB, 1);
    let put = client
        .put_bytes("moto-bucket", "ok", &pt, &PutOptions::default())
        .await
        .unwrap();
    assert!(put.multipart);
    assert_eq!(put.parts, 3);
    let (got, _) = client
        .get_object_bytes("moto-bucket", "ok", &opts())
        .await
        .unwrap();
    assert!(got == pt);
    // A body that fails in the middle of the second part.
    let body = FailingReader::new(pt.clone(), 7 * MIB);
    let e = client
        .put_object(
            "moto-bucket",
            "bad",
            body,
            Some(pt.len() as u64),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    let ups = s3
        .list_multipart_uploads()
        .bucket("moto-bucket")
        .send()
        .await
        .unwrap();
    assert!(
        ups.uploads().is_empty(),
        "orphaned uploads: {:?}",
        ups.uploads()
    );
    assert!(
        s3.head_object()
            .bucket("moto-bucket")
            .key("bad")
            .send()
            .await
            .is_err(),
        "no object may remain"
    );
}

/// On a versioned bucket (moto S3) the second pass of a large GET is pinned to the version id
/// read by the first: an overwrite between the passes does not disturb the read, which returns
/// the version it verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versioned_second_pass_reads_the_verified_version() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    use s3_encryption_transport::local::{s3_client_for, sdk_config_for};
    let moto = Moto::start("versioned_second_pass_reads_the_verified_version");
    let s3 = moto.s3();
    s3.create_bucket().bucket("versioned").send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket("versioned")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let writer = S3EncryptionClient::builder(s3.clone(), aes_keyring(30))
        .part_size(5 * MIB as u64)
        .build()
        .unwrap();
    let (v1, v2) = (data(11 * MIB, 30), data(11 * MIB, 31));
    let put1 = writer
        .put_bytes("versioned", "obj", &v1, &PutOptions::default())
        .await
        .unwrap();
    assert!(put1.version_id.is_some());
    // A proxy in front of moto overwrites the object just before the second GET reaches it.
    let upstream: std::net::SocketAddr =
        moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let endpoint = moto.endpoint.clone();
    let newer = v2.clone();
    let proxy = Proxy::start(
        upstream,
        vec![Rule {
            markers: vec![
                b"GET /versioned/obj?".to_vec(),
                b"GET /versioned/obj ".to_vec(),
            ],
            occurrences: vec![2],
            action: Action::Call(Box::new(move || {
                let (endpoint, newer) = (endpoint.clone(), newer.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        let c = S3EncryptionClient::builder(
                            s3_client_for(&sdk_config_for(&endpoint)),
                            aes_keyring(30),
                        )
                        .part_size(5 * MIB as u64)
                        .build()
                        .unwrap();
                        c.put_bytes("versioned", "obj", &newer, &PutOptions::default())
                            .await
                            .unwrap();
                    })
                })
                .join()
                .unwrap();
            })),
        }],
    )
    .await;
    let reader = S3EncryptionClient::builder(
        s3_client_for(&sdk_config_for(&proxy.endpoint)),
        aes_keyring(30),
    )
    .part_size(5 * MIB as u64)
    .memory_budget(10 * MIB as u64)
    .build()
    .unwrap();
    let rec = Recorder::default();
    let got = reader
        .get_object_to_writer("versioned", "obj", &mut rec.clone(), &opts())
        .await
        .unwrap();
    assert_eq!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(got.verification, Verification::TwoPass);
    assert_eq!(got.info.version_id, put1.version_id);
    assert!(
        *rec.0.lock().unwrap() == v1,
        "the verified version was released"
    );
    // The overwrite happened: the current version is the newer one.
    let (now, out) = writer
        .get_object_bytes("versioned", "obj", &opts())
        .await
        .unwrap();
    assert_ne!(out.info.version_id, put1.version_id);
    assert!(now == v2);
    drop(proxy);
}

/// A reader that yields `data` but fails after `fail_at` bytes.
struct FailingReader {
    data: Vec<u8>,
    pos: usize,
    fail_at: usize,
}

impl FailingReader {
    fn new(data: Vec<u8>, fail_at: usize) -> Self {
        FailingReader {
            data,
            pos: 0,
            fail_at,
        }
    }
}

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.pos >= self.fail_at {
            return std::task::Poll::Ready(Err(std::io::Error::other("body source failed")));
        }
        let end = (self.pos + buf.remaining())
            .min(self.fail_at)
            .min(self.data.len());
        let pos = self.pos;
        buf.put_slice(&self.data[pos..end]);
        self.pos = end;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_length_bodies() {
    let local = Local::start().await;
    let client = local
        .client(aes_keyring(2))
        .part_size(5 * MIB as u64)
        .build()
        .unwrap();
    for n in [0usize, 1, 5 * MIB - 1, 5 * MIB, 10 * MIB, 10 * MIB + 1] {
        let pt = data(n, 3);
        let key = format!("unknown/{n}");
        let put = client
            .put_object(BUCKET, &key, &pt[..], None, &PutOptions::default())
            .await
            .unwrap();
        assert_eq!(put.plaintext_len, n as u64);
        assert_eq!(put.multipart, n >= 5 * MIB, "{n}");
        let (got, _) = client
            .get_object_bytes(BUCKET, &key, &opts())
            .await
            .unwrap();
        assert!(got == pt, "{n}");
    }
    // Declared length that the body does not match.
    let pt = data(100, 1);
    assert!(
        client
            .put_object(BUCKET, "short", &pt[..], Some(101), &PutOptions::default())
            .await
            .is_err()
    );
    assert!(
        client
            .put_object(BUCKET, "long", &pt[..], Some(99), &PutOptions::default())
            .await
            .is_err()
    );
    let big = data(6 * MIB, 1);
    assert!(
        client
            .put_object(
                BUCKET,
                "long2",
                &big[..],
                Some(6 * MIB as u64 - 1),
                &PutOptions::default()
            )
            .await
            .is_err()
    );
    assert!(local.pending_uploads().is_empty());
    for k in ["short", "long", "long2"] {
        let e = client.head_object(BUCKET, k, &opts()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_body_aborts_and_leaves_nothing() {
    let local = Local::start().await;
    let client = local
        .client(aes_keyring(2))
        .part_size(5 * MIB as u64)
        .parts_in_flight(2)
        .build()
        .unwrap();
    let pt = data(23 * MIB, 9);
    for fail_at in [0, MIB, 5 * MIB, 12 * MIB, 23 * MIB - 1] {
        let body = FailingReader::new(pt.clone(), fail_at);
        let e = client
            .put_object(
                BUCKET,
                "bad",
                body,
                Some(pt.len() as u64),
                &PutOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
        assert_eq!(
            local.pending_uploads(),
            Vec::<String>::new(),
            "fail at {fail_at}"
        );
        assert!(!local.object_path("bad").exists());
        // Unknown length too.
        let body = FailingReader::new(pt.clone(), fail_at);
        client
            .put_object(BUCKET, "bad", body, None, &PutOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            local.pending_uploads(),
            Vec::<String>::new(),
            "fail at {fail_at}"
        );
        assert!(!local.object_path("bad").exists());
    }
    // One streamed PutObject (the threshold above the body): a body that fails, ends early or
    // runs long leaves no object either.
    let streaming = local
        .client(aes_keyring(2))
        .part_size(5 * MIB as u64)
        .multipart_threshold(64 * MIB as u64)
        .build()
        .unwrap();
    for fail_at in [0, MIB, 5 * MIB, 12 * MIB, 23 * MIB - 1] {
        let body = FailingReader::new(pt.clone(), fail_at);
        let e = streaming
            .put_object(
                BUCKET,
                "bad",
                body,
                Some(pt.len() as u64),
                &PutOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
        assert!(!local.object_path("bad").exists(), "fail at {fail_at}");
    }
    for declared in [pt.len() as u64 + 1, pt.len() as u64 - 1] {
        let e = streaming
            .put_object(
                BUCKET,
                "bad",
                &pt[..],
                Some(declared),
                &PutOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(
            !local.object_path("bad").exists(),
            "declared {declared}: {e}"
        );
    }
    let put = streaming
        .put_object(
            BUCKET,
            "good",
            &pt[..],
            Some(pt.len() as u64),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    assert!(!put.multipart);
    assert_eq!(put.stored_len, pt.len() as u64 + 16);
    assert_eq!(
        streaming
            .get_object_bytes(BUCKET, "good", &opts())
            .await
            .unwrap()
            .0,
        pt
    );
    local.stop().await;
}

/// Parts are encrypted independently and upload concurrently, out of order: with part 1 held at
/// a proxy, the last part (which carries the tag combined from every part's partial GHASH value)
/// reaches S3 first, and the object still reads back exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parts_upload_out_of_order() {
    let local = Local::start().await;
    let upstream = local.server.as_ref().unwrap().addr();
    let log = Arc::new(std::sync::Mutex::new(Vec::<&'static str>::new()));
    let (l1, l3) = (log.clone(), log.clone());
    let proxy = Proxy::start(
        upstream,
        vec![
            Rule {
                markers: vec![b"partNumber=1&".to_vec(), b"partNumber=1 ".to_vec()],
                occurrences: vec![1],
                action: Action::Call(Box::new(move || {
                    l1.lock().unwrap().push("part 1 held");
                    std::thread::sleep(std::time::Duration::from_millis(1500));
                    l1.lock().unwrap().push("part 1 released");
                })),
            },
            Rule {
                markers: vec![b"partNumber=3&".to_vec(), b"partNumber=3 ".to_vec()],
                occurrences: vec![1],
                action: Action::Call(Box::new(move || l3.lock().unwrap().push("part 3 sent"))),
            },
        ],
    )
    .await;
    let s3 = s3_encryption_transport::local::s3_client_for(
        &s3_encryption_transport::local::sdk_config_for(&proxy.endpoint),
    );
    let client = S3EncryptionClient::builder(s3, aes_keyring(40))
        .part_size(5 * MIB as u64)
        .parts_in_flight(3)
        .build()
        .unwrap();
    let pt = data(12 * MIB + 5, 40);
    let put = client
        .put_bytes(BUCKET, "ooo", &pt, &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(put.parts, 3);
    // Part 3 may even reach the proxy before part 1 does; either way it goes up before part 1
    // is let through.
    let log = log.lock().unwrap().clone();
    let at = |what: &str| log.iter().position(|x| *x == what);
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(
        at("part 3 sent").is_some()
            && at("part 3 sent") < at("part 1 released")
            && at("part 1 held").is_some(),
        "the last part went up while part 1 was held: {log:?}"
    );
    let (got, _) = client
        .get_object_bytes(BUCKET, "ooo", &opts())
        .await
        .unwrap();
    assert!(got == pt);
    drop(proxy);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_is_retried_with_the_same_ciphertext() {
    let local = Local::start().await;
    let upstream = local.server.as_ref().unwrap().addr();
    // Drop the first connection that carries part 2, after 1 MiB of it.
    let proxy = Proxy::start(
        upstream,
        vec![Rule {
            markers: vec![b"partNumber=2&".to_vec(), b"partNumber=2 ".to_vec()],
            occurrences: vec![1],
            action: Action::DropAfter(MIB),
        }],
    )
    .await;
    let s3 = s3_encryption_transport::local::s3_client_for(
        &s3_encryption_transport::local::sdk_config_for(&proxy.endpoint),
    );
    let client = S3EncryptionClient::builder(s3, aes_keyring(4))
        .part_size(5 * MIB as u64)
        .build()
        .unwrap();
    let pt = data(16 * MIB, 4);
    let put = client
        .put_bytes(BUCKET, "retried", &pt, &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(put.parts, 4);
    let (got, _) = client
        .get_object_bytes(BUCKET, "retried", &opts())
        .await
        .unwrap();
    assert!(got == pt, "the retried part must carry the same ciphertext");
    drop(proxy);

    // A proxy that drops every attempt at part 2: the upload fails and is aborted.
    let proxy = Proxy::start(
        upstream,
        vec![Rule {
            markers: vec![b"partNumber=2&".to_vec(), b"partNumber=2 ".to_vec()],
            occurrences: vec![],
            action: Action::DropAfter(MIB),
        }],
    )
    .await;
    let s3 = s3_encryption_transport::local::s3_client_for(
        &s3_encryption_transport::local::sdk_config_for(&proxy.endpoint),
    );
    let client = S3EncryptionClient::builder(s3, aes_keyring(4))
        .part_size(5 * MIB as u64)
        .build()
        .unwrap();
    let e = client
        .put_bytes(BUCKET, "dropped", &pt, &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert_eq!(local.pending_uploads(), Vec::<String>::new());
    assert!(!local.object_path("dropped").exists());
    drop(proxy);
    local.stop().await;
}

fn flip_byte(path: &std::path::Path, at: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let len = f.metadata().unwrap().len();
    let at = at.min(len - 1);
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    b[0] ^= 1;
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&b).unwrap();
}

/// Rewrite the stored object through S3 with one byte flipped (same metadata): what an attacker
/// with write access to the bucket can do. Flipping again restores it.
async fn tamper(s3: &aws_sdk_s3::Client, key: &str, at: u64) {
    let o = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    let meta = o.metadata().cloned();
    let mut body = o.body.collect().await.unwrap().into_bytes().to_vec();
    let at = (at as usize).min(body.len() - 1);
    body[at] ^= 1;
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .set_metadata(meta)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

/// A writer that records every byte it is given.
#[derive(Default, Clone)]
struct Recorder(Arc<std::sync::Mutex<Vec<u8>>>);

impl tokio::io::AsyncWrite for Recorder {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_objects_release_nothing() {
    let local = Local::start().await;
    let dir = tempfile::tempdir().unwrap();
    let small = data(3000, 1);
    let big = data(13 * MIB, 2);
    // Fresh keys per strategy: s3s-fs 0.14.1 keeps the stored checksum of an earlier
    // single-request PUT when a multipart upload replaces the object.
    for (round, strategy) in [
        LargeObjectVerification::TwoPass,
        LargeObjectVerification::SpillFile {
            dir: Some(dir.path().to_owned()),
        },
    ]
    .into_iter()
    .enumerate()
    {
        let client = local
            .client(aes_keyring(5))
            .part_size(5 * MIB as u64)
            .memory_budget(10 * MIB as u64)
            .large_object_verification(strategy.clone())
            .build()
            .unwrap();
        let (k_small, k_big) = (format!("small{round}"), format!("big{round}"));
        for (key, pt, want) in [
            (k_small.as_str(), &small, Verification::InMemory),
            (k_big.as_str(), &big, Verification::TwoPass),
        ] {
            client
                .put_bytes(BUCKET, key, pt, &PutOptions::default())
                .await
                .unwrap();
            let rec = Recorder::default();
            let got = client
                .get_object_to_writer(BUCKET, key, &mut rec.clone(), &opts())
                .await
                .unwrap();
            let want = match (&strategy, want) {
                (LargeObjectVerification::SpillFile { .. }, Verification::TwoPass) => {
                    Verification::SpillFile
                }
                (_, w) => w,
            };
            assert_eq!(got.verification, want);
            assert!(*rec.0.lock().unwrap() == *pt);
            // Into a file: over the budget, one GET; on Linux decrypted into an unnamed file
            // while the tag is checked (linked once it verified), elsewhere the ciphertext goes
            // to the unrenamed file while the tag is checked, then it is decrypted in place.
            let out = dir.path().join("whole.bin");
            let got = client
                .get_object_to_file(BUCKET, key, &out, &opts())
                .await
                .unwrap();
            let want_file = if pt.len() > 10 * MIB && cfg!(target_os = "linux") {
                Verification::UnnamedFile
            } else if pt.len() > 10 * MIB {
                Verification::InPlace
            } else {
                Verification::InMemory
            };
            assert_eq!(got.verification, want_file);
            assert_eq!(got.fetched, pt.len() as u64 + 16);
            assert!(std::fs::read(&out).unwrap() == *pt);
            std::fs::remove_file(&out).unwrap();
            // As an AsyncRead: the same verification, end of stream only after success.
            let mut reader = client
                .get_object_reader(BUCKET, key, &opts())
                .await
                .unwrap();
            let mut all = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut all)
                .await
                .unwrap();
            assert!(all == *pt);
            assert_eq!(reader.output().unwrap().verification, want);
            for at in [0u64, 100, pt.len() as u64 - 1, pt.len() as u64 + 5] {
                tamper(&local.s3, key, at).await;
                let rec = Recorder::default();
                let e = client
                    .get_object_to_writer(BUCKET, key, &mut rec.clone(), &opts())
                    .await
                    .unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Authentication, "{key} at {at}: {e}");
                assert!(
                    rec.0.lock().unwrap().is_empty(),
                    "{key}: plaintext released from a tampered object"
                );
                let mut reader = client
                    .get_object_reader(BUCKET, key, &opts())
                    .await
                    .unwrap();
                let mut all = Vec::new();
                let e = tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut all)
                    .await
                    .unwrap_err();
                let e = e
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<s3_encryption_transport::Error>())
                    .expect("the crate's error inside the io::Error");
                assert_eq!(e.kind(), ErrorKind::Authentication, "{key} at {at}: {e}");
                assert!(
                    all.is_empty(),
                    "{key}: plaintext read from a tampered object"
                );
                let out = dir.path().join("out.bin");
                client
                    .get_object_to_file(BUCKET, key, &out, &opts())
                    .await
                    .unwrap_err();
                assert!(!out.exists());
                tamper(&local.s3, key, at).await;
            }
        }
        // Restored objects read again.
        assert!(
            client
                .get_object_bytes(BUCKET, &k_small, &opts())
                .await
                .is_ok()
        );
    }
    // An object whose bytes change between the verification pass and the release pass (the
    // server keeps the old ETag): the release pass detects it.
    let upstream = local.server.as_ref().unwrap().addr();
    let path = local.object_path("big0");
    let proxy = Proxy::start(
        upstream,
        vec![Rule {
            markers: vec![b"GET /test/big0 ".to_vec(), b"GET /test/big0?".to_vec()],
            occurrences: vec![2],
            action: Action::Call(Box::new(move || flip_byte(&path, 9 * MIB as u64))),
        }],
    )
    .await;
    // (S3's own response checksums would catch this on-disk change first; turn them off to
    // reach the cryptographic check.)
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&s3_encryption_transport::local::sdk_config_for(
            &proxy.endpoint,
        ))
        .force_path_style(true)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .build(),
    );
    let client = S3EncryptionClient::builder(s3, aes_keyring(5))
        .part_size(5 * MIB as u64)
        .memory_budget(10 * MIB as u64)
        .build()
        .unwrap();
    let e = client
        .get_object_to_writer(BUCKET, "big0", &mut Recorder::default(), &opts())
        .await
        .unwrap_err();
    assert_eq!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
    assert!(
        matches!(e, s3_encryption_transport::Error::ObjectChanged),
        "{e}"
    );
    drop(proxy);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranged_reads_follow_the_core_arithmetic() {
    let local = Local::start().await;
    let plain = local.client(aes_keyring(6)).build().unwrap();
    let client = local
        .client(aes_keyring(6))
        .enable_legacy_unauthenticated_modes(true)
        .build()
        .unwrap();
    let n = 100_003usize;
    let pt = data(n, 6);
    client
        .put_bytes(BUCKET, "r", &pt, &PutOptions::default())
        .await
        .unwrap();
    client
        .put_bytes(BUCKET, "empty", b"", &PutOptions::default())
        .await
        .unwrap();
    let stored = n as u64 + 16;
    let n64 = n as u64;
    let cases: Vec<(ByteRange, Option<(u64, u64)>)> = vec![
        (ByteRange::Inclusive(0, 0), Some((0, 0))),
        (ByteRange::Inclusive(0, 15), Some((0, 15))),
        (ByteRange::Inclusive(15, 16), Some((15, 16))),
        (ByteRange::Inclusive(17, 100), Some((17, 100))),
        (ByteRange::Inclusive(4096, 8191), Some((4096, 8191))),
        (
            ByteRange::Inclusive(n64 - 1, n64 - 1),
            Some((n64 - 1, n64 - 1)),
        ),
        (
            ByteRange::Inclusive(n64 - 10, n64 + 500),
            Some((n64 - 10, n64 - 1)),
        ),
        (ByteRange::From(99_000), Some((99_000, n64 - 1))),
        (ByteRange::From(0), Some((0, n64 - 1))),
        (ByteRange::Suffix(1), Some((n64 - 1, n64 - 1))),
        (ByteRange::Suffix(33), Some((n64 - 33, n64 - 1))),
        (ByteRange::Suffix(n64 + 100), Some((0, n64 - 1))),
        (ByteRange::Inclusive(n64, n64 + 3), None),
        (ByteRange::From(n64 + 1), None),
        (ByteRange::Suffix(0), None),
    ];
    for (range, want) in cases {
        let mut out = Vec::new();
        let r = client
            .get_object_range_hazmat(BUCKET, "r", range, &mut out, &opts())
            .await;
        match want {
            Some((a, b)) => {
                let got = r.unwrap_or_else(|e| panic!("{range:?}: {e}"));
                assert_eq!(out, &pt[a as usize..=b as usize], "{range:?}");
                assert_eq!(got.range_first, Some(a));
                let plan = RangePlan::new(
                    range,
                    stored,
                    s3_encryption::ContentAlgorithm::AesGcmCommitting,
                )
                .unwrap();
                assert_eq!(got.fetched, plan.fetch_len(), "{range:?}: fetched bytes");
                assert!(got.fetched < stored || b - a + 1 >= n64 - 32, "{range:?}");
            }
            None => {
                let e = r.unwrap_err();
                assert!(
                    matches!(
                        e,
                        s3_encryption_transport::Error::RangeNotSatisfiable { .. }
                    ),
                    "{range:?}: {e}"
                );
                assert!(out.is_empty());
            }
        }
    }
    // Parsing the header forms.
    for (h, a, b) in [
        ("bytes=10-20", 10, 20),
        ("bytes=99990-", 99_990, n64 - 1),
        ("bytes=-5", n64 - 5, n64 - 1),
    ] {
        let mut out = Vec::new();
        client
            .get_object_range_hazmat(BUCKET, "r", ByteRange::parse(h).unwrap(), &mut out, &opts())
            .await
            .unwrap();
        assert_eq!(out, &pt[a as usize..=b as usize], "{h}");
    }
    let mut out = Vec::new();
    let e = client
        .get_object_range_hazmat(
            BUCKET,
            "empty",
            ByteRange::Inclusive(0, 0),
            &mut out,
            &opts(),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        s3_encryption_transport::Error::RangeNotSatisfiable { .. }
    ));
    // Without the opt-in, ranged reads are refused.
    let e = plain
        .get_object_range_hazmat(BUCKET, "r", ByteRange::Inclusive(0, 1), &mut out, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Policy);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_authentication_is_an_opt_in() {
    let local = Local::start().await;
    let plain = local.client(aes_keyring(7)).build().unwrap();
    let client = local
        .client(aes_keyring(7))
        .enable_delayed_authentication_mode(true)
        .build()
        .unwrap();
    let pt = data(70_000, 7);
    client
        .put_bytes(BUCKET, "d", &pt, &PutOptions::default())
        .await
        .unwrap();
    let mut out = Vec::new();
    let e = plain
        .get_object_delayed_authentication_hazmat(BUCKET, "d", &mut out, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Policy);
    let got = client
        .get_object_delayed_authentication_hazmat(BUCKET, "d", &mut out, &opts())
        .await
        .unwrap();
    assert_eq!(got.verification, Verification::DelayedAuthentication);
    assert!(out == pt);
    // Tampered: data is released, and the end says to discard it.
    tamper(&local.s3, "d", 10).await;
    let mut out = Vec::new();
    let e = client
        .get_object_delayed_authentication_hazmat(BUCKET, "d", &mut out, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_writes_and_commitment_policy() {
    let local = Local::start().await;
    let v2 = local
        .client(aes_keyring(8))
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    let pt = data(5000, 8);
    v2.put_bytes(BUCKET, "v2", &pt, &PutOptions::default())
        .await
        .unwrap();
    let info = v2.head_object(BUCKET, "v2", &opts()).await.unwrap();
    assert_eq!(
        info.envelope.format_version,
        s3_encryption::FormatVersion::V2
    );
    assert!(!info.envelope.key_commitment);
    let strict = local.client(aes_keyring(8)).build().unwrap();
    let e = strict
        .get_object_bytes(BUCKET, "v2", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Policy, "{e}");
    let allow = local
        .client(aes_keyring(8))
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build()
        .unwrap();
    let (got, _) = allow.get_object_bytes(BUCKET, "v2", &opts()).await.unwrap();
    assert_eq!(got, pt);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instruction_file_reencryption() {
    let local = Local::start().await;
    let moto = Moto::start("instruction_file_reencryption (KMS part)");
    let pt = data(40_000, 9);
    let old = local
        .client(aes_keyring(10))
        .placement(Placement::InstructionFile);
    let old = old.kms_client(moto.kms()).build().unwrap();
    old.put_bytes(BUCKET, "rot", &pt, &PutOptions::default())
        .await
        .unwrap();
    let meta_before = local
        .s3
        .head_object()
        .bucket(BUCKET)
        .key("rot")
        .send()
        .await
        .unwrap()
        .metadata()
        .cloned()
        .unwrap();
    let get_with = |kr: ClientKeyring| local.client(kr).kms_client(moto.kms()).build().unwrap();

    // AES → AES (new key), enforcing rotation.
    let new_aes = aes_keyring(11).with_context([("generation", "2")]);
    let r = old
        .reencrypt_instruction_file(
            BUCKET,
            "rot",
            &new_aes,
            &ReEncryptOptions {
                enforce_rotation: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.instruction_file_key, "rot.instruction");
    assert_eq!(
        r.envelope.materials_description.as_deref(),
        Some(r#"{"generation":"2"}"#)
    );
    let c_new = get_with(aes_keyring(11));
    let (got, _) = c_new
        .get_object_bytes(BUCKET, "rot", &opts())
        .await
        .unwrap();
    assert_eq!(got, pt);
    let e = old
        .get_object_bytes(BUCKET, "rot", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication);

    // AES → RSA (public key only), at a custom suffix; read with the private key and that suffix.
    let rsa_priv = rsa_key();
    let rsa_pub = ClientKeyring::rsa_public(rsa_priv.to_public_key());
    let r = c_new
        .reencrypt_instruction_file(
            BUCKET,
            "rot",
            &rsa_pub,
            &ReEncryptOptions {
                new_suffix: Some(".third-party".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.instruction_file_key, "rot.third-party");
    let c_rsa = get_with(ClientKeyring::rsa_private(rsa_priv.clone()));
    let (got, _) = c_rsa
        .get_object_bytes(
            BUCKET,
            "rot",
            &GetOptions {
                instruction_file_suffix: Some(".third-party".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got, pt);
    // The default instruction file still opens with the AES key.
    let (got, _) = c_new
        .get_object_bytes(BUCKET, "rot", &opts())
        .await
        .unwrap();
    assert_eq!(got, pt);

    // RSA → AES (reading the custom suffix), written back to the default suffix.
    c_rsa
        .reencrypt_instruction_file(
            BUCKET,
            "rot",
            &aes_keyring(12),
            &ReEncryptOptions {
                source_suffix: Some(".third-party".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let c12 = get_with(aes_keyring(12));
    assert_eq!(
        c12.get_object_bytes(BUCKET, "rot", &opts())
            .await
            .unwrap()
            .0,
        pt
    );

    // KMS → KMS (another key) and back to AES.
    {
        let m = &moto;
        let k1 = m.create_key().await;
        let k2 = m.create_key().await;
        c12.reencrypt_instruction_file(
            BUCKET,
            "rot",
            &ClientKeyring::kms(&k1).with_context([("t", "1")]),
            &ReEncryptOptions::default(),
        )
        .await
        .unwrap();
        let ck1 = get_with(ClientKeyring::kms(&k1).with_context([("t", "1")]));
        assert_eq!(
            ck1.get_object_bytes(BUCKET, "rot", &opts())
                .await
                .unwrap()
                .0,
            pt
        );
        ck1.reencrypt_instruction_file(
            BUCKET,
            "rot",
            &ClientKeyring::kms(&k2),
            &ReEncryptOptions {
                enforce_rotation: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let ck2 = get_with(ClientKeyring::kms(&k2));
        assert_eq!(
            ck2.get_object_bytes(BUCKET, "rot", &opts())
                .await
                .unwrap()
                .0,
            pt
        );
        let e = ck1
            .get_object_bytes(BUCKET, "rot", &opts())
            .await
            .unwrap_err();
        assert_ne!(e.kind(), ErrorKind::NotEncrypted);
        ck2.reencrypt_instruction_file(
            BUCKET,
            "rot",
            &aes_keyring(12),
            &ReEncryptOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            c12.get_object_bytes(BUCKET, "rot", &opts())
                .await
                .unwrap()
                .0,
            pt
        );
    }

    // The object itself (and its V3 key commitment and message id) never changed.
    let meta_after = local
        .s3
        .head_object()
        .bucket(BUCKET)
        .key("rot")
        .send()
        .await
        .unwrap()
        .metadata()
        .cloned()
        .unwrap();
    assert_eq!(meta_before, meta_after);
    assert!(meta_after.contains_key("x-amz-d") && meta_after.contains_key("x-amz-i"));

    // An instruction file wrapping a different data key is caught by the commitment.
    let other = local
        .client(aes_keyring(12))
        .placement(Placement::InstructionFile)
        .build()
        .unwrap();
    other
        .put_bytes(BUCKET, "other", b"other", &PutOptions::default())
        .await
        .unwrap();
    let body = local
        .s3
        .get_object()
        .bucket(BUCKET)
        .key("other.instruction")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    local
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("rot.instruction")
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap();
    let e = c12
        .get_object_bytes(BUCKET, "rot", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");

    // Objects that keep their key in metadata cannot be re-encrypted this way.
    c12.put_bytes(BUCKET, "meta", b"x", &PutOptions::default())
        .await
        .unwrap();
    let e = c12
        .reencrypt_instruction_file(
            BUCKET,
            "meta",
            &aes_keyring(13),
            &ReEncryptOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_encrypted_is_its_own_error() {
    let local = Local::start().await;
    let client = local.client(aes_keyring(14)).build().unwrap();
    local
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("plain")
        .body(b"hello".to_vec().into())
        .send()
        .await
        .unwrap();
    let e = client
        .get_object_bytes(BUCKET, "plain", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotEncrypted, "{e}");
    assert!(e.is_not_encrypted());
    let e = client
        .head_object(BUCKET, "plain", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotEncrypted);
    let e = client
        .get_object_bytes(BUCKET, "missing", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    // An object with V3 object-side keys but no instruction file is encrypted, but broken.
    client
        .put_bytes(
            BUCKET,
            "broken",
            b"x",
            &PutOptions {
                placement: Some(Placement::InstructionFile),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    local
        .s3
        .delete_object()
        .bucket(BUCKET)
        .key("broken.instruction")
        .send()
        .await
        .unwrap();
    let e = client
        .get_object_bytes(BUCKET, "broken", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format, "{e}");
    // A wrong key is an authentication failure, not "not encrypted".
    client
        .put_bytes(BUCKET, "enc", b"secret", &PutOptions::default())
        .await
        .unwrap();
    let wrong = local.client(aes_keyring(15)).build().unwrap();
    let e = wrong
        .get_object_bytes(BUCKET, "enc", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication);
    // Listing reports plaintext sizes and what each object is.
    let list = client.list_objects(BUCKET, "").await.unwrap();
    let find = |k: &str| list.iter().find(|e| e.key == k).unwrap();
    assert!(matches!(find("plain").status, ListStatus::NotEncrypted));
    match &find("enc").status {
        ListStatus::Encrypted(i) => assert_eq!(i.plaintext_len, Some(6)),
        s => panic!("{s:?}"),
    }
    assert_eq!(find("enc").stored_len, 22);
    assert!(matches!(find("broken").status, ListStatus::Error(_)));
    // No silent plaintext.
    for e in [
        client
            .copy_object(BUCKET, "c", "test/enc")
            .await
            .unwrap_err(),
        client
            .upload_part_copy(BUCKET, "c", "test/enc")
            .await
            .unwrap_err(),
        client.presigned_put_object(BUCKET, "c").await.unwrap_err(),
    ] {
        assert!(matches!(e, s3_encryption_transport::Error::Refused(_)));
    }
    // User metadata cannot shadow S3EC keys.
    let e = client
        .put_bytes(
            BUCKET,
            "m",
            b"x",
            &PutOptions {
                metadata: vec![("x-amz-key-v2".into(), "a".into())],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_is_checked() {
    let local = Local::start().await;
    assert!(
        local
            .client(aes_keyring(1))
            .part_size(4 * MIB as u64)
            .build()
            .is_err()
    );
    assert!(
        local
            .client(aes_keyring(1))
            .part_size(5 * MIB as u64 + 1)
            .build()
            .is_err()
    );
    assert!(
        local
            .client(aes_keyring(1))
            .part_size(8 * MIB as u64)
            .memory_budget(8 * MIB as u64)
            .build()
            .is_err()
    );
    assert!(local.client(ClientKeyring::kms("k")).build().is_err());
    let c = local
        .client(aes_keyring(1))
        .part_size(8 * MIB as u64)
        .parts_in_flight(16)
        .memory_budget(40 * MIB as u64)
        .build()
        .unwrap();
    assert_eq!(c.parts_in_flight(), 4);
    let pub_only = local
        .client(ClientKeyring::rsa_public(rsa_key().to_public_key()))
        .build()
        .unwrap();
    pub_only
        .put_bytes(BUCKET, "p", b"abc", &PutOptions::default())
        .await
        .unwrap();
    let e = pub_only
        .get_object_bytes(BUCKET, "p", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
    let aes = local.client(aes_keyring(1)).build().unwrap();
    let e = aes
        .get_object_bytes(BUCKET, "p", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{e}");
    let rsa2 = local
        .client(ClientKeyring::rsa_private(rsa_key2()))
        .build()
        .unwrap();
    let e = rsa2
        .get_object_bytes(BUCKET, "p", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Authentication, "{e}");
    local.stop().await;
}

/// S3 checked, and stored, a SHA-256 of exactly the stored (ciphertext) bytes of `key`.
async fn assert_stored_sha256(local: &Local, key: &str, stored: &[u8]) {
    use aws_sdk_s3::types::ChecksumMode;
    use base64ct::{Base64, Encoding};
    use sha2::{Digest, Sha256};
    let h = local
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.checksum_sha256(),
        Some(Base64::encode_string(&Sha256::digest(stored)).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksums_are_over_ciphertext() {
    use aws_sdk_s3::types::ChecksumAlgorithm;
    let local = Local::start().await;
    let client = local
        .client(aes_keyring(20))
        .part_size(5 * MIB as u64)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .build()
        .unwrap();
    // Single request: S3 checked (and stored) a SHA-256 of exactly the stored ciphertext.
    let pt = data(100_000, 20);
    client
        .put_bytes(BUCKET, "sum", &pt, &PutOptions::default())
        .await
        .unwrap();
    let stored = std::fs::read(local.object_path("sum")).unwrap();
    assert_eq!(stored.len(), pt.len() + 16);
    assert_ne!(&stored[..pt.len()], &pt[..]);
    assert_stored_sha256(&local, "sum", &stored).await;
    assert_eq!(
        client
            .get_object_bytes(BUCKET, "sum", &opts())
            .await
            .unwrap()
            .0,
        pt
    );
    // Multipart: every part carries a SHA-256 of its ciphertext, and the upload completes.
    let big = data(11 * MIB, 21);
    let put = client
        .put_bytes(BUCKET, "sum-mp", &big, &PutOptions::default())
        .await
        .unwrap();
    assert!(put.multipart);
    assert_eq!(
        client
            .get_object_bytes(BUCKET, "sum-mp", &opts())
            .await
            .unwrap()
            .0,
        big
    );
    // One streamed PutObject (over the part size, under the threshold): the SDK sends the
    // checksum as a trailer computed over the ciphertext as it streams.
    let streaming = local
        .client(aes_keyring(20))
        .part_size(5 * MIB as u64)
        .multipart_threshold(64 * MIB as u64)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .build()
        .unwrap();
    let put = streaming
        .put_bytes(BUCKET, "sum-stream", &big, &PutOptions::default())
        .await
        .unwrap();
    assert!(!put.multipart);
    let stored = std::fs::read(local.object_path("sum-stream")).unwrap();
    assert_eq!(stored.len(), big.len() + 16);
    assert_stored_sha256(&local, "sum-stream", &stored).await;
    assert_eq!(
        client
            .get_object_bytes(BUCKET, "sum-stream", &opts())
            .await
            .unwrap()
            .0,
        big
    );
    local.stop().await;
}

/// Uploading by writing: `finish` completes the upload and the object reads back; a writer dropped
/// before `finish` leaves no object and no open upload, even after a multipart upload began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_by_writing_finishes_or_aborts() {
    use tokio::io::AsyncWriteExt;
    let local = Local::start().await;
    let client = local
        .client(aes_keyring(30))
        .part_size(5 * MIB as u64)
        .build()
        .unwrap();
    for n in [0usize, 1000, 12 * MIB + 3] {
        let pt = data(n, 31);
        let key = format!("written/{n}");
        let mut w = client.put_object_writer(BUCKET, &key, &PutOptions::default());
        for c in pt.chunks(777_777) {
            w.write_all(c).await.unwrap();
        }
        let put = w.finish().await.unwrap();
        assert_eq!(put.plaintext_len, n as u64);
        let (got, _) = client
            .get_object_bytes(BUCKET, &key, &opts())
            .await
            .unwrap();
        assert!(got == pt, "{n}");
    }
    let mut w = client.put_object_writer(BUCKET, "dropped", &PutOptions::default());
    w.write_all(&data(7 * MIB, 32)).await.unwrap();
    // Let the first part go up, so that a multipart upload is open.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    drop(w);
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let e = client
        .get_object_bytes(BUCKET, "dropped", &opts())
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(
        local.pending_uploads().is_empty(),
        "{:?}",
        local.pending_uploads()
    );
}
