//! Conversions between JavaScript values and the core's types. Nothing here interprets the
//! S3EC format.

use js_sys::{Array, Object, Reflect, Uint8Array};
use s3_encryption::object::{Request, RequestBody, RequestId};
use s3_encryption::{CommitmentPolicy, DecryptPolicy, Error, ErrorClass};
use wasm_bindgen::JsValue;

/// A JavaScript result.
pub(crate) type JsResult<T> = Result<T, JsValue>;

/// The core's error as a JavaScript `Error` with `code`, `errorClass` and (for a failed request)
/// `status`.
pub(crate) fn js_err(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let code = e.code();
    let class = match e.class() {
        ErrorClass::Format => "format",
        ErrorClass::Policy => "policy",
        ErrorClass::Authentication => "authentication",
        ErrorClass::Storage => "storage",
        ErrorClass::Keyring => "keyring",
        // The package drives the core's machines: a call out of order is its bug, not the user's.
        ErrorClass::Internal => "internal",
        _ if matches!(e, Error::ApiMisuse(_)) => "internal",
        _ => "usage",
    };
    set(&err, "code", code);
    set(&err, "errorClass", class);
    if let Error::RequestFailed { status } = e {
        set(&err, "status", status);
    }
    if let Error::BufferTooSmall { required } = e {
        set(&err, "required", required as f64);
    }
    err.into()
}

/// A usage error raised by the binding itself (a JavaScript value of the wrong shape).
pub(crate) fn usage(what: &str) -> JsValue {
    let err = js_sys::Error::new(what);
    set(&err, "code", "InvalidArgument");
    set(&err, "errorClass", "usage");
    err.into()
}

/// `Result<T, Error>` to a JavaScript result.
pub(crate) trait Js<T> {
    /// Convert the error.
    fn js(self) -> JsResult<T>;
}

impl<T> Js<T> for Result<T, Error> {
    fn js(self) -> JsResult<T> {
        self.map_err(js_err)
    }
}

/// A new plain object.
pub(crate) fn obj() -> Object {
    Object::new()
}

/// Set `o[k] = v` (on a plain object this cannot fail).
pub(crate) fn set(o: &JsValue, k: &str, v: impl Into<JsValue>) {
    let _ = Reflect::set(o, &JsValue::from_str(k), &v.into());
}

