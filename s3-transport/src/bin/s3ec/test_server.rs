//! `s3ec test-server`: this crate's server for AWS's cross-SDK S3EC test harness.
//!
//! It speaks the harness's Smithy model (`S3ECTestServer`, restJson1; the model lives in
//! `aws/amazon-s3-encryption-client-python`, `test-server/model/`):
//!
//! * `POST /client`: CreateClient, `{"config": S3ECConfig}` → `{"clientId": "…"}`;
//! * `PUT /object/{bucket}/{key}`: PutObject, the body is the plaintext;
//! * `GET /object/{bucket}/{key}`: GetObject, the body is the plaintext;
//! * `POST /object/{bucket}/{key}/reencrypt`: ReEncrypt, the body is the new `KeyMaterial`.
//!
//! Headers: `ClientID`, `Content-Metadata` (a list header: items `[key]:[value]` joined by `,`),
//! `Range`, `InstructionFileSuffix`, `EnforceRotation`. Errors are the model's two shapes, both
//! `@error("server")` (HTTP 500 unless a status is named here): `S3EncryptionClientError` when the
//! S3EC refused or failed (policy, authentication, format, configuration), `GenericServerError`
//! for problems of the harness itself (a malformed request, an unknown client, S3 or KMS
//! unreachable). The error type travels in `X-Amzn-Errortype` and as `__type` in the JSON body.
//!
//! Only the transport's public API is used. S3 and KMS endpoints, region and credentials come
//! from the standard AWS environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, …, or the global
//! `--endpoint` / `--kms-endpoint` / `--path-style` flags).

use crate::args::Global;
use crate::{CliResult, Ctx, Failure};
use base64ct::Encoding;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use s3_encryption::{ByteRange, CommitmentPolicy, ContentAlgorithm, EncryptConfig, Placement};
use s3_encryption_transport::{
    ClientKeyring, DEFAULT_PART_SIZE, ErrorKind, GetOptions, Pairs, PutOptions, ReEncryptOptions,
    S3EncryptionClient,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Largest request body accepted (plaintext of a PutObject, or a JSON document).
const MAX_BODY: usize = 512 * 1024 * 1024;
/// The model's namespace, for `__type`.
const NAMESPACE: &str = "software.amazon.encryption.s3";

/// The two error shapes of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A problem of the test server itself; negative tests never expect it.
    Generic,
    /// An error raised by the S3EC; negative tests expect it.
    Client,
}

/// An error answer: its shape, HTTP status and message.
#[derive(Debug)]
struct Reply {
    shape: Shape,
    status: StatusCode,
    message: String,
}

