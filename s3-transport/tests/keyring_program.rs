//! `s3ec --keyring-program` end to end against the embedded server (`--local DIR`), with
//! `s3ec-fake-hsm` (an AES key behind the JSON-lines protocol of KEYRINGS.md) as the program:
//! put and get through it, byte compatibility with `--aes-key` of the same key both ways, a
//! wrong key, broken programs (bounded in time, the right exit code), rotation and migration.

mod common;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every command here ends well within this, or the test fails (a hang is a failure).
const BOUND: Duration = Duration::from_secs(120);

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 37 % 253) as u8).collect()
}

struct Env {
    _t: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Env {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_owned();
        let e = Env { _t: t, root };
        for (name, seed) in [("k1", 1u8), ("k2", 2), ("k3", 3)] {
            std::fs::write(e.path(name), [seed; 32]).unwrap();
        }
        e.s3ec().args(["mb", "s3://bkt"]).assert().success();
        e
    }
    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    fn s3ec(&self) -> Command {
        let mut c = Command::cargo_bin("s3ec").unwrap();
        c.env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("S3EC_KEYRING_TIMEOUT")
            // Each program reads the key of its own variable (see `hsm`).
            .env("HSM_K1", hex::encode([1u8; 32]))
            .env("HSM_K2", hex::encode([2u8; 32]))
            .env("HSM_K3", hex::encode([3u8; 32]))
            .arg("--local")
            .arg(self.path("store"))
            .arg("--quiet")
            .timeout(BOUND);
        c
    }
    /// The keyring program holding key `k` (`k1`…), logging its requests to `log`, with `extra`
    /// arguments.
    fn hsm(&self, k: &str, log: &str, extra: &str) -> String {
        format!(
            "'{}' --key-env HSM_{} --log '{}' {extra}",
            env!("CARGO_BIN_EXE_s3ec-fake-hsm"),
            k.to_uppercase(),
            self.path(log).display()
        )
    }
    fn log(&self, log: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(log))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn put(&self, file: &Path, url: &str, key: &[&str]) -> std::process::Output {
        self.s3ec()
            .arg("put")
            .arg(file)
            .arg(url)
            .args(key)
            .output()
            .unwrap()
    }
    fn get(&self, url: &str, key: &[&str]) -> std::process::Output {
        self.s3ec().args(["get", url]).args(key).output().unwrap()
    }
    fn aes(&self, k: &str) -> Vec<String> {
        vec!["--aes-key".into(), self.path(k).display().to_string()]
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn put_and_get_through_a_keyring_program() {
    let e = Env::new();
    let pt = data(200_000);
    let big = data(11 * 1024 * 1024 + 3);
    std::fs::write(e.path("pt"), &pt).unwrap();
    std::fs::write(e.path("big"), &big).unwrap();
    let hsm = e.hsm("k1", "log", "--name slot-3");
    let prog = ["--keyring-program", hsm.as_str()];
    for (url, placement) in [
        ("s3://bkt/meta", "metadata"),
        ("s3://bkt/ins", "instruction-file"),
    ] {
        let o = e
            .s3ec()
            .arg("put")
            .arg(e.path("pt"))
            .arg(url)
            .args(prog)
            .args(["--placement", placement])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let o = e.get(url, &prog);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(o.stdout == pt, "{url}: through the program");
        // The same key as --aes-key reads what the program wrapped: the wrap is the standard one.
        let o = e.get(url, &strs(&e.aes("k1")));
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(o.stdout == pt, "{url}: with --aes-key");
    }
    // The program's materials description is the one stored.
    let o = e
        .s3ec()
        .args(["inspect", "s3://bkt/meta"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("slot-3"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // A multipart upload (5 MiB parts) wraps once.
    let before = e.log("log").iter().filter(|l| *l == "wrap").count();
    let o = e
        .s3ec()
        .arg("put")
        .arg(e.path("big"))
        .arg("s3://bkt/big")
        .args(prog)
        .args(["--part-size", "5"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        e.log("log").iter().filter(|l| *l == "wrap").count(),
        before + 1
    );
    let o = e.get("s3://bkt/big", &prog);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == big);
    // And the other way: an --aes-key object opens through the program.
    e.put(&e.path("pt"), "s3://bkt/plain-aes", &strs(&e.aes("k1")));
    let o = e.get("s3://bkt/plain-aes", &prog);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == pt);
    let log = e.log("log");
    assert_eq!(
        log.iter().filter(|l| *l == "hello").count(),
        7,
        "one program per run: {log:?}"
    );
    assert_eq!(log.iter().filter(|l| *l == "wrap").count(), 3, "{log:?}");
    assert!(
        log.iter().filter(|l| *l == "unwrap").count() >= 4,
        "{log:?}"
    );
}

#[test]
fn a_wrong_key_in_the_program_is_the_authentication_exit_code() {
    let e = Env::new();
    std::fs::write(e.path("pt"), b"secret").unwrap();
    let o = e.put(&e.path("pt"), "s3://bkt/o", &strs(&e.aes("k1")));
    assert!(o.status.success(), "{}", stderr(&o));
    let wrong = e.hsm("k2", "log", "");
    let o = e.get("s3://bkt/o", &["--keyring-program", &wrong]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(e.log("log"), ["hello", "unwrap"]);
}

#[test]
fn a_broken_program_is_a_clear_error_and_never_a_hang() {
    let e = Env::new();
    std::fs::write(e.path("pt"), b"secret").unwrap();
    let o = e.put(&e.path("pt"), "s3://bkt/o", &strs(&e.aes("k1")));
    assert!(o.status.success(), "{}", stderr(&o));
    let started = std::time::Instant::now();
    // Before the first object: the program cannot be started, or does not say hello properly.
    let cases = [
        ("'/nonexistent/keyring-program'".to_owned(), "cannot start"),
        (e.hsm("k1", "l1", "--misbehave exit"), "exited"),
        (e.hsm("k1", "l2", "--misbehave garbage"), "malformed"),
        (e.hsm("k1", "l3", "--misbehave long-line"), "64 KiB"),
        (
            "'/bin/sh' -c 'echo \"{\\\"v\\\":2}\"; cat'".to_owned(),
            "version",
        ),
        ("'unterminated".to_owned(), "quote"),
    ];
    for (cmd, says) in &cases {
        let o = e.get("s3://bkt/o", &["--keyring-program", cmd]);
        assert_eq!(code(&o), 2, "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{cmd}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    // A program that never answers: the timeout, from the environment.
    let hang = e.hsm("k1", "l4", "--misbehave hang");
    let t = std::time::Instant::now();
    let o = e
        .s3ec()
        .env("S3EC_KEYRING_TIMEOUT", "1")
        .args(["get", "s3://bkt/o", "--keyring-program", &hang])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did not answer within 1 s"),
        "{}",
        stderr(&o)
    );
    assert!(t.elapsed() < Duration::from_secs(30));
    let o = e
        .s3ec()
        .env("S3EC_KEYRING_TIMEOUT", "soon")
        .args(["get", "s3://bkt/o", "--keyring-program", &hang])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A program that dies after its hello: the command's failure (exit 1), not a skip.
    let crash = e.hsm("k1", "l5", "--crash-after 1");
    let o = e.get("s3://bkt/o", &["--keyring-program", &crash]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("exited"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // A program that cannot wrap is refused for a put before anything is written.
    let ro = e.hsm("k1", "l6", "--cannot-wrap");
    let o = e.put(&e.path("pt"), "s3://bkt/never", &["--keyring-program", &ro]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(e.log("l6"), ["hello"]);
    let o = e.get("s3://bkt/never", &strs(&e.aes("k1")));
    assert_eq!(code(&o), 3, "nothing was written: {}", stderr(&o));
    assert!(started.elapsed() < BOUND);
}

#[test]
fn rotation_and_migration_with_a_keyring_program() {
    let e = Env::new();
    let pt = data(50_000);
    std::fs::write(e.path("pt"), &pt).unwrap();
    let o = e
        .s3ec()
        .arg("put")
        .arg(e.path("pt"))
        .arg("s3://bkt/rot")
        .args(strs(&e.aes("k1")))
        .args(["--placement", "instruction-file"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Rotate to the program's key: it wraps, then proves it unwraps, before the file is written.
    let k2 = e.hsm("k2", "rot", "");
    let o = e
        .s3ec()
        .args(["rotate", "s3://bkt/rot", "--enforce-rotation"])
        .args(strs(&e.aes("k1")))
        .args(["--new-keyring-program", &k2])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(e.log("rot"), ["hello", "wrap", "unwrap"]);
    let o = e.get("s3://bkt/rot", &strs(&e.aes("k2")));
    assert!(o.status.success() && o.stdout == pt, "{}", stderr(&o));
    let o = e.get("s3://bkt/rot", &strs(&e.aes("k1")));
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    // A current key that dies before it can say whether it still opens the new file: the
    // enforced rotation fails (exit 1) and writes nothing, rather than taking "no answer" for
    // "no longer opens it". (Hello, the unwrap, then the check: it dies at the third request.)
    let dying = e.hsm("k2", "dying", "--crash-after 2");
    let o = e
        .s3ec()
        .args([
            "rotate",
            "s3://bkt/rot",
            "--enforce-rotation",
            "--keyring-program",
            &dying,
        ])
        .arg("--new-key")
        .arg(e.path("k3"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("exited"), "{}", stderr(&o));
    assert_eq!(e.log("dying"), ["hello", "unwrap", "unwrap"]);
    let o = e.get("s3://bkt/rot", &strs(&e.aes("k2")));
    assert!(
        o.status.success() && o.stdout == pt,
        "unchanged: {}",
        stderr(&o)
    );
    // Rotate away from it: the program is the current key.
    let o = e
        .s3ec()
        .args([
            "rotate",
            "s3://bkt/rot",
            "--keyring-program",
            &k2,
            "--new-key",
        ])
        .arg(e.path("k3"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e.get("s3://bkt/rot", &strs(&e.aes("k3")));
    assert!(o.status.success() && o.stdout == pt, "{}", stderr(&o));

    // Migration of a V2 object to V3 under the program's key (the read-back goes through it).
    let o = e
        .s3ec()
        .arg("put")
        .arg(e.path("pt"))
        .arg("s3://bkt/mig/v2")
        .args(strs(&e.aes("k1")))
        .args(["--commitment-policy", "forbid-allow"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e
        .s3ec()
        .args(["migrate", "s3://bkt/mig/", "--to", "v3"])
        .args(strs(&e.aes("k1")))
        .args(["--new-keyring-program", &e.hsm("k2", "mig", "")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let log = e.log("mig");
    assert!(
        log.contains(&"wrap".to_owned()) && log.contains(&"unwrap".to_owned()),
        "{log:?}"
    );
    let o = e.get("s3://bkt/mig/v2", &strs(&e.aes("k2")));
    assert!(
        o.status.success() && o.stdout == pt,
        "strict V3 read: {}",
        stderr(&o)
    );
    // Re-wrap with the program as one of the old keys (a wrong AES key first).
    let o = e
        .s3ec()
        .args(["migrate", "s3://bkt/mig/", "--rewrap"])
        .args(strs(&e.aes("k3")))
        .args(["--keyring-program", &e.hsm("k2", "mig2", "")])
        .arg("--new-key")
        .arg(e.path("k1"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e.log("mig2").contains(&"unwrap".to_owned()));
    let o = e.get("s3://bkt/mig/v2", &strs(&e.aes("k1")));
    assert!(o.status.success() && o.stdout == pt, "{}", stderr(&o));
}

/// The library side: the program as a core `Keyring`, inside a multi-keyring, and its process
/// killed and reaped when the keyring goes.
mod library {
    use super::common::{BUCKET, Local, aes_keyring};
    use s3_encryption::{AesKey, EncryptConfig, Keyring as _};
    use s3_encryption_transport::{
        ClientKeyring, Error, ErrorKind, GetOptions, KeyringError, ProgramKeyring, PutOptions,
    };
    use std::time::Duration;

    fn fake(extra: &[&str]) -> ProgramKeyring {
        // The key goes to the child through env(1): this process's environment is untouched.
        let mut argv = vec![
            env!("CARGO_BIN_EXE_s3ec-fake-hsm").to_owned(),
            "--key-env".into(),
            "S3EC_TEST_LIBRARY_KEY".into(),
        ];
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        let wrapper = vec![
            "/usr/bin/env".to_owned(),
            format!("S3EC_TEST_LIBRARY_KEY={}", hex::encode([1u8; 32])),
        ];
        ProgramKeyring::spawn(&[wrapper, argv].concat(), Duration::from_secs(30)).unwrap()
    }

    #[test]
    fn the_program_is_a_core_keyring() {
        let p = fake(&[]);
        assert!(p.can_wrap() && p.can_unwrap());
        let config = EncryptConfig::default();
        let m = p
            .encryption_materials(&config, &[("a", "b")], s3_encryption::wrap::os_random)
            .unwrap();
        let env = m.envelope().clone();
        assert_eq!(env.materials_description(), Some(r#"{"a":"b"}"#));
        let dk = p.decrypt_data_key(&env, &[]).unwrap();
        assert_eq!(dk.as_bytes(), m.data_key().as_bytes());
        // The same blob, unwrapped by the core's AES keyring of the same key.
        let local = s3_encryption::AesKeyring::new(AesKey::new_256([1; 32]));
        assert_eq!(
            local.decrypt_data_key(&env, &[]).unwrap().as_bytes(),
            dk.as_bytes()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_program_that_dies_stops_a_multi_keyring_search() {
        let local = Local::start().await;
        let w = local.client(aes_keyring(1)).build().unwrap();
        w.put_bytes(BUCKET, "o", b"x", &PutOptions::default())
            .await
            .unwrap();
        let crash = ClientKeyring::program(fake(&["--crash-after", "1"]));
        let multi = ClientKeyring::multi([crash, aes_keyring(1)]).unwrap();
        let c = local.client(multi).build().unwrap();
        let e = c
            .get_object_bytes(BUCKET, "o", &GetOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Keyring(KeyringError::Exited { .. })),
            "{e:?}"
        );
        assert_eq!(e.kind(), ErrorKind::Transport);
        // Once failed, it stays failed (it was stopped), saying why.
        let e = c
            .get_object_bytes(BUCKET, "o", &GetOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Keyring(KeyringError::Broken(_))),
            "{e:?}"
        );
        local.stop().await;
    }

    #[test]
    fn the_process_is_killed_and_reaped_on_drop() {
        let t = tempfile::tempdir().unwrap();
        let pidfile = t.path().join("pid");
        let script = format!(
            "echo $$ > '{}'; echo '{{\"v\":1,\"can_wrap\":false,\"can_unwrap\":true}}'; exec sleep 3600",
            pidfile.display()
        );
        let p = ProgramKeyring::spawn(
            &["/bin/sh".into(), "-c".into(), script],
            Duration::from_secs(30),
        )
        .unwrap();
        assert!(!p.can_wrap() && p.can_unwrap());
        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
        let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
        assert!(proc.exists(), "running");
        drop(p);
        // Reaped, not a zombie: the process entry is gone.
        assert!(!proc.exists(), "process {pid} outlived its keyring");
    }
}
