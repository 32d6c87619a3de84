//! A hostile S3 stand-in: a loopback HTTP/1.1 proxy in front of the embedded server that forwards
//! every request verbatim (so SigV4 signatures stay valid: the upstream sees the Host header the
//! client signed) and rewrites the responses per [`Case`]. It counts requests per method and key,
//! so a case can target "the second GET of the object".
//!
//! Requests are read with their `Content-Length` body; each one goes upstream on a fresh
//! connection (`connection: close`), and the upstream response is read whole, rewritten, and
//! written back on the client's keep-alive connection. Where a case needs bytes the honest
//! upstream would not send for that request (a whole body for a ranged GET, another object's
//! bytes), the proxy fetches them itself through `direct`, an S3 client of the upstream.
//! Everything listens on 127.0.0.1; dropping the proxy (or [`Hostile::stop`]) stops it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Which GET of a key a rewrite applies to: `Some(n)` the n-th (1-based), `None` every one.
pub type Nth = Option<usize>;

/// How the stand-in misbehaves. `key` is the object key (without the bucket) the case targets.
#[derive(Clone, Debug)]
pub enum Case {
    /// Forward everything unchanged.
    Honest,
    /// Flip one bit of body byte `at` in the `nth` GET of `key` (same ETag, same length).
    FlipBit { key: String, nth: Nth, at: usize },
    /// Flip one bit of the object's last stored byte (its GCM tag) in every GET of `key` whose
    /// body ends where the object does (a whole body, or the last part); same ETag and length.
    FlipTag { key: String },
    /// Answer a ranged GET of `key` with 200 and the whole body (no Content-Range).
    RangeIgnored { key: String },
    /// Answer a ranged GET of `key` with 206 and a Content-Range shifted by `by` bytes (and the
    /// body from the shifted offset).
    RangeShifted { key: String, by: u64 },
    /// Send `keep` bytes of the body of the `nth` GET of `key` under the honest Content-Length,
    /// then close the connection.
    Truncate { key: String, nth: Nth, keep: usize },
    /// Append `extra` zero bytes to the body of the `nth` GET of `key`, Content-Length (and a
    /// Content-Range, if any) raised to match.
    Longer { key: String, nth: Nth, extra: usize },
    /// Declare a length `extra` bytes longer in the HEAD of `key`.
    HeadLonger { key: String, extra: u64 },
    /// Send `extra` junk bytes after the honest body of each GET of `key` (Content-Length
    /// unchanged), then close the connection.
    ExtraAfter { key: String, extra: usize },
    /// Answer the GET of `key` (an instruction file) with an endless chunked body
    /// `{"x-amz-key-v2":"AAAA…`: no Content-Length, no last chunk. A safety net for the test
    /// machine: after `cap` bytes it stalls (`stall`: until the client closes; the SDK's
    /// stalled-stream protection fires after ~5 s) or cuts the connection. A client that caps the
    /// instruction file never gets that far.
    EndlessChunked { key: String, cap: u64, stall: bool },
    /// Add `count` headers `x-amz-meta-hN: vN` to the HEAD and GET responses of `key`.
    ManyHeaders { key: String, count: usize },
    /// Add one header `x-amz-meta-big` of `size` bytes to the HEAD and GET responses of `key`.
    BigHeader { key: String, size: usize },
    /// Answer the HEAD of `key` with the headers of `other` (metadata, ETag, length).
    HeadFrom { key: String, other: String },
    /// Answer the `nth` GET of `key` with `other`'s response (metadata, ETag, length, the same
    /// range of its bytes), ignoring the request's If-Match.
    GetFrom {
        key: String,
        other: String,
        nth: Nth,
    },
    /// Answer the GET of `key` (an instruction file) with `body` (another object's instruction
    /// file), keeping the honest response's other headers.
    SwapBody { key: String, body: Vec<u8> },
    /// Answer every request with 503 Service Unavailable.
    Unavailable,
    /// Answer the first `times` requests of `method` for each key with 503 SlowDown (S3's
    /// throttling answer), then forward.
    SlowDown { method: String, times: usize },
    /// Dribble the first `first` body bytes of every GET of `key` in pieces of `piece` bytes,
    /// `delay` apart (the rest at full speed).
    Trickle {
        key: String,
        piece: usize,
        delay: Duration,
        first: usize,
    },
}

/// Counters a test reads.
#[derive(Default, Debug)]
pub struct Stats {
    /// Every request received.
    pub requests: AtomicUsize,
    /// Requests per (method, key).
    pub per_key: Mutex<HashMap<(String, String), usize>>,
    /// Responses the case rewrote (its misbehaviour fired).
    pub rewritten: AtomicUsize,
    /// Bytes of endless bodies sent.
    pub endless_sent: AtomicU64,
}

