//! Event → tasks → results. Each task runs [`S3EncryptionClient::migrate_object`] once; S3 Batch
//! Operations retries the tasks answered `TemporaryFailure`.

use crate::args::{Env, JobArgs, keyring};
use aws_lambda_events::event::s3::batch_job::{
    S3BatchJobEvent, S3BatchJobResponse, S3BatchJobResult, S3BatchJobTask,
};
use s3_encryption_transport::bulk::short;
use s3_encryption_transport::s3_encryption::CommitmentPolicy;
use s3_encryption_transport::{
    MigrateOptions, MigrateOutcome, MigrateStatus, Result as TResult, S3EncryptionClient,
};

/// The result codes S3 Batch Operations reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    /// Migrated, or already in the target form.
    Succeeded,
    /// Worth another attempt (throttling, KMS limits, 5xx, network): S3 retries the task.
    TemporaryFailure,
    /// Not encrypted, wrong key, changed during the migration, missing, or any other failure.
    PermanentFailure,
}

impl ResultCode {
    /// The code as S3 Batch Operations spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Succeeded => "Succeeded",
            ResultCode::TemporaryFailure => "TemporaryFailure",
            ResultCode::PermanentFailure => "PermanentFailure",
        }
    }
}

/// The code and a short result string (no key material) for one task's outcome.
pub fn result_of(r: &TResult<MigrateOutcome>) -> (ResultCode, String) {
    match r {
        Ok(o) => {
            let (code, what) = match o.status {
                MigrateStatus::Migrated => (ResultCode::Succeeded, "migrated"),
                MigrateStatus::Skipped => (ResultCode::Succeeded, "already in the target form"),
                MigrateStatus::WouldMigrate => (ResultCode::Succeeded, "would migrate (dry run)"),
                MigrateStatus::NotEncrypted => (ResultCode::PermanentFailure, "not encrypted"),
                MigrateStatus::CannotOpen => (
                    ResultCode::PermanentFailure,
                    "the given keys cannot open it",
                ),
                MigrateStatus::Changed => (
                    ResultCode::PermanentFailure,
                    "changed during the migration; left as written",
                ),
                MigrateStatus::Unsupported => (
                    ResultCode::PermanentFailure,
                    "the operation does not apply to it (re-encrypt it to V3 instead)",
                ),
                // A verdict newer than this handler: untouched as far as it knows.
                _ => (ResultCode::PermanentFailure, "not migrated"),
            };
            let mut s = what.to_owned();
            if let Some(f) = o.form.as_ref().filter(|f| f.format != "plain") {
                s.push_str(&format!(" (was {} {})", f.format, f.wrap));
            }
            if let Some(v) = o.new_version.as_ref().or(o.new_etag.as_ref()) {
                s.push_str(&format!("; new {v}"));
            }
            if let Some(d) = &o.detail
                && code != ResultCode::Succeeded
            {
                s.push_str(&format!(": {d}"));
            }
            (code, clip(s))
        }
        Err(e) if e.is_retryable() => (ResultCode::TemporaryFailure, clip(short(e))),
        Err(e) => (ResultCode::PermanentFailure, clip(short(e))),
    }
}

