//! Re-wrap: AES and KMS (ReEncrypt), both placements, SDK-written V2; V1 is unsupported.

use super::*;

async fn v3_ids(s3: &aws_sdk_s3::Client, key: &str) -> (String, String) {
    let (_, m) = raw_meta(s3, key).await;
    let get = |k: &str| {
        m.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    (get("x-amz-i"), get("x-amz-d"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrap_aes_and_kms_in_both_placements() {
    let moto = Moto::start("rewrap_aes_and_kms_in_both_placements");
    let s3 = bucket(&moto, false).await;
    let (k1, k2) = (moto.create_key().await, moto.create_key().await);
    let pairs = [
        (aes_keyring(1), aes_keyring(2)),
        (ClientKeyring::kms(&k1), ClientKeyring::kms(&k2)),
    ];
    // The migration's KMS calls pass a proxy that counts ReEncrypt and Encrypt requests: KMS to
    // KMS must re-wrap server-side, never with the data key in hand.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (reencrypts, encrypts) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let count = |c: &Arc<AtomicUsize>, marker: &str| {
        let c = c.clone();
        Rule {
            markers: vec![marker.as_bytes().to_vec()],
            occurrences: vec![],
            action: Action::Call(Box::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })),
        }
    };
    let upstream: std::net::SocketAddr =
        moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(
        upstream,
        vec![
            count(&reencrypts, "TrentService.ReEncrypt\r\n"),
            count(&encrypts, "TrentService.Encrypt\r\n"),
        ],
    )
    .await;
    let counted_kms = aws_sdk_kms::Client::new(&s3_encryption_transport::local::sdk_config_for(
        &proxy.endpoint,
    ));
    for (n, (old_k, new_k)) in pairs.iter().enumerate() {
        let old = S3EncryptionClient::builder(s3.clone(), old_k.clone())
            .kms_client(counted_kms.clone())
            .build()
            .unwrap();
        let newc = client(&s3, &moto, new_k.clone());
        let opts = MigrateOptions::new(MigrateMode::Rewrap, new_k.clone());
        for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
            let key = format!("rewrap/{n}/{placement:?}");
            let pt = data(4101, 3);
            let po = PutOptions {
                placement: Some(placement),
                metadata: vec![("owner".into(), "bob".into())],
                content_type: Some("application/x-test".into()),
                ..PutOptions::default()
            };
            old.put_bytes(B, &key, &pt, &po).await.unwrap();
            let ids = v3_ids(&s3, &key).await;
            let (etag, _) = raw_meta(&s3, &key).await;
            let out = old.migrate_object(B, &key, &opts).await.unwrap();
            assert_eq!(out.status, MigrateStatus::Migrated, "{key}: {out:?}");
            // Same content: the ETag of a single-part object is its MD5, unchanged by the copy.
            assert_eq!(raw_meta(&s3, &key).await.0, etag, "{key}");
            assert_eq!(
                v3_ids(&s3, &key).await,
                ids,
                "{key}: message id / commitment changed"
            );
            let (got, info) = newc
                .get_object_bytes(B, &key, &GetOptions::default())
                .await
                .unwrap();
            assert_eq!(got, pt, "{key}");
            assert_eq!(
                info.info.user_metadata,
                vec![("owner".to_owned(), "bob".to_owned())]
            );
            let h = s3.head_object().bucket(B).key(&key).send().await.unwrap();
            assert_eq!(h.content_type(), Some("application/x-test"), "{key}");
            assert!(
                old.get_object_bytes(B, &key, &GetOptions::default())
                    .await
                    .is_err(),
                "{key}: the old keyring still opens it"
            );
            let again = old.migrate_object(B, &key, &opts).await.unwrap();
            assert_eq!(again.status, MigrateStatus::Skipped, "{key}: {again:?}");
        }
    }
    assert_eq!(
        reencrypts.load(Ordering::SeqCst),
        2,
        "one ReEncrypt per KMS object"
    );
    assert_eq!(
        encrypts.load(Ordering::SeqCst),
        0,
        "no data key was wrapped client-side"
    );
    // Above the copy part size: CreateMultipartUpload + UploadPartCopy ranges + Complete.
    let old = client(&s3, &moto, aes_keyring(1));
    let pt = data(11 * MIB + 7, 5);
    let po = PutOptions {
        metadata: vec![("owner".into(), "dan".into())],
        content_type: Some("application/x-big".into()),
        ..PutOptions::default()
    };
    old.put_bytes(B, "rewrap/big", &pt, &po).await.unwrap();
    s3.put_object_tagging()
        .bucket(B)
        .key("rewrap/big")
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key("team")
                        .value("red")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ids = v3_ids(&s3, "rewrap/big").await;
    let mut opts = MigrateOptions::new(MigrateMode::Rewrap, aes_keyring(2));
    opts.copy_part_size = 5 * MIB as u64;
    let out = old.migrate_object(B, "rewrap/big", &opts).await.unwrap();
    assert_eq!(out.status, MigrateStatus::Migrated, "{out:?}");
    assert_eq!(v3_ids(&s3, "rewrap/big").await, ids);
    let h = s3
        .head_object()
        .bucket(B)
        .key("rewrap/big")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("application/x-big"));
    assert!(h.e_tag().unwrap().ends_with("-3\""), "{:?}", h.e_tag());
    assert_eq!(
        tags(&s3, "rewrap/big").await,
        vec![("team".to_owned(), "red".to_owned())]
    );
    let newc = client(&s3, &moto, aes_keyring(2));
    let (got, info) = newc
        .get_object_bytes(B, "rewrap/big", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(got, pt);
    assert_eq!(
        info.info.user_metadata,
        vec![("owner".to_owned(), "dan".to_owned())]
    );
    assert!(
        old.get_object_bytes(B, "rewrap/big", &GetOptions::default())
            .await
            .is_err()
    );
    assert!(
        s3.list_multipart_uploads()
            .bucket(B)
            .send()
            .await
            .unwrap()
            .uploads()
            .is_empty()
    );
    // SDK-written V2 (Java) in both placements re-wrapped to a new AES key.
    for (i, name) in [
        "java-v2/ae-aesgcm-meta-4101.json",
        "java-v2/ae-aesgcm-inst-4101.json",
    ]
    .iter()
    .enumerate()
    {
        let key = format!("rewrap/sdk/{i}");
        let v = upload_vector(&s3, name, &key).await;
        let old = old_client(&s3, &moto, &v);
        let opts = MigrateOptions::new(MigrateMode::Rewrap, aes_keyring(7));
        let out = old.migrate_object(B, &key, &opts).await.unwrap();
        assert_eq!(out.status, MigrateStatus::Migrated, "{key}: {out:?}");
        let newc = S3EncryptionClient::builder(s3.clone(), aes_keyring(7))
            .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
            .build()
            .unwrap();
        let (pt, _) = newc
            .get_object_bytes(B, &key, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(sha(&pt), v.sha256, "{key}");
        assert!(
            old.get_object_bytes(B, &key, &GetOptions::default())
                .await
                .is_err()
        );
    }
    // V1 content cannot be re-wrapped: reported, untouched.
    let v = upload_vector(&s3, "java-legacy/eo-aes-meta-4101.json", "rewrap/v1").await;
    let before = raw_meta(&s3, "rewrap/v1").await;
    let out = old_client(&s3, &moto, &v)
        .migrate_object(
            B,
            "rewrap/v1",
            &MigrateOptions::new(MigrateMode::Rewrap, aes_keyring(7)),
        )
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::Unsupported, "{out:?}");
    assert_eq!(raw_meta(&s3, "rewrap/v1").await, before);
}