/// `o[k]`, or `undefined`.
pub(crate) fn get(o: &JsValue, k: &str) -> JsValue {
    if o.is_object() {
        Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// An optional string option.
pub(crate) fn opt_str(o: &JsValue, k: &str) -> JsResult<Option<String>> {
    let v = get(o, k);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| usage(&format!("option {k} must be a string")))
}

/// An optional non-negative integer option.
pub(crate) fn opt_u64(o: &JsValue, k: &str) -> JsResult<Option<u64>> {
    let v = get(o, k);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let f = v
        .as_f64()
        .ok_or_else(|| usage(&format!("option {k} must be a number")))?;
    if !(f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_991.0) {
        return Err(usage(&format!("option {k} must be a non-negative integer")));
    }
    Ok(Some(f as u64))
}

/// An optional boolean option (absent: false).
pub(crate) fn opt_bool(o: &JsValue, k: &str) -> JsResult<bool> {
    let v = get(o, k);
    if v.is_undefined() || v.is_null() {
        return Ok(false);
    }
    v.as_bool()
        .ok_or_else(|| usage(&format!("option {k} must be a boolean")))
}

/// An optional flat string-pair array option (`[k0, v0, k1, v1, …]`).
pub(crate) fn opt_pairs(o: &JsValue, k: &str) -> JsResult<Option<Vec<(String, String)>>> {
    let v = get(o, k);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !Array::is_array(&v) {
        return Err(usage(&format!("option {k} must be an array of strings")));
    }
    let a = Array::from(&v);
    let mut flat = Vec::with_capacity(a.length() as usize);
    for x in a.iter() {
        flat.push(
            x.as_string()
                .ok_or_else(|| usage(&format!("option {k} must be an array of strings")))?,
        );
    }
    pairs(flat).map(Some)
}

/// A flat string array as pairs.
pub(crate) fn pairs(flat: Vec<String>) -> JsResult<Vec<(String, String)>> {
    if !flat.len().is_multiple_of(2) {
        return Err(usage("a string map must have an even number of entries"));
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// Borrowed pairs.
pub(crate) fn borrow_pairs(p: &[(String, String)]) -> Vec<(&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Pairs as a plain object `{k: v}`.
pub(crate) fn map_object<K: AsRef<str>, V: AsRef<str>>(
    p: impl IntoIterator<Item = (K, V)>,
) -> Object {
    let o = obj();
    for (k, v) in p {
        set(&o, k.as_ref(), v.as_ref());
    }
    o
}

/// Owned pairs as a plain object.
pub(crate) fn owned_map_object(p: &[(String, String)]) -> Object {
    map_object(p.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The decrypt policy from an options object: `commitmentPolicy`
/// (`REQUIRE_ENCRYPT_REQUIRE_DECRYPT` by default), `enableLegacyWrappingAlgorithms`,
/// `enableLegacyUnauthenticatedModes`, `enableDelayedAuthenticationMode`.
pub(crate) fn decrypt_policy(o: &JsValue) -> JsResult<DecryptPolicy> {
    let commitment_policy = commitment_policy(opt_str(o, "commitmentPolicy")?.as_deref())?;
    Ok(DecryptPolicy {
        commitment_policy,
        legacy_wrapping_algorithms: opt_bool(o, "enableLegacyWrappingAlgorithms")?,
        legacy_unauthenticated_modes: opt_bool(o, "enableLegacyUnauthenticatedModes")?,
        delayed_authentication: opt_bool(o, "enableDelayedAuthenticationMode")?,
    })
}

/// A commitment policy by its spec name (the default when absent).
pub(crate) fn commitment_policy(name: Option<&str>) -> JsResult<CommitmentPolicy> {
    match name {
        None => Ok(CommitmentPolicy::default()),
        Some(name) => name
            .parse()
            .map_err(|_| usage(&format!("unknown commitment policy {name}"))),
    }
}

/// A request id from JavaScript.
pub(crate) fn rid(id: u32) -> RequestId {
    RequestId::from_raw(id)
}

/// A request as a plain object: `id`, `operation`, `method`, `bucket`, `key` (the full key),
/// `objectKey`, `keySuffix`, `versionId`, `range` (`[first, last]`), `rangeHeader`, `ifMatch`,
/// `uploadId`, `partNumber`, `contentLength`, `contentType`, `metadata` (`{name: value}`, names
/// without `x-amz-meta-`), `body` (`{kind: "empty"}`, `{kind: "bytes", bytes}` or
/// `{kind: "ciphertext", len}`), `responseBodyLimit`.
pub(crate) fn request_object(r: &Request<'_>) -> Object {
    let o = obj();
    set(&o, "id", r.id.get());
    set(&o, "operation", r.operation.name());
    set(&o, "method", r.operation.method());
    set(&o, "bucket", r.bucket);
    set(&o, "key", r.full_key().to_string());
    set(&o, "objectKey", r.key);
    set(&o, "keySuffix", r.key_suffix);
    opt(&o, "versionId", r.version_id);
    if let Some((a, b)) = r.range {
        let arr = Array::new();
        arr.push(&JsValue::from_f64(a as f64));
        arr.push(&JsValue::from_f64(b as f64));
        set(&o, "range", arr);
        set(&o, "rangeHeader", format!("bytes={a}-{b}"));
    } else {
        set(&o, "range", JsValue::NULL);
        set(&o, "rangeHeader", JsValue::NULL);
    }
    opt(&o, "ifMatch", r.if_match);
    opt(&o, "uploadId", r.upload_id);
    match r.part_number {
        Some(n) => set(&o, "partNumber", n),
        None => set(&o, "partNumber", JsValue::NULL),
    }
    num(&o, "contentLength", r.content_length);
    opt(&o, "contentType", r.content_type);
    set(&o, "metadata", map_object(r.metadata()));
    let body = obj();
    match r.body {
        RequestBody::Bytes(b) => {
            set(&body, "kind", "bytes");
            set(&body, "bytes", Uint8Array::from(b));
        }
        RequestBody::Ciphertext {
            len,
            plaintext_len,
            ends_with_tag,
        } => {
            set(&body, "kind", "ciphertext");
            set(&body, "len", len as f64);
            set(&body, "plaintextLen", plaintext_len as f64);
            set(&body, "endsWithTag", ends_with_tag);
        }
        _ => set(&body, "kind", "empty"),
    }
    set(&o, "body", body);
    num(&o, "responseBodyLimit", r.response_body_limit);
    o
}

/// `o[k] = v` or `null`.
pub(crate) fn opt(o: &JsValue, k: &str, v: Option<&str>) {
    match v {
        Some(v) => set(o, k, v),
        None => set(o, k, JsValue::NULL),
    }
}

/// `o[k] = v` as a number, or `null`.
pub(crate) fn num(o: &JsValue, k: &str, v: Option<u64>) {
    match v {
        Some(v) => set(o, k, v as f64),
        None => set(o, k, JsValue::NULL),
    }
}
