//! Another writer mid-migration, a throttling store, and the embedded store.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_overwritten_mid_migration_is_left_to_its_writer() {
    let moto = Moto::start("an_object_overwritten_mid_migration_is_left_to_its_writer");
    let s3 = bucket(&moto, false).await;
    let upstream: std::net::SocketAddr =
        moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let old_k = aes_keyring(1);
    // Each rule overwrites its object (with a plain body) just before the marked request passes:
    // before the read (the tag fetch) and before the write (the PUT).
    let mut rules = Vec::new();
    for (key, marker) in [
        ("chg-read", "/mig/chg-read?tagging".to_owned()),
        ("chg-write", "PUT /mig/chg-write".to_owned()),
        // A re-wrap's new instruction file: the writer replaced the old one first.
        (
            "chg-ifile.instruction",
            "PUT /mig/chg-ifile.instruction".to_owned(),
        ),
        // A re-wrap's copy onto itself: moto 5.2.5 enforces neither the copy-source condition
        // nor If-Match on CopyObject, so the copy goes through; the read-back sees another object.
        ("chg-copy", "PUT /mig/chg-copy?x-id=CopyObject".to_owned()),
    ] {
        let endpoint = moto.endpoint.clone();
        rules.push(Rule {
            markers: vec![marker.into_bytes()],
            occurrences: vec![1],
            action: Action::Call(Box::new(move || {
                let endpoint = endpoint.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Runtime::new().unwrap();
                    rt.block_on(async {
                        let s3 = s3_client(&endpoint);
                        s3.put_object()
                            .bucket(B)
                            .key(key)
                            .body(b"the writer's object".to_vec().into())
                            .send()
                            .await
                            .unwrap();
                    });
                })
                .join()
                .unwrap();
            })),
        });
    }
    let proxy = Proxy::start(upstream, rules).await;
    let via = s3_client(&proxy.endpoint);
    let old = S3EncryptionClient::builder(via, old_k.clone())
        .build()
        .unwrap();
    // Each object is left as its writer left it (for the re-wrap of an instruction-file object,
    // that is the instruction file the writer replaced).
    for (key, left, mode, placement) in [
        (
            "chg-read",
            "chg-read",
            MigrateMode::ToV3,
            Placement::ObjectMetadata,
        ),
        (
            "chg-write",
            "chg-write",
            MigrateMode::ToV3,
            Placement::ObjectMetadata,
        ),
        (
            "chg-ifile",
            "chg-ifile.instruction",
            MigrateMode::Rewrap,
            Placement::InstructionFile,
        ),
        (
            "chg-copy",
            "chg-copy",
            MigrateMode::Rewrap,
            Placement::ObjectMetadata,
        ),
    ] {
        let po = PutOptions {
            placement: Some(placement),
            ..PutOptions::default()
        };
        client(&s3, &moto, old_k.clone())
            .put_bytes(B, key, data(4101, 1), &po)
            .await
            .unwrap();
        let out = old
            .migrate_object(B, key, &MigrateOptions::new(mode, aes_keyring(2)))
            .await
            .unwrap();
        assert_eq!(out.status, MigrateStatus::Changed, "{key}: {out:?}");
        let got = s3.get_object().bucket(B).key(left).send().await.unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            b"the writer's object",
            "{key}"
        );
    }
    assert_eq!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_migrates_and_rewraps() {
    // s3s-fs: no tagging (answered 501: no tags), conditional copies and writes enforced.
    let local = Local::start().await;
    let old = local.client(aes_keyring(1)).build().unwrap();
    let pt = data(5000, 9);
    old.put_bytes(BUCKET, "e", &pt, &PutOptions::default())
        .await
        .unwrap();
    let out = old
        .migrate_object(
            BUCKET,
            "e",
            &MigrateOptions::new(MigrateMode::Rewrap, aes_keyring(2)),
        )
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::Migrated, "{out:?}");
    let mid = local.client(aes_keyring(2)).build().unwrap();
    let out = mid
        .migrate_object(
            BUCKET,
            "e",
            &MigrateOptions::new(MigrateMode::ToV3, aes_keyring(3)),
        )
        .await
        .unwrap();
    assert_eq!(out.status, MigrateStatus::Migrated, "{out:?}");
    let newc = local.client(aes_keyring(3)).build().unwrap();
    let (got, _) = newc
        .get_object_bytes(BUCKET, "e", &GetOptions::default())
        .await
        .unwrap();
    assert_eq!(got, pt);
    local.stop().await;
}

fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    s3_encryption_transport::local::s3_client_for(&s3_encryption_transport::local::sdk_config_for(
        endpoint,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_is_a_retryable_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A store that answers every request with 503 SlowDown.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                let head = format!(
                    "HTTP/1.1 503 Slow Down\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(head.as_bytes()).await;
                if !seen.starts_with(b"HEAD") {
                    let _ = c.write_all(body.as_bytes()).await;
                }
                let _ = c.shutdown().await;
            });
        }
    });
    let old = S3EncryptionClient::builder(s3_client(&endpoint), aes_keyring(1))
        .build()
        .unwrap();
    let e = old
        .migrate_object(
            B,
            "k",
            &MigrateOptions::new(MigrateMode::ToV3, aes_keyring(2)),
        )
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    server.abort();
}