impl Reply {
    fn generic(status: StatusCode, message: impl Into<String>) -> Self {
        Reply {
            shape: Shape::Generic,
            status,
            message: message.into(),
        }
    }
    fn client(message: impl Into<String>) -> Self {
        Reply {
            shape: Shape::Client,
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
    /// Classify a transport error: the S3EC's own refusals and failures are
    /// `S3EncryptionClientError`; S3/KMS/network failures and a missing object are harness
    /// problems. The object key is replaced by `{key}` so that two objects failing alike give the
    /// same message (the Bleichenbacher scenario compares messages).
    fn from_transport(e: &s3_encryption_transport::Error, bucket: &str, key: &str) -> Self {
        let mut message = e.to_string();
        if !key.is_empty() {
            message = message.replace(key, "{key}");
        }
        if !bucket.is_empty() {
            message = message.replace(bucket, "{bucket}");
        }
        match e.kind() {
            ErrorKind::Transport | ErrorKind::NotFound => {
                Reply::generic(StatusCode::INTERNAL_SERVER_ERROR, message)
            }
            _ => Reply::client(message),
        }
    }
    fn into_response(self) -> Response<Full<Bytes>> {
        let name = match self.shape {
            Shape::Generic => "GenericServerError",
            Shape::Client => "S3EncryptionClientError",
        };
        let body = json!({ "__type": format!("{NAMESPACE}#{name}"), "message": self.message });
        let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
        *r.status_mut() = self.status;
        let h = r.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-amzn-errortype", HeaderValue::from_static(name));
        r
    }
}

type Answer = Result<Response<Full<Bytes>>, Reply>;

/// One client made by CreateClient, and the configuration it was made from.
struct Entry {
    client: S3EncryptionClient,
    config: Map<String, Value>,
}

/// The server's state: the SDK clients every S3EC client shares, and the clients by id.
struct State {
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    clients: Mutex<HashMap<String, Arc<Entry>>>,
}

/// Run the test server on 127.0.0.1:`port` (0: any free port) until interrupted. The first line
/// on standard output is `listening on 127.0.0.1:PORT`.
pub async fn run(g: &Global, port: u16) -> CliResult<()> {
    let mut ctx = Ctx::new(g).await?;
    let kms = ctx.kms(g).await;
    let state = Arc::new(State {
        s3: ctx.s3.clone(),
        kms,
        clients: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| Failure::io(format!("cannot listen on 127.0.0.1:{port}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::io("cannot read the listening address", e))?;
    {
        use std::io::Write;
        let mut so = std::io::stdout();
        let _ = writeln!(so, "listening on {addr}");
        let _ = so.flush();
    }
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(_) => continue,
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                });
            }
        }
    }
    ctx.stop().await;
    Ok(())
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match route(state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn route(state: &State, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().to_owned();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect::<Result<_, _>>()?;
    let method = req.method().clone();
    let headers = req.headers().clone();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (&method, segs.as_slice()) {
        (&Method::POST, ["client"]) => {
            let body = read_body(req).await?;
            create_client(state, &body).await
        }
        (&Method::PUT, ["object", bucket, key]) => {
            let body = read_body(req).await?;
            put_object(state, &headers, bucket, key, body).await
        }
        (&Method::GET, ["object", bucket, key]) => get_object(state, &headers, bucket, key).await,
        (&Method::POST, ["object", bucket, key, "reencrypt"]) => {
            let body = read_body(req).await?;
            reencrypt(state, &headers, bucket, key, &body).await
        }
        _ => Err(Reply::generic(
            StatusCode::NOT_FOUND,
            format!("no operation for {method} {path}"),
        )),
    }
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Reply> {
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            Reply::generic(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            )
        })
}

fn percent_decode(s: &str) -> Result<String, Reply> {
    let bad = || {
        Reply::generic(
            StatusCode::BAD_REQUEST,
            "malformed percent-encoding in the path",
        )
    };
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
            let t = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(t, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn json_response(v: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Reply> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            Reply::generic(
                StatusCode::BAD_REQUEST,
                format!("header {name} is not visible ASCII"),
            )
        }),
    }
}

fn client_for(state: &State, h: &HeaderMap) -> Result<Arc<Entry>, Reply> {
    let id = header(h, "clientid")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Reply::generic(StatusCode::BAD_REQUEST, "the ClientID header is required")
        })?;
    let clients = state
        .clients
        .lock()
        .map_err(|_| Reply::generic(StatusCode::INTERNAL_SERVER_ERROR, "client table poisoned"))?;
    clients.get(id).cloned().ok_or_else(|| {
        Reply::generic(
            StatusCode::NOT_FOUND,
            format!("no client with ClientID {id}"),
        )
    })
}

/// Parse the `Content-Metadata` list header: items `[key]:[value]`, joined by `,` (a list header
/// item may also be a quoted string). Empty or absent: no pairs.
fn parse_metadata(h: &HeaderMap) -> Result<Vec<(String, String)>, Reply> {
    let mut out = Vec::new();
    for v in h.get_all("content-metadata") {
        let s = v.to_str().map_err(|_| {
            Reply::generic(
                StatusCode::BAD_REQUEST,
                "Content-Metadata is not visible ASCII",
            )
        })?;
        parse_metadata_list(s, &mut out)?;
    }
    Ok(out)
}

