//! The scripted store of `machine_responses`: real objects, faithful answers, and the changes
//! the fuzz input makes to them.

pub mod get;
pub mod others;
pub mod put;

use fuzz_support::*;
use libfuzzer_sys::arbitrary::Unstructured;
use s3_encryption::object::{Operation, Request};
use s3_encryption::{EncryptConfig, Error, Placement};
use std::sync::OnceLock;

/// The ETag and version id of every stored object.
pub const ETAG: &str = "\"0123456789abcdef0123456789abcdef\"";
pub const IFILE_ETAG: &str = "\"fedcba9876543210fedcba9876543210\"";
pub const VERSION: &str = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY";

/// A real object: what the store holds.
pub type Fixture = Written;

/// V3 in metadata (1000 bytes), V3 with an instruction file (300), V2 in metadata (77), V3 empty.
pub fn fixtures() -> &'static [Fixture] {
    static F: OnceLock<Vec<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        vec![
            write_aes(
                &EncryptConfig::v3(Placement::ObjectMetadata),
                &plaintext(1000),
                true,
            ),
            write_aes(
                &EncryptConfig::v3(Placement::InstructionFile),
                &plaintext(300),
                false,
            ),
            write_aes(
                &EncryptConfig::v2(Placement::ObjectMetadata),
                &plaintext(77),
                true,
            ),
            write_aes(
                &EncryptConfig::v3(Placement::ObjectMetadata),
                &plaintext(0),
                true,
            ),
        ]
    })
}

/// One answer of the store.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body never ends (its bytes are `A`).
    pub endless: bool,
}

impl Answer {
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    fn set(&mut self, name: &str, value: String) {
        match self
            .headers
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            Some(h) => h.1 = value,
            None => self.headers.push((name.to_owned(), value)),
        }
    }
}

/// What the store's answer depends on: the fields of a HEAD or GET request (the core's
/// `Request`, or the plain object the JavaScript glue makes of it in `host_calls`).
pub struct Ask<'r> {
    pub key_suffix: &'r str,
    pub if_match: Option<&'r str>,
    pub version_id: Option<&'r str>,
    pub range: Option<(u64, u64)>,
    /// A GET (the answer has a body), not a HEAD.
    pub get: bool,
}

/// The faithful answer to a HEAD or GET of the object or its instruction file.
pub fn honest(r: &Request<'_>, f: &Fixture) -> Answer {
    honest_to(
        &Ask {
            key_suffix: r.key_suffix,
            if_match: r.if_match,
            version_id: r.version_id,
            range: r.range,
            get: r.operation == Operation::GetObject,
        },
        f,
    )
}

/// The faithful answer to `r`.
pub fn honest_to(r: &Ask<'_>, f: &Fixture) -> Answer {
    let mut a = Answer {
        status: 200,
        ..Answer::default()
    };
    let (etag, bytes): (&str, &[u8]) = if r.key_suffix.is_empty() {
        (ETAG, &f.body)
    } else {
        match &f.instruction {
            Some(i) => (IFILE_ETAG, i),
            None => {
                a.status = 404;
                return a;
            }
        }
    };
    if let Some(m) = r.if_match
        && m.trim().trim_matches('"') != etag.trim_matches('"')
    {
        a.status = 412;
        return a;
    }
    if r.version_id.is_some_and(|v| v != VERSION) {
        a.status = 404;
        return a;
    }
    a.headers.push(("ETag".into(), etag.into()));
    a.headers.push(("x-amz-version-id".into(), VERSION.into()));
    if r.key_suffix.is_empty() {
        for (k, v) in &f.meta {
            a.headers.push((format!("x-amz-meta-{k}"), v.clone()));
        }
    }
    let total = bytes.len() as u64;
    let mut body = bytes;
    if let Some((first, last)) = r.range {
        if first >= total {
            a.status = 416;
            a.headers.clear();
            return a;
        }
        let last = last.min(total - 1);
        a.status = 206;
        a.headers.push((
            "Content-Range".into(),
            format!("bytes {first}-{last}/{total}"),
        ));
        body = &bytes[first as usize..=last as usize];
    }
    a.headers
        .push(("Content-Length".into(), body.len().to_string()));
    if r.get {
        a.body = body.to_vec();
    }
    a
}

const STATUSES: [u16; 12] = [200, 204, 206, 301, 304, 400, 403, 404, 412, 416, 500, 503];
const NAMES: [&str; 9] = [
    "ETag",
    "Content-Length",
    "Content-Range",
    "x-amz-version-id",
    "x-amz-meta-x-amz-c",
    "x-amz-meta-x-amz-3",
    "x-amz-meta-x-amz-key-v2",
    "x-amz-meta-x-amz-iv",
    "x-amz-meta-x-amz-unencrypted-content-length",
];

