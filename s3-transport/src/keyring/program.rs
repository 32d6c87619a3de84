//! The keyring program of `KEYRINGS.md`: an external process (an HSM client, a Vault agent, a
//! script) that wraps and unwraps data keys, spoken to in JSON lines over its standard input and
//! output. Started once; `hello` first; then one request and one response per line, in order,
//! under a mutex. Every failure to answer is a [`KeyringError`], bounded by a timeout; the
//! process is killed and reaped when the keyring is dropped.

use super::external::KeyringError;
use crate::error::{Error, Result};
use base64ct::{Base64, Encoding};
use s3_encryption::{DataKey, EncryptConfig, EncryptionMaterials, Envelope, WrapAlgorithm};
use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use zeroize::{Zeroize, Zeroizing};

/// The longest request or response line, without its newline.
pub const MAX_LINE: usize = 64 * 1024;

/// How long a response may take unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the reader thread hands over: a line, or why there is none.
enum Line {
    Text(Vec<u8>),
    Eof,
    TooLong,
    Partial,
    Failed(std::io::Error),
}

struct Process {
    child: Child,
    requests: Option<Sender<Vec<u8>>>,
    responses: Receiver<Line>,
    /// Set by the first failure: the process is stopped and every later call reports it.
    broken: Option<String>,
}

/// A keyring program (see the module docs). Implements [`s3_encryption::Keyring`]; the
/// transport's [`crate::ClientKeyring::program`] uses it with typed errors.
pub struct ProgramKeyring {
    program: String,
    can_wrap: bool,
    can_unwrap: bool,
    timeout: Duration,
    process: Mutex<Process>,
}

