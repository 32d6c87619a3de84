//! Keyrings from outside the transport: any [`s3_encryption::Keyring`] (an HSM, a Vault transit
//! key, a hardware token) and the keyring program of `KEYRINGS.md`. Their calls may block, so
//! the async client runs each on tokio's blocking pool.

use super::Pairs;
use super::program::ProgramKeyring;
use crate::error::{Error, Result};
use s3_encryption::{DataKey, EncryptConfig, EncryptionMaterials, Envelope};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A core keyring the client can share between tasks and threads.
pub type SharedKeyring = Arc<dyn s3_encryption::Keyring + Send + Sync>;

/// Why an external keyring could not answer. Refusals of a key are not here: a keyring that
/// does not hold the object's key is "unsupported", a wrong key is the core's opaque
/// `Authentication`.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyringError {
    /// The keyring program could not be started.
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The keyring program exited, or closed its standard output.
    Exited {
        /// How it ended (`exit status: 3`, `signal: 9`), when that is known.
        status: Option<String>,
    },
    /// A request could not be written: the program closed its standard input.
    Pipe(std::io::Error),
    /// A response is not the protocol's JSON object on one line; the text says what is wrong.
    Malformed(String),
    /// A request or response line is longer than the protocol's 64 KiB.
    LineTooLong,
    /// The program did not answer within the timeout (it was stopped).
    Timeout(Duration),
    /// The program refused to wrap a data key (`{"error":…}`, or its hello said it cannot).
    Refused(String),
    /// A keyring call panicked, or its worker thread was lost.
    Panicked,
    /// The program failed earlier in this run and was stopped; the text is that failure.
    Broken(String),
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringError::Spawn { program, source } => {
                write!(f, "cannot start the keyring program {program}: {source}")
            }
            KeyringError::Exited { status: Some(s) } => {
                write!(f, "the keyring program exited ({s}) without answering")
            }
            KeyringError::Exited { status: None } => {
                f.write_str("the keyring program closed its output without answering")
            }
            KeyringError::Pipe(e) => write!(f, "cannot write to the keyring program: {e}"),
            KeyringError::Malformed(m) => {
                write!(f, "the keyring program answered a malformed response: {m}")
            }
            KeyringError::LineTooLong => {
                f.write_str("a keyring program line is longer than the protocol's 64 KiB")
            }
            KeyringError::Timeout(d) => write!(
                f,
                "the keyring program did not answer within {} s (S3EC_KEYRING_TIMEOUT sets the limit)",
                d.as_secs_f64()
            ),
            KeyringError::Refused(m) => write!(f, "the keyring program refused to wrap: {m}"),
            KeyringError::Panicked => f.write_str("a keyring call panicked"),
            KeyringError::Broken(m) => write!(f, "the keyring program is stopped: {m}"),
        }
    }
}

impl std::error::Error for KeyringError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyringError::Spawn { source, .. } | KeyringError::Pipe(source) => Some(source),
            _ => None,
        }
    }
}

/// A keyring outside the transport.
#[derive(Clone)]
pub(crate) enum External {
    /// A core keyring.
    Core(SharedKeyring),
    /// A keyring program.
    Program(Arc<ProgramKeyring>),
}

impl External {
    pub(crate) fn describe(&self) -> String {
        match self {
            External::Core(_) => "custom keyring".to_owned(),
            External::Program(p) => format!("keyring program {}", p.program()),
        }
    }

    /// Wrap `data_key` (blocking).
    fn wrap(
        &self,
        config: &EncryptConfig,
        dk: DataKey,
        desc: &Pairs,
    ) -> Result<EncryptionMaterials> {
        let d: Vec<(&str, &str)> = desc.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        match self {
            External::Core(k) => Ok(k.wrap_data_key(config, dk, &d)?),
            External::Program(p) => p.wrap(config, dk, &d),
        }
    }

    /// Unwrap the data key of `env` (blocking). A keyring that holds no key for the envelope's
    /// wrap answers a configuration error that names both, so that a multi-keyring tries the
    /// next one and a lone keyring says why it cannot.
    fn unwrap(&self, env: &Envelope) -> Result<DataKey> {
        let r = match self {
            External::Core(k) => k.decrypt_data_key(env, &[]).map_err(Error::Crypto),
            External::Program(p) => p.unwrap(env),
        };
        match r {
            Err(Error::Crypto(s3_encryption::Error::UnsupportedWrap)) => {
                Err(Error::config(format!(
                    "this object's data key is wrapped with {}, which the {} does not hold a key for",
                    env.wrap_algorithm().name(),
                    self.describe()
                )))
            }
            r => r,
        }
    }

    /// [`External::wrap`] on the blocking pool.
    pub(crate) async fn wrap_blocking(
        &self,
        config: &EncryptConfig,
        dk: DataKey,
        desc: &Pairs,
    ) -> Result<EncryptionMaterials> {
        let (me, config, desc) = (self.clone(), *config, desc.clone());
        tokio::task::spawn_blocking(move || me.wrap(&config, dk, &desc))
            .await
            .map_err(|_| Error::Keyring(KeyringError::Panicked))?
    }

    /// [`External::unwrap`] on the blocking pool.
    pub(crate) async fn unwrap_blocking(&self, env: &Envelope) -> Result<DataKey> {
        let (me, env) = (self.clone(), env.clone());
        tokio::task::spawn_blocking(move || me.unwrap(&env))
            .await
            .map_err(|_| Error::Keyring(KeyringError::Panicked))?
    }
}
