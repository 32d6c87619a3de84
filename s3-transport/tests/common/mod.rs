//! Shared test helpers: an embedded s3s-fs server per test, moto (KMS) per test, and a TCP proxy
//! that can drop connections or run a hook when a request passes. Every server listens on
//! 127.0.0.1 and is stopped when its guard drops. The Lambda handler's tests (lambda/tests) use
//! this module too (by `#[path]`), so paths here go through the workspace root.
#![allow(dead_code)]

pub mod hostile;

use s3_encryption_transport::local::{LocalS3, s3_client_for, sdk_config_for};
use s3_encryption_transport::{ClientKeyring, S3EncryptionClient};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const BUCKET: &str = "test";
pub const MIB: usize = 1024 * 1024;

/// An embedded S3 server in a temporary folder, with bucket `test`.
pub struct Local {
    pub server: Option<LocalS3>,
    pub dir: tempfile::TempDir,
    pub s3: aws_sdk_s3::Client,
}

impl Local {
    pub async fn start() -> Local {
        let dir = tempfile::tempdir().unwrap();
        let server = LocalS3::start(dir.path().join("s3")).await.unwrap();
        let s3 = server.s3_client();
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        Local {
            server: Some(server),
            dir,
            s3,
        }
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("s3")
    }
    pub fn endpoint(&self) -> String {
        self.server.as_ref().unwrap().endpoint()
    }
    /// Files s3s-fs keeps for unfinished multipart uploads (upload ids, parts, their metadata).
    pub fn pending_uploads(&self) -> Vec<String> {
        pending_uploads(&self.root())
    }
    /// Path of the stored object's file.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root().join(BUCKET).join(key)
    }
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
    pub fn client(&self, keyring: ClientKeyring) -> s3_encryption_transport::Builder {
        S3EncryptionClient::builder(self.s3.clone(), keyring)
    }
}

pub fn pending_uploads(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".upload") || n.contains(".upload-"))
        .collect();
    v.sort();
    v
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

pub fn aes_keyring(seed: u8) -> ClientKeyring {
    ClientKeyring::aes(s3_encryption::AesKey::new_256([seed; 32]))
}

pub fn rsa_key() -> s3_encryption::rsa::PrivateKey {
    use std::sync::OnceLock;
    static KEY: OnceLock<s3_encryption::rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| s3_encryption::rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap())
        .clone()
}

pub fn rsa_key2() -> s3_encryption::rsa::PrivateKey {
    use std::sync::OnceLock;
    static KEY: OnceLock<s3_encryption::rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| s3_encryption::rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap())
        .clone()
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The moto virtual environment: $S3EC_MOTO_VENV, else <repo>/target/moto-venv (where
/// tests/setup.sh installs it).
fn moto_venv() -> PathBuf {
    std::env::var_os("S3EC_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/moto-venv"))
}

/// moto_server: $S3EC_MOTO_SERVER if set (it must exist), else <venv>/bin/moto_server, installed
/// by running s3-transport/tests/setup.sh when it is missing. Not PATH: setup.sh pins the moto
/// version these tests were checked with (5.2.1, for example, answers CompleteMultipartUpload
/// with an XML root the SDK rejects). The install runs once per machine: under an exclusive
/// lock on <venv>.lock (test binaries run in parallel), and once per process (OnceLock). A failed
/// install fails every test that needs moto; none is skipped.
pub fn moto_server_path() -> PathBuf {
    static FOUND: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(find_or_install_moto)
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn find_or_install_moto() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("S3EC_MOTO_SERVER") {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(format!("S3EC_MOTO_SERVER={} does not exist", p.display()))
        };
    }
    let venv = moto_venv();
    let bin = venv.join("bin/moto_server");
    if bin.exists() {
        return Ok(bin);
    }
    let parent = venv.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let lock_path = venv.with_extension("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    // Another test binary may have installed it while this one waited for the lock.
    if bin.exists() {
        return Ok(bin);
    }
    // By way of the workspace root: lambda/tests shares this module.
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("../s3-transport/tests/setup.sh");
    eprintln!(
        "moto_server not found in {}: installing it with {} (moto from PyPI, once)",
        venv.display(),
        setup.display()
    );
    let out = Command::new("bash")
        .arg(&setup)
        .env("S3EC_MOTO_VENV", &venv)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", setup.display()))?;
    let _ = lock.unlock();
    if !out.status.success() || !bin.exists() {
        return Err(format!(
            "moto_server is missing and {} could not install it into {} ({}); the KMS tests need it (or set S3EC_MOTO_SERVER):\n{}{}",
            setup.display(),
            venv.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(bin)
}

/// A moto server (KMS, and a second S3) on 127.0.0.1, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Start moto (installing it first if it is missing); panics if it cannot, so a test that
    /// needs KMS fails rather than passes without it.
    pub fn start(test: &str) -> Moto {
        let bin = moto_server_path();
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{test}: cannot start {}: {e}", bin.display()));
        let m = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "{test}: moto did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        m
    }

    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint)
    }
    pub fn kms(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk_config())
    }
    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client_for(&self.sdk_config())
    }
    pub async fn create_key(&self) -> String {
        let r = self.kms().create_key().send().await.unwrap();
        r.key_metadata().unwrap().key_id().to_owned()
    }
}

