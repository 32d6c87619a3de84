//! `get_object_to_file` in one pass (Linux: decrypted as it arrives into an unnamed `O_TMPFILE`
//! file, linked into place only after the GET machine verified the tag), with 1, 2 and 4
//! connections, from an honest store and from the lying stand-in ([`common::hostile`]).
//!
//! What must hold: the exact plaintext from an honest store, one GET per part (one pass); a
//! tampered body, a body cut short, a wrong tag, a longer body or a lying Content-Range is a
//! typed error and leaves no file at all in the destination's directory (listed), and a file
//! that was already at the destination is left as it was.

#![cfg(feature = "embedded-s3")]

mod common;

use common::hostile::{Case, Hostile};
use common::*;
use s3_encryption_transport::local::sdk_config_for;
use s3_encryption_transport::{
    ErrorKind, GetOptions, GetOutput, PutOptions, S3EncryptionClient, Verification,
};
use std::time::Duration;

const KEY: &str = "obj";
/// Four parts of 8 MiB: three whole, and 1 MiB + 5 bytes + the tag (over the 16 MiB budget).
const LEN: usize = 25 * MIB + 5;
const PART: usize = 8 * MIB;
const BUDGET: u64 = 16 * MIB as u64;
const TIMEOUT: Duration = Duration::from_secs(60);
const CONNECTIONS: [u16; 3] = [1, 2, 4];
const OLD: &[u8] = b"what was there before";

/// The verification a GCM object over the budget gets on this system.
fn one_pass() -> Verification {
    if cfg!(target_os = "linux") {
        Verification::UnnamedFile
    } else {
        Verification::InPlace
    }
}

struct World {
    local: Local,
    hostile: Hostile,
    truth: Vec<u8>,
}

impl World {
    async fn new(case: Case) -> World {
        let local = Local::start().await;
        let truth = data(LEN, 23);
        local
            .client(aes_keyring(1))
            .build()
            .unwrap()
            .put_bytes(BUCKET, KEY, &truth, &PutOptions::default())
            .await
            .unwrap();
        let hostile = Hostile::start(
            local.server.as_ref().unwrap().addr(),
            local.s3.clone(),
            case,
        )
        .await;
        World {
            local,
            hostile,
            truth,
        }
    }

    fn client(&self, connections: u16) -> S3EncryptionClient {
        let conf = aws_sdk_s3::config::Builder::from(&sdk_config_for(&self.hostile.endpoint))
            .force_path_style(true)
            .build();
        S3EncryptionClient::builder(aws_sdk_s3::Client::from_conf(conf), aes_keyring(1))
            .memory_budget(BUDGET)
            .connections(connections)
            .build()
            .unwrap()
    }

    /// Read the object into `dir/out` (holding [`OLD`] first when `existing`).
    async fn read(
        &self,
        dir: &std::path::Path,
        connections: u16,
        existing: bool,
    ) -> Result<GetOutput, s3_encryption_transport::Error> {
        let out = dir.join("out");
        if existing {
            std::fs::write(&out, OLD).unwrap();
        }
        let c = self.client(connections);
        tokio::time::timeout(
            TIMEOUT,
            c.get_object_to_file(BUCKET, KEY, &out, &GetOptions::default()),
        )
        .await
        .unwrap_or_else(|_| panic!("{connections} connections: timed out"))
    }

    fn gets(&self) -> usize {
        self.hostile.stats.count("GET", KEY)
    }

    async fn stop(self) {
        drop(self.hostile);
        self.local.stop().await;
    }
}

/// The names in `dir`.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn stored_parts() -> usize {
    (LEN + 16).div_ceil(PART)
}

/// An honest store: the exact plaintext, one pass (one GET with one connection, one per part
/// otherwise), and nothing in the directory but the destination; an existing destination is
/// replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_store_one_pass() {
    let w = World::new(Case::Honest).await;
    for connections in CONNECTIONS {
        for existing in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let before = w.gets();
            let got = w
                .read(dir.path(), connections, existing)
                .await
                .unwrap_or_else(|e| panic!("{connections} connections: {e}"));
            assert_eq!(got.verification, one_pass(), "{connections} connections");
            assert_eq!(got.released, LEN as u64);
            assert_eq!(got.fetched, (LEN + 16) as u64, "one pass over the bytes");
            let gets = w.gets() - before;
            let want = if connections == 1 { 1 } else { stored_parts() };
            assert_eq!(gets, want, "{connections} connections: GETs");
            assert_eq!(listing(dir.path()), ["out"], "{connections} connections");
            let written = std::fs::read(dir.path().join("out")).unwrap();
            assert!(
                written == w.truth,
                "{connections} connections: bytes differ"
            );
        }
    }
    w.stop().await;
}

/// Run `case` with every connection count in `connections`: an error of `kind`, no file left
/// in the directory, and an existing destination untouched.
async fn refused(case: Case, kind: ErrorKind, connections: &[u16]) {
    let w = World::new(case.clone()).await;
    for &n in connections {
        for existing in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let e = match w.read(dir.path(), n, existing).await {
                Ok(o) => panic!("{case:?} with {n} connections: succeeded ({o:?})"),
                Err(e) => e,
            };
            assert_eq!(e.kind(), kind, "{case:?} with {n} connections: {e}");
            let left = listing(dir.path());
            if existing {
                assert_eq!(left, ["out"], "{case:?} with {n} connections");
                let kept = std::fs::read(dir.path().join("out")).unwrap();
                assert_eq!(
                    kept, OLD,
                    "{case:?} with {n} connections: destination changed"
                );
            } else {
                assert!(
                    left.is_empty(),
                    "{case:?} with {n} connections: files left: {left:?}"
                );
            }
        }
    }
    assert!(
        w.hostile
            .stats
            .rewritten
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );
    w.stop().await;
}

/// One bit flipped 4 MiB + 1 into every GET's body (same ETag, same length).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_body() {
    let case = Case::FlipBit {
        key: KEY.into(),
        nth: None,
        at: 4 * MIB + 1,
    };
    refused(case, ErrorKind::Authentication, &CONNECTIONS).await;
}

/// One bit of the stored tag flipped (the last byte of the object, in whichever GET carries it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tag() {
    let case = Case::FlipTag { key: KEY.into() };
    refused(case, ErrorKind::Authentication, &CONNECTIONS).await;
}

/// Every body ends after 3 MiB, under its honest Content-Length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body() {
    let case = Case::Truncate {
        key: KEY.into(),
        nth: None,
        keep: 3 * MIB,
    };
    refused(case, ErrorKind::Transport, &CONNECTIONS).await;
}

/// Every body comes with 16 zero bytes more (Content-Length and any Content-Range raised).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longer_body() {
    let case = Case::Longer {
        key: KEY.into(),
        nth: None,
        extra: 16,
    };
    refused(case, ErrorKind::Authentication, &CONNECTIONS).await;
}

/// Every ranged GET answered from 16 bytes further on, with a Content-Range that says so (only
/// parallel reads send ranges).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_content_range() {
    let case = Case::RangeShifted {
        key: KEY.into(),
        by: 16,
    };
    refused(case, ErrorKind::Authentication, &[2, 4]).await;
}
