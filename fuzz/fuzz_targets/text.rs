//! The text layers reached through the public API: JSON (materials description, encryption
//! context, instruction file), base64 and RFC 2047 encoded words.
//!
//! Input: the first byte picks a mode, the rest is its data. Properties, besides "never panics":
//! * an encryption context is accepted exactly when `serde_json` reads it as an object of strings
//!   without a repeated key, and the pairs we decode are the pairs `serde_json` decodes; feeding
//!   them back as the caller's context matches, and changing any of them does not;
//! * an accepted base64 value is canonical: re-encoding what it decoded gives it back;
//! * an RFC 2047 encoded word of a JSON text decodes to that text (after undoing S3's double
//!   encoding, which the reference below states independently).
#![no_main]

use base64ct::{Base64, Base64Unpadded, Encoding};
use libfuzzer_sys::fuzz_target;
use s3_encryption::{ByteRange, Envelope, Error, KeyRequest};
use serde::de::{Deserializer as _, MapAccess, Visitor};
use std::fmt;

/// A V2 `kms` envelope (legacy wrap: the materials description is the whole context).
fn kms_meta(matdesc: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-amz-key-v2", "AQIDBAUGBwgJCgsMDQ4PEA==".to_owned()),
        ("x-amz-iv", "AAECAwQFBgcICQoL".to_owned()),
        ("x-amz-cek-alg", "AES/GCM/NoPadding".to_owned()),
        ("x-amz-wrap-alg", "kms".to_owned()),
        ("x-amz-matdesc", matdesc.to_owned()),
    ]
}

/// A V2 `AES/GCM` envelope with a given materials description value.
fn aes_meta(key: &'static str, value: &str) -> Vec<(&'static str, String)> {
    let mut m = vec![
        ("x-amz-key-v2", "AQIDBAUGBwgJCgsMDQ4PEA==".to_owned()),
        ("x-amz-iv", "AAECAwQFBgcICQoL".to_owned()),
        ("x-amz-cek-alg", "AES/GCM/NoPadding".to_owned()),
        ("x-amz-wrap-alg", "AES/GCM".to_owned()),
        ("x-amz-matdesc", "{}".to_owned()),
    ];
    m.retain(|(k, _)| *k != key);
    m.push((key, value.to_owned()));
    m
}

fn parse(meta: &[(&'static str, String)], ins: Option<&[u8]>) -> Result<Envelope, Error> {
    Envelope::parse_unchecked(meta.iter().map(|(k, v)| (*k, v.as_str())), ins)
}

/// `serde_json`'s reading of a flat string map: `None` unless it is an object whose values are
/// all strings and whose keys are all distinct.
fn reference_map(text: &str) -> Option<Vec<(String, String)>> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Vec<(String, String)>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<(String, String)> = Vec::new();
            let mut ok = true;
            while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                match v {
                    serde_json::Value::String(s) if !out.iter().any(|(k2, _)| *k2 == k) => {
                        out.push((k, s))
                    }
                    _ => ok = false,
                }
            }
            Ok(ok.then_some(out))
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let r = de.deserialize_map(V).ok()?;
    de.end().ok()?;
    r
}

