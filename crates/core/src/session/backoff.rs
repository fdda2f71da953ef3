//! Waits between reconnect attempts: exponential, capped, with jitter.

use std::time::Duration;

/// First wait between reconnect attempts.
pub(crate) const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Wait before attempt `attempt` (1-based): exponential from 100 ms, capped at `max`, with
/// "equal jitter" (half fixed, half random) so that many clients do not retry in step.
pub(crate) fn backoff(attempt: u32, max: Duration) -> Duration {
    let exp = FIRST_RETRY_DELAY.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let full = exp.min(max);
    let half = full / 2;
    half + half.mul_f64(jitter())
}

/// A number in [0, 1) that differs between calls and processes.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let max = Duration::from_secs(1);
        for attempt in 1..40 {
            let d = backoff(attempt, max);
            let full = FIRST_RETRY_DELAY
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(10, max)).collect();
        assert!(spread.len() > 1, "jitter varies");
    }
}
