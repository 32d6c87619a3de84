//! The JavaScript host of `host_calls`: options from the input, the bookkeeping of what the host
//! did (followed the protocol or not, changed the answers or not), and the rules every `Fail`
//! must obey.
//!
//! How an `internal` error is told apart from a typed one. The glue gives `errorClass`
//! `internal` to three things: the core's `ApiMisuse` (a call the machine's state does not
//! allow), the glue's own out-of-order check (`Error::Internal` with the message "the package
//! called the machine out of order", e.g. `materialsExternal` before `externalWrapRequest`), and
//! the core's other `Error::Internal`s (a broken invariant). The first two are the host's fault:
//! they are allowed once the host made a call the machine did not ask for (`deviated`), never
//! before. The third is a bug whatever the host did.
//!
//! Which failures make a machine failed. The core records the first error of a state-changing
//! call (`poll`, `response`, `body`, `end_of_body`, `dataKey`, `unwrapAes`, the PUT's `encrypt`,
//! `tag`, `partRead`, `uploadCreated`, the rotation's checks) and reports it from every later
//! `poll` (a PUT first asks for its cleanup). A failure raised by the glue before the core is
//! called (`InvalidArgument`: a value of the wrong shape; its out-of-order check) changes
//! nothing, so it does not count; nor does `ApiMisuse` (the core refuses some out-of-order calls
//! without recording them, e.g. `GetObject::unwrap_aes` before the envelope), nor a rotation's
//! `unwrapAes` (the glue unwraps with the envelope before it hands the machine a data key, so
//! a wrong key leaves the rotation waiting for another).

pub mod get;
pub mod others;
pub mod put;

use crate::machines::{Answer, Ask, Fixture, honest_to, mutate};
use fuzz_support::string;
use libfuzzer_sys::arbitrary::Unstructured;
use s3_encryption_glue::{Fail, Opts, R, Val};

/// The classes the glue documents.
const CLASSES: [&str; 7] = [
    "format",
    "policy",
    "authentication",
    "usage",
    "storage",
    "keyring",
    "internal",
];

/// The glue's out-of-order message (an `Error::Internal` the glue raises itself).
const OUT_OF_ORDER: &str = "the package called the machine out of order";

/// What the host did so far.
#[derive(Default)]
pub struct Host {
    /// The host made a call the machine did not ask for, or gave an argument of the wrong
    /// shape.
    pub deviated: bool,
    /// An answer (status, header, body) differed from the faithful one, or an in-order call had
    /// an argument the faithful host would not give (a wrong key).
    pub tampered: bool,
    /// The options were not the faithful ones.
    pub odd_options: bool,
    /// The code of the first failure of a state-changing call.
    pub failed: Option<&'static str>,
    /// Calls made (bounded per input).
    pub calls: u32,
}

/// `HOST_CALLS_TRACE=1`: print every call (to read a reproducer).
fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("HOST_CALLS_TRACE").is_some())
}

/// Whether a failure was raised by the glue without calling the core.
fn glue_side(f: &Fail) -> bool {
    f.code == "InvalidArgument" || (f.code == "Internal" && f.message.contains(OUT_OF_ORDER))
}

impl Host {
    /// Everything with no deviation, no tampering and the faithful options.
    pub fn faithful(&self) -> bool {
        !self.deviated && !self.tampered && !self.odd_options
    }

    /// The rules every failure obeys.
    pub fn check(&self, f: &Fail, what: &str) {
        assert!(
            CLASSES.contains(&f.class),
            "{what}: unknown class {}: {f:?}",
            f.class
        );
        assert!(!f.code.is_empty(), "{what}: no code: {f:?}");
        assert!(
            !(f.code == "Internal" && !f.message.contains(OUT_OF_ORDER)),
            "{what}: a broken invariant: {f:?}"
        );
        if f.class == "internal" {
            assert!(
                self.deviated,
                "{what}: an internal error for a host that followed the protocol: {f:?}"
            );
            assert!(
                matches!(f.code, "ApiMisuse" | "Internal"),
                "{what}: class internal with code {}",
                f.code
            );
        }
        assert_eq!(
            f.status.is_some(),
            f.code == "RequestFailed",
            "{what}: status without RequestFailed: {f:?}"
        );
    }