fn parse_metadata_list(s: &str, out: &mut Vec<(String, String)>) -> Result<(), Reply> {
    let bad = |m: &str| {
        Reply::generic(
            StatusCode::BAD_REQUEST,
            format!("malformed Content-Metadata item ({m}): expected [key]:[value]"),
        )
    };
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (item, tail) = if let Some(q) = rest.strip_prefix('"') {
            // A quoted list item: up to the closing quote (backslash escapes).
            let mut item = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            item.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => item.push(c),
                }
            }
            let end = end.ok_or_else(|| bad("unterminated quote"))?;
            (item, &q[end..])
        } else {
            // Unquoted: an item ends at `]` followed by `,` (and optional spaces) and `[`, or at
            // the end of the header.
            let mut cut = rest.len();
            let bytes = rest.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b']' {
                    let after = rest[i + 1..].trim_start();
                    if let Some(next) = after.strip_prefix(',')
                        && next.trim_start().starts_with(['[', '"'])
                    {
                        cut = i + 1;
                        break;
                    }
                }
                i += 1;
            }
            (rest[..cut].to_owned(), &rest[cut..])
        };
        let item = item.trim();
        if !item.is_empty() {
            let inner = item
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .ok_or_else(|| bad("brackets"))?;
            let (k, v) = inner.split_once("]:[").ok_or_else(|| bad("separator"))?;
            out.push((k.to_owned(), v.to_owned()));
        }
        let tail = tail.trim_start();
        rest = match tail.strip_prefix(',') {
            Some(t) => t.trim_start(),
            None if tail.is_empty() => tail,
            None => return Err(bad("separator between items")),
        };
    }
    Ok(())
}

fn metadata_list(pairs: &[(String, String)]) -> Vec<String> {
    pairs.iter().map(|(k, v)| format!("[{k}]:[{v}]")).collect()
}

// ----- CreateClient -----

fn flag(c: &Map<String, Value>, name: &str) -> Result<bool, Reply> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Reply::generic(
            StatusCode::BAD_REQUEST,
            format!("{name} must be a boolean"),
        )),
    }
}

fn string<'a>(c: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Reply> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Reply::generic(
            StatusCode::BAD_REQUEST,
            format!("{name} must be a string"),
        )),
    }
}

fn object<'a>(
    c: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, Reply> {
    match c.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(Reply::generic(
            StatusCode::BAD_REQUEST,
            format!("{name} must be an object"),
        )),
    }
}

/// Build a keyring from the model's `KeyMaterial`: exactly one of `aesKey` (raw bytes, base64),
/// `rsaKey` (a PKCS#8 DER private key, base64) or `kmsKeyId`, with an optional
/// `materialsDescription` (AES and RSA keyrings).
fn keyring(km: &Map<String, Value>, desc_override: Option<&Pairs>) -> Result<ClientKeyring, Reply> {
    let aes = string(km, "aesKey")?;
    let rsa = string(km, "rsaKey")?;
    let kms = string(km, "kmsKeyId")?;
    let given = [aes.is_some(), rsa.is_some(), kms.is_some()];
    if given.iter().filter(|x| **x).count() != 1 {
        return Err(Reply::generic(
            StatusCode::BAD_REQUEST,
            "keyMaterial must hold exactly one of aesKey, rsaKey, kmsKeyId",
        ));
    }
    let mut desc = Vec::new();
    if let Some(md) = object(km, "materialsDescription")? {
        for (k, v) in md {
            let v = v.as_str().ok_or_else(|| {
                Reply::generic(
                    StatusCode::BAD_REQUEST,
                    "materialsDescription values must be strings",
                )
            })?;
            desc.push((k.clone(), v.to_owned()));
        }
    }
    let blob = |s: &str| {
        base64ct::Base64::decode_vec(s.trim())
            .map_err(|_| Reply::generic(StatusCode::BAD_REQUEST, "a key blob is not valid base64"))
    };
    if let Some(d) = desc_override {
        desc = d.clone();
    }
    if let Some(a) = aes {
        let bytes = blob(a)?;
        let key = s3_encryption::AesKey::from_slice(&bytes)
            .map_err(|e| Reply::client(format!("invalid AES key: {e}")))?;
        return Ok(ClientKeyring::aes(key).with_context(desc));
    }
    if let Some(r) = rsa {
        let der = blob(r)?;
        // PKCS#8 DER → PEM, so that the transport's PEM constructor reads it.
        let b64 = base64ct::Base64::encode_string(&der);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        let k = ClientKeyring::rsa_pem(&pem)
            .map_err(|e| Reply::client(format!("invalid RSA key: {e}")))?;
        if !k.can_decrypt() {
            return Err(Reply::client("invalid RSA key: not a private key"));
        }
        return Ok(k.with_context(desc));
    }
    // The model's materialsDescription is for AES / RSA keyrings; a KMS keyring's encryption
    // context comes per operation in Content-Metadata.
    Ok(ClientKeyring::kms(kms.unwrap_or_default()))
}

