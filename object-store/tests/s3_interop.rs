//! Interop on S3: `EncryptedStore` over `object_store`'s `AmazonS3`, pointed at the embedded S3
//! server of the transport crate (s3s-fs on 127.0.0.1, SigV4 checked), against our S3 client
//! (`s3-encryption-transport`, the library the `s3ec` CLI runs): objects the adapter writes are
//! read by the transport, and objects the transport writes (metadata and instruction-file
//! placement, single and multipart) are read by the adapter, whole and ranged.

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use s3_encryption::{AesKey, AesKeyring, Placement};
use s3_encryption_object_store::EncryptedStore;
use s3_encryption_transport::local::{LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY, LocalS3};
use s3_encryption_transport::{ClientKeyring, GetOptions, PutOptions, S3EncryptionClient};
use std::sync::Arc;

const BUCKET: &str = "interop";
const KEY: [u8; 32] = [0x5a; 32];

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13) ^ (i >> 9) as u8 ^ seed)
        .collect()
}

fn amazon(server: &LocalS3) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(server.endpoint())
        .with_bucket_name(BUCKET)
        .with_region(LOCAL_REGION)
        .with_access_key_id(LOCAL_ACCESS_KEY)
        .with_secret_access_key(LOCAL_SECRET_KEY)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap()
}

fn transport(server: &LocalS3, placement: Placement) -> S3EncryptionClient {
    S3EncryptionClient::builder(server.s3_client(), ClientKeyring::aes(AesKey::new_256(KEY)))
        .placement(placement)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_and_our_s3_client_read_each_others_objects() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(BUCKET)).unwrap();
    let server = LocalS3::start(dir.path()).await.unwrap();
    let store = EncryptedStore::builder(
        amazon(&server),
        Arc::new(AesKeyring::new(AesKey::new_256(KEY))),
    )
    .build();
    let ours = transport(&server, Placement::ObjectMetadata);

    // The adapter writes; the transport reads.
    let small = data(100, 1);
    let mid = data(300 << 10, 2);
    let big = data((12 << 20) + 7, 3);
    store
        .put(&Path::from("a/small"), PutPayload::from(small.clone()))
        .await
        .unwrap();
    store
        .put(&Path::from("a/mid"), PutPayload::from(mid.clone()))
        .await
        .unwrap();
    let mut up = store.put_multipart(&Path::from("a/big")).await.unwrap();
    for c in big.chunks(3 << 20) {
        up.put_part(c.to_vec().into()).await.unwrap();
    }
    up.complete().await.unwrap();
    for (k, want) in [("a/small", &small), ("a/mid", &mid), ("a/big", &big)] {
        let (got, _) = ours
            .get_object_bytes(BUCKET, k, &GetOptions::default())
            .await
            .unwrap();
        assert!(&got == want, "{k}: the transport read other bytes");
    }

    // The transport writes (both placements, one multipart); the adapter reads, whole and ranged.
    let ifile = transport(&server, Placement::InstructionFile);
    let t1 = data(200 << 10, 4);
    let t2 = data(150 << 10, 5);
    let t3 = data(20 << 20, 6);
    ours.put_bytes(BUCKET, "b/meta", &t1, &PutOptions::default())
        .await
        .unwrap();
    ifile
        .put_bytes(BUCKET, "b/instr", &t2, &PutOptions::default())
        .await
        .unwrap();
    ours.put_bytes(BUCKET, "b/multi", &t3, &PutOptions::default())
        .await
        .unwrap();
    for (k, want) in [("b/meta", &t1), ("b/instr", &t2), ("b/multi", &t3)] {
        let p = Path::from(k);
        let got = store.get(&p).await.unwrap().bytes().await.unwrap();
        assert!(got.as_ref() == &want[..], "{k}: whole");
        let n = want.len() as u64;
        let r = n / 3 + 5..n / 3 + 70_000;
        let got = store.get_range(&p, r.clone()).await.unwrap();
        assert!(
            got.as_ref() == &want[r.start as usize..r.end as usize],
            "{k}: range"
        );
        let rs = [0..10, n - 10..n, 100..200];
        let got = store.get_ranges(&p, &rs).await.unwrap();
        for (r, g) in rs.iter().zip(got) {
            assert!(
                g.as_ref() == &want[r.start as usize..r.end as usize],
                "{k}: ranges"
            );
        }
        assert_eq!(store.head(&p).await.unwrap().size, n);
    }

    // Listing shows plaintext sizes and hides the instruction file.
    let mut listed: Vec<(String, u64)> =
        futures_util::TryStreamExt::try_collect::<Vec<_>>(store.list(Some(&Path::from("b"))))
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.location.to_string(), m.size))
            .collect();
    listed.sort();
    assert_eq!(
        listed,
        vec![
            ("b/instr".to_string(), t2.len() as u64),
            ("b/meta".to_string(), t1.len() as u64),
            ("b/multi".to_string(), t3.len() as u64),
        ]
    );

    // A copy on S3 keeps a working envelope (metadata and instruction file).
    store
        .copy(&Path::from("b/instr"), &Path::from("c/instr"))
        .await
        .unwrap();
    store
        .copy(&Path::from("a/mid"), &Path::from("c/mid"))
        .await
        .unwrap();
    let (got, _) = ours
        .get_object_bytes(BUCKET, "c/instr", &GetOptions::default())
        .await
        .unwrap();
    assert!(got == t2);
    let (got, _) = ours
        .get_object_bytes(BUCKET, "c/mid", &GetOptions::default())
        .await
        .unwrap();
    assert!(got == mid);

    // Delete removes the instruction file too.
    store.delete(&Path::from("c/instr")).await.unwrap();
    assert!(
        store
            .inner()
            .head(&Path::from("c/instr.instruction"))
            .await
            .is_err()
    );
    server.stop().await;
}
