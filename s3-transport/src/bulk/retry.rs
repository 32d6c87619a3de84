//! How long to wait before another attempt at an object that failed retryably
//! ([`crate::Error::is_retryable`]): exponential backoff with full jitter, bounded in attempts
//! and in delay.

use std::time::Duration;

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
}