fn context_mode(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let ours = parse(&kms_meta(&text), None);
    if text2047(text.trim()) {
        // An encoded word: decoded first (the rfc2047 modes cover it).
        return;
    }
    let reference = if text.trim().is_empty() {
        // An empty value is treated as absent, which reads as `{}`.
        Some(vec![])
    } else {
        reference_map(&text)
    };
    let env = match (ours, &reference) {
        (Ok(env), Some(_)) => env,
        (Err(Error::InvalidMetadata("x-amz-matdesc")), None) => return,
        (Err(Error::TooLarge), _) => return,
        (ours, reference) => panic!("disagree: ours {:?}, serde_json {reference:?}", ours.err()),
    };
    let reference = reference.as_ref().expect("checked");
    let req = match env.key_request(&[]) {
        Ok(KeyRequest::Kms(r)) => r,
        other => panic!("kms envelope gave {other:?}"),
    };
    let mut pairs = vec![];
    let decoded = req.for_each_context_pair(|k, v| pairs.push((k.to_owned(), v.to_owned())));
    if decoded == Err(Error::TooLarge) {
        // A key or value over the 2 KiB decode buffer.
        assert!(
            reference
                .iter()
                .any(|(k, v)| k.len() > 2048 || v.len() > 2048)
        );
        return;
    }
    assert_eq!(decoded, Ok(()));
    assert_eq!(&pairs, reference, "decoded pairs differ from serde_json's");
    // The caller's context is the stored one minus the reserved keys.
    let caller: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| k != "aws:x-amz-cek-alg" && k != "kms_cmk_id")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(
        env.key_request(&caller).is_ok(),
        "own context does not match"
    );
    // Any change is a mismatch: a changed value, a missing pair, an extra pair.
    if let Some((k, v)) = caller.first() {
        let changed = format!("{v}\u{1}");
        let mut c2 = caller.clone();
        c2[0] = (k, &changed);
        assert_eq!(
            env.key_request(&c2).err(),
            Some(Error::EncryptionContextMismatch)
        );
        // (For the legacy `kms` wrap an empty caller context means "not checked".)
        if caller.len() > 1 {
            assert_eq!(
                env.key_request(&caller[1..]).err(),
                Some(Error::EncryptionContextMismatch)
            );
        }
    }
    let mut extra = caller.clone();
    let fresh = format!("\u{2}extra-{}", caller.len());
    extra.push((&fresh, "x"));
    assert_eq!(
        env.key_request(&extra).err(),
        Some(Error::EncryptionContextMismatch)
    );
}

fn instruction_mode(data: &[u8], v3: bool) {
    let meta: Vec<(&'static str, String)> = if v3 {
        vec![
            ("x-amz-c", "115".to_owned()),
            (
                "x-amz-d",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==".to_owned(),
            ),
            (
                "x-amz-i",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==".to_owned(),
            ),
        ]
    } else {
        vec![("x-amz-unencrypted-content-length", "17".to_owned())]
    };
    if let Ok(env) = parse(&meta, Some(data)) {
        // Whatever an instruction file held, its JSON was well formed.
        assert!(
            serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.is_object())
                || !strict_json(),
            "accepted an instruction file serde_json rejects"
        );
        let _ = env.key_request(&[]);
        let _ = format!("{env:?}");
    }
}

/// Whether to hold the instruction-file parser to `serde_json`'s grammar. Off: the parser accepts
/// some malformed numbers in values it ignores (reported; see fuzz/README.md).
fn strict_json() -> bool {
    std::env::var_os("S3EC_FUZZ_STRICT_JSON").is_some()
}

fn base64_mode(data: &[u8], which: u8) {
    let text = String::from_utf8_lossy(data);
    let (key, v3) = match which % 4 {
        0 => ("x-amz-key-v2", false),
        1 => ("x-amz-iv", false),
        2 => ("x-amz-d", true),
        _ => ("x-amz-i", true),
    };
    let env = if v3 {
        let good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";
        let mut m = vec![
            ("x-amz-c", "115".to_owned()),
            ("x-amz-3", "AQIDBAUGBwgJCgsMDQ4PEA==".to_owned()),
            ("x-amz-w", "02".to_owned()),
            ("x-amz-d", good.to_owned()),
            ("x-amz-i", good.to_owned()),
        ];
        m.retain(|(k, _)| *k != key);
        m.push((key, text.to_string()));
        parse(&m, None)
    } else {
        parse(&aes_meta(key, &text), None)
    };
    let Ok(env) = env else { return };
    let decoded: Vec<u8> = match key {
        "x-amz-key-v2" => env.encrypted_data_key().to_vec(),
        "x-amz-iv" => env.iv().expect("v2").to_vec(),
        "x-amz-d" => env.key_commitment().expect("v3").to_vec(),
        _ => env.message_id().expect("v3").to_vec(),
    };
    let t = text.trim();
    if t.is_empty() || text2047(t) {
        return;
    }
    let padded = Base64::encode_string(&decoded);
    let unpadded = Base64Unpadded::encode_string(&decoded);
    assert!(
        t == padded || t == unpadded,
        "accepted non-canonical base64 {t:?} for {decoded:?}"
    );
}

fn text2047(t: &str) -> bool {
    t.starts_with("=?") && t.ends_with("?=")
}

