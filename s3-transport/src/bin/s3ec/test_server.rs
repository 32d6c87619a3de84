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
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use s3_encryption::ByteRange;
use s3_encryption_transport::{
    ClientKeyring, DEFAULT_PART_SIZE, ErrorKind, GetOptions, Pairs, PutOptions, ReEncryptOptions,
    S3EncryptionClient,
};
use s3ec_harness_requests::{
    ClientConfig, KeyMaterial, Keyring, enforce_rotation, parse_metadata_list, percent_decode,
    reencrypt_suffix, render_metadata_list,
};
use serde_json::{Value, json};
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

impl From<s3ec_harness_requests::Error> for Reply {
    fn from(e: s3ec_harness_requests::Error) -> Self {
        use s3ec_harness_requests::Error as E;
        match e {
            E::Malformed(m) => Reply::generic(StatusCode::BAD_REQUEST, m),
            E::Unsupported(m) => Reply::generic(StatusCode::NOT_IMPLEMENTED, m),
            E::Refused(m) => Reply::client(m),
            e => Reply::generic(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
}

type Answer = Result<Response<Full<Bytes>>, Reply>;

/// One client made by CreateClient, and the configuration it was made from.
struct Entry {
    client: S3EncryptionClient,
    config: ClientConfig,
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

// ----- CreateClient -----

async fn create_client(state: &State, body: &[u8]) -> Answer {
    let config = ClientConfig::from_create_client(body)?;
    let client = build_client(state, &config, None)?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| {
        Reply::generic(StatusCode::INTERNAL_SERVER_ERROR, "no randomness available")
    })?;
    let id = hex::encode(id);
    state
        .clients
        .lock()
        .map_err(|_| Reply::generic(StatusCode::INTERNAL_SERVER_ERROR, "client table poisoned"))?
        .insert(id.clone(), Arc::new(Entry { client, config }));
    Ok(json_response(json!({ "clientId": id })))
}

/// The transport's keyring for a parsed `KeyMaterial`.
fn client_keyring(k: &Keyring) -> ClientKeyring {
    match &k.material {
        KeyMaterial::Aes(key) => {
            ClientKeyring::aes(key.clone()).with_context(k.description.clone())
        }
        KeyMaterial::Rsa(key) => {
            ClientKeyring::rsa_private((**key).clone()).with_context(k.description.clone())
        }
        // The model's materialsDescription is for AES / RSA keyrings; a KMS keyring's encryption
        // context comes per operation in Content-Metadata.
        KeyMaterial::Kms(id) => ClientKeyring::kms(id.clone()),
    }
}

/// Build a client from a parsed `S3ECConfig`; `desc_override` replaces the materials description
/// of a raw keyring (a per-operation `Content-Metadata`).
fn build_client(
    state: &State,
    c: &ClientConfig,
    desc_override: Option<&Pairs>,
) -> Result<S3EncryptionClient, Reply> {
    let keyring = match desc_override {
        Some(d) => client_keyring(&c.keyring.with_description(d)),
        None => client_keyring(&c.keyring),
    };
    let mut b = S3EncryptionClient::builder(state.s3.clone(), keyring)
        .commitment_policy(c.commitment_policy)
        .placement(c.placement)
        .disable_instruction_files(c.disable_instruction_files)
        .enable_legacy_wrapping_algorithms(c.legacy_wrapping)
        .enable_legacy_unauthenticated_modes(c.legacy_unauthenticated)
        .enable_delayed_authentication_mode(c.delayed_authentication);
    if let Some(n) = c.buffer_size {
        // The memory budget is the most ciphertext held in memory; it must hold two parts.
        // Below 10 MiB (two 5 MiB parts) the budget stays at 10 MiB (see test-vectors/README.md).
        let part = DEFAULT_PART_SIZE
            .min((n / 2) / 16 * 16)
            .max(5 * 1024 * 1024);
        b = b.part_size(part).memory_budget(n.max(2 * part));
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
    let client = if !md.is_empty() && entry.config.keyring.is_raw() {
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
        json!({ "bucket": bucket, "key": key, "metadata": render_metadata_list(&md) }),
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
    let list = render_metadata_list(&out.info.user_metadata).join(",");
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
    let new_keyring = client_keyring(&Keyring::from_json(body)?);
    let suffix = header(h, "instructionfilesuffix")?
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let enforce = enforce_rotation(header(h, "enforcerotation")?)?;
    let new_suffix = reencrypt_suffix(suffix.as_deref());
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
