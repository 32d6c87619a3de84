//! The requests of AWS's cross-SDK S3EC harness as `s3ec test-server` reads them from the network
//! (`test-server/requests`, crate `s3ec-harness-requests`): the `CreateClient` JSON (`S3ECConfig`), the
//! `ReEncrypt` JSON (`KeyMaterial`), the `Content-Metadata` list header, the percent-encoded path
//! segments, and `EnforceRotation` / `InstructionFileSuffix`.
//!
//! Input: the first byte picks a mode, the rest is its data (raw bytes, or choices for a
//! structured document). Properties, besides "never panics":
//! * an accepted `S3ECConfig` is one the S3EC can build: its algorithm is allowed by its policy
//!   and placement (`EncryptConfig::from_settings`), no buffer size with delayed authentication,
//!   an instruction-file placement only when the document asks for it, and its key is what the
//!   document holds (the AES bytes are the base64 member decoded; one key member present; the
//!   materials description is the document's object);
//! * Smithy's JSON rules: a member set to `null` reads as the member absent, and a member the model
//!   does not name changes nothing (same answer, same error message);
//! * a `KeyMaterial` the S3EC refuses (rather than a malformed one) names a key whose base64 decodes;
//! * `Content-Metadata`: pairs rendered as the model's items and parsed back are the same pairs,
//!   unquoted (for keys and values without `]`) and quoted with escapes (for keys without `]:[`);
//!   what parses renders and parses to the same pairs;
//! * a path segment decodes exactly when every `%` starts two hex digits and the bytes are UTF-8,
//!   to the bytes of a reference decoder; any string percent-encoded decodes back to itself;
//! * `EnforceRotation` is `true` or `false` in any case, or unset; the re-encryption suffix starts
//!   with one dot and ends with the header's value.
#![no_main]

use base64ct::{Base64, Encoding};
use fuzz_support::string;
use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use s3_encryption::EncryptConfig;
use s3ec_harness_requests::{
    ClientConfig, Error, KeyMaterial, Keyring, enforce_rotation, parse_metadata_list,
    percent_decode, reencrypt_suffix, render_metadata_list,
};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// The members of `S3ECConfig`, and those of its `instructionFileConfig`.
const CONFIG_MEMBERS: [&str; 8] = [
    "keyMaterial",
    "commitmentPolicy",
    "encryptionAlgorithm",
    "instructionFileConfig",
    "enableLegacyWrappingAlgorithms",
    "enableLegacyUnauthenticatedModes",
    "enableDelayedAuthenticationMode",
    "setBufferSize",
];
const IFC_MEMBERS: [&str; 3] = [
    "disableInstructionFile",
    "enableInstructionFilePutObject",
    "clientId",
];
const KEY_MEMBERS: [&str; 4] = ["aesKey", "rsaKey", "kmsKeyId", "materialsDescription"];

/// The RSA fixture's PKCS#8 DER in base64, as the harness sends an `rsaKey`.
fn rsa_base64() -> &'static str {
    static K: OnceLock<String> = OnceLock::new();
    K.get_or_init(|| {
        let pem = fuzz_support::ruby_v1_rsa().key["private_key_pem"]
            .as_str()
            .expect("pem");
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    })
}

/// A value for a member: mostly of the right shape, sometimes any JSON.
fn member(u: &mut Unstructured<'_>, name: &str) -> AResult<Value> {
    if u.ratio(1, 6)? {
        return any_value(u, 2);
    }
    Ok(match name {
        "keyMaterial" => Value::Object(key_material(u)?),
        "commitmentPolicy" => json!(*u.choose(&[
            "FORBID_ENCRYPT_ALLOW_DECRYPT",
            "REQUIRE_ENCRYPT_ALLOW_DECRYPT",
            "REQUIRE_ENCRYPT_REQUIRE_DECRYPT",
            "require_encrypt_require_decrypt",
            "",
        ])?),
        "encryptionAlgorithm" => json!(*u.choose(&[
            "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
            "ALG_AES_256_GCM_IV12_TAG16_NO_KDF",
            "ALG_AES_256_CBC_IV16_NO_KDF",
            "ALG_AES_256_CTR_IV16_TAG16_NO_KDF",
            "AES/GCM/NoPadding",
        ])?),
        "instructionFileConfig" => {
            let mut o = Map::new();
            for m in IFC_MEMBERS {
                if u.arbitrary()? {
                    let v = if m == "clientId" {
                        json!(string(u, 8)?)
                    } else if u.ratio(1, 5)? {
                        any_value(u, 1)?
                    } else {
                        json!(u.arbitrary::<bool>()?)
                    };
                    o.insert(m.to_owned(), v);
                }
            }
            Value::Object(o)
        }
        "setBufferSize" => json!(u.arbitrary::<u64>()? >> u.int_in_range(0..=63)?),
        _ => json!(u.arbitrary::<bool>()?),
    })
}

