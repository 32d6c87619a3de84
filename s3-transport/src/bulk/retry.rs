//! Which failures are worth another attempt, and how long to wait before it: exponential backoff
//! with full jitter, bounded in attempts and in delay.

use crate::error::Error;
use std::time::Duration;

/// Whether another attempt at the same object may succeed: S3 throttling (503 SlowDown) and other
/// 5xx answers, request timeouts, no answer at all (network), and KMS failures that are not
/// refusals (throttling, limits, network). Refusals, missing objects, wrong keys and malformed
/// envelopes are not.
pub fn is_retryable(e: &Error) -> bool {
    match e {
        Error::S3 {
            status: Some(s), ..
        } if *s >= 500 || *s == 429 => true,
        Error::S3 { status: None, .. } => true,
        Error::S3 { code: Some(c), .. } => is_throttling_code(c),
        Error::Kms { .. } => true,
        Error::Crypto(s3_encryption::Error::RequestFailed { status }) => {
            *status >= 500 || *status == 429
        }
        _ => false,
    }
}

fn is_throttling_code(c: &str) -> bool {
    matches!(
        c,
        "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "RequestTimeout"
            | "RequestTimeTooSkewed"
            | "InternalError"
            | "ServiceUnavailable"
            | "TooManyRequestsException"
            | "KMSThrottlingException"
            | "LimitExceededException"
    )
}

/// Bounded exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all (the first one included).
    pub max_attempts: u32,
    /// The delay ceiling before the second attempt; it doubles with each attempt.
    pub base: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            max_attempts: 8,
            base: Duration::from_millis(100),
            max: Duration::from_secs(20),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based), or None when no attempts are
    /// left: uniformly random in [0, min(max, base × 2^(attempt-1))] ("full jitter").
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exp = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let ceiling = self.base.saturating_mul(exp).min(self.max);
        let mut b = [0u8; 8];
        let r = if getrandom::fill(&mut b).is_ok() {
            u64::from_le_bytes(b)
        } else {
            u64::MAX / 2
        };
        let frac = (r >> 11) as f64 / (1u64 << 53) as f64;
        Some(ceiling.mul_f64(frac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_and_attempts_run_out() {
        let b = Backoff {
            max_attempts: 5,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        for attempt in 1..5 {
            let ceiling = Duration::from_millis(10 * (1 << (attempt - 1))).min(b.max);
            for _ in 0..50 {
                assert!(b.delay(attempt).unwrap() <= ceiling);
            }
        }
        assert_eq!(b.delay(5), None);
        assert_eq!(b.delay(6), None);
    }

    #[test]
    fn throttling_is_retryable_and_refusals_are_not() {
        let s3 = |status, code: Option<&str>| Error::S3 {
            operation: "PutObject",
            status,
            code: code.map(str::to_owned),
            source: "x".into(),
        };
        assert!(is_retryable(&s3(Some(503), Some("SlowDown"))));
        assert!(is_retryable(&s3(Some(500), None)));
        assert!(is_retryable(&s3(None, None)));
        assert!(is_retryable(&s3(Some(400), Some("RequestTimeout"))));
        assert!(!is_retryable(&s3(Some(403), Some("AccessDenied"))));
        assert!(!is_retryable(&s3(Some(412), Some("PreconditionFailed"))));
        assert!(!is_retryable(&Error::ObjectChanged));
        assert!(!is_retryable(&Error::KmsRefused("no".into())));
        assert!(!is_retryable(&Error::Crypto(
            s3_encryption::Error::Authentication
        )));
    }
}
