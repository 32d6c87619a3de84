//! `s3ec-fake-hsm`: a keyring program (the JSON-lines protocol of `KEYRINGS.md`) that stands in
//! for an HSM in tests, and shows what a real one answers. It holds an AES-256 key (hex or base64
//! in the environment variable named by `--key-env`, default `FAKE_HSM_KEY`) and wraps with the
//! core's `AesKeyring`: the same `AES/GCM` wrap as `s3ec --aes-key` of that key.
//!
//! Options: `--key-env VAR`; `--name NAME` (answer the materials description
//! `{"hsm-key": NAME}`); `--cannot-wrap`, `--cannot-unwrap` (what the hello says); `--log FILE`
//! (append one line per request: `hello`, `wrap`, `unwrap`); `--misbehave exit|garbage|hang|
//! long-line` and `--crash-after N` (exit after answering N requests, the hello included) for
//! the tests of a broken program.
#![forbid(unsafe_code)]

use base64ct::{Base64, Encoding};
use s3_encryption::{
    AesKey, AesKeyring, DataKey, EncryptConfig, EncryptionMaterials, Keyring, Placement,
    WrapAlgorithm,
};
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::process::ExitCode;

struct Options {
    key_env: String,
    name: Option<String>,
    can_wrap: bool,
    can_unwrap: bool,
    log: Option<String>,
    misbehave: Option<String>,
    crash_after: Option<usize>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        key_env: "FAKE_HSM_KEY".into(),
        name: None,
        can_wrap: true,
        can_unwrap: true,
        log: None,
        misbehave: None,
        crash_after: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--key-env" => o.key_env = value()?,
            "--name" => o.name = Some(value()?),
            "--log" => o.log = Some(value()?),
            "--misbehave" => o.misbehave = Some(value()?),
            "--crash-after" => {
                let v = value()?;
                o.crash_after = Some(v.parse().map_err(|_| format!("--crash-after {v}"))?);
            }
            "--cannot-wrap" => o.can_wrap = false,
            "--cannot-unwrap" => o.can_unwrap = false,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(o)
}

fn key(var: &str) -> Result<AesKey, String> {
    let t = std::env::var(var).map_err(|_| format!("set {var} to the AES-256 key"))?;
    let t = t.trim();
    let b = hex::decode(t)
        .ok()
        .or_else(|| Base64::decode_vec(t).ok())
        .ok_or(format!("{var} is not hex or base64"))?;
    match b.len() {
        32 => AesKey::from_slice(&b).map_err(|e| e.to_string()),
        _ => Err(format!("{var} is not 32 bytes")),
    }
}

/// The write configuration a content cipher names: what the wrap binds to.
fn config(content_cipher: Option<&str>) -> Option<EncryptConfig> {
    match content_cipher {
        Some("115") => Some(EncryptConfig::v3(Placement::ObjectMetadata)),
        Some("AES/GCM/NoPadding") => Some(EncryptConfig::v2(Placement::ObjectMetadata)),
        _ => None,
    }
}

fn failed(m: &str) -> Value {
    json!({"error": "failed", "message": m})
}

fn b64(v: Option<&Value>) -> Option<Vec<u8>> {
    v.and_then(Value::as_str)
        .and_then(|s| Base64::decode_vec(s).ok())
}

fn answer(o: &Options, keyring: &AesKeyring, req: &Value) -> Value {
    let cfg = config(req.get("content_cipher").and_then(Value::as_str));
    match req.get("op").and_then(Value::as_str) {
        Some("hello") => json!({"v": 1, "can_wrap": o.can_wrap, "can_unwrap": o.can_unwrap}),
        Some("wrap") if o.can_wrap => {
            let (Some(cfg), Some(dk)) = (cfg, b64(req.get("data_key"))) else {
                return failed("a wrap request needs content_cipher and data_key");
            };
            let Ok(dk) = DataKey::from_slice(&dk) else {
                return failed("the data key is not 32 bytes");
            };
            match keyring.wrap_data_key(&cfg, dk, &[]) {
                Ok(m) => {
                    let mut r = json!({
                        "wrap": "AES/GCM",
                        "encrypted_data_key": Base64::encode_string(m.envelope().encrypted_data_key()),
                    });
                    if let Some(n) = &o.name {
                        r["materials_description"] = json!({"hsm-key": n});
                    }
                    r
                }
                Err(e) => failed(&e.to_string()),
            }
        }
        Some("unwrap") if o.can_unwrap => {
            if req.get("wrap").and_then(Value::as_str) != Some("AES/GCM") {
                return json!({"error": "unsupported"});
            }
            let (Some(cfg), Some(edk)) = (cfg, b64(req.get("encrypted_data_key"))) else {
                return failed("an unwrap request needs content_cipher and encrypted_data_key");
            };
            // The core's own unwrap, on an envelope that carries the blob (the data key given
            // here only fills the slot; the unwrap reads the blob).
            let carrier = DataKey::new_256([0x5a; 32]);
            let env = EncryptionMaterials::externally_wrapped(
                &cfg,
                carrier,
                WrapAlgorithm::AesGcm,
                &edk,
                &[],
            );
            match env.and_then(|m| keyring.decrypt_data_key(m.envelope(), &[])) {
                Ok(dk) => json!({"data_key": Base64::encode_string(dk.as_bytes())}),
                Err(_) => failed("this key does not unwrap the blob"),
            }
        }
        Some("wrap" | "unwrap") => json!({"error": "unsupported"}),
        _ => failed("unknown op"),
    }
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("s3ec-fake-hsm: {e}");
            return ExitCode::from(2);
        }
    };
    let keyring = match key(&o.key_env) {
        Ok(k) => AesKeyring::new(k),
        Err(e) => {
            eprintln!("s3ec-fake-hsm: {e}");
            return ExitCode::from(2);
        }
    };
    let mis = o.misbehave.as_deref();
    if mis == Some("exit") {
        return ExitCode::from(3);
    }
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for (served, line) in stdin.lock().lines().enumerate() {
        let Ok(line) = line else { break };
        let req: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let op = req
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        if let Some(log) = &o.log
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
        {
            let _ = writeln!(f, "{op}");
        }
        let reply = match (mis, served) {
            (Some("garbage"), _) => "this is not JSON".to_owned(),
            (Some("long-line"), _) => "x".repeat(70 * 1024),
            (Some("hang"), _) => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                return ExitCode::SUCCESS;
            }
            _ if o.crash_after.is_some_and(|n| served >= n) => return ExitCode::from(4),
            _ => answer(&o, &keyring, &req).to_string(),
        };
        if writeln!(out, "{reply}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
