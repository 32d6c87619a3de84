//! The core's requests, objects, key requests and envelopes as the plain objects the package
//! reads. Nothing here interprets the S3EC format.

use crate::val::Val;
use s3_encryption::object::{ObjectHead, Request, RequestBody};
use s3_encryption::{Envelope, KeyRequest, KmsDecryptRequest};

/// A request as a plain object: `id`, `operation`, `method`, `bucket`, `key` (the full key),
/// `objectKey`, `keySuffix`, `versionId`, `range` (`[first, last]`), `rangeHeader`, `ifMatch`,
/// `uploadId`, `partNumber`, `contentLength`, `contentType`, `metadata` (`{name: value}`, names
/// without `x-amz-meta-`), `body` (`{kind: "empty"}`, `{kind: "bytes", bytes}` or
/// `{kind: "ciphertext", len}`), `responseBodyLimit`.
pub fn request(r: &Request<'_>) -> Val {
    let (range, range_header) = match r.range {
        Some((a, b)) => (
            Val::List(vec![a.into(), b.into()]),
            Val::from(format!("bytes={a}-{b}")),
        ),
        None => (Val::Null, Val::Null),
    };
    let body = match r.body {
        RequestBody::Bytes(b) => Val::kind("bytes").with("bytes", Val::bytes(b)),
        RequestBody::Ciphertext {
            len,
            plaintext_len,
            ends_with_tag,
        } => Val::kind("ciphertext")
            .with("len", len)
            .with("plaintextLen", plaintext_len)
            .with("endsWithTag", ends_with_tag),
        _ => Val::kind("empty"),
    };
    Val::obj()
        .with("id", r.id.get())
        .with("operation", r.operation.name())
        .with("method", r.operation.method())
        .with("bucket", r.bucket)
        .with("key", r.full_key().to_string())
        .with("objectKey", r.key)
        .with("keySuffix", r.key_suffix)
        .with("versionId", r.version_id)
        .with("range", range)
        .with("rangeHeader", range_header)
        .with("ifMatch", r.if_match)
        .with("uploadId", r.upload_id)
        .with("partNumber", r.part_number)
        .with("contentLength", r.content_length)
        .with("contentType", r.content_type)
        .with("metadata", Val::map(r.metadata()))
        .with("body", body)
        .with("responseBodyLimit", r.response_body_limit)
}

/// An object head: `storedLength`, `etag`, `versionId`.
pub fn head(h: &ObjectHead) -> Val {
    Val::obj()
        .with("storedLength", h.stored_len())
        .with("etag", h.etag())
        .with("versionId", h.version_id())
}

/// A key request as a plain object: `{kind: "kms", ciphertextBlob, encryptionContext,
/// keyIdHint}`, `{kind: "aes", wrap}`, `{kind: "rsa", wrap}` or `{kind: "aesOrRsa"}`.
pub fn key_request(r: &KeyRequest<'_>) -> Val {
    match r {
        KeyRequest::Kms(k) => kms(k),
        KeyRequest::Aes { wrap } => Val::kind("aes").with("wrap", format!("{wrap:?}")),
        KeyRequest::Rsa { wrap } => Val::kind("rsa").with("wrap", format!("{wrap:?}")),
        _ => Val::kind("aesOrRsa"),
    }
}

fn kms(k: &KmsDecryptRequest<'_>) -> Val {
    Val::kind("kms")
        .with("ciphertextBlob", Val::bytes(k.ciphertext_blob))
        .with("encryptionContext", Val::map(k.encryption_context()))
        .with(
            "keyIdHint",
            k.key_id_hint.as_ref().map(|h| h.to_string_lossless()),
        )
}

/// The envelope's fields: `version`, `contentAlgorithm`, `contentCipher`, `wrapAlgorithm`,
/// `placement`, `encryptionContext` (JSON), `materialsDescription` (JSON),
/// `unencryptedContentLength`, `metadata`.
pub fn envelope(env: &Envelope) -> Val {
    Val::obj()
        .with("version", format!("{:?}", env.version()))
        .with("contentAlgorithm", format!("{:?}", env.content_algorithm()))
        .with("contentCipher", env.content_cipher_id())
        .with("wrapAlgorithm", format!("{:?}", env.wrap_algorithm()))
        .with("placement", format!("{:?}", env.placement()))
        .with("encryptionContext", env.encryption_context())
        .with("materialsDescription", env.materials_description())
        .with("unencryptedContentLength", env.unencrypted_content_length())
        .with("metadata", Val::map(env.metadata()))
}