/// A `KeyMaterial`: any subset of its members, each a real key, a near miss or any value.
fn key_material(u: &mut Unstructured<'_>) -> AResult<Map<String, Value>> {
    let mut o = Map::new();
    for m in KEY_MEMBERS {
        if !u.ratio(1, 3)? {
            continue;
        }
        let v = match (m, u.int_in_range(0..=3)?) {
            (_, 0) => any_value(u, 2)?,
            ("aesKey", 1) => {
                let n = *u.choose(&[16, 24, 32, 31, 33, 0])?;
                json!(Base64::encode_string(u.bytes(n)?))
            }
            ("rsaKey", 1) => json!(rsa_base64()),
            ("rsaKey", 2) => {
                // The fixture's DER with some bytes changed.
                let mut der = Base64::decode_vec(rsa_base64()).expect("fixture");
                for _ in 0..u.int_in_range(1..=4)? {
                    let i = u.choose_index(der.len())?;
                    der[i] ^= u.arbitrary::<u8>()? | 1;
                }
                json!(Base64::encode_string(&der))
            }
            ("kmsKeyId", _) => json!(string(u, 20)?),
            ("materialsDescription", _) => {
                let mut d = Map::new();
                for _ in 0..u.int_in_range(0..=3)? {
                    let v = if u.ratio(1, 8)? {
                        any_value(u, 1)?
                    } else {
                        json!(string(u, 8)?)
                    };
                    d.insert(string(u, 8)?, v);
                }
                Value::Object(d)
            }
            _ => json!(string(u, 48)?),
        };
        o.insert(m.to_owned(), v);
    }
    Ok(o)
}

