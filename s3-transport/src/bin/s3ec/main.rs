//! `s3ec`: Amazon S3 client-side encryption from the command line.
#![forbid(unsafe_code)]

mod args;
mod demo;
mod keys;
mod migrate;
mod offline;
mod out;
#[cfg(feature = "test-server")]
mod test_server;

use args::{Cli, Command, Global, KeyArgs, PlacementArg, Policy, PolicyArgs};
use clap::Parser;
use s3_encryption::{ByteRange, CommitmentPolicy, Placement};
use s3_encryption_transport::{
    Builder, ClientKeyring, Error as TError, ErrorKind, GetOptions, LargeObjectVerification,
    PutOptions, ReEncryptOptions, S3EncryptionClient,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// A failure with its exit code, cause and suggested fix.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

pub type CliResult<T> = Result<T, Failure>;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_NOT_FOUND: u8 = 3;
pub const EXIT_NOT_ENCRYPTED: u8 = 4;
pub const EXIT_AUTHENTICATION: u8 = 5;
pub const EXIT_POLICY: u8 = 6;
pub const EXIT_FORMAT: u8 = 7;

impl Failure {
    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
    pub fn other(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_FAILURE,
            message: message.into(),
            hint: None,
        }
    }
    pub fn io(what: impl std::fmt::Display, e: std::io::Error) -> Self {
        Failure {
            code: EXIT_FAILURE,
            message: format!("{what}: {e}"),
            hint: None,
        }
    }
}

impl From<s3_encryption::Error> for Failure {
    fn from(e: s3_encryption::Error) -> Self {
        TError::Crypto(e).into()
    }
}

impl From<TError> for Failure {
    fn from(e: TError) -> Self {
        use s3_encryption::Error as C;
        let code = match e.kind() {
            ErrorKind::NotFound => EXIT_NOT_FOUND,
            ErrorKind::NotEncrypted => EXIT_NOT_ENCRYPTED,
            ErrorKind::Authentication => EXIT_AUTHENTICATION,
            ErrorKind::Policy => EXIT_POLICY,
            ErrorKind::Format => EXIT_FORMAT,
            ErrorKind::Usage => EXIT_USAGE,
            _ => EXIT_FAILURE,
        };
        let hint = match &e {
            TError::NotFound { bucket, .. } => Some(format!(
                "check the bucket and key: s3ec ls s3://{bucket}/ lists what is there"
            )),
            TError::NotEncrypted { .. } => Some(
                "the object was stored without client-side encryption; read it with any S3 client (for example aws s3 cp)".into(),
            ),
            TError::Crypto(C::Authentication) | TError::KmsRefused(_) => Some(
                "the key does not match this object (wrong key, or another key's instruction file), or the object, its metadata or its instruction file was modified".into(),
            ),
            TError::ObjectChanged => Some("the object was overwritten while it was read; run the command again".into()),
            TError::Crypto(C::PolicyRejected) => Some(
                "the object is format V1/V2 (no key commitment); to read it pass --commitment-policy require-allow (and --legacy for V1 or legacy wraps)".into(),
            ),
            TError::Crypto(C::LegacyModeDisabled) => Some(
                "the object uses a legacy key wrap or unauthenticated AES-CBC content; pass --legacy to read it".into(),
            ),
            TError::Crypto(C::EncryptionContextMismatch) => Some(
                "pass the encryption context the object was written with: --context KEY=VALUE (repeatable)".into(),
            ),
            TError::Crypto(C::InstructionFileRequired) => Some(
                "the object's instruction file is missing; if it has another suffix pass --suffix".into(),
            ),
            TError::RangeNotSatisfiable { plaintext_len, .. } => Some(format!(
                "the range must start before byte {plaintext_len}"
            )),
            TError::S3 { status: None, .. } => Some(
                "no answer from S3: check --endpoint (and --path-style for S3-compatible stores), the network, and credentials".into(),
            ),
            TError::S3 {
                status: Some(403), ..
            } => Some("access denied: check the credentials (AWS_PROFILE, --profile) and the bucket policy".into()),
            TError::S3 {
                code: Some(c), ..
            } if c == "NoSuchBucket" => Some("the bucket does not exist: s3ec mb s3://BUCKET makes it".into()),
            TError::S3 {
                code: Some(c), ..
            } if c == "InvalidBucketName" => Some("bucket names are 3 to 63 characters: lowercase letters, digits, dots and hyphens".into()),
            TError::S3 {
                status: Some(400),
                code: None,
                ..
            } => Some("S3 refused the request without saying why (HEAD answers carry no error body); check the bucket name: 3 to 63 characters, lowercase letters, digits, dots and hyphens".into()),
            TError::S3 {
                status: Some(301),
                code: None,
                ..
            } => Some("the bucket is in another region: pass --region (or set AWS_REGION)".into()),
            _ if e.kind() == ErrorKind::Internal => Some(
                "this is a bug in s3ec, not in your data or command: please report it with this message".into(),
            ),
            _ => None,
        };
        Failure {
            code,
            message: e.to_string(),
            hint,
        }
    }
}