async fn create_client(state: &State, body: &[u8]) -> Answer {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| Reply::generic(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    let c = match doc.get("config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => {
            return Err(Reply::generic(
                StatusCode::BAD_REQUEST,
                "config must be an object",
            ));
        }
    };
    let client = build_client(state, &c, None)?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| {
        Reply::generic(StatusCode::INTERNAL_SERVER_ERROR, "no randomness available")
    })?;
    let id = hex::encode(id);
    state
        .clients
        .lock()
        .map_err(|_| Reply::generic(StatusCode::INTERNAL_SERVER_ERROR, "client table poisoned"))?
        .insert(id.clone(), Arc::new(Entry { client, config: c }));
    Ok(json_response(json!({ "clientId": id })))
}

/// Whether the configuration's key material is a raw (AES or RSA) key.
fn raw_key_material(c: &Map<String, Value>) -> bool {
    c.get("keyMaterial")
        .and_then(Value::as_object)
        .is_some_and(|km| km.get("kmsKeyId").is_none_or(Value::is_null))
}

/// Build a client from an `S3ECConfig`; `desc_override` replaces the materials description of a
/// raw keyring (a per-operation `Content-Metadata`).
fn build_client(
    state: &State,
    c: &Map<String, Value>,
    desc_override: Option<&Pairs>,
) -> Result<S3EncryptionClient, Reply> {
    let km = object(c, "keyMaterial")?
        .ok_or_else(|| Reply::generic(StatusCode::BAD_REQUEST, "config.keyMaterial is required"))?;
    let keyring = keyring(km, desc_override)?;
    let legacy_wrapping = flag(c, "enableLegacyWrappingAlgorithms")?;
    let legacy_unauth = flag(c, "enableLegacyUnauthenticatedModes")?;
    let delayed = flag(c, "enableDelayedAuthenticationMode")?;
    let policy = match string(c, "commitmentPolicy")? {
        None => CommitmentPolicy::default(),
        Some(name) => name.parse::<CommitmentPolicy>().map_err(|_| {
            Reply::generic(
                StatusCode::BAD_REQUEST,
                format!("unknown commitmentPolicy {name}"),
            )
        })?,
    };
    let mut no_instruction_files = false;
    let placement = match object(c, "instructionFileConfig")? {
        Some(ifc) => {
            no_instruction_files = flag(ifc, "disableInstructionFile")?;
            if string(ifc, "clientId")?.is_some() {
                return Err(Reply::generic(
                    StatusCode::NOT_IMPLEMENTED,
                    "unsupported by s3ec test-server: instructionFileConfig.clientId (a separate instruction-file client)",
                ));
            }
            if flag(ifc, "enableInstructionFilePutObject")? {
                Placement::InstructionFile
            } else {
                Placement::ObjectMetadata
            }
        }
        None => Placement::ObjectMetadata,
    };
    // The suite written: the configured algorithm, or the policy's default. A legacy algorithm
    // and an algorithm the policy forbids are refused here, at client creation (spec, client.md:
    // "Encryption Algorithm" and "Key Commitment").
    let algorithm = match string(c, "encryptionAlgorithm")? {
        None => None,
        Some(name) => Some(name.parse::<ContentAlgorithm>().map_err(|_| {
            Reply::generic(
                StatusCode::BAD_REQUEST,
                format!("unknown encryptionAlgorithm {name}"),
            )
        })?),
    };
    EncryptConfig::from_settings(policy, algorithm, placement).map_err(|e| match e {
        s3_encryption::Error::UnsupportedSuite => Reply::client(format!(
            "{} is a legacy algorithm and cannot be configured for encryption",
            algorithm.map_or("", ContentAlgorithm::spec_name)
        )),
        e => Reply::client(format!(
            "the encryption algorithm is incompatible with the commitment policy: {e}"
        )),
    })?;
    let mut b = S3EncryptionClient::builder(state.s3.clone(), keyring)
        .commitment_policy(policy)
        .placement(placement)
        .disable_instruction_files(no_instruction_files)
        .enable_legacy_wrapping_algorithms(legacy_wrapping)
        .enable_legacy_unauthenticated_modes(legacy_unauth)
        .enable_delayed_authentication_mode(delayed);
    match c.get("setBufferSize") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let n = v.as_u64().ok_or_else(|| {
                Reply::generic(
                    StatusCode::BAD_REQUEST,
                    "setBufferSize must be a non-negative integer",
                )
            })?;
            if delayed {
                return Err(Reply::client(
                    "a buffer size cannot be set with delayed authentication mode enabled",
                ));
            }
            // The memory budget is the most ciphertext held in memory; it must hold two parts.
            // Below 10 MiB (two 5 MiB parts) the budget stays at 10 MiB (see test-vectors/README.md).
            let part = DEFAULT_PART_SIZE
                .min((n / 2) / 16 * 16)
                .max(5 * 1024 * 1024);
            b = b.part_size(part).memory_budget(n.max(2 * part));
        }
    }
    b = b.kms_client(state.kms.clone());
    b.build()
        .map_err(|e| Reply::client(format!("client configuration refused: {e}")))
}

