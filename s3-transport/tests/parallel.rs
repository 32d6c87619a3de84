//! Parallel verified downloads (`connections` > 1: concurrent ranged GETs of 8 MiB parts, every
//! part's body fed to the machine as it arrives) through the transport, from an honest store and
//! from the lying stand-in ([`common::hostile`]), on the paths that take them: the file (one
//! pass: on Linux decrypted as it arrives into an unnamed file, elsewhere then decrypted in
//! place), the writer over the memory budget (two passes) and with a spill file, and the reader.
//!
//! What must hold: the exact plaintext from an honest store, with one ranged GET per part per
//! pass; a tampered part, a part cut short, a part longer than asked or a shifted Content-Range
//! is a typed error, and nothing was released (no file and no temporary file left; the writer
//! and reader got no byte, since pass one authenticates everything first); other bytes on the
//! second pass are `ObjectChanged` with only a prefix of the truth released.

#![cfg(feature = "embedded-s3")]

mod common;

use common::hostile::{Case, Hostile};
use common::*;
use s3_encryption_transport::local::sdk_config_for;
use s3_encryption_transport::{
    Error, ErrorKind, GetOptions, LargeObjectVerification, PutOptions, S3EncryptionClient,
};
use std::time::Duration;
use tokio::io::AsyncReadExt;

const KEY: &str = "obj";
/// Four parts of 8 MiB: three whole, and 1 MiB + 7 bytes + the tag.
const LEN: usize = 25 * MIB + 7;
const PART: usize = 8 * MIB;
const BUDGET: u64 = 16 * MIB as u64;
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    File,
    Writer2,
    WriterSpill,
    Reader,
}

const PATHS: [Path; 4] = [Path::File, Path::Writer2, Path::WriterSpill, Path::Reader];

impl Path {
    /// GETs of the object one honest read makes (each pass reads every part).
    fn gets(self, parts: usize) -> usize {
        match self {
            Path::Writer2 | Path::Reader => 2 * parts,
            Path::File | Path::WriterSpill => parts,
        }
    }
}

struct World {
    local: Local,
    hostile: Hostile,
    truth: Vec<u8>,
    dir: tempfile::TempDir,
}