impl Stats {
    /// Requests of `method` for `key` so far.
    pub fn count(&self, method: &str, key: &str) -> usize {
        *self
            .per_key
            .lock()
            .unwrap()
            .get(&(method.to_owned(), key.to_owned()))
            .unwrap_or(&0)
    }
}

struct Shared {
    upstream: std::net::SocketAddr,
    direct: aws_sdk_s3::Client,
    case: Mutex<Case>,
    stats: Arc<Stats>,
    stop: AtomicBool,
}

/// The running stand-in.
pub struct Hostile {
    pub endpoint: String,
    pub stats: Arc<Stats>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.task.abort();
    }
}

/// One request from the client.
pub struct Req {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub raw: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
    /// (bucket, key) of a path-style request.
    pub fn bucket_key(&self) -> (String, String) {
        let path = self.target.split('?').next().unwrap_or("");
        let path = path.trim_start_matches('/');
        let (b, k) = path.split_once('/').unwrap_or((path, ""));
        (b.to_owned(), percent_decode(k))
    }
    /// `bytes=a-b` as (a, Some(b)), `bytes=a-` as (a, None); suffix ranges as None.
    fn range(&self) -> Option<(u64, Option<u64>)> {
        let r = self.header("range")?.strip_prefix("bytes=")?;
        let (a, b) = r.split_once('-')?;
        let a = a.parse().ok()?;
        Some((a, b.parse().ok()))
    }
}

/// One response to send.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub send: Send,
}

