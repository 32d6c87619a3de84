//! Re-encryption to V3: SDK-written and our objects, every form, KMS to KMS; reruns skip.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_v3_migrates_every_form_and_a_rerun_skips() {
    let moto = Moto::start("to_v3_migrates_every_form_and_a_rerun_skips");
    let s3 = bucket(&moto, false).await;
    let new = aes_keyring(9);
    let newc = client(&s3, &moto, new.clone());
    let opts = MigrateOptions::new(MigrateMode::ToV3, new.clone());
    let mut cases: Vec<(String, S3EncryptionClient, String)> = Vec::new();
    for (i, name) in SDK_VECTORS.iter().enumerate() {
        let key = format!("sdk/{i}");
        let v = upload_vector(&s3, name, &key).await;
        cases.push((key, old_client(&s3, &moto, &v), v.sha256));
    }
    // Ours: V3 under another AES key in both placements, and an 11 MiB multipart object.
    // A 10 MiB budget: the 11 MiB object is read in two pinned passes while its V3 copy uploads.
    let ours = S3EncryptionClient::builder(s3.clone(), aes_keyring(1))
        .part_size(5 * MIB as u64)
        .memory_budget(10 * MIB as u64)
        .build()
        .unwrap();
    for (key, n, placement) in [
        ("ours/v3-meta", 4101usize, Placement::ObjectMetadata),
        ("ours/v3-inst", 17, Placement::InstructionFile),
        ("ours/multipart", 11 * MIB + 5, Placement::ObjectMetadata),
    ] {
        let pt = data(n, n as u64);
        let po = PutOptions {
            placement: Some(placement),
            metadata: vec![("owner".into(), "alice".into())],
            content_type: Some("text/x-migrate".into()),
            ..PutOptions::default()
        };
        ours.put_bytes(B, key, &pt, &po).await.unwrap();
        s3.put_object_tagging()
            .bucket(B)
            .key(key)
            .tagging(
                aws_sdk_s3::types::Tagging::builder()
                    .tag_set(
                        aws_sdk_s3::types::Tag::builder()
                            .key("team")
                            .value("blue")
                            .build()
                            .unwrap(),
                    )
                    .tag_set(
                        aws_sdk_s3::types::Tag::builder()
                            .key("stage")
                            .value("old")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        cases.push((key.to_owned(), ours.clone(), sha(&pt)));
    }
    for (key, old, want) in &cases {
        let form = old.head_object(B, key, &GetOptions::default()).await.ok();
        let out = old.migrate_object(B, key, &opts).await.unwrap();
        assert_eq!(
            out.status,
            MigrateStatus::Migrated,
            "{key}: {out:?} ({form:?})"
        );
        assert!(
            out.new_etag.is_some() && out.new_etag != out.source_etag,
            "{key}: {out:?}"
        );
        // Read back by the new keyring alone, strictly.
        let (pt, got) = newc
            .get_object_bytes(B, key, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(&sha(&pt), want, "{key}");
        assert_eq!(out.bytes, pt.len() as u64, "{key}");
        assert_eq!(got.info.envelope.format_version, FormatVersion::V3, "{key}");
        assert_eq!(
            got.info.envelope.placement,
            Placement::ObjectMetadata,
            "{key}"
        );
        assert_eq!(
            got.info.user_metadata,
            vec![("owner".to_owned(), "alice".to_owned())],
            "{key}"
        );
        let h = s3.head_object().bucket(B).key(key).send().await.unwrap();
        assert_eq!(h.content_type(), Some("text/x-migrate"), "{key}");
        assert_eq!(
            tags(&s3, key).await,
            vec![
                ("stage".to_owned(), "old".to_owned()),
                ("team".to_owned(), "blue".to_owned())
            ],
            "{key}"
        );
        if out.form.as_ref().unwrap().placement == "instruction-file" {
            assert!(
                out.detail
                    .as_deref()
                    .unwrap_or("")
                    .contains("instruction file"),
                "{out:?}"
            );
        }
        // The old keyring no longer opens the current object.
        assert!(
            old.get_object_bytes(B, key, &GetOptions::default())
                .await
                .is_err(),
            "{key}"
        );
    }
    // A second run, with the same keys, changes nothing.
    for (key, old, _) in &cases {
        let before = raw_meta(&s3, key).await;
        let out = old.migrate_object(B, key, &opts).await.unwrap();
        assert_eq!(out.status, MigrateStatus::Skipped, "{key}: {out:?}");
        assert_eq!(raw_meta(&s3, key).await, before, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_v2_objects_reencrypt_to_v3_under_another_kms_key() {
    let moto = Moto::start("kms_v2_objects_reencrypt_to_v3_under_another_kms_key");
    let s3 = bucket(&moto, false).await;
    let (k1, k2) = (moto.create_key().await, moto.create_key().await);
    let old_k = ClientKeyring::kms(&k1).with_context([("tenant", "a")]);
    let v2 = S3EncryptionClient::builder(s3.clone(), old_k.clone())
        .kms_client(moto.kms())
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build()
        .unwrap();
    let new_k = ClientKeyring::kms(&k2).with_context([("tenant", "b")]);
    let newc = client(&s3, &moto, new_k.clone());
    for placement in [Placement::ObjectMetadata, Placement::InstructionFile] {
        let key = format!("kms/{placement:?}");
        let pt = data(3000, 4);
        let po = PutOptions {
            placement: Some(placement),
            ..PutOptions::default()
        };
        v2.put_bytes(B, &key, &pt, &po).await.unwrap();
        let out = v2
            .migrate_object(
                B,
                &key,
                &MigrateOptions::new(MigrateMode::ToV3, new_k.clone()),
            )
            .await
            .unwrap();
        assert_eq!(out.status, MigrateStatus::Migrated, "{key}: {out:?}");
        assert_eq!(out.form.as_ref().unwrap().format, "V2");
        assert_eq!(out.form.as_ref().unwrap().wrap, "kms+context");
        let (got, info) = newc
            .get_object_bytes(B, &key, &GetOptions::default())
            .await
            .unwrap();
        assert_eq!(got, pt, "{key}");
        assert_eq!(info.info.envelope.format_version, FormatVersion::V3);
        assert!(
            info.info
                .envelope
                .encryption_context
                .as_deref()
                .unwrap()
                .contains("\"tenant\":\"b\"")
        );
        let again = v2
            .migrate_object(
                B,
                &key,
                &MigrateOptions::new(MigrateMode::ToV3, new_k.clone()),
            )
            .await
            .unwrap();
        assert_eq!(again.status, MigrateStatus::Skipped, "{key}: {again:?}");
    }
}
