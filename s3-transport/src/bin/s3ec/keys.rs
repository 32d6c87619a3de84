//! Key sources and key generation.

use crate::args::{Global, KeyArgs, NewKeyArgs};
use crate::{CliResult, Failure, out};
use base64ct::{Base64, Encoding};
use s3_encryption::AesKey;
use s3_encryption::rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use s3_encryption_transport::{ClientKeyring, ProgramKeyring};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Parse AES key bytes: hex or base64 text, or 16/24/32 raw bytes.
pub fn parse_aes(bytes: &[u8], what: &str) -> CliResult<AesKey> {
    let bad = || {
        Failure::usage(
            format!("{what} is not an AES key"),
            Some(
                "an AES key is 16, 24 or 32 raw bytes, or that many bytes as hex or base64 text; s3ec keygen --aes FILE makes one",
            ),
        )
    };
    if let Ok(t) = std::str::from_utf8(bytes) {
        let t = t.trim();
        if matches!(t.len(), 32 | 48 | 64) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            let k = hex::decode(t).map_err(|_| bad())?;
            return AesKey::from_slice(&k).map_err(|_| bad());
        }
        if let Ok(k) = Base64::decode_vec(t)
            && matches!(k.len(), 16 | 24 | 32)
        {
            return AesKey::from_slice(&k).map_err(|_| bad());
        }
    }
    if matches!(bytes.len(), 16 | 24 | 32) {
        return AesKey::from_slice(bytes).map_err(|_| bad());
    }
    Err(bad())
}

fn read(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| Failure::io(format!("cannot read {}", path.display()), e))
}

fn env(var: &str) -> CliResult<String> {
    std::env::var(var).map_err(|_| {
        Failure::usage(
            format!("environment variable {var} is not set"),
            Some("export it, or pass the key as a file"),
        )
    })
}

/// Every key the arguments name, in the order of the flags (AES files, AES variables, RSA files,
/// RSA variables, KMS key ids, keyring programs, KMS discovery), each with the `--context` pairs.
fn all_keyrings(k: &KeyArgs) -> CliResult<Vec<ClientKeyring>> {
    let mut out = Vec::new();
    for p in &k.aes_key {
        out.push(ClientKeyring::aes(parse_aes(
            &read(p)?,
            &p.display().to_string(),
        )?));
    }
    for v in &k.aes_key_env {
        out.push(ClientKeyring::aes(parse_aes(
            env(v)?.as_bytes(),
            &format!("${v}"),
        )?));
    }
    for p in &k.rsa_key {
        let t = String::from_utf8(read(p)?)
            .map_err(|_| Failure::usage(format!("{} is not PEM text", p.display()), None))?;
        out.push(ClientKeyring::rsa_pem(&t)?);
    }
    for v in &k.rsa_key_env {
        out.push(ClientKeyring::rsa_pem(&env(v)?)?);
    }
    for id in &k.kms_key_id {
        out.push(ClientKeyring::kms(id.clone()));
    }
    for cmd in &k.keyring_program {
        out.push(keyring_program(cmd)?);
    }
    let discovery = k.kms_discovery.then(ClientKeyring::kms_discovery);
    let mut out: Vec<ClientKeyring> = out
        .into_iter()
        .map(|kr| kr.with_context(k.context.clone()))
        .collect();
    if let Some(d) = discovery {
        // Without --context, discovery accepts the stored encryption context.
        out.push(if k.context.is_empty() {
            d
        } else {
            d.with_context(k.context.clone())
        });
    }
    Ok(out)
}

/// The keyring the arguments name (None when no key was given); one key only.
pub fn keyring(k: &KeyArgs) -> CliResult<Option<ClientKeyring>> {
    let mut all = all_keyrings(k)?;
    if all.len() > 1 {
        return Err(Failure::usage(
            "more than one key given",
            Some(
                "pass exactly one of --aes-key, --aes-key-env, --rsa-key, --rsa-key-env, --kms-key-id, --keyring-program, --kms-discovery",
            ),
        ));
    }
    Ok(all.pop())
}

/// The old keys of `migrate`: every key flag is repeatable, and an object opens with whichever
/// of them unwraps its data key (None when no key was given).
pub fn old_keyrings(k: &KeyArgs) -> CliResult<Option<(ClientKeyring, usize)>> {
    let all = all_keyrings(k)?;
    let n = all.len();
    if n == 0 {
        return Ok(None);
    }
    Ok(Some((ClientKeyring::multi(all)?, n)))
}