/// Result strings stay short (S3 writes them into the completion report).
fn clip(mut s: String) -> String {
    const MAX: usize = 256;
    if s.len() > MAX {
        let mut i = MAX;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
    s
}

/// The bucket of a task: `s3Bucket` (schema 2.0) or the name in `s3BucketArn` (1.0).
fn task_bucket(t: &S3BatchJobTask) -> Option<String> {
    if let Some(b) = t.other.get("s3Bucket").and_then(|v| v.as_str()) {
        return Some(b.to_owned()).filter(|b| !b.is_empty());
    }
    let arn = t.s3_bucket_arn.as_deref()?;
    // arn:PARTITION:s3:::BUCKET
    let mut parts = arn.splitn(6, ':');
    let (a, _, s3, _, _, bucket) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (a == "arn" && s3 == "s3" && !bucket.is_empty() && !bucket.contains('/'))
        .then(|| bucket.to_owned())
}

/// The object key of a task. S3 Batch Operations passes keys URL-encoded, as the manifest holds
/// them (AWS Lambda Powertools decodes them with `unquote_plus`): `%XX` escapes, and `+` for a
/// space. `None` for a bad escape or a key that is not UTF-8.
pub(crate) fn decode_key(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().filter(|k| !k.is_empty())
}

/// The handler: S3 and KMS clients, and the function's environment.
#[derive(Debug, Clone)]
pub struct Handler {
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    env: Env,
}

use s3_encryption_transport::{aws_config, aws_sdk_kms, aws_sdk_s3};

impl Handler {
    /// A handler over these clients and environment.
    pub fn new(s3: aws_sdk_s3::Client, kms: aws_sdk_kms::Client, env: Env) -> Self {
        Handler { s3, kms, env }
    }

    /// The clients of the Lambda environment (`AWS_REGION`, the execution role, and
    /// `AWS_ENDPOINT_URL` when set); `S3EC_S3_PATH_STYLE=true` for S3-compatible stores.
    pub async fn from_env() -> Self {
        let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let env = Env::from_process();
        let path_style = env
            .0
            .get("S3EC_S3_PATH_STYLE")
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(path_style)
                .build(),
        );
        Handler::new(s3, aws_sdk_kms::Client::new(&conf), env)
    }

    fn client(&self, args: &JobArgs) -> Result<(S3EncryptionClient, MigrateOptions), String> {
        let old = keyring(&args.current)?;
        let new = keyring(&args.new)?;
        let c = S3EncryptionClient::builder(self.s3.clone(), old)
            .kms_client(self.kms.clone())
            .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
            .enable_legacy_wrapping_algorithms(args.legacy)
            .enable_legacy_unauthenticated_modes(args.legacy)
            .instruction_file_suffix(args.suffix.clone())
            .build()
            .map_err(|e| short(&e))?;
        Ok((c, MigrateOptions::new(args.mode, new)))
    }

    /// Run every task of `event` and answer for each. Never fails: a bad argument or task is a
    /// `PermanentFailure` result.
    pub async fn handle(&self, event: S3BatchJobEvent) -> S3BatchJobResponse {
        let setup = JobArgs::from_event(&event, &self.env).and_then(|a| self.client(&a));
        let mut results = Vec::with_capacity(event.tasks.len());
        for t in &event.tasks {
            let key = t.s3_key.as_deref().map(|k| decode_key(k).ok_or(k));
            let (code, text) = match (&setup, task_bucket(t), key) {
                (Err(e), _, _) => (
                    ResultCode::PermanentFailure,
                    format!("bad job arguments: {e}"),
                ),
                (_, None, _) => (
                    ResultCode::PermanentFailure,
                    "no bucket in the task".to_owned(),
                ),
                (_, _, None | Some(Err(""))) => (
                    ResultCode::PermanentFailure,
                    "no key in the task".to_owned(),
                ),
                (_, _, Some(Err(_))) => (
                    ResultCode::PermanentFailure,
                    "the key is not URL-encoded UTF-8".to_owned(),
                ),
                (Ok((c, opts)), Some(bucket), Some(Ok(key))) => {
                    result_of(&c.migrate_object(&bucket, &key, opts).await)
                }
            };
            let mut r = S3BatchJobResult::default();
            r.task_id = t.task_id.clone();
            r.result_code = Some(code.as_str().to_owned());
            r.result_string = Some(text);
            results.push(r);
        }
        let mut resp = S3BatchJobResponse::default();
        resp.invocation_schema_version = event.invocation_schema_version.clone();
        resp.treat_missing_keys_as = Some(ResultCode::PermanentFailure.as_str().to_owned());
        resp.invocation_id = event.invocation_id.clone();
        resp.results = results;
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(decode_key("a/b.jpg").as_deref(), Some("a/b.jpg"));
        assert_eq!(
            decode_key("summer+2024/%C3%A9t%C3%A9%2B1.jpg").as_deref(),
            Some("summer 2024/été+1.jpg")
        );
        assert_eq!(decode_key("100%"), None);
        assert_eq!(decode_key("%zz"), None);
        assert_eq!(decode_key("%FF"), None);
        assert_eq!(decode_key(""), None);
    }

    #[test]
    fn bucket_from_arn_or_name() {
        let t: S3BatchJobTask = serde_json::from_value(serde_json::json!({
            "taskId": "t", "s3Key": "k", "s3VersionId": null,
            "s3BucketArn": "arn:aws:s3:::amzn-s3-demo-bucket"
        }))
        .unwrap();
        assert_eq!(task_bucket(&t).as_deref(), Some("amzn-s3-demo-bucket"));
        let t: S3BatchJobTask = serde_json::from_value(serde_json::json!({
            "taskId": "t", "s3Key": "k", "s3Bucket": "b2"
        }))
        .unwrap();
        assert_eq!(task_bucket(&t).as_deref(), Some("b2"));
        let t: S3BatchJobTask = serde_json::from_value(serde_json::json!({
            "taskId": "t", "s3Key": "k", "s3BucketArn": "arn:aws:iam::123:role/x"
        }))
        .unwrap();
        assert_eq!(task_bucket(&t), None);
    }
}