impl World {
    async fn new(case: Case) -> World {
        let local = Local::start().await;
        let truth = data(LEN, 11);
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
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn client(&self, path: Path, connections: u16) -> S3EncryptionClient {
        let conf = aws_sdk_s3::config::Builder::from(&sdk_config_for(&self.hostile.endpoint))
            .force_path_style(true)
            .build();
        let v = match path {
            Path::WriterSpill => LargeObjectVerification::SpillFile {
                dir: Some(self.dir.path().to_owned()),
            },
            _ => LargeObjectVerification::TwoPass,
        };
        S3EncryptionClient::builder(aws_sdk_s3::Client::from_conf(conf), aes_keyring(1))
            .memory_budget(BUDGET)
            .connections(connections)
            .large_object_verification(v)
            .build()
            .unwrap()
    }

    /// Read the object on `path`: the result, and every byte the caller received.
    async fn read(&self, path: Path, connections: u16) -> (Result<u64, Error>, Vec<u8>) {
        let c = self.client(path, connections);
        let opts = GetOptions::default();
        let out = self.dir.path().join("out");
        let mut released = Vec::new();
        let r = tokio::time::timeout(TIMEOUT, async {
            match path {
                Path::File => c
                    .get_object_to_file(BUCKET, KEY, &out, &opts)
                    .await
                    .map(|o| o.fetched),
                Path::Writer2 | Path::WriterSpill => c
                    .get_object_to_writer(BUCKET, KEY, &mut released, &opts)
                    .await
                    .map(|o| o.fetched),
                Path::Reader => {
                    let mut rd = c.get_object_reader(BUCKET, KEY, &opts).await?;
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        match rd.read(&mut buf).await {
                            Ok(0) => return Ok(0),
                            Ok(n) => released.extend_from_slice(&buf[..n]),
                            Err(e) => {
                                let inner = e.into_inner().expect("a typed error");
                                return Err(*inner.downcast::<Error>().expect("a typed error"));
                            }
                        }
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{path:?} with {connections} connections timed out"));
        if path == Path::File && out.exists() {
            released = std::fs::read(&out).unwrap();
            if r.is_ok() {
                std::fs::remove_file(&out).unwrap();
            }
        }
        let left: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            r.is_err() || left.is_empty(),
            "{path:?}: files left after success: {left:?}"
        );
        if r.is_err() {
            assert!(
                left.is_empty(),
                "{path:?}: files left after a failure: {left:?}"
            );
        }
        (r, released)
    }

    fn gets(&self) -> usize {
        self.hostile.stats.count("GET", KEY)
    }

    async fn stop(self) {
        drop(self.hostile);
        self.local.stop().await;
    }
}

fn stored_parts() -> usize {
    (LEN + 16).div_ceil(PART)
}

/// An honest store: every path, 2 to 8 connections, the exact plaintext, one GET per part per
/// pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_store_every_path_and_connection_count() {
    let w = World::new(Case::Honest).await;
    for connections in [2u16, 3, 4, 8] {
        for path in PATHS {
            let before = w.gets();
            let (r, released) = w.read(path, connections).await;
            let fetched = r.unwrap_or_else(|e| panic!("{path:?} × {connections}: {e}"));
            assert!(
                released == w.truth,
                "{path:?} × {connections}: plaintext differs"
            );
            let gets = w.gets() - before;
            assert_eq!(
                gets,
                path.gets(stored_parts()),
                "{path:?} × {connections}: ranged GETs"
            );
            if path != Path::Reader {
                assert_eq!(
                    fetched as usize,
                    path.gets(stored_parts()) / stored_parts() * (LEN + 16),
                    "{path:?} × {connections}: stored bytes fetched"
                );
            }
        }
    }
    w.stop().await;
}

/// Run `case` on every path with 3 connections: a typed error of `kind`, nothing released.
async fn refused(case: Case, kind: ErrorKind) {
    let w = World::new(case.clone()).await;
    for path in PATHS {
        let (r, released) = w.read(path, 3).await;
        let e = match r {
            Ok(_) => panic!("{case:?} on {path:?}: succeeded"),
            Err(e) => e,
        };
        assert_eq!(e.kind(), kind, "{case:?} on {path:?}: {e}");
        assert!(
            released.is_empty(),
            "{case:?} on {path:?}: {} bytes released",
            released.len()
        );
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

/// One bit flipped 4 MiB into every part (same ETag, same length): the combined tag
/// fails before anything is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_part() {
    refused(
        Case::FlipBit {
            key: KEY.into(),
            nth: None,
            at: 4 * MIB + 1,
        },
        ErrorKind::Authentication,
    )
    .await;
}

/// Every part's body ends after 3 MiB, under its honest Content-Length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_cut_short() {
    refused(
        Case::Truncate {
            key: KEY.into(),
            nth: None,
            keep: 3 * MIB,
        },
        ErrorKind::Transport,
    )
    .await;
}

/// Every part comes with 16 bytes more than asked (Content-Length and Content-Range raised
/// to match).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_longer_than_asked() {
    refused(
        Case::Longer {
            key: KEY.into(),
            nth: None,
            extra: 16,
        },
        ErrorKind::Authentication,
    )
    .await;
}

/// Every ranged GET is answered from 16 bytes further on, with a Content-Range that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_range_other_than_asked() {
    refused(
        Case::RangeShifted {
            key: KEY.into(),
            by: 16,
        },
        ErrorKind::Authentication,
    )
    .await;
}

/// Pass two (the writer without a spill file) gets other bytes in one of its parts (the second
/// GET of that pass, whichever part the store saw second): it stops with `ObjectChanged`, and
/// what it released is a prefix of the truth, short of the whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_pass_other_bytes() {
    let w = World::new(Case::FlipBit {
        key: KEY.into(),
        nth: Some(stored_parts() + 2),
        at: 5 * MIB + 3,
    })
    .await;
    let (r, released) = w.read(Path::Writer2, 2).await;
    let e = r.expect_err("other bytes on pass two");
    assert!(matches!(e, Error::ObjectChanged), "{e}");
    assert!(released.len() < LEN, "released everything");
    assert!(
        w.truth.starts_with(&released),
        "released bytes are not a prefix of the truth"
    );
    assert!(w.gets() > stored_parts() + 1, "no second pass");
    w.stop().await;
}