    /// A call's result: checked; a failure of a state-changing call (`sticky`) that reached the
    /// core marks the machine failed.
    pub fn call<T>(&mut self, what: &str, sticky: bool, r: R<T>) -> Option<T> {
        self.calls += 1;
        if trace() {
            let e = r.as_ref().err().map(|f| f.code);
            eprintln!("{what} deviated={} -> {e:?}", self.deviated);
        }
        match r {
            Ok(v) => Some(v),
            Err(f) => {
                self.check(&f, what);
                if sticky && !glue_side(&f) && f.code != "ApiMisuse" && self.failed.is_none() {
                    self.failed = Some(f.code);
                }
                None
            }
        }
    }

    /// After `poll`: a failed machine does not succeed (`strict`: GET, Describe, Delete,
    /// rotation) or does not finish (PUT: it may first ask for its cleanup).
    pub fn after_poll(&self, what: &str, ok: bool, done: bool, strict: bool) {
        if let Some(code) = self.failed {
            assert!(!done, "{what}: a machine that failed ({code}) finished");
            if strict {
                assert!(!ok, "{what}: a machine that failed ({code}) polled Ok");
            }
        }
    }

    /// Too many calls for one input (a loop the input keeps going).
    pub fn exhausted(&self) -> bool {
        self.calls > 20_000
    }
}

// ------------------------------------------------------------------ values

/// `v[k]`.
pub fn field(v: &Val, k: &str) -> Val {
    v.get(k).unwrap_or(Val::Null)
}

/// `v[k]` as a string.
pub fn text(v: &Val, k: &str) -> Option<String> {
    match field(v, k) {
        Val::Str(s) => Some(s),
        _ => None,
    }
}

/// `v[k]` as a number.
pub fn num(v: &Val, k: &str) -> Option<f64> {
    match field(v, k) {
        Val::Num(n) => Some(n),
        _ => None,
    }
}

/// `v[k]` as a boolean.
pub fn flag(v: &Val, k: &str) -> bool {
    matches!(field(v, k), Val::Bool(true))
}

/// `v.kind`.
pub fn kind(v: &Val) -> String {
    text(v, "kind").unwrap_or_default()
}

/// `v[k]` as bytes.
pub fn bytes(v: &Val, k: &str) -> Vec<u8> {
    match field(v, k) {
        Val::Bytes(b) => b.to_vec(),
        _ => Vec::new(),
    }
}

