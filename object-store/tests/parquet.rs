//! The `parquet` crate's async reader (`ParquetObjectReader`) over `EncryptedStore`: one column
//! read with a projection and a row predicate. After the object's one verifying pass, the query
//! fetches a small fraction of the object, every fetched chunk is authenticated (a flipped bit in
//! a column the query reads fails it; one in a column it skips does not matter), and the answer is
//! the plaintext file's.

#[allow(dead_code)]
mod lying;

use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use futures_util::TryStreamExt;
use lying::{Lie, Lying};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::arrow_reader::{ArrowPredicateFn, RowFilter};
// `ParquetObjectReader` is deprecated in parquet 60 in favour of implementing `AsyncFileReader`;
// it is the reader the issue names, and it still drives any `ObjectStore`.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::{ArrowWriter, ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::properties::WriterProperties;
use s3_encryption::{AesKey, AesKeyring};
use s3_encryption_object_store::{EncryptedStore, core_error};
use std::sync::Arc;

const ROWS: i64 = 200_000;
const GROUP: usize = 20_000;

/// A file with an `id` column, a `group` column and a wide `payload` column.
fn parquet_file() -> Vec<u8> {
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
    for start in (0..ROWS).step_by(GROUP) {
        let ids: Vec<i64> = (start..start + GROUP as i64).collect();
        let id = Int64Array::from(ids.clone());
        let group = Int64Array::from(ids.iter().map(|i| i % 7).collect::<Vec<_>>());
        let payload = StringArray::from(
            ids.iter()
                .map(|i| format!("row {i:08} {}", "x".repeat(40 + (*i % 13) as usize)))
                .collect::<Vec<_>>(),
        );
        let cols: Vec<ArrayRef> = vec![Arc::new(id), Arc::new(group), Arc::new(payload)];
        w.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
    }
    w.close().unwrap();
    out
}

/// `SELECT id FROM t WHERE id % 1000 = 7` over row group 3 only.
async fn query(
    store: Arc<dyn ObjectStore>,
    p: &Path,
    size: u64,
) -> parquet::errors::Result<Vec<i64>> {
    #[allow(deprecated)]
    let reader = ParquetObjectReader::new(store, p.clone()).with_file_size(size);
    let b = ParquetRecordBatchStreamBuilder::new(reader).await?;
    let mask = ProjectionMask::roots(b.parquet_schema(), [0]);
    let pred = ArrowPredicateFn::new(ProjectionMask::roots(b.parquet_schema(), [0]), |batch| {
        let id = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("id is Int64");
        Ok(BooleanArray::from(
            (0..id.len())
                .map(|i| id.value(i) % 1000 == 7)
                .collect::<Vec<_>>(),
        ))
    });
    let s = b
        .with_projection(mask)
        .with_row_groups(vec![3])
        .with_row_filter(RowFilter::new(vec![Box::new(pred)]))
        .build()?;
    let batches: Vec<RecordBatch> = s.try_collect().await?;
    let mut ids = Vec::new();
    for batch in batches {
        assert_eq!(batch.num_columns(), 1);
        let id = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        ids.extend(id.values().iter().copied());
    }
    Ok(ids)
}

#[tokio::test]
async fn a_projected_filtered_query_reads_few_authenticated_bytes() {
    let file = parquet_file();
    let inner = Arc::new(Lying::new(InMemory::new()));
    let store: Arc<EncryptedStore<Arc<Lying<InMemory>>>> = Arc::new(
        EncryptedStore::builder(
            inner.clone(),
            Arc::new(AesKeyring::new(AesKey::new_256([1; 32]))),
        )
        .table_chunk(16 << 10)
        .build(),
    );
    let p = Path::from("t/table.parquet");
    store.put(&p, PutPayload::from(file.clone())).await.unwrap();
    let size = store.head(&p).await.unwrap().size;
    assert_eq!(size, file.len() as u64);
    let want: Vec<i64> = (3 * GROUP as i64..4 * GROUP as i64)
        .filter(|i| i % 1000 == 7)
        .collect();

    // The same query on the plaintext file in a plain store: the reference answer and fetch size.
    let plain = Arc::new(Lying::new(InMemory::new()));
    plain.put(&p, PutPayload::from(file.clone())).await.unwrap();
    plain.reset_counts();
    assert_eq!(query(plain.clone(), &p, size).await.unwrap(), want);
    let (_, _, plain_bytes) = plain.counts();

    // First query: one verifying pass over the object, then only the chunks the reader asks for.
    inner.reset_counts();
    assert_eq!(query(store.clone(), &p, size).await.unwrap(), want);
    let (_, _, first) = inner.counts();
    assert!(first >= size + 16);
    // Second query: the table is cached; only chunks are fetched.
    inner.reset_counts();
    assert_eq!(query(store.clone(), &p, size).await.unwrap(), want);
    let (requests, ranged, fetched) = inner.counts();
    assert_eq!(requests, ranged, "after verification every read is ranged");
    eprintln!(
        "object {size} bytes; plain store fetched {plain_bytes}; first query {first}; after verification {fetched} in {requests} requests"
    );
    assert!(
        fetched * 10 < size,
        "fetched {fetched} of {size} bytes (plain store: {plain_bytes})"
    );
    assert!(
        fetched >= plain_bytes,
        "chunks cover what the reader asked for"
    );
    let (cache_bytes, tables) = store.table_cache_usage();
    assert_eq!(tables, 1);
    assert!(cache_bytes < 4096 + (size as usize / (16 << 10)) * 16 * 2);

    // Every fetched byte is authenticated: a flipped bit in the first row group (never read)
    // changes nothing; one in the footer, which the reader reads, fails the query.
    inner.set(Lie::FlipBit(1000));
    assert_eq!(query(store.clone(), &p, size).await.unwrap(), want);
    inner.set(Lie::FlipBit(size - 20));
    let e = query(store.clone(), &p, size).await.unwrap_err();
    let msg = format!("{e:?}");
    assert!(msg.contains("ObjectChanged"), "{msg}");
    let _ = core_error;
}
