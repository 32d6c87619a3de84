//! Benchmark: `EncryptedStore` over `LocalFileSystem` against the plain `LocalFileSystem`.
//!
//! `cargo run --release -p s3-encryption-object-store --example bench -- [MiB] [rounds]`
//! (default 256 MiB, 3 rounds) prints Markdown tables:
//! * whole-object put and get of random bytes, 40 MiB (under the adapter's 64 MiB memory budget)
//!   and the given size (over it), through `EncryptedStore` and through the inner store directly,
//!   over `LocalFileSystem` and the embedded S3: the best of `rounds`, the two alternating, and
//!   the ratio of throughputs (ours / plain);
//! * a Parquet query of a file of about the given size (one column, a range predicate, row
//!   groups pruned by statistics): bytes fetched from the inner store, time, and the digest-table
//!   cache's memory.

#[path = "../tests/lying/mod.rs"]
#[allow(dead_code)]
mod lying;

use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use futures_util::TryStreamExt;
use lying::Lying;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::arrow_reader::{ArrowPredicateFn, RowFilter};
// `ParquetObjectReader` is deprecated in parquet 60 in favour of implementing `AsyncFileReader`;
// it is the reader the issue names, and it still drives any `ObjectStore`.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::{ArrowWriter, ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;
use s3_encryption::{AesKey, AesKeyring};
use s3_encryption_object_store::EncryptedStore;
use std::sync::Arc;
use std::time::Instant;

const GROUP: usize = 100_000;

fn parquet_file(target: usize) -> (Vec<u8>, i64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("group", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, false),
    ]));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(GROUP))
        .set_dictionary_enabled(false)
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).unwrap();
    let mut start = 0i64;
    while w.bytes_written() + w.in_progress_size() < target {
        let ids: Vec<i64> = (start..start + GROUP as i64).collect();
        let payload = StringArray::from(
            ids.iter()
                .map(|i| format!("row {i:010} {}", "x".repeat(40 + (*i % 29) as usize)))
                .collect::<Vec<_>>(),
        );
        let group = Int64Array::from(ids.iter().map(|i| i % 7).collect::<Vec<_>>());
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(group),
            Arc::new(payload),
        ];
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
        start += GROUP as i64;
    }
    w.close().unwrap();
    (out, start)
}

/// `SELECT id FROM t WHERE id BETWEEN lo AND hi AND id % 97 = 0`, row groups pruned by their
/// `id` statistics (as a query engine does).
async fn query(store: Arc<dyn ObjectStore>, p: &Path, size: u64, lo: i64, hi: i64) -> usize {
    #[allow(deprecated)]
    let reader = ParquetObjectReader::new(store, p.clone()).with_file_size(size);
    let b = ParquetRecordBatchStreamBuilder::new(reader).await.unwrap();
    let groups: Vec<usize> = b
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.column(0).statistics() {
            Some(Statistics::Int64(s)) => {
                s.min_opt().is_some_and(|m| *m <= hi) && s.max_opt().is_some_and(|m| *m >= lo)
            }
            _ => true,
        })
        .map(|(i, _)| i)
        .collect();
    let pred = ArrowPredicateFn::new(
        ProjectionMask::roots(b.parquet_schema(), [0]),
        move |batch| {
            let id = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            Ok(BooleanArray::from(
                (0..id.len())
                    .map(|i| {
                        let v = id.value(i);
                        v >= lo && v <= hi && v % 97 == 0
                    })
                    .collect::<Vec<_>>(),
            ))
        },
    );
    let mask = ProjectionMask::roots(b.parquet_schema(), [0]);
    let s = b
        .with_projection(mask)
        .with_row_groups(groups)
        .with_row_filter(RowFilter::new(vec![Box::new(pred)]))
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = s.try_collect().await.unwrap();
    batches.iter().map(|b| b.num_rows()).sum()
}