/// A `{k: v}` object of strings as flat pairs.
pub fn flat_pairs(v: &Val) -> Vec<String> {
    match v {
        Val::Obj(p) => p
            .iter()
            .flat_map(|(k, v)| match v {
                Val::Str(s) => vec![k.clone(), s.clone()],
                _ => vec![k.clone(), String::new()],
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `key: value` pairs as the flat array the glue takes.
pub fn flatten<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    pairs
        .flat_map(|(k, v)| [k.to_owned(), v.to_owned()])
        .collect()
}

/// Whether a JavaScript number counts bytes (a non-negative safe integer).
pub fn is_count(f: f64) -> bool {
    f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_991.0
}

/// One time in `n` (never when the input is used up: `Unstructured::ratio` then says yes).
pub fn one_in(u: &mut Unstructured<'_>, n: u8) -> bool {
    u.int_in_range(1..=n).unwrap_or(1) == n
}

/// A request id: a small one (likely a real one) or any.
pub fn any_id(u: &mut Unstructured<'_>) -> u32 {
    if u.arbitrary().unwrap_or(true) {
        u.int_in_range(0u32..=8).unwrap_or(0)
    } else {
        u.arbitrary().unwrap_or(0)
    }
}

/// Any bytes (at most `max`).
pub fn any_bytes(u: &mut Unstructured<'_>, max: usize) -> Vec<u8> {
    let n = u.int_in_range(0usize..=max).unwrap_or(0);
    u.bytes(n.min(u.len())).unwrap_or_default().to_vec()
}

/// Any flat string array (maybe of odd length).
pub fn any_flat(u: &mut Unstructured<'_>) -> Vec<String> {
    let n = u.int_in_range(0usize..=5).unwrap_or(0);
    (0..n).map(|_| string(u, 24).unwrap_or_default()).collect()
}

/// Any status: a usual one or any.
pub fn any_status(u: &mut Unstructured<'_>) -> u16 {
    const S: [u16; 8] = [200, 204, 206, 304, 403, 404, 412, 500];
    if u.arbitrary().unwrap_or(true) {
        S[u.choose_index(S.len()).unwrap_or(0)]
    } else {
        u.arbitrary().unwrap_or(0)
    }
}

// ------------------------------------------------------------------ options

/// The option names the glue reads, for the machines of this target.
const NAMES: [&str; 30] = [
    "bucket",
    "key",
    "versionId",
    "mode",
    "range",
    "commitmentPolicy",
    "enableLegacyWrappingAlgorithms",
    "enableLegacyUnauthenticatedModes",
    "enableDelayedAuthenticationMode",
    "instructionFileSuffix",
    "encryptionContext",
    "acceptStoredEncryptionContext",
    "memoryBudget",
    "storage",
    "connections",
    "partSize",
    "headFirst",
    "readInstructionFile",
    "plaintextLength",
    "suite",
    "placement",
    "multipartThreshold",
    "partsInFlight",
    "contentType",
    "metadata",
    "sourceSuffix",
    "newSuffix",
    "enforceRotation",
    "unknownOption",
    "__proto__",
];

/// Values the glue parses, by name.
const STRINGS: [&str; 16] = [
    "verified",
    "delayedAuthentication",
    "range",
    "bytes=0-99",
    "bytes=-17",
    "bytes=900-",
    "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
    "FORBID_ENCRYPT_ALLOW_DECRYPT",
    "REQUIRE_ENCRYPT_REQUIRE_DECRYPT",
    "V2",
    "V3",
    "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
    "instructionFile",
    "metadata",
    ".instruction",
    "",
];

/// A value for an option: well-typed and plausible, or anything.
fn any_value(u: &mut Unstructured<'_>, depth: u32) -> Val {
    match u.int_in_range(0u8..=11).unwrap_or(0) {
        0 => Val::Null,
        1 => Val::Bool(u.arbitrary().unwrap_or(false)),
        2 => Val::Num(u.int_in_range(0u32..=3000).unwrap_or(0).into()),
        3 => Val::Num(
            [
                -1.0,
                0.5,
                f64::NAN,
                f64::INFINITY,
                9_007_199_254_740_991.0,
                9_007_199_254_740_992.0,
                65536.0,
                5242880.0,
                1e300,
            ][u.choose_index(9).unwrap_or(0)],
        ),
        4 => Val::Num(f64::from_bits(u.arbitrary().unwrap_or(0))),
        5 => Val::Str(STRINGS[u.choose_index(STRINGS.len()).unwrap_or(0)].into()),
        6 => Val::Str(string(u, 40).unwrap_or_default()),
        7 => Val::bytes(&any_bytes(u, 40)),
        8 if depth < 3 => {
            let n = u.int_in_range(0usize..=6).unwrap_or(0);
            Val::List((0..n).map(|_| any_value(u, depth + 1)).collect())
        }
        9 => Val::List(any_flat(u).into_iter().map(Val::Str).collect()),
        10 if depth < 3 => any_object(u, depth + 1),
        _ => Val::Other,
    }
}

fn any_object(u: &mut Unstructured<'_>, depth: u32) -> Val {
    let n = u.int_in_range(0usize..=6).unwrap_or(0);
    let mut props = Vec::new();
    for _ in 0..n {
        let k = if !one_in(u, 4) {
            NAMES[u.choose_index(NAMES.len()).unwrap_or(0)].to_owned()
        } else {
            string(u, 20).unwrap_or_default()
        };
        props.push((k, any_value(u, depth)));
    }
    Val::Obj(props)
}

/// The options of a run: the faithful ones, the faithful ones with some properties set to any
/// value (first occurrence wins, so a change is put first), a JSON text, or any value. Marks
/// `host.odd_options` unless faithful.
pub fn options(u: &mut Unstructured<'_>, host: &mut Host, faithful: Val) -> Val {
    match u.int_in_range(0u8..=7).unwrap_or(0) {
        0..=3 => faithful,
        4 | 5 => {
            host.odd_options = true;
            let Val::Obj(mut props) = any_object(u, 1) else {
                unreachable!()
            };
            if let Val::Obj(f) = faithful {
                props.extend(f);
            }
            Val::Obj(props)
        }
        6 => {
            host.odd_options = true;
            let n = u.int_in_range(0usize..=600).unwrap_or(0);
            let raw = u.bytes(n.min(u.len())).unwrap_or_default();
            let json = String::from_utf8_lossy(raw);
            let v: Result<Val, _> = serde_json::from_str(&json);
            let s = serde_json::from_str::<serde_json::Value>(&json);
            // `Val` reads exactly the JSON texts serde_json reads, as the same values.
            assert_eq!(
                v.is_ok(),
                s.is_ok(),
                "Val and serde_json disagree on {json:?}"
            );
            match (v, s) {
                (Ok(v), Ok(s)) => {
                    check_json(&v, &s);
                    v
                }
                _ => Val::Null,
            }
        }
        _ => {
            host.odd_options = true;
            any_value(u, 0)
        }
    }
}

/// `Val` read from JSON is the value `serde_json` reads (object properties in their order).
fn check_json(v: &Val, s: &serde_json::Value) {
    use serde_json::Value as J;
    match (v, s) {
        (Val::Null, J::Null) => {}
        (Val::Bool(a), J::Bool(b)) => assert_eq!(a, b),
        (Val::Num(a), J::Number(b)) => {
            let want = b.as_f64().expect("a JSON number");
            assert!(a == &want || (a.is_nan() && want.is_nan()), "{a} != {b}");
        }
        (Val::Str(a), J::String(b)) => assert_eq!(a, b),
        (Val::List(a), J::Array(b)) => {
            assert_eq!(a.len(), b.len());
            a.iter().zip(b).for_each(|(x, y)| check_json(x, y));
        }
        (Val::Obj(a), J::Object(b)) => {
            // serde_json keeps the last of duplicate keys; Val keeps all of them in order.
            for (k, y) in b {
                let x = a.iter().rev().find(|(ak, _)| ak == k).expect("a JSON key");
                check_json(&x.1, y);
            }
            assert!(a.iter().all(|(k, _)| b.contains_key(k)));
        }
        _ => panic!("Val {v:?} is not the JSON {s:?}"),
    }
}

// ------------------------------------------------------------------ the store

/// The faithful answer to the HEAD or GET `req` (a request as the glue shapes it), maybe
/// changed by the input (`host.tampered` then).
pub fn answer(u: &mut Unstructured<'_>, host: &mut Host, req: &Val, f: &Fixture) -> Answer {
    let range = match field(req, "range") {
        Val::List(l) => match l.as_slice() {
            [Val::Num(a), Val::Num(b)] => Some((*a as u64, *b as u64)),
            _ => None,
        },
        _ => None,
    };
    let suffix = text(req, "keySuffix").unwrap_or_default();
    let if_match = text(req, "ifMatch");
    let version = text(req, "versionId");
    let ask = Ask {
        key_suffix: &suffix,
        if_match: if_match.as_deref(),
        version_id: version.as_deref(),
        range,
        get: text(req, "operation").as_deref() == Some("GetObject"),
    };
    let a0 = honest_to(&ask, f);
    let mut a = a0.clone();
    mutate(u, &mut a);
    if a.status != a0.status || a.headers != a0.headers || a.body != a0.body || a.endless {
        host.tampered = true;
    }
    a
}

/// The headers of an answer as the flat array the glue takes.
pub fn headers(a: &Answer) -> Vec<String> {
    flatten(a.pairs())
}

/// Cut a body into pieces for `body` (endless ones: 64 KiB of `A`).
pub fn pieces(u: &mut Unstructured<'_>, a: &Answer) -> Vec<Vec<u8>> {
    let piece = [4096usize, 1, 13, 1000][u.choose_index(4).unwrap_or(0)];
    if a.endless {
        let junk = vec![b'A'; piece.max(1000)];
        std::iter::repeat_n(junk, (64 << 10) / piece.max(1000) + 1).collect()
    } else {
        a.body.chunks(piece).map(<[u8]>::to_vec).collect()
    }
}
