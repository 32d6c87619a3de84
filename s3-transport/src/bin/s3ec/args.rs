//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const AFTER_HELP: &str = "\
Key sources: --aes-key FILE (32 raw bytes, or base64 / hex text), --aes-key-env VAR,
  --rsa-key PEM (private key; a public key is enough to write), --rsa-key-env VAR,
  --kms-key-id ID, --kms-discovery (read only), --keyring-program 'CMD ARGS' (an HSM, Vault or
  token client speaking the JSON-lines protocol of KEYRINGS.md; S3EC_KEYRING_TIMEOUT bounds each
  answer, default 60 s). AWS credentials, region and profile come from the usual places
  (environment, ~/.aws/config, --profile); --endpoint URL and --path-style reach S3-compatible
  stores; --local DIR runs an S3 server embedded in s3ec, kept in DIR.

Exit codes: 0 success, 1 S3/KMS/network/I-O failure, 2 usage error, 3 not found,
  4 not encrypted (a plain S3 object), 5 authentication failure (wrong key or tampered data),
  6 refused by policy (commitment policy, legacy modes, encryption context), 7 malformed envelope.

Start with: s3ec demo";

#[derive(Debug, Parser)]
#[command(
    name = "s3ec",
    version,
    about = "Amazon S3 client-side encryption (S3EC V1/V2/V3): put, get, inspect, rotate, list",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// S3 endpoint URL (an S3-compatible store).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Path-style addressing (http://host/bucket/key), which most S3-compatible stores need.
    #[arg(long, global = true)]
    pub path_style: bool,
    /// AWS region.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile from ~/.aws/config.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// KMS endpoint URL (a local KMS for testing).
    #[arg(long, global = true, value_name = "URL")]
    pub kms_endpoint: Option<String>,
    /// Run against an S3 server embedded in s3ec, keeping its data in DIR.
    #[arg(long, global = true, value_name = "DIR")]
    pub local: Option<PathBuf>,
    /// No progress bars or informational messages.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// JSON output (inspect, ls, put, get).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Args, Default, Clone)]
pub struct KeyArgs {
    /// AES master key file: 16/24/32 raw bytes, or base64 or hex text (`migrate`: repeatable).
    #[arg(long, value_name = "FILE")]
    pub aes_key: Vec<PathBuf>,
    /// Environment variable holding the AES master key (base64 or hex; `migrate`: repeatable).
    #[arg(long, value_name = "VAR")]
    pub aes_key_env: Vec<String>,
    /// RSA key in PEM form: a private key (reads and writes) or a public key (writes;
    /// `migrate`: repeatable).
    #[arg(long, value_name = "PEM")]
    pub rsa_key: Vec<PathBuf>,
    /// Environment variable holding an RSA key in PEM form (`migrate`: repeatable).
    #[arg(long, value_name = "VAR")]
    pub rsa_key_env: Vec<String>,
    /// AWS KMS key id, ARN or alias (`migrate`: repeatable).
    #[arg(long, value_name = "ID")]
    pub kms_key_id: Vec<String>,
    /// External keyring program (an HSM, Vault or token client): 'COMMAND ARGS…', split like a
    /// shell word list and run without a shell, once per run; it wraps and unwraps data keys
    /// over the JSON-lines protocol of KEYRINGS.md. S3EC_KEYRING_TIMEOUT: seconds it may take
    /// to answer (default 60). (`migrate`: repeatable.)
    #[arg(long, value_name = "'CMD ARGS'")]
    pub keyring_program: Vec<String>,
    /// Decrypt with whichever KMS key the object names.
    #[arg(long)]
    pub kms_discovery: bool,
    /// Materials description (AES/RSA) or KMS encryption context entry; repeatable.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub context: Vec<(String, String)>,
}