/// Split `s3://bucket/key` (key may be empty when `allow_empty_key`).
pub fn parse_url(url: &str, allow_empty_key: bool) -> CliResult<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        Failure::usage(
            format!("{url:?} is not an S3 URL"),
            Some("write it as s3://bucket/key"),
        )
    })?;
    let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
    if b.is_empty() || (!allow_empty_key && k.is_empty()) {
        return Err(Failure::usage(
            format!("{url:?} needs a bucket and a key"),
            Some("write it as s3://bucket/key"),
        ));
    }
    Ok((b.to_owned(), k.to_owned()))
}

/// The S3 (and KMS) clients a command runs against; keeps an embedded server alive.
#[derive(Debug)]
pub struct Ctx {
    pub s3: aws_sdk_s3::Client,
    pub kms_conf: Option<aws_config::SdkConfig>,
    pub kms_endpoint: Option<String>,
    pub local: bool,
    #[cfg(feature = "embedded-s3")]
    pub server: Option<s3_encryption_transport::local::LocalS3>,
}

impl Ctx {
    pub async fn new(g: &Global) -> CliResult<Ctx> {
        if let Some(dir) = &g.local {
            #[cfg(feature = "embedded-s3")]
            {
                let server = s3_encryption_transport::local::LocalS3::start(dir).await?;
                return Ok(Ctx {
                    s3: server.s3_client(),
                    kms_conf: None,
                    kms_endpoint: g.kms_endpoint.clone(),
                    local: true,
                    server: Some(server),
                });
            }
            #[cfg(not(feature = "embedded-s3"))]
            {
                let _ = dir;
                return Err(Failure::usage(
                    "--local needs s3ec built with the embedded-s3 feature",
                    None,
                ));
            }
        }
        let conf = load_aws_config(g).await;
        let mut b = aws_sdk_s3::config::Builder::from(&conf);
        if let Some(e) = &g.endpoint {
            b = b.endpoint_url(e);
        }
        if g.path_style {
            b = b.force_path_style(true);
        }
        Ok(Ctx {
            s3: aws_sdk_s3::Client::from_conf(b.build()),
            kms_conf: Some(conf),
            kms_endpoint: g.kms_endpoint.clone(),
            local: false,
            #[cfg(feature = "embedded-s3")]
            server: None,
        })
    }

    pub async fn kms(&mut self, g: &Global) -> aws_sdk_kms::Client {
        let conf = match self.kms_conf.take() {
            Some(c) => c,
            None => load_aws_config(g).await,
        };
        let mut b = aws_sdk_kms::config::Builder::from(&conf);
        if let Some(e) = &self.kms_endpoint {
            b = b.endpoint_url(e);
        }
        self.kms_conf = Some(conf);
        aws_sdk_kms::Client::from_conf(b.build())
    }

    pub async fn stop(self) {
        #[cfg(feature = "embedded-s3")]
        if let Some(s) = self.server {
            s.stop().await;
        }
    }
}

async fn load_aws_config(g: &Global) -> aws_config::SdkConfig {
    let mut l = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = &g.profile {
        l = l.profile_name(p);
    }
    if let Some(r) = &g.region {
        l = l.region(aws_config::Region::new(r.clone()));
    }
    let conf = l.load().await;
    if conf.region().is_none() {
        // S3-compatible stores rarely care; AWS needs one, and says so.
        let mut b = conf.into_builder();
        b.set_region(Some(aws_config::Region::new("us-east-1")));
        return b.build();
    }
    conf
}