/// Any JSON value, nested at most `depth` deep.
fn any_value(u: &mut Unstructured<'_>, depth: u32) -> AResult<Value> {
    Ok(match u.int_in_range(0..=6)? {
        0 => Value::Null,
        1 => json!(u.arbitrary::<bool>()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => json!(u.arbitrary::<f64>()?),
        4 => json!(string(u, 16)?),
        5 if depth > 0 => Value::Array(
            (0..u.int_in_range(0..=2)?)
                .map(|_| any_value(u, depth - 1))
                .collect::<AResult<_>>()?,
        ),
        _ if depth > 0 => {
            let mut o = Map::new();
            for _ in 0..u.int_in_range(0..=2)? {
                o.insert(string(u, 8)?, any_value(u, depth - 1)?);
            }
            Value::Object(o)
        }
        _ => Value::Null,
    })
}

/// What a parse answered, in a form that compares: every field of a config, or the error.
fn verdict(r: &Result<ClientConfig, Error>) -> String {
    match r {
        Ok(c) => format!(
            "{} {:?} {:?} {:?} {:?} {} {} {} {} {:?}",
            key_fingerprint(&c.keyring),
            c.keyring.description,
            c.commitment_policy,
            c.encryption_algorithm,
            c.placement,
            c.disable_instruction_files,
            c.legacy_wrapping,
            c.legacy_unauthenticated,
            c.delayed_authentication,
            c.buffer_size,
        ),
        Err(e) => format!("{e:?}"),
    }
}

fn key_fingerprint(k: &Keyring) -> String {
    use s3_encryption::rsa::traits::{PrivateKeyParts, PublicKeyParts};
    match &k.material {
        KeyMaterial::Aes(a) => format!("aes {:?}", a.as_bytes()),
        KeyMaterial::Rsa(r) => format!("rsa {:?} {:?}", r.n(), r.d()),
        KeyMaterial::Kms(id) => format!("kms {id:?}"),
    }
}

fn create_client(doc: &Value) -> Result<ClientConfig, Error> {
    ClientConfig::from_create_client(doc.to_string().as_bytes())
}

/// The properties of an accepted config against the document it came from.
fn check_accepted(c: &ClientConfig, config: &Map<String, Value>) {
    EncryptConfig::from_settings(c.commitment_policy, c.encryption_algorithm, c.placement)
        .expect("an accepted config builds");
    assert!(!(c.delayed_authentication && c.buffer_size.is_some()));
    let ifc = config.get("instructionFileConfig");
    assert_eq!(
        c.placement == s3_encryption::Placement::InstructionFile,
        ifc.and_then(|i| i.get("enableInstructionFilePutObject")) == Some(&Value::Bool(true))
    );
    let km = config["keyMaterial"].as_object().expect("keyMaterial read");
    check_key(&c.keyring, km);
}

fn check_key(k: &Keyring, km: &Map<String, Value>) {
    let present = |m: &str| km.get(m).is_some_and(|v| !v.is_null());
    assert_eq!(
        1,
        ["aesKey", "rsaKey", "kmsKeyId"]
            .iter()
            .filter(|m| present(m))
            .count()
    );
    match &k.material {
        KeyMaterial::Aes(a) => {
            let b64 = km["aesKey"].as_str().expect("aesKey read");
            assert_eq!(
                Base64::decode_vec(b64.trim()).expect("base64 read"),
                a.as_bytes()
            );
        }
        KeyMaterial::Rsa(_) => assert!(present("rsaKey")),
        KeyMaterial::Kms(id) => assert_eq!(km["kmsKeyId"].as_str(), Some(id.as_str())),
    }
    let want: Vec<(String, String)> = km
        .get("materialsDescription")
        .and_then(Value::as_object)
        .map(|d| {
            d.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("strings").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(k.description, want);
}

/// Smithy's JSON rules on a document: a `null` member is an absent one; an unknown member is
/// ignored. `path` is where `config` sits in `doc` (empty: the root).
fn check_member_rules(doc: &Value, config_of: fn(&mut Value) -> Option<&mut Map<String, Value>>) {
    let base = verdict(&create_client(doc));
    let mut with_unknown = doc.clone();
    if let Some(c) = config_of(&mut with_unknown) {
        c.insert("zzUnknownMember".into(), json!({"a": [1, null]}));
        assert_eq!(
            base,
            verdict(&create_client(&with_unknown)),
            "unknown member"
        );
    }
    let mut nulls_removed = doc.clone();
    if let Some(c) = config_of(&mut nulls_removed) {
        c.retain(|_, v| !v.is_null());
        assert_eq!(base, verdict(&create_client(&nulls_removed)), "null member");
    }
}

fn config_of(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.get_mut("config")?.as_object_mut()
}

fn key_material_of(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.get_mut("config")?
        .get_mut("keyMaterial")?
        .as_object_mut()
}

/// Mode 0: a `CreateClient` body of any bytes.
fn raw_create_client(data: &[u8]) {
    let r = ClientConfig::from_create_client(data);
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        assert!(matches!(r, Err(Error::Malformed(_))), "not JSON: {r:?}");
        return;
    };
    if let Ok(c) = &r {
        check_accepted(c, doc["config"].as_object().expect("config read"));
    }
    check_member_rules(&doc, config_of);
    check_member_rules(&doc, key_material_of);
}

/// Mode 1: a structured `S3ECConfig`.
fn structured_create_client(u: &mut Unstructured<'_>) -> AResult<()> {
    let mut config = Map::new();
    for m in CONFIG_MEMBERS {
        // keyMaterial is nearly always there, so that the other members are reached.
        let p = if m == "keyMaterial" { 15 } else { 8 };
        if u.ratio(p, 16)? {
            config.insert(m.to_owned(), member(u, m)?);
        }
    }
    let doc = json!({ "config": config });
    let r = create_client(&doc);
    if let Ok(c) = &r {
        check_accepted(c, &config);
    }
    check_member_rules(&doc, config_of);
    check_member_rules(&doc, key_material_of);
    Ok(())
}

/// Mode 2: a `ReEncrypt` body, raw bytes or a structured `KeyMaterial`.
fn reencrypt_body(u: &mut Unstructured<'_>, data: &[u8]) -> AResult<()> {
    let structured = data.first().is_some_and(|b| b & 1 == 1);
    let body = if structured {
        Value::Object(key_material(u)?).to_string().into_bytes()
    } else {
        data.get(1..).unwrap_or_default().to_vec()
    };
    let r = Keyring::from_json(&body);
    let doc = serde_json::from_slice::<Value>(&body).ok();
    match (&r, doc.as_ref().and_then(Value::as_object)) {
        (Ok(k), Some(km)) => check_key(k, km),
        (Ok(_), None) => panic!("accepted a body that is not a JSON object"),
        (Err(Error::Refused(_)), Some(km)) => {
            // Refused only for a key that decodes: the blob is valid base64.
            let blob = ["aesKey", "rsaKey"]
                .iter()
                .find_map(|m| km.get(*m).and_then(Value::as_str))
                .expect("a refused key names a raw key");
            assert!(Base64::decode_vec(blob.trim()).is_ok());
        }
        (Err(Error::Refused(_) | Error::Unsupported(_)), _) => panic!("{r:?} for {body:?}"),
        (Err(_), _) => {}
    }
    Ok(())
}

/// Mode 3: `Content-Metadata`.
fn content_metadata(u: &mut Unstructured<'_>, data: &[u8]) -> AResult<()> {
    // Any header value: what parses renders and parses to the same pairs, when the values hold
    // no `]` (a value may contain one only where it cannot end the item).
    let text = String::from_utf8_lossy(data);
    let mut parsed = Vec::new();
    if parse_metadata_list(&text, &mut parsed).is_ok()
        && parsed
            .iter()
            .all(|(k, v)| !k.contains(']') && !v.contains(']'))
    {
        assert_eq!(
            reparse(&render_metadata_list(&parsed).join(",")),
            Ok(parsed)
        );
    }
    // Pairs rendered as items, unquoted or quoted, and joined with any spacing.
    let mut pairs = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        pairs.push((string(u, 12)?, string(u, 12)?));
    }
    let sep = *u.choose(&[",", ", ", " ,  ", ",\t"])?;
    let quoted = u.arbitrary::<bool>()?;
    let items: Vec<String> = render_metadata_list(&pairs)
        .into_iter()
        .map(|i| {
            if quoted {
                format!("\"{}\"", i.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                i
            }
        })
        .collect();
    let header = items.join(sep);
    let expect_exact = if quoted {
        pairs.iter().all(|(k, _)| !k.contains("]:["))
    } else {
        pairs
            .iter()
            .all(|(k, v)| !k.contains(']') && !v.contains(']'))
    };
    if expect_exact {
        assert_eq!(reparse(&header), Ok(pairs), "header {header:?}");
    }
    Ok(())
}

fn reparse(header: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    parse_metadata_list(header, &mut out).map(|()| out)
}

/// Mode 4: path segments, `EnforceRotation`, `InstructionFileSuffix`.
fn path_and_headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    assert_eq!(
        percent_decode(&text).ok(),
        reference_decode(text.as_bytes())
    );
    let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(percent_decode(&encoded).as_deref(), Ok(&*text));

    match enforce_rotation(Some(&text)) {
        Ok(None) => assert!(text.is_empty()),
        Ok(Some(b)) => assert!(text.eq_ignore_ascii_case(&b.to_string())),
        Err(_) => assert!(
            !["", "true", "false"]
                .iter()
                .any(|s| text.eq_ignore_ascii_case(s))
        ),
    }
    match reencrypt_suffix(Some(&text)) {
        None => assert!(text.is_empty()),
        Some(s) => {
            assert!(s.starts_with('.') && s.ends_with(&*text));
            assert_eq!(s.len(), text.len() + usize::from(!text.starts_with('.')));
        }
    }
}

/// A percent decoder written apart from the model's: `None` for a `%` without two hex digits
/// after it, or bytes that are not UTF-8.
fn reference_decode(b: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    let mut rest = b;
    while let Some((&c, tail)) = rest.split_first() {
        if c == b'%' {
            let [h, l, ..] = tail else { return None };
            if !h.is_ascii_hexdigit() || !l.is_ascii_hexdigit() {
                return None;
            }
            let s = [*h, *l];
            out.push(u8::from_str_radix(std::str::from_utf8(&s).ok()?, 16).ok()?);
            rest = &tail[2..];
        } else {
            out.push(c);
            rest = tail;
        }
    }
    String::from_utf8(out).ok()
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let mut u = Unstructured::new(data);
    let _ = match mode % 5 {
        0 => {
            raw_create_client(data);
            Ok(())
        }
        1 => structured_create_client(&mut u),
        2 => reencrypt_body(&mut u, data),
        3 => content_metadata(&mut u, data),
        _ => {
            path_and_headers(data);
            Ok(())
        }
    };
});