impl std::fmt::Debug for ProgramKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgramKeyring")
            .field("program", &self.program)
            .field("can_wrap", &self.can_wrap)
            .field("can_unwrap", &self.can_unwrap)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Split a command line into words like a POSIX shell does (single and double quotes,
/// backslash escapes), without running a shell: no expansion, no redirection.
pub fn split_command_line(line: &str) -> Result<Vec<String>> {
    let bad = |m: &str| Error::config(format!("keyring program command line: {m}"));
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(bad("unterminated single quote")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(bad("unterminated double quote")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(bad("unterminated double quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => cur.push(c),
                    None => return Err(bad("a trailing backslash")),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        return Err(bad("no program given"));
    }
    Ok(words)
}

fn reader(stdout: ChildStdout, tx: Sender<Line>) {
    let mut r = BufReader::new(stdout);
    loop {
        let mut line = Vec::new();
        let got = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line);
        let msg = match got {
            Ok(0) => Line::Eof,
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Line::Text(line)
            }
            Ok(_) if line.len() > MAX_LINE => Line::TooLong,
            Ok(_) => Line::Partial,
            Err(e) => Line::Failed(e),
        };
        let last = !matches!(msg, Line::Text(_));
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

fn writer(mut stdin: ChildStdin, rx: Receiver<Vec<u8>>) {
    for mut line in rx {
        let ok = stdin.write_all(&line).and_then(|()| stdin.flush()).is_ok();
        line.zeroize();
        if !ok {
            return;
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

fn object(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect(),
    )
}

/// Zero the data key a request or response carries (base64 text) before it is dropped.
fn scrub(v: &mut Value) {
    if let Some(Value::String(k)) = v.get_mut("data_key") {
        k.zeroize();
    }
}

fn malformed(m: impl Into<String>) -> Error {
    Error::Keyring(KeyringError::Malformed(m.into()))
}

impl ProgramKeyring {
    /// Start `argv` (the program, then its arguments; no shell) and say `hello`, waiting at most
    /// `timeout` for each answer. Its standard error is the caller's. This blocks until the
    /// hello is answered: from async code, call it on the blocking pool.
    pub fn spawn(argv: &[String], timeout: Duration) -> Result<Self> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| Error::config("no keyring program given"))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| {
                Error::Keyring(KeyringError::Spawn {
                    program: program.clone(),
                    source,
                })
            })?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Keyring(KeyringError::Panicked));
        };
        let (req_tx, req_rx) = mpsc::channel();
        let (resp_tx, resp_rx) = mpsc::channel();
        std::thread::spawn(move || writer(stdin, req_rx));
        std::thread::spawn(move || reader(stdout, resp_tx));
        let mut me = ProgramKeyring {
            program: program.clone(),
            can_wrap: false,
            can_unwrap: false,
            timeout,
            process: Mutex::new(Process {
                child,
                requests: Some(req_tx),
                responses: resp_rx,
                broken: None,
            }),
        };
        let hello = me.call(json!({"v": 1, "op": "hello"}))?;
        if hello.get("v") != Some(&json!(1)) {
            return Err(me.fail(malformed("hello: not protocol version 1 (\"v\":1)")));
        }
        let flag = |k: &str| match hello.get(k) {
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(malformed(format!("hello: \"{k}\" is not true or false"))),
        };
        me.can_wrap = flag("can_wrap").map_err(|e| me.fail(e))?;
        me.can_unwrap = flag("can_unwrap").map_err(|e| me.fail(e))?;
        Ok(me)
    }

    /// [`ProgramKeyring::spawn`] from one command line, split by [`split_command_line`].
    pub fn from_command_line(line: &str, timeout: Duration) -> Result<Self> {
        Self::spawn(&split_command_line(line)?, timeout)
    }

    /// The program (its first word).
    pub fn program(&self) -> &str {
        &self.program
    }

    /// Whether its hello said it can wrap data keys.
    pub fn can_wrap(&self) -> bool {
        self.can_wrap
    }

    /// Whether its hello said it can unwrap data keys.
    pub fn can_unwrap(&self) -> bool {
        self.can_unwrap
    }

    /// The first failure, after which the program was stopped (`None` while it works).
    pub fn failure(&self) -> Option<String> {
        self.lock().broken.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Process> {
        self.process.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stop the program after `e` (the first failure is kept) and return `e`.
    fn fail(&self, e: Error) -> Error {
        let mut p = self.lock();
        p.stop(&e);
        e
    }

    /// One request, one response object (a failure stops the program).
    fn call(&self, request: Value) -> Result<Map<String, Value>> {
        let mut p = self.lock();
        if let Some(why) = &p.broken {
            return Err(Error::Keyring(KeyringError::Broken(why.clone())));
        }
        let r = p.exchange(request, self.timeout);
        if let Err(e) = &r {
            p.stop(e);
        }
        r
    }

    /// Wrap `data_key` for `config`'s content cipher; the program's materials description, when
    /// it gives one, replaces `context`.
    pub fn wrap(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: &[(&str, &str)],
    ) -> Result<EncryptionMaterials> {
        if !self.can_wrap {
            return Err(Error::Keyring(KeyringError::Refused(
                "its hello says it cannot wrap (can_wrap is false)".into(),
            )));
        }
        let mut request = json!({
            "v": 1,
            "op": "wrap",
            "content_cipher": config.content_cipher_id(),
            "materials_description": object(context),
        });
        request["data_key"] = Value::String(b64(data_key.as_bytes()));
        let r = self.call(request)?;
        if let Some(e) = r.get("error") {
            let m = r.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(Error::Keyring(KeyringError::Refused(format!(
                "{} {m}",
                e.as_str().unwrap_or("error")
            ))));
        }
        let res = (|| {
            let wrap = match r.get("wrap").and_then(Value::as_str) {
                Some("AES/GCM") => WrapAlgorithm::AesGcm,
                Some("RSA-OAEP-SHA1") => WrapAlgorithm::RsaOaepSha1,
                Some(w) => {
                    return Err(malformed(format!(
                        "wrap \"{w}\" is not AES/GCM or RSA-OAEP-SHA1"
                    )));
                }
                None => return Err(malformed("a wrap response without \"wrap\"")),
            };
            let edk = r
                .get("encrypted_data_key")
                .and_then(Value::as_str)
                .and_then(|s| Base64::decode_vec(s).ok())
                .ok_or_else(|| malformed("\"encrypted_data_key\" is not base64"))?;
            let desc: Vec<(String, String)> = match r.get("materials_description") {
                None => context
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k.clone(), s.clone())),
                        _ => Err(malformed(
                            "\"materials_description\" values must be strings",
                        )),
                    })
                    .collect::<Result<_>>()?,
                Some(_) => return Err(malformed("\"materials_description\" is not an object")),
            };
            let d: Vec<(&str, &str)> = desc.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            EncryptionMaterials::externally_wrapped(config, data_key, wrap, &edk, &d)
                .map_err(|e| malformed(format!("its wrapped key was refused: {e}")))
        })();
        res.map_err(|e| self.fail(e))
    }

    /// Unwrap the data key of `envelope`. A wrap it does not hold a key for (and every KMS
    /// wrap) is the core's `UnsupportedWrap`; every other refusal is the opaque
    /// `Authentication`.
    pub fn unwrap(&self, envelope: &Envelope) -> Result<DataKey> {
        use s3_encryption::Error as Core;
        if !self.can_unwrap || envelope.wrap_algorithm().is_kms() {
            return Err(Error::Crypto(Core::UnsupportedWrap));
        }
        let desc: Value = envelope
            .materials_description()
            .and_then(|d| serde_json::from_str(d).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let mut r = self.call(json!({
            "v": 1,
            "op": "unwrap",
            "wrap": envelope.wrap_algorithm().name(),
            "content_cipher": envelope.content_cipher_id(),
            "encrypted_data_key": b64(envelope.encrypted_data_key()),
            "materials_description": desc,
        }))?;
        let key = match r.get_mut("data_key") {
            Some(Value::String(k)) => Some(Zeroizing::new(std::mem::take(k))),
            _ => None,
        };
        match (r.get("error").and_then(Value::as_str), key) {
            (Some("unsupported"), _) => Err(Error::Crypto(Core::UnsupportedWrap)),
            (Some(_), _) => Err(Error::Crypto(Core::Authentication)),
            (None, Some(k)) => {
                let bytes = Base64::decode_vec(&k)
                    .map(Zeroizing::new)
                    .map_err(|_| self.fail(malformed("\"data_key\" is not base64")))?;
                DataKey::from_slice(&bytes).map_err(|_| Error::Crypto(Core::Authentication))
            }
            _ => Err(self.fail(malformed(
                "an unwrap response without \"data_key\" or \"error\"",
            ))),
        }
    }
}

