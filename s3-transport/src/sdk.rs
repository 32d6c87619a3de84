//! Request execution: a core machine's [`Request`] as an `aws-sdk-s3` call, and the response as
//! the status and headers the machine checks. No protocol decision lives here.

use crate::error::{Error, Result};
use aws_sdk_s3::primitives::ByteStream;
use s3_encryption::object::{Operation, Request};
use std::collections::HashMap;

/// A response: its status and headers, and for GETs the body still to read.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<ByteStream>,
}

impl Answer {
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn status_only(status: u16) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: None,
        }
    }
}

fn meta_headers(h: &mut Vec<(String, String)>, m: Option<&HashMap<String, String>>) {
    for (k, v) in m.into_iter().flatten() {
        h.push((format!("x-amz-meta-{}", k.to_ascii_lowercase()), v.clone()));
    }
}

fn push(h: &mut Vec<(String, String)>, name: &str, v: Option<impl ToString>) {
    if let Some(v) = v {
        h.push((name.to_owned(), v.to_string()));
    }
}

/// A service error the machine interprets (missing object, a failed pin, an unsatisfiable
/// range) becomes its status; any other failure stays the SDK's error.
fn interpreted<E>(
    operation: &'static str,
    e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Result<Answer>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match e.raw_response().map(|r| r.status().as_u16()) {
        Some(s @ (404 | 412 | 416)) => Ok(Answer::status_only(s)),
        _ => Err(Error::from_s3(operation, e)),
    }
}

/// An owned copy of a HEAD or GET request, for a task.
pub(crate) struct ReadReq {
    pub(crate) operation: Operation,
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
    pub(crate) if_match: Option<String>,
    pub(crate) range: Option<(u64, u64)>,
    pub(crate) limit: Option<u64>,
}

impl ReadReq {
    pub(crate) fn of(r: &Request<'_>) -> Self {
        ReadReq {
            operation: r.operation,
            bucket: r.bucket.to_owned(),
            key: r.full_key().to_string(),
            version_id: r.version_id.map(str::to_owned),
            if_match: r.if_match.map(str::to_owned),
            range: r.range,
            limit: r.response_body_limit,
        }
    }
}

/// HEAD or GET of an object (its instruction file, a range, a pinned pass).
pub(crate) async fn read(s3: &aws_sdk_s3::Client, r: &ReadReq) -> Result<Answer> {
    let key = r.key.clone();
    let mut h = Vec::new();
    match r.operation {
        Operation::HeadObject => {
            let out = s3
                .head_object()
                .bucket(&r.bucket)
                .key(key)
                .set_version_id(r.version_id.clone())
                .set_if_match(r.if_match.clone())
                .send()
                .await;
            let out = match out {
                Ok(o) => o,
                Err(e) => return interpreted("HeadObject", e),
            };
            push(&mut h, "content-length", out.content_length());
            push(&mut h, "etag", out.e_tag());
            push(&mut h, "x-amz-version-id", out.version_id());
            push(&mut h, "content-type", out.content_type());
            meta_headers(&mut h, out.metadata());
            Ok(Answer {
                status: 200,
                headers: h,
                body: None,
            })
        }
        Operation::GetObject => {
            let out = s3
                .get_object()
                .bucket(&r.bucket)
                .key(key)
                .set_version_id(r.version_id.clone())
                .set_if_match(r.if_match.clone())
                .set_range(r.range.map(|(a, b)| format!("bytes={a}-{b}")))
                .send()
                .await;
            let out = match out {
                Ok(o) => o,
                Err(e) => return interpreted("GetObject", e),
            };
            let status = if out.content_range().is_some() {
                206
            } else {
                200
            };
            push(&mut h, "content-length", out.content_length());
            push(&mut h, "content-range", out.content_range());
            push(&mut h, "etag", out.e_tag());
            push(&mut h, "x-amz-version-id", out.version_id());
            meta_headers(&mut h, out.metadata());
            Ok(Answer {
                status,
                headers: h,
                body: Some(out.body),
            })
        }
        _ => Err(Error::Internal("not a read request")),
    }
}

/// PutObject (an instruction file, or a single encrypted body).
pub(crate) async fn put_object(
    s3: &aws_sdk_s3::Client,
    r: &Request<'_>,
    body: ByteStream,
    checksum: Option<aws_sdk_s3::types::ChecksumAlgorithm>,
) -> Result<Answer> {
    let metadata: HashMap<String, String> = r
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let out = s3
        .put_object()
        .bucket(r.bucket)
        .key(r.full_key().to_string())
        .set_content_length(r.content_length.map(|l| l as i64))
        .set_content_type(r.content_type.map(str::to_owned))
        .set_metadata((!metadata.is_empty()).then_some(metadata))
        .set_checksum_algorithm(checksum)
        .set_if_match(r.if_match.map(str::to_owned))
        .set_tagging(r.tagging.map(str::to_owned))
        .body(body)
        .send()
        .await
        .map_err(|e| Error::from_s3("PutObject", e))?;
    let mut h = Vec::new();
    push(&mut h, "etag", out.e_tag());
    push(&mut h, "x-amz-version-id", out.version_id());
    Ok(Answer {
        status: 200,
        headers: h,
        body: None,
    })
}

/// `x-amz-copy-source` for a copy: `bucket/key` (the key URL-encoded, `/` kept) and the pinned
/// version.
fn copy_source_header(c: &s3_encryption::object::CopySource<'_>) -> String {
    let mut s = format!("{}/{}", c.bucket, url_encode(c.key, false));
    if let Some(v) = c.version_id {
        s.push_str("?versionId=");
        s.push_str(&url_encode(v, true));
    }
    s
}