/// What an encoded word's text becomes (the AWS S3EC specification, `metadata-strategy.md`):
/// the decoded characters; if all are ≤ U+00FF and their byte values form UTF-8, that UTF-8
/// instead (S3's double encoding undone).
fn reference_2047(s: &str) -> String {
    if s.chars().all(|c| (c as u32) <= 0xff) {
        let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
        if let Ok(t) = String::from_utf8(bytes) {
            return t;
        }
    }
    s.to_owned()
}

fn rfc2047_exact(data: &[u8]) {
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    let inner = String::from_utf8_lossy(rest);
    let json = serde_json::json!({ "k": inner.as_ref() }).to_string();
    let latin1 = how & 1 == 1 && json.chars().all(|c| (c as u32) <= 0xff);
    let raw: Vec<u8> = if latin1 {
        json.chars().map(|c| c as u32 as u8).collect()
    } else {
        json.as_bytes().to_vec()
    };
    let charset = if latin1 { "ISO-8859-1" } else { "UTF-8" };
    // Split the raw bytes into 1..=4 words (splits may fall inside a UTF-8 sequence).
    let words = 1 + (how >> 1) as usize % 4;
    let step = raw.len().div_ceil(words).max(1);
    let mut value = String::new();
    for (i, part) in raw.chunks(step).enumerate() {
        if i > 0 {
            value.push(' ');
        }
        if how & 0x20 == 0 {
            value.push_str(&format!("=?{charset}?B?{}?=", Base64::encode_string(part)));
        } else {
            let q: String = part
                .iter()
                .map(|&b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
                    b' ' => "_".to_owned(),
                    _ => format!("={b:02X}"),
                })
                .collect();
            value.push_str(&format!("=?{charset}?Q?{q}?="));
        }
    }
    // Latin-1 bytes are read as characters, so both charsets carry the characters of `json`.
    let expected = reference_2047(&json);
    match parse(&aes_meta("x-amz-matdesc", &value), None) {
        Ok(env) => assert_eq!(env.materials_description(), Some(expected.as_str())),
        // Decoded text is staged in a 2 KiB buffer.
        Err(Error::TooLarge) => assert!(raw.len() > 2048, "refused as too large: {value:?}"),
        Err(e) => panic!("unexpected {e:?} for {value:?}"),
    }
}

fn rfc2047_raw(data: &[u8], which: u8) {
    let text = String::from_utf8_lossy(data);
    let value = format!("=?{text}?=");
    let key = match which % 3 {
        0 => "x-amz-matdesc",
        1 => "x-amz-key-v2",
        _ => "x-amz-iv",
    };
    let _ = parse(&aes_meta(key, &value), None);
    let _ = parse(&aes_meta(key, &text), None);
}

fn range_mode(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = ByteRange::parse(&text) {
        let t = text.trim().strip_prefix("bytes=").expect("prefix");
        let (a, b) = t.split_once('-').expect("dash");
        let num = |s: &str| s.trim().parse::<u64>().ok();
        match r {
            ByteRange::Inclusive(x, y) => {
                assert!(x <= y);
                assert_eq!((num(a), num(b)), (Some(x), Some(y)));
            }
            ByteRange::From(x) => assert_eq!((num(a), b.trim()), (Some(x), "")),
            ByteRange::Suffix(n) => assert_eq!((a.trim(), num(b)), ("", Some(n))),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 8 {
        0 => context_mode(rest),
        1 => instruction_mode(rest, false),
        2 => instruction_mode(rest, true),
        3 => base64_mode(rest, mode / 8),
        4 => rfc2047_exact(rest),
        5 => rfc2047_raw(rest, mode / 8),
        6 => range_mode(rest),
        _ => {
            // Encryption-side rendering of arbitrary materials-description pairs parses back.
            let text = String::from_utf8_lossy(rest);
            let pairs: Vec<(&str, &str)> =
                text.split('\n').filter_map(|l| l.split_once('=')).collect();
            let Ok(m) = s3_encryption::EncryptionMaterials::aes_gcm_deterministic(
                &s3_encryption::EncryptConfig::v2(s3_encryption::Placement::ObjectMetadata),
                &fuzz_support::master(),
                s3_encryption::DataKey::new_256([1; 32]),
                &[2; 12],
                &pairs,
            ) else {
                return;
            };
            let md = m
                .envelope()
                .materials_description()
                .expect("aes")
                .to_owned();
            let back = reference_map(&md).expect("rendered matdesc is a JSON string map");
            let want: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(back, want);
        }
    }
});
