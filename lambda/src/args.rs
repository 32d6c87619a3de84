//! The job's arguments: the operation and the keys. Schema 2.0 jobs pass `userArguments`
//! (strings); anything they leave out, and everything for schema 1.0, comes from the function's
//! environment. Key material never travels in job arguments: AES and RSA keys are files in the
//! deployment package (or a layer) named by `S3EC_KEY_FILE` / `S3EC_NEW_KEY_FILE`.
//!
//! | userArguments   | environment            | meaning                                            |
//! |-----------------|------------------------|----------------------------------------------------|
//! | `operation`     | `S3EC_OPERATION`       | `to-v3` (re-encrypt) or `rewrap`                   |
//! | `kmsKeyId`      | `S3EC_KMS_KEY_ID`      | the current KMS key                                |
//! | `kmsDiscovery`  | `S3EC_KMS_DISCOVERY`   | `true`: open with whichever KMS key an object names |
//! | —               | `S3EC_KEY_FILE`        | the current AES key (32 raw bytes, hex or base64) or RSA private key (PEM) |
//! | `newKmsKeyId`   | `S3EC_NEW_KMS_KEY_ID`  | the new KMS key                                    |
//! | —               | `S3EC_NEW_KEY_FILE`    | the new AES key or RSA key (a public key is enough) |
//! | —               | `S3EC_KEYRING_PROGRAM` | the current key behind a keyring program (`KEYRINGS.md`): its command line |
//! | —               | `S3EC_NEW_KEYRING_PROGRAM` | the new key behind a keyring program            |
//! | `legacy`        | `S3EC_LEGACY`          | `true`: read V1, legacy key wraps and AES-CBC      |
//! | `suffix`        | `S3EC_INSTRUCTION_SUFFIX` | instruction-file suffix (default `.instruction`) |
//!
//! For `to-v3` the new key defaults to the current one (not with KMS discovery).