fn mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / (1 << 20) as f64)
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let target: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("size in MiB"))
        .unwrap_or(256)
        << 20;
    let rounds: u32 = std::env::args()
        .nth(2)
        .map(|s| s.parse().expect("rounds"))
        .unwrap_or(3);
    let (file, rows) = parquet_file(target);
    let size = file.len() as u64;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plain")).unwrap();
    std::fs::create_dir_all(dir.path().join("enc")).unwrap();
    let plain = Arc::new(Lying::new(
        LocalFileSystem::new_with_prefix(dir.path().join("plain")).unwrap(),
    ));
    let inner = Arc::new(Lying::new(
        LocalFileSystem::new_with_prefix(dir.path().join("enc")).unwrap(),
    ));
    let enc = Arc::new(
        EncryptedStore::builder(
            inner.clone(),
            Arc::new(AesKeyring::new(AesKey::new_256([7; 32]))),
        )
        .build(),
    );
    let p = Path::from("t.parquet");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "CPU: {cpu}; file: {} ({rows} rows, {} row groups of {GROUP})\n",
        mib(size),
        rows / GROUP as i64
    );
    let sizes = [40 << 20, target.max(65 << 20)];
    println!("Whole objects (random bytes), best of {rounds}, MB/s (ours / plain):\n");
    println!("| store | operation | size | plain | EncryptedStore | ratio |");
    println!("|---|---|---|---:|---:|---:|");
    whole(
        "LocalFileSystem",
        plain.clone(),
        enc.clone(),
        &sizes,
        rounds,
    )
    .await;
    s3_whole(&sizes, rounds).await;
    println!();

    println!("| operation | plain LocalFileSystem | EncryptedStore over LocalFileSystem |");
    println!("|---|---|---|");

    // The Parquet file, stored through both (whole-object times are in the table above).
    plain.put(&p, PutPayload::from(file.clone())).await.unwrap();
    enc.put(&p, PutPayload::from(file.clone())).await.unwrap();

    let (lo, hi) = (rows / 2, rows / 2 + 50_000);
    // A fresh adapter for the query: its first ranged access verifies the object once.
    let enc = Arc::new(
        EncryptedStore::builder(
            inner.clone(),
            Arc::new(AesKeyring::new(AesKey::new_256([7; 32]))),
        )
        .build(),
    );
    plain.reset_counts();
    let t = Instant::now();
    let n_plain = query(plain.clone(), &p, size, lo, hi).await;
    let tp = t.elapsed();
    let (rp, _, bp) = plain.counts();
    inner.reset_counts();
    let t = Instant::now();
    let n1 = query(enc.clone(), &p, size, lo, hi).await;
    let t1 = t.elapsed();
    let (r1, _, b1) = inner.counts();
    inner.reset_counts();
    let t = Instant::now();
    let n2 = query(enc.clone(), &p, size, lo, hi).await;
    let t2 = t.elapsed();
    let (r2, _, b2) = inner.counts();
    // Warm: the best of `rounds` more queries each, alternating.
    let (mut wp, mut we) = (tp, t2);
    for _ in 0..rounds {
        let t = Instant::now();
        query(plain.clone(), &p, size, lo, hi).await;
        wp = wp.min(t.elapsed());
        let t = Instant::now();
        query(enc.clone(), &p, size, lo, hi).await;
        we = we.min(t.elapsed());
    }
    assert_eq!((n1, n2), (n_plain, n_plain));
    println!(
        "| Parquet query, first (EncryptedStore: includes the one verifying pass) | {}, {} in {rp} requests | {}, {} in {r1} requests |",
        ms(tp),
        mib(bp),
        ms(t1),
        mib(b1)
    );
    println!(
        "| Parquet query, after verification (table cached) | — | {}, {} in {r2} requests |",
        ms(t2),
        mib(b2)
    );
    println!(
        "| Parquet query, warm (best of {}) | {} | {} ({:.2}×) |",
        rounds + 1,
        ms(wp),
        ms(we),
        we.as_secs_f64() / wp.as_secs_f64()
    );
    let (cache, tables) = enc.table_cache_usage();
    println!("| digest-table cache | — | {cache} bytes for {tables} table(s) |");
    println!(
        "\n{n_plain} rows matched; fetched after verification / object size = {:.4}",
        b2 as f64 / size as f64
    );

    s3(&file, size, lo, hi).await;
}