// ----- PutObject / GetObject / ReEncrypt -----

async fn put_object(state: &State, h: &HeaderMap, bucket: &str, key: &str, body: Bytes) -> Answer {
    let entry = client_for(state, h)?;
    let md = parse_metadata(h)?;
    // Content-Metadata is the KMS encryption context, or, for raw AES / RSA keyrings (as the
    // C++ S3EC takes it), the materials description: the transport's PutOptions carries only the
    // former, so a raw keyring is rebuilt with that description for this one request.
    let one_off;
    let client = if !md.is_empty() && raw_key_material(&entry.config) {
        one_off = build_client(state, &entry.config, Some(&md))?;
        &one_off
    } else {
        &entry.client
    };
    let opts = PutOptions {
        encryption_context: (!md.is_empty()).then(|| md.clone()),
        ..PutOptions::default()
    };
    client
        .put_bytes(bucket, key, &body, &opts)
        .await
        .map_err(|e| Reply::from_transport(&e, bucket, key))?;
    Ok(json_response(
        json!({ "bucket": bucket, "key": key, "metadata": metadata_list(&md) }),
    ))
}

async fn get_object(state: &State, h: &HeaderMap, bucket: &str, key: &str) -> Answer {
    let entry = client_for(state, h)?;
    let md = parse_metadata(h)?;
    let opts = GetOptions {
        encryption_context: (!md.is_empty()).then_some(md),
        instruction_file_suffix: header(h, "instructionfilesuffix")?
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        ..GetOptions::default()
    };
    let c = &entry.client;
    let mut plaintext: Vec<u8> = Vec::new();
    let out = match header(h, "range")?.filter(|s| !s.is_empty()) {
        Some(r) => {
            let range = ByteRange::parse(r)
                .map_err(|e| Reply::client(format!("invalid range {r:?}: {e}")))?;
            c.get_object_range_hazmat(bucket, key, range, &mut plaintext, &opts)
                .await
        }
        None if c.decrypt_policy().delayed_authentication => {
            // Released before the tag is checked, but this server answers only after the whole
            // object has been read: on a failure the buffer is dropped, never sent.
            c.get_object_delayed_authentication_hazmat(bucket, key, &mut plaintext, &opts)
                .await
        }
        None => {
            c.get_object_to_writer(bucket, key, &mut plaintext, &opts)
                .await
        }
    };
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            drop(plaintext);
            return Err(Reply::from_transport(&e, bucket, key));
        }
    };
    let mut r = Response::new(Full::new(Bytes::from(plaintext)));
    let list = metadata_list(&out.info.user_metadata).join(",");
    if let Ok(v) = HeaderValue::from_str(&list) {
        r.headers_mut().insert("content-metadata", v);
    }
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(r)
}

