//! `s3ec` end to end: every command against the embedded server (`--local DIR`), bad arguments,
//! a wrong key, a missing object, a plain object, and offline decryption of the AES and RSA
//! conformance vectors in test-vectors/java-v2 and test-vectors/ruby.

#![cfg(feature = "embedded-s3")]

mod common;

use assert_cmd::Command;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn s3ec() -> Command {
    let mut c = Command::cargo_bin("s3ec").unwrap();
    c.env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

struct Dirs {
    _t: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
}

fn dirs() -> Dirs {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_owned();
    let store = root.join("store");
    Dirs { _t: t, root, store }
}

fn local(d: &Dirs) -> Command {
    let mut c = s3ec();
    c.arg("--local").arg(&d.store).arg("--quiet");
    c
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn every_command_against_the_embedded_server() {
    let d = dirs();
    let r = &d.root;
    // keygen
    local(&d)
        .args(["keygen", "--aes"])
        .arg(r.join("k1"))
        .assert()
        .success();
    assert_eq!(std::fs::read(r.join("k1")).unwrap().len(), 32);
    local(&d)
        .args(["keygen", "--aes"])
        .arg(r.join("k2"))
        .assert()
        .success();
    local(&d)
        .args(["keygen", "--bits", "2048", "--rsa"])
        .arg(r.join("rsa"))
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(r.join("rsa.pub"))
            .unwrap()
            .contains("PUBLIC KEY")
    );
    // An existing key file is not overwritten.
    let o = local(&d)
        .args(["keygen", "--aes"])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"));

    // mb, put (both placements), get, range, inspect, ls.
    local(&d).args(["mb", "s3://bkt"]).assert().success();
    let pt = data(300_000);
    std::fs::write(r.join("pt"), &pt).unwrap();
    local(&d)
        .arg("put")
        .arg(r.join("pt"))
        .arg("s3://bkt/meta")
        .arg("--aes-key")
        .arg(r.join("k1"))
        .args(["--context", "team=x"])
        .assert()
        .success();
    local(&d)
        .arg("put")
        .arg(r.join("pt"))
        .arg("s3://bkt/dir/ins")
        .arg("--aes-key")
        .arg(r.join("k1"))
        .args(["--placement", "instruction-file"])
        .assert()
        .success();
    for key in ["meta", "dir/ins"] {
        let out = r.join("out");
        local(&d)
            .args(["get", &format!("s3://bkt/{key}"), "-o"])
            .arg(&out)
            .arg("--aes-key")
            .arg(r.join("k1"))
            .assert()
            .success();
        assert!(std::fs::read(&out).unwrap() == pt);
        let o = local(&d)
            .args(["get", &format!("s3://bkt/{key}"), "--aes-key"])
            .arg(r.join("k1"))
            .output()
            .unwrap();
        assert!(o.status.success());
        assert!(o.stdout == pt);
        let o = local(&d)
            .args([
                "get",
                &format!("s3://bkt/{key}"),
                "--range",
                "1000-1099",
                "--aes-key",
            ])
            .arg(r.join("k1"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(o.stdout, &pt[1000..1100]);
        let o = local(&d)
            .args([
                "get",
                &format!("s3://bkt/{key}"),
                "--range",
                "-10",
                "--aes-key",
            ])
            .arg(r.join("k1"))
            .output()
            .unwrap();
        assert_eq!(o.stdout, &pt[pt.len() - 10..]);
    }
    let ranged = r.join("ranged");
    local(&d)
        .args(["get", "s3://bkt/meta", "--range", "bytes=5-9", "-o"])
        .arg(&ranged)
        .arg("--aes-key")
        .arg(r.join("k1"))
        .assert()
        .success();
    assert_eq!(std::fs::read(&ranged).unwrap(), &pt[5..10]);
    let o = local(&d)
        .args(["get", "s3://bkt/meta", "--range", "300000-", "--aes-key"])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("416"));

    let o = local(&d)
        .args(["inspect", "s3://bkt/meta"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("V3") && text.contains("AES/GCM") && text.contains("300000 bytes"),
        "{text}"
    );
    assert!(text.contains(r#"{"team":"x"}"#), "{text}");
    let o = local(&d)
        .args(["--json", "inspect", "s3://bkt/dir/ins"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format_version"], "V3");
    assert_eq!(v["placement"], "instruction file");
    assert_eq!(v["instruction_file"], "dir/ins.instruction");
    assert_eq!(v["key_commitment"], true);
    assert_eq!(v["plaintext_length"], 300_000);
    // Never key material.
    let all = serde_json::to_string(&v).unwrap();
    assert!(!all.contains("x-amz-3") && !all.contains("x-amz-key"));

    // A plain object (a file the server serves as is) and ls.
    std::fs::write(d.store.join("bkt/plain.txt"), b"plain").unwrap();
    let o = local(&d)
        .args(["--json", "ls", "s3://bkt"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let find = |k: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(find("meta")["plaintext_length"], 300_000);
    assert_eq!(find("meta")["stored_length"], 300_016);
    assert_eq!(find("dir/ins.instruction")["status"], "instruction file");
    assert_eq!(find("plain.txt")["status"], "not encrypted");
    let o = local(&d).args(["ls", "s3://bkt/dir/"]).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("300000") && text.contains("dir/ins") && !text.contains("plain.txt"),
        "{text}"
    );

    // rotate: AES → RSA public key; the private key reads; the old key no longer does.
    local(&d)
        .args(["rotate", "s3://bkt/dir/ins", "--aes-key"])
        .arg(r.join("k1"))
        .arg("--new-key")
        .arg(r.join("rsa.pub"))
        .assert()
        .success();
    let out = r.join("out2");
    local(&d)
        .args(["get", "s3://bkt/dir/ins", "-o"])
        .arg(&out)
        .arg("--rsa-key")
        .arg(r.join("rsa"))
        .assert()
        .success();
    assert!(std::fs::read(&out).unwrap() == pt);
    let o = local(&d)
        .args(["get", "s3://bkt/dir/ins", "--aes-key"])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "needs an RSA key: {}", stderr(&o));
    // rotate back to a new AES key, at a custom suffix; read it with --suffix.
    local(&d)
        .args(["rotate", "s3://bkt/dir/ins", "--rsa-key"])
        .arg(r.join("rsa"))
        .arg("--new-key")
        .arg(r.join("k2"))
        .args(["--new-suffix", ".k2"])
        .assert()
        .success();
    let o = local(&d)
        .args(["get", "s3://bkt/dir/ins", "--suffix", ".k2", "--aes-key"])
        .arg(r.join("k2"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == pt);
    // Rotating an object that keeps its key in metadata is a usage error with a reason.
    let o = local(&d)
        .args(["rotate", "s3://bkt/meta", "--aes-key"])
        .arg(r.join("k1"))
        .arg("--new-key")
        .arg(r.join("k2"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("metadata"));

    // get --connections: a large object as concurrent ranged GETs, verified before release.
    let big = data(21 << 20);
    std::fs::write(r.join("big"), &big).unwrap();
    local(&d)
        .arg("put")
        .arg(r.join("big"))
        .arg("s3://bkt/big")
        .arg("--aes-key")
        .arg(r.join("k1"))
        .assert()
        .success();
    for extra in [
        &["--connections", "3"][..],
        &["--connections", "3", "-o"][..],
    ] {
        let mut c = local(&d);
        c.args(["get", "s3://bkt/big", "--memory-budget", "16", "--aes-key"])
            .arg(r.join("k1"))
            .args(extra);
        let out = r.join("big.out");
        if extra.contains(&"-o") {
            c.arg(&out);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let got = if extra.contains(&"-o") {
            std::fs::read(&out).unwrap()
        } else {
            o.stdout
        };
        assert!(got == big, "{extra:?}");
    }
    // rm: the object and its instruction file; a second rm deletes nothing.
    local(&d)
        .arg("put")
        .arg(r.join("pt"))
        .arg("s3://bkt/gone")
        .arg("--aes-key")
        .arg(r.join("k1"))
        .args(["--placement", "instruction-file"])
        .assert()
        .success();
    let o = local(&d).args(["rm", "s3://bkt/gone"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("instruction file"));
    let o = local(&d)
        .args(["inspect", "s3://bkt/gone.instruction"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "the instruction file is gone");
    let o = local(&d).args(["rm", "s3://bkt/gone"]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("no such object"));

    // Failures and their exit codes.
    let o = local(&d)
        .args(["get", "s3://bkt/meta", "--aes-key"])
        .arg(r.join("k2"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 5, "wrong key: {}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("hint:"));
    let o = local(&d)
        .args(["get", "s3://bkt/missing", "--aes-key"])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "missing: {}", stderr(&o));
    let o = local(&d)
        .args(["get", "s3://bkt/plain.txt", "--aes-key"])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "plain: {}", stderr(&o));
    assert!(stderr(&o).contains("not S3EC-encrypted"));
    let o = local(&d)
        .args(["inspect", "s3://bkt/plain.txt"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 4);
    let o = local(&d)
        .args(["inspect", "s3://bkt/nothing"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3);
    // A tampered body: exit 5, and the output file never appears.
    let stored = d.store.join("bkt/meta");
    let mut b = std::fs::read(&stored).unwrap();
    b[10] ^= 1;
    std::fs::write(&stored, &b).unwrap();
    let out = r.join("never");
    let o = local(&d)
        .args(["get", "s3://bkt/meta", "-o"])
        .arg(&out)
        .arg("--aes-key")
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert_ne!(code(&o), 0);
    assert!(!out.exists());
    // V2 objects and the commitment policy.
    local(&d)
        .arg("put")
        .arg(r.join("pt"))
        .arg("s3://bkt/v2")
        .arg("--aes-key")
        .arg(r.join("k1"))
        .args(["--commitment-policy", "forbid-allow"])
        .assert()
        .success();
    let o = local(&d)
        .args(["get", "s3://bkt/v2", "--aes-key"])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 6, "{}", stderr(&o));
    assert!(stderr(&o).contains("--commitment-policy"));
    let o = local(&d)
        .args([
            "get",
            "s3://bkt/v2",
            "--commitment-policy",
            "require-allow",
            "--aes-key",
        ])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(o.stdout == pt);
    // Standard input, unknown length, multipart.
    let big = data(11 * 1024 * 1024 + 5);
    local(&d)
        .args([
            "put",
            "-",
            "s3://bkt/stdin",
            "--part-size",
            "5",
            "--aes-key",
        ])
        .arg(r.join("k1"))
        .write_stdin(big.clone())
        .assert()
        .success();
    let o = local(&d)
        .args([
            "get",
            "s3://bkt/stdin",
            "--memory-budget",
            "16",
            "--aes-key",
        ])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == big);
    // A file under --multipart-threshold goes up in one streamed PutObject.
    let big_file = r.join("big.bin");
    std::fs::write(&big_file, &big).unwrap();
    let o = local(&d)
        .args(["--json", "put"])
        .arg(&big_file)
        .args([
            "s3://bkt/single",
            "--part-size",
            "5",
            "--multipart-threshold",
            "16",
            "--aes-key",
        ])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["multipart"], false, "{v}");
    let o = local(&d)
        .args(["get", "s3://bkt/single", "--aes-key"])
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == big);
    let spill = r.join("spill");
    std::fs::create_dir(&spill).unwrap();
    let o = local(&d)
        .args([
            "get",
            "s3://bkt/stdin",
            "--memory-budget",
            "16",
            "--spill-dir",
        ])
        .arg(&spill)
        .arg("--aes-key")
        .arg(r.join("k1"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == big);
    // Keys from the environment.
    let k1 = std::fs::read(r.join("k1")).unwrap();
    let o = local(&d)
        .env("S3EC_TEST_KEY", hex::encode(&k1))
        .args([
            "get",
            "s3://bkt/v2",
            "--commitment-policy",
            "require-allow",
            "--aes-key-env",
            "S3EC_TEST_KEY",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let pem = std::fs::read_to_string(r.join("rsa")).unwrap();
    let o = local(&d)
        .env("S3EC_TEST_RSA", pem)
        .args([
            "get",
            "s3://bkt/dir/ins",
            "--suffix",
            ".instruction",
            "--rsa-key-env",
            "S3EC_TEST_RSA",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_error_answer_without_a_body_is_status_and_hint() {
    // A one-letter bucket name is invalid; S3 answers the GET's first request, a HEAD, with 400
    // and (as every HEAD answer) no body, so no error code reaches the client.
    let d = dirs();
    std::fs::create_dir_all(&d.store).unwrap();
    let key = d.root.join("k");
    std::fs::write(&key, "42".repeat(32)).unwrap();
    let o = local(&d)
        .args(["get", "s3://b/x", "-o"])
        .arg(d.root.join("out"))
        .arg("--aes-key")
        .arg(&key)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_ne!(code(&o), 0, "{err}");
    assert!(err.contains("HTTP 400"), "{err}");
    assert!(err.contains("no error body"), "{err}");
    assert!(err.contains("check the bucket name"), "{err}");
    for dump in ["ServiceError", "Unhandled", "unhandled error", "source:"] {
        assert!(!err.contains(dump), "the SDK's debug dump leaked: {err}");
    }
    assert!(!d.root.join("out").exists());
}

#[test]
fn bad_arguments_are_usage_errors() {
    let d = dirs();
    for args in [
        vec!["frobnicate"],
        vec!["get"],
        vec!["get", "b/k", "--aes-key", "/nonexistent"],
        vec!["get", "s3://bkt", "--aes-key", "/nonexistent"],
        vec!["put", "/etc/hostname", "s3://bkt/k"],
        vec!["keygen"],
        vec!["keygen", "--aes", "x", "--rsa", "y"],
        vec![
            "get",
            "s3://bkt/k",
            "--range",
            "z-1",
            "--aes-key",
            "/etc/hostname",
        ],
        vec![
            "get",
            "s3://bkt/k",
            "--aes-key",
            "/etc/hostname",
            "--kms-key-id",
            "k",
        ],
        vec![
            "put",
            "/etc/hostname",
            "s3://bkt/k",
            "--aes-key",
            "/etc/hostname",
            "--part-size",
            "4",
        ],
        vec!["inspect"],
    ] {
        let o = local(&d).args(&args).output().unwrap();
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty());
    }
    // A key file that is not a key.
    std::fs::write(d.root.join("bad"), b"not a key").unwrap();
    let o = local(&d)
        .args(["get", "s3://bkt/k", "--aes-key"])
        .arg(d.root.join("bad"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("keygen"));
    let o = s3ec().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Exit codes"));
}

#[test]
fn offline_encrypt_decrypt_and_inspect() {
    let d = dirs();
    let r = &d.root;
    s3ec()
        .args(["-q", "keygen", "--aes"])
        .arg(r.join("k"))
        .assert()
        .success();
    s3ec()
        .args(["-q", "keygen", "--bits", "2048", "--rsa"])
        .arg(r.join("rsa"))
        .assert()
        .success();
    let pt = data(70_001);
    std::fs::write(r.join("pt"), &pt).unwrap();
    for (label, enc_key, dec_key, ifile, policy) in [
        (
            "aes",
            ("--aes-key", "k"),
            ("--aes-key", "k"),
            false,
            "require-require",
        ),
        (
            "aes-if",
            ("--aes-key", "k"),
            ("--aes-key", "k"),
            true,
            "require-require",
        ),
        (
            "rsa",
            ("--rsa-key", "rsa.pub"),
            ("--rsa-key", "rsa"),
            false,
            "require-require",
        ),
        (
            "v2",
            ("--aes-key", "k"),
            ("--aes-key", "k"),
            false,
            "forbid-allow",
        ),
    ] {
        let body = r.join(format!("{label}.body"));
        let meta = r.join(format!("{label}.json"));
        let ins = r.join(format!("{label}.instruction"));
        let mut c = s3ec();
        c.args(["-q", "encrypt"])
            .arg(r.join("pt"))
            .arg("-o")
            .arg(&body)
            .arg("--metadata-out")
            .arg(&meta)
            .arg(enc_key.0)
            .arg(r.join(enc_key.1))
            .args(["--commitment-policy", policy]);
        if ifile {
            c.arg("--instruction-file-out").arg(&ins);
        }
        c.assert().success();
        let out = r.join(format!("{label}.out"));
        let mut c = s3ec();
        c.args(["-q", "decrypt", "--metadata"])
            .arg(&meta)
            .arg("--body")
            .arg(&body)
            .arg("-o")
            .arg(&out)
            .arg(dec_key.0)
            .arg(r.join(dec_key.1))
            .args(["--commitment-policy", policy]);
        if ifile {
            c.arg("--instruction-file").arg(&ins);
        }
        c.assert().success();
        assert!(std::fs::read(&out).unwrap() == pt, "{label}");
        let mut c = s3ec();
        c.args(["--json", "inspect", "--metadata"])
            .arg(&meta)
            .arg("--body")
            .arg(&body);
        if ifile {
            c.arg("--instruction-file").arg(&ins);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["plaintext_length"], 70_001, "{label}");
        assert_eq!(
            v["format_version"],
            if policy == "forbid-allow" { "V2" } else { "V3" }
        );
    }
    // Missing instruction file: a usage hint; wrong key: exit 5 and no output.
    let o = s3ec()
        .args(["decrypt", "--metadata"])
        .arg(r.join("aes-if.json"))
        .arg("--body")
        .arg(r.join("aes-if.body"))
        .arg("-o")
        .arg(r.join("x"))
        .arg("--aes-key")
        .arg(r.join("k"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    assert!(stderr(&o).contains("--instruction-file"));
    s3ec()
        .args(["-q", "keygen", "--aes"])
        .arg(r.join("k2"))
        .assert()
        .success();
    let o = s3ec()
        .args(["decrypt", "--metadata"])
        .arg(r.join("aes.json"))
        .arg("--body")
        .arg(r.join("aes.body"))
        .arg("-o")
        .arg(r.join("y"))
        .arg("--aes-key")
        .arg(r.join("k2"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 5);
    assert!(!r.join("y").exists());
}

/// Offline decryption of the AES and RSA conformance vectors (not ranged ones).
#[test]
fn offline_decrypt_of_conformance_vectors() {
    let d = dirs();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors");
    let (mut passed, mut failed) = (0, 0);
    for dir in ["java-v2", "ruby"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            if v["schema"] != "s3ec-vector/1" {
                continue;
            }
            let kind = v["key"]["kind"].as_str().unwrap();
            let dec = &v["decrypt"];
            if !matches!(kind, "aes" | "rsa") || !dec["range"].is_null() {
                continue;
            }
            let lw = dec["legacy_wrapping_algorithms"].as_bool().unwrap_or(false);
            let lu = dec["legacy_unauthenticated_modes"]
                .as_bool()
                .unwrap_or(false);
            if lw != lu {
                continue; // --legacy turns on both.
            }
            let name = f.file_stem().unwrap().to_string_lossy().into_owned();
            let base = f.parent().unwrap();
            let meta = d.root.join(format!("{name}.meta.json"));
            std::fs::write(
                &meta,
                serde_json::to_string(&v["object"]["metadata"]).unwrap(),
            )
            .unwrap();
            let key = d.root.join(format!("{name}.key"));
            let key_flag = if kind == "aes" {
                use base64ct::{Base64, Encoding};
                let k = Base64::decode_vec(v["key"]["key_b64"].as_str().unwrap()).unwrap();
                std::fs::write(&key, k).unwrap();
                "--aes-key"
            } else {
                std::fs::write(&key, v["key"]["private_key_pem"].as_str().unwrap()).unwrap();
                "--rsa-key"
            };
            let out = d.root.join(format!("{name}.out"));
            let mut c = s3ec();
            c.args(["-q", "decrypt", "--metadata"])
                .arg(&meta)
                .arg("--body")
                .arg(base.join(v["object"]["body"].as_str().unwrap()))
                .arg("-o")
                .arg(&out)
                .arg(key_flag)
                .arg(&key)
                .arg("--commitment-policy")
                .arg(match dec["commitment_policy"].as_str().unwrap() {
                    "REQUIRE_ENCRYPT_REQUIRE_DECRYPT" => "require-require",
                    "REQUIRE_ENCRYPT_ALLOW_DECRYPT" => "require-allow",
                    _ => "forbid-allow",
                });
            if lw {
                c.arg("--legacy");
            }
            if let Some(i) = v["instruction_file"]["body"].as_str() {
                c.arg("--instruction-file").arg(base.join(i));
            }
            let o = c.output().unwrap();
            let exp = &v["expect"];
            let verdict = if exp.get("error").is_some() {
                let classes: Vec<&str> = match &exp["error"] {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
                    _ => vec![],
                };
                let want: Vec<i32> = classes
                    .iter()
                    .map(|c| match *c {
                        "authentication" => 5,
                        "policy" => 6,
                        _ => 7,
                    })
                    .collect();
                if want.contains(&code(&o)) && !out.exists() {
                    Ok(())
                } else {
                    Err(format!(
                        "expected {classes:?}, exit {}: {}",
                        code(&o),
                        stderr(&o)
                    ))
                }
            } else if !o.status.success() {
                Err(format!("exit {}: {}", code(&o), stderr(&o)))
            } else {
                let pt = std::fs::read(&out).unwrap();
                let h = hex::encode(Sha256::digest(&pt));
                if h == exp["plaintext_sha256"].as_str().unwrap().to_lowercase() {
                    Ok(())
                } else {
                    Err("plaintext differs".into())
                }
            };
            match verdict {
                Ok(()) => passed += 1,
                Err(e) => {
                    failed += 1;
                    println!("FAIL {dir}/{name}: {e}");
                }
            }
        }
    }
    println!("offline vectors: {passed} passed, {failed} failed");
    assert!(passed > 100, "too few vectors ran: {passed}");
    assert_eq!(failed, 0);
}

#[test]
fn demo_runs() {
    let o = s3ec()
        .args(["demo", "--size", "12", "--quiet"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{text}\n{}", stderr(&o));
    for want in [
        "1. keygen",
        "2. put",
        "3. inspect",
        "4. range",
        "5. get",
        "6. verify",
        "match",
        "7. tamper",
        "authentication failed",
        "0 bytes released",
        "8. plain",
        "not S3EC-encrypted",
        "throughput",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn kms_keys_with_moto() {
    let moto = common::Moto::start("kms_keys_with_moto");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (k1, k2) = rt.block_on(async { (moto.create_key().await, moto.create_key().await) });
    let d = dirs();
    let r = &d.root;
    let kms = |c: &mut Command| {
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .arg("--kms-endpoint")
            .arg(&moto.endpoint);
    };
    let pt = data(9000);
    std::fs::write(r.join("pt"), &pt).unwrap();
    let mut c = local(&d);
    kms(&mut c);
    c.args(["put"])
        .arg(r.join("pt"))
        .args([
            "s3://kms/a",
            "--kms-key-id",
            &k1,
            "--context",
            "app=s3ec",
            "--placement",
            "instruction-file",
        ])
        .assert()
        .success();
    // Read with the key id and context, and by discovery.
    for extra in [
        vec!["--kms-key-id", k1.as_str(), "--context", "app=s3ec"],
        vec!["--kms-discovery"],
    ] {
        let mut c = local(&d);
        kms(&mut c);
        let o = c.args(["get", "s3://kms/a"]).args(&extra).output().unwrap();
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        assert!(o.stdout == pt);
    }
    // A wrong context is a policy refusal (6); another key is refused by KMS (5).
    let mut c = local(&d);
    kms(&mut c);
    let o = c
        .args([
            "get",
            "s3://kms/a",
            "--kms-key-id",
            &k1,
            "--context",
            "app=other",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 6, "{}", stderr(&o));
    let mut c = local(&d);
    kms(&mut c);
    let o = c
        .args([
            "get",
            "s3://kms/a",
            "--kms-key-id",
            &k2,
            "--context",
            "app=s3ec",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    // inspect shows the encryption context; rotate to the second KMS key.
    let o = local(&d)
        .args(["--json", "inspect", "s3://kms/a"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["wrap_algorithm"], "kms+context");
    assert_eq!(v["encryption_context"]["app"], "s3ec");
    assert_eq!(v["encryption_context"]["aws:x-amz-cek-alg"], "115");
    let mut c = local(&d);
    kms(&mut c);
    c.args([
        "rotate",
        "s3://kms/a",
        "--kms-key-id",
        &k1,
        "--context",
        "app=s3ec",
        "--new-kms-key-id",
        &k2,
        "--new-context",
        "app=s3ec",
    ])
    .assert()
    .success();
    let mut c = local(&d);
    kms(&mut c);
    let o = c
        .args([
            "get",
            "s3://kms/a",
            "--kms-key-id",
            &k2,
            "--context",
            "app=s3ec",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == pt);
    // Offline encrypt / decrypt with KMS.
    let mut c = s3ec();
    kms(&mut c);
    c.args(["-q", "encrypt"])
        .arg(r.join("pt"))
        .arg("-o")
        .arg(r.join("kb"))
        .arg("--metadata-out")
        .arg(r.join("km.json"))
        .args(["--kms-key-id", &k2])
        .assert()
        .success();
    let mut c = s3ec();
    kms(&mut c);
    c.args(["-q", "decrypt", "--metadata"])
        .arg(r.join("km.json"))
        .arg("--body")
        .arg(r.join("kb"))
        .arg("-o")
        .arg(r.join("kout"))
        .arg("--kms-discovery")
        .assert()
        .success();
    assert!(std::fs::read(r.join("kout")).unwrap() == pt);
}