/// Whole-object put and get of `sizes` random bytes, plain and through the adapter, alternating,
/// best of `rounds`; one table row per operation and size.
async fn whole(
    name: &str,
    plain: Arc<dyn ObjectStore>,
    enc: Arc<dyn ObjectStore>,
    sizes: &[usize],
    rounds: u32,
) {
    for &n in sizes {
        let mut data = vec![0u8; n];
        getrandom::fill(&mut data).unwrap();
        let data = Bytes::from(data);
        let p = Path::from(format!("whole-{n}"));
        let (mut put, mut get) = ([f64::MAX; 2], [f64::MAX; 2]);
        for round in 0..rounds {
            // Each store goes first in every other round (the first write of a round can pay
            // for the page cache the previous round dirtied).
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let s = [&plain, &enc][i];
                // A fresh buffer each time, as a caller handing over its bytes would.
                let payload = PutPayload::from(data.to_vec());
                let t = Instant::now();
                s.put(&p, payload).await.unwrap();
                put[i] = put[i].min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let b = s.get(&p).await.unwrap().bytes().await.unwrap();
                get[i] = get[i].min(t.elapsed().as_secs_f64());
                assert!(b == data);
            }
        }
        for (op, t) in [("put", put), ("get", get)] {
            let (a, b) = (n as f64 / t[0] / 1e6, n as f64 / t[1] / 1e6);
            println!(
                "| {name} | {op} | {} | {a:.0} | {b:.0} | {:.2}× |",
                mib(n as u64),
                b / a
            );
        }
    }
}

/// [`whole`] over the embedded S3.
async fn s3_whole(sizes: &[usize], rounds: u32) {
    let (server, _dir, amazon) = local_s3().await;
    let plain: Arc<dyn ObjectStore> = Arc::new(amazon());
    let enc: Arc<dyn ObjectStore> = Arc::new(
        EncryptedStore::builder(
            amazon(),
            Arc::new(AesKeyring::new(AesKey::new_256([7; 32]))),
        )
        .build(),
    );
    whole("embedded S3", plain, enc, sizes, rounds).await;
    server.stop().await;
}

/// The transport crate's embedded S3 server (s3s-fs on 127.0.0.1, SigV4) on a temporary
/// directory with a bucket `bench`, and a maker of `AmazonS3` clients for it.
async fn local_s3() -> (
    s3_encryption_transport::local::LocalS3,
    tempfile::TempDir,
    impl Fn() -> object_store::aws::AmazonS3,
) {
    use s3_encryption_transport::local::{
        LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY, LocalS3,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bench")).unwrap();
    let server = LocalS3::start(dir.path()).await.unwrap();
    let endpoint = server.endpoint();
    let amazon = move || {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_bucket_name("bench")
            .with_region(LOCAL_REGION)
            .with_access_key_id(LOCAL_ACCESS_KEY)
            .with_secret_access_key(LOCAL_SECRET_KEY)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .unwrap()
    };
    (server, dir, amazon)
}

/// The same over S3: `AmazonS3` against the transport crate's embedded S3 server (s3s-fs on
/// 127.0.0.1, SigV4), plain and through the adapter.
async fn s3(file: &[u8], size: u64, lo: i64, hi: i64) {
    let (server, _dir, amazon) = local_s3().await;
    let plain = Arc::new(amazon());
    let enc = Arc::new(
        EncryptedStore::builder(
            amazon(),
            Arc::new(AesKeyring::new(AesKey::new_256([7; 32]))),
        )
        .build(),
    );
    let (pp, pe) = (Path::from("plain.parquet"), Path::from("enc.parquet"));
    println!("\nOver the embedded S3 (s3s-fs on 127.0.0.1):\n");
    println!("| operation | plain AmazonS3 | EncryptedStore over AmazonS3 |");
    println!("|---|---|---|");
    plain
        .put(&pp, PutPayload::from(file.to_vec()))
        .await
        .unwrap();
    enc.put(&pe, PutPayload::from(file.to_vec())).await.unwrap();
    let t = Instant::now();
    let n = query(plain.clone(), &pp, size, lo, hi).await;
    let tp = t.elapsed();
    let t = Instant::now();
    assert_eq!(query(enc.clone(), &pe, size, lo, hi).await, n);
    let t1 = t.elapsed();
    let t = Instant::now();
    assert_eq!(query(enc.clone(), &pe, size, lo, hi).await, n);
    let t2 = t.elapsed();
    println!(
        "| Parquet query, first (EncryptedStore: includes the verifying pass) | {} | {} |",
        ms(tp),
        ms(t1)
    );
    println!("| Parquet query, after verification | — | {} |", ms(t2));
    server.stop().await;
}