use aws_lambda_events::event::s3::batch_job::S3BatchJobEvent;
use base64ct::{Base64, Encoding};
use s3_encryption_transport::{ClientKeyring, MigrateMode, ProgramKeyring};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `S3EC_*` environment of the function (a snapshot, so tests can pass their own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env(pub BTreeMap<String, String>);

impl Env {
    /// The process environment's `S3EC_*` variables.
    pub fn from_process() -> Self {
        Env(std::env::vars()
            .filter(|(k, _)| k.starts_with("S3EC_"))
            .collect())
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Where a key comes from (never the key itself: these are safe to log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A KMS key id, ARN or alias.
    Kms(String),
    /// KMS discovery: whichever key the object names (read only).
    KmsDiscovery,
    /// A key file in the deployment package.
    File(PathBuf),
    /// A keyring program in the deployment package (or a layer): a command line speaking the
    /// JSON-lines protocol of `KEYRINGS.md`, so an HSM or a key service plugs in without a
    /// rebuild. From the environment only: a job's arguments never name a program to run.
    Program(String),
}

/// The operation and the keys of a job.
#[derive(Debug, Clone)]
pub struct JobArgs {
    /// Re-encrypt or re-wrap.
    pub mode: MigrateMode,
    /// The key objects are read with.
    pub current: KeySource,
    /// The key objects are written with.
    pub new: KeySource,
    /// Read legacy objects (V1, legacy wraps, AES-CBC).
    pub legacy: bool,
    /// Instruction-file suffix.
    pub suffix: String,
}

fn truthy(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(format!("expected true or false, got {v:?}")),
    }
}

impl JobArgs {
    /// The arguments of `event`: its `userArguments` (schema 2.0) over `env`. The error is a short
    /// message for the result string of every task.
    pub fn from_event(event: &S3BatchJobEvent, env: &Env) -> Result<JobArgs, String> {
        let user: BTreeMap<String, String> = event
            .job
            .other
            .get("userArguments")
            .and_then(|v| v.as_object())
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let s = v
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string());
                        (k.clone(), s)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let arg = |user_key: &str, env_key: &str| -> Option<String> {
            user.get(user_key)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
                .or_else(|| env.get(env_key))
                .map(str::to_owned)
        };
        let mode = match arg("operation", "S3EC_OPERATION").as_deref() {
            Some("to-v3") => MigrateMode::ToV3,
            Some("rewrap") => MigrateMode::Rewrap,
            Some(o) => return Err(format!("unknown operation {o:?} (to-v3 or rewrap)")),
            None => {
                return Err("no operation: set userArguments.operation or S3EC_OPERATION".into());
            }
        };
        let discovery = truthy(&arg("kmsDiscovery", "S3EC_KMS_DISCOVERY").unwrap_or_default())?;
        let kms = arg("kmsKeyId", "S3EC_KMS_KEY_ID");
        let file = env
            .get("S3EC_KEY_FILE")
            .map(|f| KeySource::File(PathBuf::from(f)));
        let program = env
            .get("S3EC_KEYRING_PROGRAM")
            .map(|p| KeySource::Program(p.to_owned()));
        let named = [
            kms.map(KeySource::Kms),
            discovery.then_some(KeySource::KmsDiscovery),
            file,
            program,
        ];
        let current = match one_of(named, "current")? {
            Some(k) => k,
            None => {
                return Err(
                    "no current key: kmsKeyId, kmsDiscovery, S3EC_KEY_FILE or S3EC_KEYRING_PROGRAM"
                        .into(),
                );
            }
        };
        let named = [
            arg("newKmsKeyId", "S3EC_NEW_KMS_KEY_ID").map(KeySource::Kms),
            env.get("S3EC_NEW_KEY_FILE")
                .map(|f| KeySource::File(PathBuf::from(f))),
            env.get("S3EC_NEW_KEYRING_PROGRAM")
                .map(|p| KeySource::Program(p.to_owned())),
        ];
        let new = match one_of(named, "new")? {
            Some(k) => k,
            None if matches!(mode, MigrateMode::ToV3) && current != KeySource::KmsDiscovery => {
                current.clone()
            }
            None => {
                return Err(
                    "no new key: newKmsKeyId, S3EC_NEW_KEY_FILE or S3EC_NEW_KEYRING_PROGRAM".into(),
                );
            }
        };
        Ok(JobArgs {
            mode,
            current,
            new,
            legacy: truthy(&arg("legacy", "S3EC_LEGACY").unwrap_or_default())?,
            suffix: arg("suffix", "S3EC_INSTRUCTION_SUFFIX")
                .unwrap_or_else(|| ".instruction".to_owned()),
        })
    }
}

/// The one key source given, if any.
fn one_of<const N: usize>(
    named: [Option<KeySource>; N],
    which: &str,
) -> Result<Option<KeySource>, String> {
    let mut given = named.into_iter().flatten();
    let first = given.next();
    if given.next().is_some() {
        return Err(format!("more than one {which} key given"));
    }
    Ok(first)
}

/// The keyring a source names. Errors are short and name no key material. A keyring program is
/// started here and answers its hello before this returns (at most
/// [`KEYRING_PROGRAM_TIMEOUT`](s3_encryption_transport::KEYRING_PROGRAM_TIMEOUT)).
pub(crate) fn keyring(src: &KeySource) -> Result<ClientKeyring, String> {
    Ok(match src {
        KeySource::Program(cmd) => ClientKeyring::program(
            ProgramKeyring::from_command_line(
                cmd,
                s3_encryption_transport::KEYRING_PROGRAM_TIMEOUT,
            )
            .map_err(|e| format!("keyring program: {e}"))?,
        ),
        KeySource::Kms(id) => ClientKeyring::kms(id.clone()),
        KeySource::KmsDiscovery => ClientKeyring::kms_discovery(),
        KeySource::File(p) => {
            let b = std::fs::read(p)
                .map_err(|e| format!("cannot read key file {}: {e}", p.display()))?;
            if b.starts_with(b"-----BEGIN") {
                let t =
                    std::str::from_utf8(&b).map_err(|_| "key file is not PEM text".to_owned())?;
                ClientKeyring::rsa_pem(t).map_err(|_| "key file is not an RSA key".to_owned())?
            } else {
                ClientKeyring::aes(aes_key(&b).ok_or("key file is not an AES key")?)
            }
        }
    })
}

/// 16/24/32 raw bytes, or that many as hex or base64 text.
fn aes_key(b: &[u8]) -> Option<s3_encryption_transport::s3_encryption::AesKey> {
    use s3_encryption_transport::s3_encryption::AesKey;
    if let Ok(t) = std::str::from_utf8(b) {
        let t = t.trim();
        if matches!(t.len(), 32 | 48 | 64)
            && let Ok(k) = hex::decode(t)
        {
            return AesKey::from_slice(&k).ok();
        }
        if let Ok(k) = Base64::decode_vec(t)
            && matches!(k.len(), 16 | 24 | 32)
        {
            return AesKey::from_slice(&k).ok();
        }
    }
    AesKey::from_slice(b).ok()
}