/// The new key of `rotate` and `migrate`.
#[derive(Debug, Args, Default, Clone)]
pub struct NewKeyArgs {
    /// The new key: an AES key file or an RSA PEM (a public key is enough).
    #[arg(long, value_name = "FILE")]
    pub new_key: Option<PathBuf>,
    /// The new key: a KMS key id.
    #[arg(long, value_name = "ID", conflicts_with = "new_key")]
    pub new_kms_key_id: Option<String>,
    /// The new key: an external keyring program ('COMMAND ARGS…', as --keyring-program).
    #[arg(
        long,
        value_name = "'CMD ARGS'",
        conflicts_with_all = ["new_key", "new_kms_key_id"]
    )]
    pub new_keyring_program: Option<String>,
    /// Materials description / encryption context of the new key; repeatable.
    #[arg(long = "new-context", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub new_context: Vec<(String, String)>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct PolicyArgs {
    /// Commitment policy.
    #[arg(long, value_enum, default_value_t = Policy::RequireRequire)]
    pub commitment_policy: Policy,
    /// Read legacy objects: V1/V2 formats, legacy key wraps, AES-CBC content (unauthenticated).
    #[arg(long)]
    pub legacy: bool,
    /// Instruction-file suffix (verbatim).
    #[arg(long, default_value = s3_encryption::envelope::keys::INSTRUCTION_SUFFIX)]
    pub suffix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Policy {
    /// REQUIRE_ENCRYPT_REQUIRE_DECRYPT: write V3, read only V3.
    #[default]
    RequireRequire,
    /// REQUIRE_ENCRYPT_ALLOW_DECRYPT: write V3, read V2 and V3.
    RequireAllow,
    /// FORBID_ENCRYPT_ALLOW_DECRYPT: write V2, read V2 and V3.
    ForbidAllow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PlacementArg {
    /// Everything in the object's metadata.
    #[default]
    Metadata,
    /// Key material in an instruction file beside the object.
    InstructionFile,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    Ok((k.to_owned(), v.to_owned()))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a key: a raw AES-256 key file, or an RSA key pair (FILE and FILE.pub).
    Keygen {
        /// Write a 32-byte AES-256 key to FILE.
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "rsa",
            required_unless_present = "rsa"
        )]
        aes: Option<PathBuf>,
        /// Write an RSA private key (PKCS#8 PEM) to FILE and its public key to FILE.pub.
        #[arg(long, value_name = "FILE")]
        rsa: Option<PathBuf>,
        /// RSA modulus size.
        #[arg(long, default_value_t = 3072, value_parser = clap::value_parser!(u32).range(2048..=8192))]
        bits: u32,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Make a bucket.
    Mb {
        /// s3://bucket
        url: String,
    },
    /// Encrypt FILE and upload it.
    Put {
        /// The file to upload ("-" for standard input).
        file: PathBuf,
        /// s3://bucket/key
        url: String,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Where the envelope goes.
        #[arg(long, value_enum, default_value_t = PlacementArg::Metadata)]
        placement: PlacementArg,
        /// Multipart part size in MiB (at least 5).
        #[arg(long, default_value_t = 8)]
        part_size: u64,
        /// Parts uploading at once.
        #[arg(long, default_value_t = 4)]
        parts_in_flight: usize,
        /// Files up to this many MiB go up in one PutObject, encrypted as they stream (default:
        /// the part size; larger files are multipart uploads with parts encrypted on all cores).
        #[arg(long, value_name = "MIB")]
        multipart_threshold: Option<u64>,
    },
    /// Download and decrypt (verified before any output, unless --range).
    Get {
        /// s3://bucket/key
        url: String,
        /// Plaintext byte range: a-b, a- or -n (ranged reads are NOT authenticated).
        #[arg(long, value_name = "RANGE", allow_hyphen_values = true)]
        range: Option<String>,
        /// Output file (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Verify large objects through a spill file in DIR instead of two pinned GETs.
        #[arg(long, value_name = "DIR")]
        spill_dir: Option<PathBuf>,
        /// Memory budget in MiB: objects up to this size are verified in memory.
        #[arg(long, default_value_t = 64)]
        memory_budget: u64,
        /// Concurrent ranged GETs for objects over the budget (each range checked and
        /// authenticated as a GCM segment; nothing released before the combined tag verifies).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        connections: u16,
    },
    /// Delete an object and, when its envelope lives there, its instruction file.
    Rm {
        /// s3://bucket/key
        url: String,
        /// Instruction-file suffix (verbatim).
        #[arg(long, default_value = s3_encryption::envelope::keys::INSTRUCTION_SUFFIX)]
        suffix: String,
    },
    /// Describe an object's envelope (never key material): s3://bucket/key, or offline with
    /// --metadata.
    Inspect {
        /// s3://bucket/key
        #[arg(required_unless_present = "metadata")]
        url: Option<String>,
        /// Offline: the object's user metadata as a JSON object.
        #[arg(long, value_name = "META.json", conflicts_with = "url")]
        metadata: Option<PathBuf>,
        /// Offline: the instruction file.
        #[arg(long, value_name = "FILE", requires = "metadata")]
        instruction_file: Option<PathBuf>,
        /// Offline: the stored body (for the plaintext length).
        #[arg(long, value_name = "BODY", requires = "metadata")]
        body: Option<PathBuf>,
        /// Instruction-file suffix (verbatim).
        #[arg(long, default_value = s3_encryption::envelope::keys::INSTRUCTION_SUFFIX)]
        suffix: String,
    },
    /// Re-encrypt an object's instruction file under a new key (the object is not touched).
    Rotate {
        /// s3://bucket/key
        url: String,
        /// The current key.
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        policy: PolicyArgs,
        /// The new key.
        #[command(flatten)]
        new: NewKeyArgs,
        /// Write the new instruction file at this suffix (default: --suffix).
        #[arg(long, value_name = "SUFFIX")]
        new_suffix: Option<String>,
        /// Fail if the current key can still open the new instruction file.
        #[arg(long)]
        enforce_rotation: bool,
    },
    /// Migrate every object under a prefix (or in a manifest) to V3, or re-wrap its data key under
    /// a new key; resumable (--journal), with a dry-run inventory and a JSON report.
    #[command(after_help = MIGRATE_HELP)]
    Migrate(MigrateArgs),
    /// List objects with their plaintext sizes.
    Ls {
        /// s3://bucket or s3://bucket/prefix
        url: String,
        /// Instruction-file suffix (verbatim).
        #[arg(long, default_value = s3_encryption::envelope::keys::INSTRUCTION_SUFFIX)]
        suffix: String,
    },
    /// Offline: decrypt a stored body with its metadata (and instruction file).
    Decrypt {
        /// The object's user metadata as a JSON object (keys with or without x-amz-meta-).
        #[arg(long, value_name = "META.json")]
        metadata: PathBuf,
        /// The instruction file, when the key material is not in the metadata.
        #[arg(long, value_name = "FILE")]
        instruction_file: Option<PathBuf>,
        /// The stored body.
        #[arg(long, value_name = "BODY")]
        body: PathBuf,
        /// Output file.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Offline: encrypt FILE into a body plus its metadata JSON (and instruction file).
    Encrypt {
        /// The plaintext file.
        file: PathBuf,
        /// Where to write the encrypted body.
        #[arg(short, long, value_name = "BODY")]
        output: PathBuf,
        /// Where to write the metadata JSON.
        #[arg(long, value_name = "META.json")]
        metadata_out: PathBuf,
        /// Write the key material to this instruction file instead of the metadata.
        #[arg(long, value_name = "FILE")]
        instruction_file_out: Option<PathBuf>,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// The whole story on an S3 server embedded in s3ec, no AWS account needed.
    Demo {
        /// Object size in MiB.
        #[arg(long, default_value_t = 256)]
        size: u64,
        /// Keep the server's data in DIR (default: a temporary folder, removed at the end).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Serve AWS's cross-SDK S3EC test-harness protocol (the Smithy model S3ECTestServer) on
    /// 127.0.0.1, against the S3 and KMS of the usual AWS environment (AWS_ENDPOINT_URL, …).
    TestServer {
        /// TCP port (0: any free port; the first output line names it).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

pub const MIGRATE_HELP: &str = "\
Reads with the current keys (--aes-key, --rsa-key, --kms-key-id, --keyring-program,
--kms-discovery …; each may be
repeated: an object opens with whichever key unwraps it) under REQUIRE_ENCRYPT_ALLOW_DECRYPT (V2
and V3; add --legacy for V1, legacy key wraps and AES-CBC), and writes under the new key
(--new-key FILE, --new-kms-key-id ID, --new-keyring-program 'CMD ARGS'; for --to v3 the default is the current key, when only one is
given). The materials description and KMS encryption context carry over unless --new-context
gives the new key's own. Writes are conditional on the source ETag: an object overwritten
meanwhile is left as its writer left it and reported as changed. Objects already in the target
form are skipped, so a rerun is safe; with --journal FILE a rerun after a crash or Ctrl-C skips
what was finished. Ctrl-C or SIGTERM finishes the objects in flight, writes the journal and the
report, and exits 130.

Exit code 0 when every object was migrated, skipped or not encrypted; 1 when any object changed
during the run, could not be opened with the given keys, or failed (the report names them); 2 for
a usage or configuration error (found before the first object); 130 when interrupted.";

/// `s3ec migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// s3://bucket or s3://bucket/prefix (with --manifest: only the bucket is checked, or omit it).
    #[arg(required_unless_present = "manifest")]
    pub url: Option<String>,
    /// Re-encrypt the content as this format.
    #[arg(
        long,
        value_enum,
        required_unless_present = "rewrap",
        conflicts_with = "rewrap"
    )]
    pub to: Option<MigrateTo>,
    /// Keep the content and re-wrap its data key under the new key.
    #[arg(long)]
    pub rewrap: bool,
    /// The current key.
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The new key.
    #[command(flatten)]
    pub new: NewKeyArgs,
    /// Read legacy objects: V1 format, legacy key wraps, AES-CBC content.
    #[arg(long)]
    pub legacy: bool,
    /// Instruction-file suffix (verbatim).
    #[arg(long, default_value = s3_encryption::envelope::keys::INSTRUCTION_SUFFIX)]
    pub suffix: String,
    /// Write nothing: print an inventory (counts and bytes by format, wrap, placement and size
    /// class) and the objects the given keys cannot open.
    #[arg(long)]
    pub dry_run: bool,
    /// Objects in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Resumable journal: one line per finished object; a rerun skips what it lists.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Write the final report (JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The objects to migrate: a CSV manifest (bucket, key and an optional version id per line,
    /// keys URL-encoded, as S3 Batch Operations takes) or an S3 Inventory manifest.json with its
    /// CSV files beside it.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// With --to v3: once a new object is verified, delete the old instruction file it no longer
    /// needs, conditional on that file's ETag (a file changed since it was read is left);
    /// reported per object. Default: nothing is deleted.
    #[arg(long, conflicts_with = "rewrap")]
    pub remove_instruction_files: bool,
    /// Attempts per object when S3 or KMS throttles or fails with 5xx (then it is reported as
    /// failed-temporary and the run goes on).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateTo {
    /// Format V3 (key-committing AES-GCM).
    V3,
}