pub fn commitment(p: Policy) -> CommitmentPolicy {
    match p {
        Policy::RequireRequire => CommitmentPolicy::RequireEncryptRequireDecrypt,
        Policy::RequireAllow => CommitmentPolicy::RequireEncryptAllowDecrypt,
        Policy::ForbidAllow => CommitmentPolicy::ForbidEncryptAllowDecrypt,
    }
}

/// A client for `keyring` with the policy arguments applied.
pub async fn client(
    ctx: &mut Ctx,
    g: &Global,
    keyring: ClientKeyring,
    policy: &PolicyArgs,
) -> CliResult<Builder> {
    let uses_kms = keyring.uses_kms();
    let mut b = S3EncryptionClient::builder(ctx.s3.clone(), keyring)
        .commitment_policy(commitment(policy.commitment_policy))
        .enable_legacy_wrapping_algorithms(policy.legacy)
        .enable_legacy_unauthenticated_modes(policy.legacy)
        .instruction_file_suffix(policy.suffix.clone());
    if uses_kms {
        b = b.kms_client(ctx.kms(g).await);
    }
    Ok(b)
}

/// A client for commands that need no key (inspect, ls): the keyring is never used.
fn keyless(ctx: &Ctx, suffix: &str) -> CliResult<S3EncryptionClient> {
    let unused = ClientKeyring::aes(s3_encryption::AesKey::generate()?);
    Ok(S3EncryptionClient::builder(ctx.s3.clone(), unused)
        .enable_legacy_wrapping_algorithms(true)
        .enable_legacy_unauthenticated_modes(true)
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .instruction_file_suffix(suffix)
        .build()?)
}

pub fn need_keyring(k: &KeyArgs) -> CliResult<ClientKeyring> {
    keys::keyring(k)?.ok_or_else(|| {
        Failure::usage(
            "no key given",
            Some("pass --aes-key FILE, --rsa-key PEM, --kms-key-id ID, --keyring-program 'CMD ARGS' (or --kms-discovery to read); s3ec keygen makes AES and RSA keys"),
        )
    })
}

async fn ensure_local_bucket(ctx: &Ctx, bucket: &str) {
    if ctx.local {
        let _ = ctx.s3.create_bucket().bucket(bucket).send().await;
    }
}

