//! Manifests read from local disk: an S3 Batch Operations CSV manifest (`bucket,key[,version_id]`,
//! keys URL-encoded), or an S3 Inventory `manifest.json` whose `files[].key` name CSV files
//! (gzip or plain) beside it, read with the columns its `fileSchema` names. Inventory rows that are
//! not the latest version, or are delete markers, are left out.

use super::Target;
use crate::error::{Error, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// S3 keys are at most 1024 bytes; a longer field is not a key.
const MAX_KEY: usize = 1024;
/// A manifest.json is small (a list of files); refuse anything larger than this.
const MAX_MANIFEST_JSON: u64 = 64 << 20;

fn bad(path: &Path, line: usize, why: &str) -> Error {
    Error::Config(format!("manifest {}:{line}: {why}", path.display()))
}

/// Read a manifest: `*.json` as an S3 Inventory manifest, anything else as a CSV manifest.
pub fn read_manifest(path: &Path) -> Result<Vec<Target>> {
    if path.extension().is_some_and(|e| e == "json") {
        return read_inventory(path);
    }
    read_csv(path, open(path)?, &Columns::BATCH)
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::Config(format!("cannot read manifest {}: {e}", path.display())))?;
    if path.extension().is_some_and(|e| e == "gz") {
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(f)));
    }
    Ok(Box::new(f))
}

/// Where the fields are in a row.
struct Columns {
    bucket: usize,
    key: usize,
    version: Option<usize>,
    is_latest: Option<usize>,
    delete_marker: Option<usize>,
}

impl Columns {
    const BATCH: Columns = Columns {
        bucket: 0,
        key: 1,
        version: Some(2),
        is_latest: None,
        delete_marker: None,
    };

    fn from_schema(schema: &str) -> Option<Columns> {
        let names: Vec<String> = schema
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect();
        let at = |n: &str| names.iter().position(|x| x == n);
        Some(Columns {
            bucket: at("bucket")?,
            key: at("key")?,
            version: at("versionid"),
            is_latest: at("islatest"),
            delete_marker: at("isdeletemarker"),
        })
    }
}

fn read_inventory(path: &Path) -> Result<Vec<Target>> {
    let len = std::fs::metadata(path).map_err(Error::Io)?.len();
    if len > MAX_MANIFEST_JSON {
        return Err(bad(path, 0, "manifest.json is too large"));
    }
    let text = std::fs::read_to_string(path).map_err(Error::Io)?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| bad(path, e.line(), "not an S3 Inventory manifest.json"))?;
    if let Some(f) = v.get("fileFormat").and_then(Value::as_str)
        && !f.eq_ignore_ascii_case("csv")
    {
        return Err(bad(
            path,
            0,
            "only CSV inventories are read (not ORC or Parquet)",
        ));
    }
    let schema = v
        .get("fileSchema")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(path, 0, "no fileSchema"))?;
    let cols = Columns::from_schema(schema)
        .ok_or_else(|| bad(path, 0, "fileSchema has no Bucket and Key columns"))?;
    let files = v
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(path, 0, "no files"))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for f in files {
        let key = f
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(path, 0, "a file without a key"))?;
        let p = local_file(dir, key)
            .ok_or_else(|| bad(path, 0, &format!("{key} is not beside the manifest")))?;
        out.extend(read_csv(&p, open(&p)?, &cols)?);
    }
    Ok(out)
}

/// An inventory data file: by its key under the manifest's folder, else by its file name beside
/// the manifest, in `data/` beside it, or in `../data/` (Inventory writes the manifest in a dated
/// folder and the data files in `data/` one level up).
fn local_file(dir: &Path, key: &str) -> Option<PathBuf> {
    let rel = Path::new(key);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return None;
    }
    let name = rel.file_name()?;
    [
        dir.join(rel),
        dir.join(name),
        dir.join("data").join(name),
        dir.join("../data").join(name),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

fn read_csv(path: &Path, r: Box<dyn Read>, cols: &Columns) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for (i, line) in BufReader::new(r).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| bad(path, n, &e.to_string()))?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv(line).ok_or_else(|| bad(path, n, "unbalanced quotes"))?;
        let get = |c: usize| fields.get(c).map(String::as_str);
        let (Some(bucket), Some(key)) = (get(cols.bucket), get(cols.key)) else {
            return Err(bad(path, n, "expected bucket,key[,version_id]"));
        };
        if cols
            .is_latest
            .and_then(get)
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
            || cols
                .delete_marker
                .and_then(get)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            continue;
        }
        let key = percent_decode(key).ok_or_else(|| bad(path, n, "bad URL encoding in key"))?;
        if bucket.is_empty() || key.is_empty() || key.len() > MAX_KEY {
            return Err(bad(
                path,
                n,
                "empty bucket or key, or a key over 1024 bytes",
            ));
        }
        let version = cols
            .version
            .and_then(get)
            .filter(|v| !v.is_empty() && *v != "null")
            .map(str::to_owned);
        out.push(Target {
            bucket: bucket.to_owned(),
            key,
            version_id: version,
        });
    }
    Ok(out)
}

/// Split one CSV row (RFC 4180 quoting, no embedded newlines).
fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                out.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

/// Decode %XX escapes (S3 Batch Operations and S3 Inventory URL-encode keys).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn batch_csv_with_encoded_keys_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(
            &p,
            "b,photos/a%20b.jpg\r\nb,\"x,y\",3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY\n\nb2,k%C3%A9,null\n",
        )
        .unwrap();
        let t = read_manifest(&p).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].key, "photos/a b.jpg");
        assert_eq!(t[0].version_id, None);
        assert_eq!(t[1].key, "x,y");
        assert_eq!(
            t[1].version_id.as_deref(),
            Some("3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY")
        );
        assert_eq!((t[2].bucket.as_str(), t[2].key.as_str()), ("b2", "ké"));
        std::fs::write(&p, "b,%zz\n").unwrap();
        assert!(read_manifest(&p).is_err());
        std::fs::write(&p, "onlybucket\n").unwrap();
        assert!(read_manifest(&p).is_err());
    }

    #[test]
    fn inventory_manifest_with_gzip_csv() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(data.join("f1.csv.gz")).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(
            b"\"src\",\"a/one\",\"v1\",\"true\",\"false\"\n\"src\",\"a/old\",\"v0\",\"false\",\"false\"\n\"src\",\"a/gone\",\"v2\",\"true\",\"true\"\n",
        )
        .unwrap();
        gz.finish().unwrap();
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"sourceBucket":"src","destinationBucket":"arn:aws:s3:::inv","version":"2016-11-30",
               "fileFormat":"CSV","fileSchema":"Bucket, Key, VersionId, IsLatest, IsDeleteMarker",
               "files":[{"key":"inv/src/cfg/data/f1.csv.gz","size":1,"MD5checksum":"x"}]}"#,
        )
        .unwrap();
        let t = read_manifest(&dir.path().join("manifest.json")).unwrap();
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!(t[0].key, "a/one");
        assert_eq!(t[0].version_id.as_deref(), Some("v1"));
    }
}