/// The new key `rotate` and `migrate` take (None when none was given).
pub fn new_keyring(n: &NewKeyArgs) -> CliResult<Option<ClientKeyring>> {
    let kr = match (&n.new_key, &n.new_kms_key_id, &n.new_keyring_program) {
        (Some(f), _, _) => keyring_from_file(f)?,
        (None, Some(id), _) => ClientKeyring::kms(id.clone()),
        (None, None, Some(cmd)) => keyring_program(cmd)?,
        (None, None, None) => return Ok(None),
    };
    Ok(Some(kr.with_context(n.new_context.clone())))
}

/// The environment variable that bounds a keyring program's answers, in seconds.
pub const KEYRING_TIMEOUT_ENV: &str = "S3EC_KEYRING_TIMEOUT";

/// Start a keyring program and say hello: anything that goes wrong here is a configuration
/// error, reported before the first object.
pub fn keyring_program(cmd: &str) -> CliResult<ClientKeyring> {
    let timeout = match std::env::var(KEYRING_TIMEOUT_ENV) {
        Err(_) => s3_encryption_transport::KEYRING_PROGRAM_TIMEOUT,
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s <= 86_400.0 => std::time::Duration::from_secs_f64(s),
            _ => {
                return Err(Failure::usage(
                    format!("{KEYRING_TIMEOUT_ENV}={v} is not a number of seconds"),
                    Some("a positive number of seconds, at most 86400 (the default is 60)"),
                ));
            }
        },
    };
    let p = ProgramKeyring::from_command_line(cmd, timeout).map_err(|e| {
        Failure::usage(
            format!("keyring program {cmd}: {e}"),
            Some(
                "the program must answer {\"v\":1,\"op\":\"hello\"} on its standard input with one JSON line on its standard output (KEYRINGS.md)",
            ),
        )
    })?;
    Ok(ClientKeyring::program(p))
}

/// An AES key file or an RSA PEM, told apart by content.
pub fn keyring_from_file(p: &Path) -> CliResult<ClientKeyring> {
    let b = read(p)?;
    if b.starts_with(b"-----BEGIN") {
        let t = String::from_utf8(b)
            .map_err(|_| Failure::usage(format!("{} is not PEM text", p.display()), None))?;
        return Ok(ClientKeyring::rsa_pem(&t)?);
    }
    Ok(ClientKeyring::aes(parse_aes(&b, &p.display().to_string())?))
}

fn create_secret(path: &Path, force: bool) -> CliResult<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage(
                format!("{} already exists", path.display()),
                Some("pass --force to overwrite it"),
            )
        } else {
            Failure::io(format!("cannot create {}", path.display()), e)
        }
    })
}

pub fn keygen(
    g: &Global,
    aes: Option<PathBuf>,
    rsa: Option<PathBuf>,
    bits: u32,
    force: bool,
) -> CliResult<()> {
    if let Some(p) = aes {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|_| Failure::other("no randomness available"))?;
        let mut f = create_secret(&p, force)?;
        f.write_all(&k)
            .map_err(|e| Failure::io(format!("cannot write {}", p.display()), e))?;
        k.fill(0);
        out::info(
            g,
            &format!("wrote an AES-256 key (32 raw bytes) to {}", p.display()),
        );
        return Ok(());
    }
    let Some(p) = rsa else {
        return Err(Failure::usage("pass --aes FILE or --rsa FILE", None));
    };
    let key = s3_encryption::rsa::PrivateKey::new(&mut getrandom::SysRng, bits as usize)
        .map_err(|e| Failure::other(format!("RSA key generation failed: {e}")))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Failure::other(format!("cannot encode the key: {e}")))?;
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| Failure::other(format!("cannot encode the key: {e}")))?;
    let pubpath = PathBuf::from(format!("{}.pub", p.display()));
    if !force && pubpath.exists() {
        return Err(Failure::usage(
            format!("{} already exists", pubpath.display()),
            Some("pass --force to overwrite it"),
        ));
    }
    let mut f = create_secret(&p, force)?;
    f.write_all(pem.as_bytes())
        .map_err(|e| Failure::io(format!("cannot write {}", p.display()), e))?;
    std::fs::write(&pubpath, public)
        .map_err(|e| Failure::io(format!("cannot write {}", pubpath.display()), e))?;
    out::info(
        g,
        &format!(
            "wrote an RSA-{bits} private key to {} and its public key to {}",
            p.display(),
            pubpath.display()
        ),
    );
    Ok(())
}