async fn run(cli: Cli) -> CliResult<()> {
    let g = &cli.global;
    match cli.command {
        Command::Keygen {
            aes,
            rsa,
            bits,
            force,
        } => keys::keygen(g, aes, rsa, bits, force),
        Command::Mb { url } => {
            let (bucket, _) = parse_url(&url, true)?;
            let ctx = Ctx::new(g).await?;
            let r = ctx.s3.create_bucket().bucket(&bucket).send().await;
            let r = r.map_err(|e| TError::from_s3("CreateBucket", e));
            ctx.stop().await;
            r?;
            out::info(g, &format!("made bucket s3://{bucket}"));
            Ok(())
        }
        Command::Put {
            file,
            url,
            keys,
            policy,
            placement,
            part_size,
            parts_in_flight,
            multipart_threshold,
        } => {
            let (bucket, key) = parse_url(&url, false)?;
            let keyring = need_keyring(&keys)?;
            let mut ctx = Ctx::new(g).await?;
            ensure_local_bucket(&ctx, &bucket).await;
            let part = part_size
                .checked_mul(1024 * 1024)
                .ok_or_else(|| Failure::usage("--part-size is too large", None))?;
            let c = client(&mut ctx, g, keyring, &policy)
                .await?
                .placement(match placement {
                    PlacementArg::Metadata => Placement::ObjectMetadata,
                    PlacementArg::InstructionFile => Placement::InstructionFile,
                })
                .part_size(part)
                .parts_in_flight(parts_in_flight)
                .memory_budget(part * (parts_in_flight as u64 + 1));
            let c = match multipart_threshold {
                Some(t) => {
                    c.multipart_threshold(t.checked_mul(1024 * 1024).ok_or_else(|| {
                        Failure::usage("--multipart-threshold is too large", None)
                    })?)
                }
                None => c,
            }
            .build()?;
            let r = put(g, &c, &bucket, &key, &file).await;
            ctx.stop().await;
            let o = r?;
            out::put(g, &url, &o);
            Ok(())
        }
        Command::Get {
            url,
            range,
            output,
            keys,
            policy,
            spill_dir,
            memory_budget,
            connections,
        } => {
            let (bucket, key) = parse_url(&url, false)?;
            let keyring = need_keyring(&keys)?;
            let range = range
                .map(|r| {
                    let h = if r.starts_with("bytes=") {
                        r.clone()
                    } else {
                        format!("bytes={r}")
                    };
                    ByteRange::parse(&h).map_err(|_| {
                        Failure::usage(
                            format!("bad range {r:?}"),
                            Some("write a-b (inclusive), a- or -n, in plaintext bytes"),
                        )
                    })
                })
                .transpose()?;
            let mut ctx = Ctx::new(g).await?;
            let budget = memory_budget
                .checked_mul(1024 * 1024)
                .filter(|b| *b >= 16 * 1024 * 1024)
                .ok_or_else(|| Failure::usage("--memory-budget must be at least 16 (MiB)", None))?;
            let mut b = client(&mut ctx, g, keyring, &policy)
                .await?
                .memory_budget(budget)
                .part_size(5 * 1024 * 1024)
                .connections(connections)
                .enable_legacy_unauthenticated_modes(policy.legacy || range.is_some());
            if let Some(d) = spill_dir {
                b = b
                    .large_object_verification(LargeObjectVerification::SpillFile { dir: Some(d) });
            }
            let c = b.build()?;
            let r = get(g, &c, &bucket, &key, range, output.as_ref()).await;
            ctx.stop().await;
            r
        }
        Command::Inspect {
            url,
            metadata,
            instruction_file,
            body,
            suffix,
        } => {
            if let Some(m) = metadata {
                return offline::inspect(g, &m, instruction_file.as_deref(), body.as_deref());
            }
            let url = url.unwrap_or_default();
            let (bucket, key) = parse_url(&url, false)?;
            let ctx = Ctx::new(g).await?;
            let c = keyless(&ctx, &suffix)?;
            let r = c.head_object(&bucket, &key, &GetOptions::default()).await;
            ctx.stop().await;
            out::inspect(g, &url, &r?);
            Ok(())
        }
        Command::Rotate {
            url,
            keys,
            policy,
            new,
            new_suffix,
            enforce_rotation,
        } => {
            let (bucket, key) = parse_url(&url, false)?;
            let keyring = need_keyring(&keys)?;
            let new = keys::new_keyring(&new)?.ok_or_else(|| {
                Failure::usage(
                    "no new key given",
                    Some("pass --new-key FILE (AES key or RSA PEM), --new-kms-key-id ID or --new-keyring-program 'CMD ARGS'"),
                )
            })?;
            let mut ctx = Ctx::new(g).await?;
            let mut b = client(&mut ctx, g, keyring, &policy).await?;
            if new.uses_kms() {
                b = b.kms_client(ctx.kms(g).await);
            }
            let c = b.build()?;
            let r = c
                .reencrypt_instruction_file(
                    &bucket,
                    &key,
                    &new,
                    &ReEncryptOptions {
                        new_suffix,
                        enforce_rotation,
                        encryption_context: (!keys.context.is_empty())
                            .then(|| keys.context.clone()),
                        ..Default::default()
                    },
                )
                .await;
            ctx.stop().await;
            let r = r?;
            out::rotate(g, &url, &bucket, &r);
            Ok(())
        }
        Command::Rm { url, suffix } => {
            let (bucket, key) = parse_url(&url, false)?;
            let ctx = Ctx::new(g).await?;
            let c = keyless(&ctx, &suffix)?;
            let r = c.delete_object(&bucket, &key).await;
            ctx.stop().await;
            let d = r?;
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "url": url,
                        "existed": d.object,
                        "instruction_file_deleted": d.instruction_file,
                    })
                );
            } else if !d.object {
                println!("{url}: no such object (nothing deleted)");
            } else if d.instruction_file {
                println!("deleted {url} and its instruction file {url}{suffix}");
            } else {
                println!("deleted {url}");
            }
            Ok(())
        }
        Command::Migrate(a) => migrate::run(g, a).await,
        Command::Ls { url, suffix } => {
            let (bucket, prefix) = parse_url(&url, true)?;
            let ctx = Ctx::new(g).await?;
            let c = keyless(&ctx, &suffix)?;
            let r = c.list_objects(&bucket, &prefix).await;
            ctx.stop().await;
            out::ls(g, &bucket, &r?);
            Ok(())
        }
        Command::Decrypt {
            metadata,
            instruction_file,
            body,
            output,
            keys,
            policy,
        } => {
            offline::decrypt(
                g,
                &metadata,
                instruction_file.as_deref(),
                &body,
                &output,
                &keys,
                &policy,
            )
            .await
        }
        Command::Encrypt {
            file,
            output,
            metadata_out,
            instruction_file_out,
            keys,
            policy,
        } => {
            offline::encrypt(
                g,
                &file,
                &output,
                &metadata_out,
                instruction_file_out.as_deref(),
                &keys,
                &policy,
            )
            .await
        }
        Command::Demo { size, dir } => demo::run(g, size, dir).await,
        #[cfg(feature = "test-server")]
        Command::TestServer { port } => test_server::run(g, port).await,
        #[cfg(not(feature = "test-server"))]
        Command::TestServer { .. } => Err(Failure::usage(
            "test-server needs s3ec built with the test-server feature",
            None,
        )),
    }
}

