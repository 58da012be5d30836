//! Retry schedules: exponential growth from `base_ms`, capped at `cap_ms`, with
//! jitter drawn by the caller (the browser's `Math.random`, the relay's RNG), so the schedule
//! itself stays a pure function. Also `Retry-After` (delta-seconds) parsing.

/// An exponential schedule: attempt `n` waits about `base_ms · 2ⁿ`, never more than `cap_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry, in milliseconds.
    pub base_ms: u64,
    /// Largest delay, in milliseconds.
    pub cap_ms: u64,
}

impl Backoff {
    /// The capture module's retry of a failed binding POST: 1 s growing to 60 s.
    pub const SEND: Backoff = Backoff {
        base_ms: 1_000,
        cap_ms: 60_000,
    };

    /// The un-jittered delay before retry number `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> u64 {
        // `base · 2^attempt` (the exponent held at 63), capped. Shifts and a comparison rather
        // than a saturating multiplication, whose overflow check is a 128-bit multiply
        // (`__multi3`) on wasm32: when `base` exceeds `cap >> n` the product exceeds `cap`.
        let n = attempt.min(63);
        if self.base_ms > self.cap_ms >> n {
            self.cap_ms
        } else {
            self.base_ms << n
        }
    }

    /// The delay before retry `attempt` with "equal jitter": half fixed, half scaled by
    /// `jitter` ∈ [0, 1) (values outside are clamped). Spreads clients that failed together
    /// while keeping the schedule's growth.
    pub fn delay(&self, attempt: u32, jitter: f64) -> u64 {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + scaled(ceiling - half, jitter)
    }

    /// The delay before retry `attempt`, honouring a server's `Retry-After` (seconds): never
    /// sooner than the server asked, and spread over up to a tenth more by `jitter`, so that
    /// clients told the same `Retry-After` do not all come back in the same instant; never
    /// later than `max(cap, 1.1 × retry_after)`.
    pub fn delay_after(&self, attempt: u32, jitter: f64, retry_after_secs: Option<u64>) -> u64 {
        let own = self.delay(attempt, jitter);
        match retry_after_secs {
            Some(secs) => {
                let asked = if secs > u64::MAX / 1000 {
                    u64::MAX
                } else {
                    secs * 1000
                };
                own.max(asked.saturating_add(scaled(asked / 10, jitter)))
            }
            None => own,
        }
    }
}

/// `ms · jitter`, with `jitter` clamped to [0, 1] (NaN reads as 0).
fn scaled(ms: u64, jitter: f64) -> u64 {
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    ((ms as f64) * jitter) as u64
}

/// Parses a `Retry-After` header's delta-seconds form (`"120"`); HTTP dates and garbage read
/// as `None`, so the caller falls back to its own schedule.
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    // Digits only, and `None` past `u64::MAX`: what `str::parse` does, without its code.
    value.bytes().try_fold(0u64, |n, b| {
        let digit = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        // `n · 10 + digit` fits exactly when `n ≤ (MAX − digit) / 10` (compared rather than
        // checked_mul, whose overflow check is a 128-bit multiply on wasm32).
        (n <= (u64::MAX - digit) / 10).then(|| n * 10 + digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_grows_to_the_cap() {
        let delays: alloc::vec::Vec<u64> = (0..8).map(|n| Backoff::SEND.ceiling(n)).collect();
        assert_eq!(
            delays,
            [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(Backoff::SEND.ceiling(u32::MAX), 60_000);
    }

    #[test]
    fn ceiling_agrees_with_a_saturating_product() {
        let values = [
            0,
            1,
            2,
            3,
            999,
            1000,
            60_000,
            1 << 40,
            u64::MAX / 3,
            u64::MAX,
        ];
        for base_ms in values {
            for cap_ms in values {
                for attempt in [0, 1, 2, 10, 31, 62, 63, 64, 100, u32::MAX] {
                    let product = base_ms.saturating_mul(1 << attempt.min(63));
                    assert_eq!(
                        Backoff { base_ms, cap_ms }.ceiling(attempt),
                        product.min(cap_ms),
                        "{base_ms} {cap_ms} {attempt}"
                    );
                }
            }
        }
    }

    #[test]
    fn jitter_stays_within_half_and_full_ceiling() {
        let b = Backoff::SEND;
        assert_eq!(b.delay(0, 0.0), 500);
        assert_eq!(b.delay(0, 0.999_999), 999);
        assert_eq!(b.delay(3, 0.5), 6000);
        assert_eq!(b.delay(20, 1.0), 60_000);
        assert_eq!(b.delay(2, f64::NAN), 2000);
        assert_eq!(b.delay(2, -3.0), 2000);
    }

    #[test]
    fn retry_after_is_honoured() {
        let b = Backoff::SEND;
        assert_eq!(b.delay_after(0, 0.0, Some(30)), 30_000);
        assert_eq!(b.delay_after(0, 0.5, Some(30)), 31_500);
        assert_eq!(b.delay_after(0, 1.0, Some(30)), 33_000);
        assert_eq!(b.delay_after(5, 1.0, Some(1)), 32_000);
        assert_eq!(b.delay_after(0, 0.0, None), 500);
        assert_eq!(
            b.delay_after(0, 0.0, Some(u64::MAX / 1000 + 1)),
            u64::MAX,
            "saturates"
        );
        assert_eq!(
            b.delay_after(0, 0.0, Some(u64::MAX / 1000)),
            u64::MAX / 1000 * 1000
        );
        assert_eq!(parse_retry_after(" 120 "), Some(120));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("+1"), None);
        assert_eq!(parse_retry_after("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_retry_after("18446744073709551616"), None, "past u64");
        assert_eq!(parse_retry_after(""), None);
    }
}