/// How a response's body goes out.
#[derive(Debug, Clone)]
pub enum Send {
    /// The body as is (the headers carry its framing); the connection stays open.
    Normal,
    /// The first `n` body bytes, then close.
    CutAt(usize),
    /// The body, then close.
    ThenClose,
    /// An endless chunked body (the headers say chunked); after `cap` bytes, stall or close.
    Endless { cap: u64, stall: bool },
    /// Dribble the first `first` bytes in `piece`-byte pieces `delay` apart.
    Trickle {
        piece: usize,
        delay: Duration,
        first: usize,
    },
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn set_header(h: &mut Vec<(String, String)>, name: &str, value: String) {
    h.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    h.push((name.to_owned(), value));
}

fn remove_header(h: &mut Vec<(String, String)>, name: &str) {
    h.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parse a message head: first line and headers.
fn parse_head(head: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_owned();
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    Some((first, headers))
}

/// Read one message head (through the blank line) from `r` into `buf`; returns its length.
async fn read_head(r: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            return Some(p + 4);
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let mut tmp = [0u8; 16 * 1024];
        let n = r.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

/// Read exactly `n` more bytes beyond what `buf` holds after `start`.
async fn read_body(r: &mut TcpStream, buf: &mut Vec<u8>, start: usize, n: usize) -> Option<()> {
    let mut tmp = vec![0u8; 64 * 1024];
    while buf.len() < start + n {
        let k = r.read(&mut tmp).await.ok()?;
        if k == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..k]);
    }
    Some(())
}

/// Forward `req` upstream on a fresh connection and read the whole response.
async fn forward(upstream: std::net::SocketAddr, req: &Req) -> Option<Resp> {
    let mut s = TcpStream::connect(upstream).await.ok()?;
    // The raw request, with `connection: close` added (an unsigned header) so the upstream
    // ends its response by closing.
    let head_end = find(&req.raw, b"\r\n\r\n")? + 2;
    let mut out = req.raw[..head_end].to_vec();
    if req.header("connection").is_none() {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(&req.raw[head_end..]);
    s.write_all(&out).await.ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let he = find(&buf, b"\r\n\r\n")? + 4;
    let (first, mut headers) = parse_head(&buf[..he - 4])?;
    let mut parts = first.splitn(3, ' ');
    let _ = parts.next();
    let status: u16 = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("").to_owned();
    let raw_body = &buf[he..];
    let body = if req.method == "HEAD" {
        Vec::new()
    } else if header(&headers, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let b = dechunk(raw_body)?;
        remove_header(&mut headers, "transfer-encoding");
        set_header(&mut headers, "content-length", b.len().to_string());
        b
    } else if let Some(n) = header(&headers, "content-length").and_then(|v| v.parse().ok()) {
        raw_body.get(..n)?.to_vec()
    } else {
        let b = raw_body.to_vec();
        set_header(&mut headers, "content-length", b.len().to_string());
        b
    };
    remove_header(&mut headers, "connection");
    Some(Resp {
        status,
        reason,
        headers,
        body,
        send: Send::Normal,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let e = find(b, b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..e]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[e + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

async fn write_resp(c: &mut TcpStream, r: &Resp, shared: &Shared) -> bool {
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, r.reason).into_bytes();
    for (k, v) in &r.headers {
        head.extend_from_slice(k.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(v.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    if c.write_all(&head).await.is_err() {
        return false;
    }
    match &r.send {
        Send::Normal => c.write_all(&r.body).await.is_ok(),
        Send::CutAt(n) => {
            let _ = c.write_all(&r.body[..(*n).min(r.body.len())]).await;
            let _ = c.flush().await;
            let _ = c.shutdown().await;
            false
        }
        Send::ThenClose => {
            let _ = c.write_all(&r.body).await;
            let _ = c.flush().await;
            let _ = c.shutdown().await;
            false
        }
        Send::Trickle {
            piece,
            delay,
            first,
        } => {
            let first = (*first).min(r.body.len());
            for p in r.body[..first].chunks(*piece) {
                if c.write_all(p).await.is_err() {
                    return false;
                }
                let _ = c.flush().await;
                tokio::time::sleep(*delay).await;
            }
            c.write_all(&r.body[first..]).await.is_ok()
        }
        Send::Endless { cap, stall } => {
            let mut chunk = Vec::with_capacity(64 * 1024 + 16);
            let first = br#"{"x-amz-key-v2":""#;
            let payload: Vec<u8> = first
                .iter()
                .copied()
                .chain(std::iter::repeat_n(b'A', 64 * 1024 - first.len()))
                .collect();
            let filler = vec![b'A'; 64 * 1024];
            let mut sent = 0u64;
            loop {
                if shared.stop.load(Ordering::SeqCst) {
                    return false;
                }
                if sent >= *cap && !*stall {
                    let _ = c.shutdown().await;
                    return false;
                }
                if sent >= *cap {
                    // Never end the body; wait for the client to go away.
                    let mut tmp = [0u8; 1024];
                    loop {
                        match tokio::time::timeout(Duration::from_millis(200), c.read(&mut tmp))
                            .await
                        {
                            Ok(Ok(0)) | Ok(Err(_)) => return false,
                            _ if shared.stop.load(Ordering::SeqCst) => return false,
                            _ => {}
                        }
                    }
                }
                let data = if sent == 0 { &payload } else { &filler };
                chunk.clear();
                chunk.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                chunk.extend_from_slice(data);
                chunk.extend_from_slice(b"\r\n");
                if c.write_all(&chunk).await.is_err() {
                    return false;
                }
                sent += data.len() as u64;
                shared
                    .stats
                    .endless_sent
                    .fetch_add(data.len() as u64, Ordering::SeqCst);
            }
        }
    }
}

fn unavailable() -> Resp {
    let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>".to_vec();
    Resp {
        status: 503,
        reason: "Service Unavailable".into(),
        headers: vec![
            ("content-type".into(), "application/xml".into()),
            ("content-length".into(), body.len().to_string()),
        ],
        body,
        send: Send::Normal,
    }
}

fn slow_down() -> Resp {
    let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".to_vec();
    Resp {
        status: 503,
        reason: "Slow Down".into(),
        headers: vec![
            ("content-type".into(), "application/xml".into()),
            ("content-length".into(), body.len().to_string()),
        ],
        body,
        send: Send::Normal,
    }
}

/// The bytes (and headers) of `key` through the direct client, for the given range.
async fn fetch(
    direct: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    range: Option<String>,
) -> Option<(Vec<u8>, aws_sdk_s3::operation::get_object::GetObjectOutput)> {
    let mut r = direct
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range)
        .send()
        .await
        .ok()?;
    let body = std::mem::take(&mut r.body);
    let b = body.collect().await.ok()?.into_bytes().to_vec();
    Some((b, r))
}

fn replace_metadata(h: &mut Vec<(String, String)>, meta: Option<&HashMap<String, String>>) {
    h.retain(|(k, _)| !k.to_ascii_lowercase().starts_with("x-amz-meta-"));
    if let Some(m) = meta {
        for (k, v) in m {
            h.push((format!("x-amz-meta-{k}"), v.clone()));
        }
    }
}

async fn respond(shared: &Shared, req: &Req) -> Option<Resp> {
    let (bucket, key) = req.bucket_key();
    let n = {
        let mut m = shared.stats.per_key.lock().unwrap();
        let e = m.entry((req.method.clone(), key.clone())).or_insert(0);
        *e += 1;
        *e
    };
    let case = shared.case.lock().unwrap().clone();
    let hit = |k: &str, nth: Nth| k == key && nth.is_none_or(|x| x == n);
    let get = req.method == "GET";
    let head = req.method == "HEAD";
    if let Case::Unavailable = case {
        shared.stats.rewritten.fetch_add(1, Ordering::SeqCst);
        return Some(unavailable());
    }
    if let Case::SlowDown { method, times } = &case
        && *method == req.method
        && !key.is_empty()
        && n <= *times
    {
        shared.stats.rewritten.fetch_add(1, Ordering::SeqCst);
        return Some(slow_down());
    }
    let mut r = forward(shared.upstream, req).await?;
    // Every arm below but the last two is a misbehaviour that fired.
    let mut fired = true;
    match case {
        Case::Honest | Case::Unavailable | Case::SlowDown { .. } => fired = false,
        Case::FlipBit { key: k, nth, at } if get && hit(&k, nth) && r.body.len() > at => {
            r.body[at] ^= 0x01;
        }
        Case::FlipTag { key: k }
            if get && hit(&k, None) && !r.body.is_empty() && ends_the_object(&r) =>
        {
            let last = r.body.len() - 1;
            r.body[last] ^= 0x01;
        }
        Case::RangeIgnored { key: k } if get && hit(&k, None) && r.status == 206 => {
            let (b, _) = fetch(&shared.direct, &bucket, &key, None).await?;
            r.status = 200;
            r.reason = "OK".into();
            remove_header(&mut r.headers, "content-range");
            set_header(&mut r.headers, "content-length", b.len().to_string());
            r.body = b;
        }
        Case::RangeShifted { key: k, by } if get && hit(&k, None) && r.status == 206 => {
            let (a, b) = req.range()?;
            let want = match b {
                Some(b) => format!("bytes={}-{}", a + by, b + by),
                None => format!("bytes={}-", a + by),
            };
            let (body, out) = fetch(&shared.direct, &bucket, &key, Some(want)).await?;
            set_header(
                &mut r.headers,
                "content-range",
                out.content_range().unwrap_or_default().to_owned(),
            );
            set_header(&mut r.headers, "content-length", body.len().to_string());
            r.body = body;
        }
        Case::Truncate { key: k, nth, keep } if get && hit(&k, nth) => {
            r.send = Send::CutAt(keep);
        }
        Case::Longer { key: k, nth, extra } if get && hit(&k, nth) => {
            r.body.extend(std::iter::repeat_n(0u8, extra));
            set_header(&mut r.headers, "content-length", r.body.len().to_string());
            if let Some(cr) = header(&r.headers, "content-range").map(str::to_owned) {
                // bytes a-b/total → bytes a-(b+extra)/(total+extra)
                if let Some((ab, total)) = cr.trim_start_matches("bytes ").split_once('/')
                    && let Some((a, b)) = ab.split_once('-')
                    && let (Ok(a), Ok(b), Ok(t)) =
                        (a.parse::<u64>(), b.parse::<u64>(), total.parse::<u64>())
                {
                    let e = extra as u64;
                    set_header(
                        &mut r.headers,
                        "content-range",
                        format!("bytes {a}-{}/{}", b + e, t + e),
                    );
                }
            }
        }
        Case::HeadLonger { key: k, extra } if head && hit(&k, None) => {
            let n: u64 = header(&r.headers, "content-length")?.parse().ok()?;
            set_header(&mut r.headers, "content-length", (n + extra).to_string());
        }
        Case::ExtraAfter { key: k, extra } if get && hit(&k, None) => {
            r.body.extend((0..extra).map(|i| (i * 7 + 1) as u8));
            r.send = Send::ThenClose;
        }
        Case::EndlessChunked { key: k, cap, stall } if get && hit(&k, None) => {
            remove_header(&mut r.headers, "content-length");
            set_header(&mut r.headers, "transfer-encoding", "chunked".into());
            r.status = 200;
            r.reason = "OK".into();
            r.body.clear();
            r.send = Send::Endless { cap, stall };
        }
        Case::ManyHeaders { key: k, count } if (get || head) && hit(&k, None) => {
            for i in 0..count {
                r.headers
                    .push((format!("x-amz-meta-h{i}"), format!("v{i}")));
            }
        }
        Case::BigHeader { key: k, size } if (get || head) && hit(&k, None) => {
            r.headers.push(("x-amz-meta-big".into(), "B".repeat(size)));
        }
        Case::HeadFrom { key: k, other } if head && hit(&k, None) => {
            let o = shared
                .direct
                .head_object()
                .bucket(&bucket)
                .key(&other)
                .send()
                .await
                .ok()?;
            replace_metadata(&mut r.headers, o.metadata());
            set_header(&mut r.headers, "etag", o.e_tag().unwrap_or_default().into());
            set_header(
                &mut r.headers,
                "content-length",
                o.content_length().unwrap_or(0).to_string(),
            );
        }
        Case::GetFrom { key: k, other, nth } if get && hit(&k, nth) => {
            let range = req.header("range").map(str::to_owned);
            let (body, o) = fetch(&shared.direct, &bucket, &other, range).await?;
            let mut h = r.headers.clone();
            replace_metadata(&mut h, o.metadata());
            set_header(&mut h, "etag", o.e_tag().unwrap_or_default().into());
            set_header(&mut h, "content-length", body.len().to_string());
            match o.content_range() {
                Some(cr) => set_header(&mut h, "content-range", cr.into()),
                None => remove_header(&mut h, "content-range"),
            }
            r = Resp {
                status: if o.content_range().is_some() {
                    206
                } else {
                    200
                },
                reason: "OK".into(),
                headers: h,
                body,
                send: Send::Normal,
            };
        }
        Case::SwapBody { key: k, body } if get && hit(&k, None) && r.status == 200 => {
            set_header(&mut r.headers, "content-length", body.len().to_string());
            r.body = body;
        }
        Case::Trickle {
            key: k,
            piece,
            delay,
            first,
        } if get && hit(&k, None) => {
            r.send = Send::Trickle {
                piece,
                delay,
                first,
            };
        }
        _ => fired = false,
    }
    if fired {
        shared.stats.rewritten.fetch_add(1, Ordering::SeqCst);
        // A lying store sends no checksum of what it lies about (the SDK's CRC check of
        // whole-object GETs is no defence: a liar could as well recompute it).
        r.headers
            .retain(|(k, _)| !k.to_ascii_lowercase().starts_with("x-amz-checksum-"));
    }
    Some(r)
}

async fn serve(mut c: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    loop {
        let Some(he) = read_head(&mut c, &mut buf).await else {
            return;
        };
        let Some((first, headers)) = parse_head(&buf[..he - 4]) else {
            return;
        };
        let mut parts = first.split(' ');
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let len: usize = header(&headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if header(&headers, "transfer-encoding").is_some() {
            // Uploads go to the upstream directly in these tests; a chunked request is not
            // supported here.
            return;
        }
        if read_body(&mut c, &mut buf, he, len).await.is_none() {
            return;
        }
        let raw: Vec<u8> = buf.drain(..he + len).collect();
        let req = Req {
            method,
            target,
            headers,
            raw,
        };
        shared.stats.requests.fetch_add(1, Ordering::SeqCst);
        let Some(resp) = respond(&shared, &req).await else {
            return;
        };
        if !write_resp(&mut c, &resp, &shared).await {
            return;
        }
    }
}

impl Hostile {
    /// Start the stand-in in front of `upstream`, misbehaving per `case`.
    pub async fn start(
        upstream: std::net::SocketAddr,
        direct: aws_sdk_s3::Client,
        case: Case,
    ) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(Stats::default());
        let shared = Arc::new(Shared {
            upstream,
            direct,
            case: Mutex::new(case),
            stats: stats.clone(),
            stop: AtomicBool::new(false),
        });
        let s2 = shared.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((c, _)) = listener.accept().await else {
                    continue;
                };
                conns.spawn(serve(c, s2.clone()));
            }
        });
        Hostile {
            endpoint,
            stats,
            shared,
            task,
        }
    }

    /// Change the case (counters keep counting).
    pub fn set_case(&self, case: Case) {
        *self.shared.case.lock().unwrap() = case;
    }

    /// Reset the per-key counters (so "the n-th GET" counts from the next request).
    pub fn reset_counts(&self) {
        self.stats.per_key.lock().unwrap().clear();
    }

    /// Stop accepting and end every connection.
    pub fn stop(self) {
        drop(self);
    }
}

/// Whether a GET response's body runs to the object's end (no Content-Range, or `bytes a-b/t`
/// with `b + 1 == t`).
fn ends_the_object(r: &Resp) -> bool {
    match header(&r.headers, "content-range") {
        None => true,
        Some(cr) => cr
            .trim_start_matches("bytes ")
            .split_once('/')
            .and_then(|(ab, t)| {
                Some((
                    ab.split_once('-')?.1.parse::<u64>().ok()?,
                    t.parse::<u64>().ok()?,
                ))
            })
            .is_some_and(|(b, t)| b + 1 == t),
    }
}