impl Process {
    fn exchange(&mut self, request: Value, timeout: Duration) -> Result<Map<String, Value>> {
        // A line nobody asked for would answer the next request: the program is out of step.
        if let Ok(l) = self.responses.try_recv() {
            return Err(match l {
                Line::Text(_) => malformed("a line before any request asked for it"),
                other => self.ended(other),
            });
        }
        let mut request = request;
        let line = serde_json::to_vec(&request);
        scrub(&mut request);
        let mut line = line.map_err(|e| malformed(e.to_string()))?;
        if line.len() > MAX_LINE {
            line.zeroize();
            return Err(Error::Keyring(KeyringError::LineTooLong));
        }
        line.push(b'\n');
        let sent = self.requests.as_ref().map(|tx| tx.send(line));
        if !matches!(sent, Some(Ok(()))) {
            return Err(self.ended(Line::Eof));
        }
        match self.responses.recv_timeout(timeout) {
            Ok(Line::Text(mut text)) => {
                let parsed = serde_json::from_slice::<Value>(&text);
                text.zeroize();
                match parsed {
                    Ok(Value::Object(m)) => Ok(m),
                    Ok(_) => Err(malformed("not a JSON object")),
                    Err(e) => Err(malformed(format!("not JSON ({e})"))),
                }
            }
            Ok(other) => Err(self.ended(other)),
            Err(RecvTimeoutError::Timeout) => Err(Error::Keyring(KeyringError::Timeout(timeout))),
            Err(RecvTimeoutError::Disconnected) => Err(self.ended(Line::Eof)),
        }
    }

    /// The error for a reader that has no line to give.
    fn ended(&mut self, l: Line) -> Error {
        Error::Keyring(match l {
            Line::TooLong => KeyringError::LineTooLong,
            Line::Partial => KeyringError::Malformed("its output ended inside a line".into()),
            Line::Failed(e) => KeyringError::Pipe(e),
            Line::Eof | Line::Text(_) => KeyringError::Exited {
                status: self.exit_status(Duration::from_secs(2)),
            },
        })
    }

    /// The program's exit status, if it ends within `grace`.
    fn exit_status(&mut self, grace: Duration) -> Option<String> {
        let until = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return Some(s.to_string()),
                Ok(None) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return None,
            }
        }
    }

    /// Kill and reap the program; remember why.
    fn stop(&mut self, why: &Error) {
        if self.broken.is_none() {
            self.broken = Some(why.to_string());
        }
        self.requests = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ProgramKeyring {
    fn drop(&mut self) {
        let p = self.process.get_mut().unwrap_or_else(|p| p.into_inner());
        p.requests = None;
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
}

/// The core's extension point: the keyring program as any other keyring. The core's errors
/// carry no text: the program's own failures (it exited, timed out, answered garbage) are
/// `KeyringFailed` there, with the text in [`ProgramKeyring::failure`].
impl s3_encryption::Keyring for ProgramKeyring {
    fn wrap_data_key(
        &self,
        config: &EncryptConfig,
        data_key: DataKey,
        context: s3_encryption::EncryptionContext<'_>,
    ) -> s3_encryption::Result<EncryptionMaterials> {
        self.wrap(config, data_key, context).map_err(core_error)
    }

    fn decrypt_data_key(
        &self,
        envelope: &Envelope,
        _context: s3_encryption::EncryptionContext<'_>,
    ) -> s3_encryption::Result<DataKey> {
        self.unwrap(envelope).map_err(core_error)
    }
}

fn core_error(e: Error) -> s3_encryption::Error {
    match e {
        Error::Crypto(c) => c,
        _ => s3_encryption::Error::KeyringFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::split_command_line;

    #[test]
    fn command_lines_split_like_a_shell_without_one() {
        let s = |l: &str| split_command_line(l).unwrap();
        assert_eq!(s("hsm --slot 3"), ["hsm", "--slot", "3"]);
        assert_eq!(
            s("  'a b'  \"c \\\"d\\\"\" e\\ f "),
            ["a b", "c \"d\"", "e f"]
        );
        assert_eq!(s("x '' $HOME"), ["x", "", "$HOME"]);
        for bad in ["", "   ", "'open", "\"open", "trailing\\"] {
            assert!(split_command_line(bad).is_err(), "{bad:?}");
        }
    }
}