/// Percent-encode everything but unreserved characters (and `/` unless `slash`).
pub(crate) fn url_encode(s: &str, slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// CopyObject of the request's copy source onto its key: metadata replaced (when asked) with
/// the request's metadata and content type, tags copied, conditional on the source ETag
/// (`x-amz-copy-source-if-match`) and the destination's (`If-Match`). 412 comes back as a status.
pub(crate) async fn copy_object(s3: &aws_sdk_s3::Client, r: &Request<'_>) -> Result<Answer> {
    let c = r
        .copy_source
        .as_ref()
        .ok_or_else(|| Error::Internal("a copy without a source"))?;
    let metadata: HashMap<String, String> = r
        .metadata()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let directive = if r.replace_metadata {
        aws_sdk_s3::types::MetadataDirective::Replace
    } else {
        aws_sdk_s3::types::MetadataDirective::Copy
    };
    let out = s3
        .copy_object()
        .bucket(r.bucket)
        .key(r.full_key().to_string())
        .copy_source(copy_source_header(c))
        .set_copy_source_if_match(c.if_match.map(str::to_owned))
        .set_if_match(r.if_match.map(str::to_owned))
        .metadata_directive(directive)
        .tagging_directive(aws_sdk_s3::types::TaggingDirective::Copy)
        .set_metadata(r.replace_metadata.then_some(metadata))
        .set_content_type(r.content_type.map(str::to_owned))
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => return interpreted("CopyObject", e),
    };
    let mut h = Vec::new();
    push(
        &mut h,
        "etag",
        out.copy_object_result().and_then(|c| c.e_tag()),
    );
    push(&mut h, "x-amz-version-id", out.version_id());
    Ok(Answer {
        status: 200,
        headers: h,
        body: None,
    })
}

/// UploadPartCopy of the request's copy-source range; returns the answer and the part's ETag.
pub(crate) async fn upload_part_copy(
    s3: &aws_sdk_s3::Client,
    r: &Request<'_>,
) -> Result<(Answer, Option<String>)> {
    let c = r
        .copy_source
        .as_ref()
        .ok_or_else(|| Error::Internal("a copy without a source"))?;
    let out = s3
        .upload_part_copy()
        .bucket(r.bucket)
        .key(r.full_key().to_string())
        .copy_source(copy_source_header(c))
        .set_copy_source_if_match(c.if_match.map(str::to_owned))
        .set_copy_source_range(c.range.map(|(a, b)| format!("bytes={a}-{b}")))
        .set_upload_id(r.upload_id.map(str::to_owned))
        .set_part_number(r.part_number.map(|n| n as i32))
        .send()
        .await;
    match out {
        Ok(o) => {
            let etag = o
                .copy_part_result()
                .and_then(|c| c.e_tag())
                .map(str::to_owned);
            Ok((Answer::status_only(200), etag))
        }
        Err(e) => interpreted("UploadPartCopy", e).map(|a| (a, None)),
    }
}

/// The object's tags as `x-amz-tagging` takes them (`k=v&...`, URL-encoded), pinned to
/// `version_id`; `None` when it has none, or when the store does not implement tagging.
pub(crate) async fn get_object_tagging(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<String>> {
    let out = s3
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .send()
        .await
        .map_err(|e| Error::from_s3("GetObjectTagging", e));
    let out = match out {
        Ok(o) => o,
        // A store without tagging (s3s-fs answers 501 NotImplemented) holds no tags.
        Err(Error::S3 {
            status: Some(501), ..
        }) => return Ok(None),
        Err(Error::S3 { code: Some(c), .. }) if c == "NotImplemented" => return Ok(None),
        Err(e) => return Err(e),
    };
    let tags: Vec<String> = out
        .tag_set()
        .iter()
        .map(|t| {
            format!(
                "{}={}",
                url_encode(t.key(), true),
                url_encode(t.value(), true)
            )
        })
        .collect();
    Ok((!tags.is_empty()).then(|| tags.join("&")))
}

/// DeleteObject (missing objects are the machine's business: 404 comes back as a status).
pub(crate) async fn delete_object(s3: &aws_sdk_s3::Client, r: &Request<'_>) -> Result<Answer> {
    match s3
        .delete_object()
        .bucket(r.bucket)
        .key(r.full_key().to_string())
        .set_if_match(r.if_match.map(str::to_owned))
        .send()
        .await
    {
        Ok(_) => Ok(Answer::status_only(204)),
        Err(e) => interpreted("DeleteObject", e),
    }
}

/// AbortMultipartUpload.
pub(crate) async fn abort(s3: &aws_sdk_s3::Client, r: &Request<'_>) -> Result<Answer> {
    s3.abort_multipart_upload()
        .bucket(r.bucket)
        .key(r.full_key().to_string())
        .set_upload_id(r.upload_id.map(str::to_owned))
        .send()
        .await
        .map_err(|e| Error::from_s3("AbortMultipartUpload", e))?;
    Ok(Answer::status_only(204))
}

/// Read a (small) body whole, refusing more than `limit` bytes as soon as they arrive.
pub(crate) async fn collect(body: &mut ByteStream, limit: u64) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    while let Some(chunk) = body.try_next().await.map_err(stream_err)? {
        if (v.len() + chunk.len()) as u64 > limit {
            v.extend_from_slice(
                &chunk[..(limit as usize + 1)
                    .saturating_sub(v.len())
                    .min(chunk.len())],
            );
            return Ok(v);
        }
        v.extend_from_slice(&chunk);
    }
    Ok(v)
}

pub(crate) fn stream_err(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Io(std::io::Error::other(e))
}