/// A number near `n` or anywhere.
fn number(u: &mut Unstructured<'_>, n: u64) -> u64 {
    match u.int_in_range(0u8..=7).unwrap_or(0) {
        0 => n.wrapping_add(1),
        1 => n.wrapping_sub(1),
        2 => n + 16,
        3 => 20 << 20,
        4 => u64::MAX,
        5 => 0,
        6 => u.int_in_range(0u64..=(n + 64)).unwrap_or(0),
        _ => u.arbitrary().unwrap_or(0),
    }
}

/// Change a faithful answer as the input says (nothing once the input is used up).
pub fn mutate(u: &mut Unstructured<'_>, a: &mut Answer) {
    let n = u.int_in_range(0u8..=3).unwrap_or(0);
    let len = a.body.len() as u64;
    for _ in 0..n {
        match u.int_in_range(0u8..=15).unwrap_or(0) {
            0 => {
                a.status = if u.arbitrary().unwrap_or(true) {
                    STATUSES[u.choose_index(STATUSES.len()).unwrap_or(0)]
                } else {
                    u.arbitrary().unwrap_or(0)
                }
            }
            1 if !a.headers.is_empty() => {
                let i = u.choose_index(a.headers.len()).unwrap_or(0);
                a.headers.remove(i);
            }
            2 => {
                let name = NAMES[u.choose_index(NAMES.len()).unwrap_or(0)];
                let v = string(u, 64).unwrap_or_default();
                a.set(name, v);
            }
            3 => {
                let v = number(u, len);
                a.set("Content-Length", v.to_string());
            }
            4 => {
                let (x, y, t) = (number(u, 0), number(u, len), number(u, len));
                let total = if u.arbitrary().unwrap_or(false) {
                    "*".to_owned()
                } else {
                    t.to_string()
                };
                a.set("Content-Range", format!("bytes {x}-{y}/{total}"));
            }
            5 if !a.headers.is_empty() => {
                // The same header twice (maybe with another value).
                let i = u.choose_index(a.headers.len()).unwrap_or(0);
                let mut h = a.headers[i].clone();
                if u.arbitrary().unwrap_or(false) {
                    h.1 = string(u, 32).unwrap_or_default();
                }
                a.headers.push(h);
            }
            6 => {
                let k = string(u, 40).unwrap_or_default();
                let v = string(u, 64).unwrap_or_default();
                let k = if u.arbitrary().unwrap_or(false) {
                    format!("x-amz-meta-{k}")
                } else {
                    k
                };
                a.headers.push((k, v));
            }
            7 => {
                // An oversized header.
                let name = NAMES[u.choose_index(NAMES.len()).unwrap_or(0)];
                a.set(
                    name,
                    "9".repeat(u.int_in_range(200usize..=20_000).unwrap_or(300)),
                );
            }
            8 => {
                for i in 0..u.int_in_range(16usize..=600).unwrap_or(16) {
                    a.headers.push((format!("x-amz-meta-junk{i}"), "x".into()));
                }
            }
            9 => {
                let at = u.int_in_range(0..=a.body.len()).unwrap_or(0);
                a.body.truncate(at);
            }
            10 => {
                let n = u.int_in_range(0usize..=64).unwrap_or(1);
                let extra = u.bytes(n.min(u.len())).unwrap_or_default().to_vec();
                a.body.extend_from_slice(&extra);
                if extra.is_empty() {
                    a.body.push(0);
                }
            }
            11 if !a.body.is_empty() => {
                let at = u.choose_index(a.body.len()).unwrap_or(0);
                let bit = u.int_in_range(0u8..=7).unwrap_or(0);
                a.body[at] ^= 1 << bit;
            }
            12 => {
                let n = u.int_in_range(0usize..=4096).unwrap_or(0);
                a.body = u.bytes(n.min(u.len())).unwrap_or_default().to_vec();
            }
            13 => a.endless = true,
            14 if !a.body.is_empty() => {
                // Splice input bytes into the body (instruction files: rewritten JSON).
                let at = u.choose_index(a.body.len()).unwrap_or(0);
                let n = u.int_in_range(0usize..=32).unwrap_or(0);
                let b = u.bytes(n.min(u.len())).unwrap_or_default().to_vec();
                let end = (at + b.len()).min(a.body.len());
                a.body.splice(at..end, b);
            }
            _ => {}
        }
    }
}

/// No machine may report a broken invariant, nor call a correct driver's use a misuse.
pub fn check_error(e: &Error, what: &str) {
    assert!(
        !matches!(e, Error::Internal(_) | Error::ApiMisuse(_)),
        "{what}: {e:?}"
    );
}

/// Bytes of a body the drivers feed at most per input (endless bodies stop here).
pub const FEED_BUDGET: u64 = 3 << 20;