async fn put(
    g: &Global,
    c: &S3EncryptionClient,
    bucket: &str,
    key: &str,
    file: &PathBuf,
) -> CliResult<s3_encryption_transport::PutOutput> {
    if file.as_os_str() == "-" {
        let pb = out::bar(g, None, "upload");
        let p = pb.clone();
        let opts = PutOptions {
            progress: Some(Arc::new(move |n| p.inc(n))),
            ..Default::default()
        };
        let r = c
            .put_object(bucket, key, tokio::io::stdin(), None, &opts)
            .await;
        pb.finish_and_clear();
        return Ok(r?);
    }
    let len = std::fs::metadata(file)
        .map_err(|e| Failure::io(format!("cannot read {}", file.display()), e))?
        .len();
    let pb = out::bar(g, Some(len), "upload");
    let p = pb.clone();
    let opts = PutOptions {
        progress: Some(Arc::new(move |n| p.inc(n))),
        ..Default::default()
    };
    let r = c.put_file(bucket, key, file, &opts).await;
    pb.finish_and_clear();
    Ok(r?)
}

async fn get(
    g: &Global,
    c: &S3EncryptionClient,
    bucket: &str,
    key: &str,
    range: Option<ByteRange>,
    output: Option<&PathBuf>,
) -> CliResult<()> {
    let head = c.head_object(bucket, key, &GetOptions::default()).await?;
    let pb = out::bar(g, head.plaintext_len, "download");
    let p = pb.clone();
    let opts = GetOptions {
        progress: Some(Arc::new(move |n| p.inc(n))),
        ..Default::default()
    };
    if range.is_some() && !g.quiet {
        eprintln!(
            "s3ec: warning: ranged reads are not authenticated (the tag covers the whole object)"
        );
    }
    let r = match (range, output) {
        (Some(r), Some(path)) => {
            // Written beside the target and renamed into place once the read completed.
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                _ => PathBuf::from("."),
            };
            let tmp = tempfile::NamedTempFile::new_in(&dir)
                .map_err(|e| Failure::io(format!("cannot write in {}", dir.display()), e))?;
            let f = tmp
                .reopen()
                .map_err(|e| Failure::io(format!("cannot write in {}", dir.display()), e))?;
            let mut f = tokio::fs::File::from_std(f);
            let r = c
                .get_object_range_hazmat(bucket, key, r, &mut f, &opts)
                .await;
            drop(f);
            if r.is_ok() {
                tmp.persist(path).map_err(|e| {
                    Failure::io(format!("cannot write {}", path.display()), e.error)
                })?;
            }
            r
        }
        (Some(r), None) => {
            let mut so = tokio::io::stdout();
            c.get_object_range_hazmat(bucket, key, r, &mut so, &opts)
                .await
        }
        (None, Some(path)) => c.get_object_to_file(bucket, key, path, &opts).await,
        (None, None) => {
            let mut so = tokio::io::stdout();
            c.get_object_to_writer(bucket, key, &mut so, &opts).await
        }
    };
    pb.finish_and_clear();
    let r = r?;
    out::get(g, bucket, key, output, &r);
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("s3ec: error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("s3ec: error: {}", f.message);
            if let Some(h) = f.hint {
                eprintln!("  hint: {h}");
            }
            ExitCode::from(f.code)
        }
    }
}