/// What the proxy does when a marker passes from client to server.
pub enum Action {
    /// Forward this many more bytes, then drop both sides of the connection.
    DropAfter(usize),
    /// Run the hook, then forward.
    Call(Box<dyn Fn() + Send + Sync>),
}

pub struct Rule {
    /// Any of these byte strings triggers the rule.
    pub markers: Vec<Vec<u8>>,
    /// Fire on these occurrences (1-based); empty means every occurrence.
    pub occurrences: Vec<usize>,
    pub action: Action,
}

/// A TCP proxy on 127.0.0.1 in front of `upstream`.
pub struct Proxy {
    pub endpoint: String,
    pub fired: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    rules: Vec<Rule>,
    seen: Vec<AtomicUsize>,
    fired: Arc<AtomicUsize>,
}

impl Proxy {
    pub async fn start(upstream: std::net::SocketAddr, rules: Vec<Rule>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fired = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            seen: rules.iter().map(|_| AtomicUsize::new(0)).collect(),
            rules,
            fired: fired.clone(),
        });
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                conns.spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let down = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    let maxm = shared
                        .rules
                        .iter()
                        .flat_map(|r| r.markers.iter().map(|m| m.len()))
                        .max()
                        .unwrap_or(1);
                    let mut window: Vec<u8> = Vec::new();
                    let mut drop_after: Option<usize> = None;
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        if let Some(left) = drop_after {
                            let take = left.min(n);
                            let _ = sw.write_all(&chunk[..take]).await;
                            if n >= left {
                                down.abort();
                                return;
                            }
                            drop_after = Some(left - n);
                            continue;
                        }
                        let wlen = window.len();
                        let mut scan = std::mem::take(&mut window);
                        scan.extend_from_slice(chunk);
                        for (i, rule) in shared.rules.iter().enumerate() {
                            let hits = rule
                                .markers
                                .iter()
                                .map(|m| count_new(&scan, m, wlen))
                                .sum::<usize>();
                            for _ in 0..hits {
                                let k = shared.seen[i].fetch_add(1, Ordering::SeqCst) + 1;
                                if !rule.occurrences.is_empty() && !rule.occurrences.contains(&k) {
                                    continue;
                                }
                                shared.fired.fetch_add(1, Ordering::SeqCst);
                                match &rule.action {
                                    Action::Call(f) => f(),
                                    Action::DropAfter(m) => drop_after = Some(*m),
                                }
                            }
                        }
                        let keep = scan.len().min(maxm.saturating_sub(1));
                        window = scan[scan.len() - keep..].to_vec();
                        if sw.write_all(chunk).await.is_err() {
                            break;
                        }
                        if drop_after == Some(0) {
                            down.abort();
                            return;
                        }
                    }
                    let _ = sw.shutdown().await;
                    let _ = down.await;
                });
            }
        });
        Proxy {
            endpoint,
            fired,
            task,
        }
    }
}

/// Matches of `needle` in `hay` that end after the first `old` bytes (not seen before).
fn count_new(hay: &[u8], needle: &[u8], old: usize) -> usize {
    if needle.is_empty() || hay.len() < needle.len() {
        return 0;
    }
    hay.windows(needle.len())
        .enumerate()
        .filter(|(p, w)| *w == needle && p + needle.len() > old)
        .count()
}
