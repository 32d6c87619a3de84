//! LIST: objects under a prefix with their plaintext sizes (a HEAD of each, up to 8 at a time).

use crate::client::{GetOptions, S3EncryptionClient};
use crate::error::{Error, Result};
use crate::info::{ListEntry, ListStatus};
use std::collections::BTreeSet;
use std::sync::Arc;

impl S3EncryptionClient {
    /// Every key under `prefix` with its stored size (ListObjectsV2, page by page).
    pub(crate) async fn list_keys(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>> {
        let mut objects: Vec<(String, u64)> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let r = self
                .inner
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| Error::from_s3("ListObjectsV2", e))?;
            for o in r.contents() {
                if let Some(k) = o.key() {
                    objects.push((k.to_owned(), o.size().unwrap_or(0).max(0) as u64));
                }
            }
            match r.next_continuation_token() {
                Some(t) if r.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(objects)
    }

    /// List objects under `prefix` with their plaintext sizes (HEAD of each, and its instruction
    /// file where needed; up to 8 at a time). Instruction files beside their objects are listed
    /// as such.
    pub async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ListEntry>> {
        let objects = self.list_keys(bucket, prefix).await?;
        let names: BTreeSet<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
        let suffix = self.inner.suffix.clone();
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut set = tokio::task::JoinSet::new();
        let mut out: Vec<ListEntry> = Vec::new();
        for (i, (k, size)) in objects.iter().enumerate() {
            if let Some(base) = k.strip_suffix(suffix.as_str())
                && names.contains(base)
            {
                out.push(ListEntry {
                    key: k.clone(),
                    stored_len: *size,
                    status: ListStatus::InstructionFile,
                });
                continue;
            }
            let this = self.clone();
            let (b, k, size) = (bucket.to_owned(), k.clone(), *size);
            let sem = sem.clone();
            set.spawn(async move {
                let _p = sem.acquire_owned().await;
                let status = match this.head_object(&b, &k, &GetOptions::default()).await {
                    Ok(info) => ListStatus::Encrypted(Box::new(info)),
                    Err(e) if e.is_not_encrypted() => ListStatus::NotEncrypted,
                    Err(e) => ListStatus::Error(e.to_string()),
                };
                (
                    i,
                    ListEntry {
                        key: k,
                        stored_len: size,
                        status,
                    },
                )
            });
        }
        let mut rest = Vec::new();
        while let Some(r) = set.join_next().await {
            rest.push(r.map_err(|e| Error::Io(std::io::Error::other(e)))?);
        }
        rest.sort_by_key(|(i, _)| *i);
        out.extend(rest.into_iter().map(|(_, e)| e));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}