async fn reencrypt(state: &State, h: &HeaderMap, bucket: &str, key: &str, body: &[u8]) -> Answer {
    let entry = client_for(state, h)?;
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| Reply::generic(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    let km = doc.as_object().ok_or_else(|| {
        Reply::generic(
            StatusCode::BAD_REQUEST,
            "the body must be a KeyMaterial object",
        )
    })?;
    let new_keyring = keyring(km, None)?;
    let suffix = header(h, "instructionfilesuffix")?
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let enforce = match header(h, "enforcerotation")? {
        None | Some("") => None,
        Some(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(s) if s.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => {
            return Err(Reply::generic(
                StatusCode::BAD_REQUEST,
                "EnforceRotation must be true or false",
            ));
        }
    };
    // The harness's scenarios give the re-encryption suffix without its dot
    // ("instruction-rsa") and read it back verbatim with one (".instruction-rsa"), as the Java
    // S3EC's ReEncryptInstructionFileRequest prepends a dot: so does this server.
    let new_suffix = suffix.as_deref().map(|s| {
        if s.starts_with('.') {
            s.to_owned()
        } else {
            format!(".{s}")
        }
    });
    let opts = ReEncryptOptions {
        new_suffix,
        enforce_rotation: enforce.unwrap_or(false),
        ..ReEncryptOptions::default()
    };
    let out = entry
        .client
        .reencrypt_instruction_file(bucket, key, &new_keyring, &opts)
        .await
        .map_err(|e| Reply::from_transport(&e, bucket, key))?;
    let _ = out;
    let mut v = json!({ "bucket": bucket, "key": key });
    if let Some(s) = suffix {
        v["instructionFileSuffix"] = Value::String(s);
    }
    if let Some(e) = enforce {
        v["enforceRotation"] = Value::Bool(e);
    }
    Ok(json_response(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        parse_metadata_list(s, &mut out)
            .map_err(|r| r.message)
            .unwrap();
        out
    }

    #[test]
    fn metadata_list_header() {
        assert!(parse("").is_empty());
        assert_eq!(parse("[a]:[b]"), vec![("a".into(), "b".into())]);
        assert_eq!(
            parse("[a]:[b],[c]:[d, e]"),
            vec![("a".into(), "b".into()), ("c".into(), "d, e".into())]
        );
        assert_eq!(
            parse("\"[a]:[b,c]\", [d]:[]"),
            vec![("a".into(), "b,c".into()), ("d".into(), "".into())]
        );
        let mut out = Vec::new();
        assert!(parse_metadata_list("a:b", &mut out).is_err());
        assert!(parse_metadata_list("[a]:[b]x", &mut out).is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("a%20b").map_err(|r| r.message).unwrap(),
            "a b"
        );
        assert!(percent_decode("a%2").is_err());
    }
}
