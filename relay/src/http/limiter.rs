//! The per-IP limit on `POST /v1/bindings`: a token bucket per client address (capacity
//! `server.bindings_per_minute_per_ip`, refilled at that many per minute), so there is no clock
//! minute whose edge lets twice the limit through, and a refusal says exactly when the next
//! request is allowed (`Retry-After`).
//!
//! Memory stays bounded under a flood of distinct addresses without scanning anything: buckets
//! live in two maps, `current` and `previous`. A look-up moves a bucket from `previous` to
//! `current`; every minute, or as soon as `current` holds half the cap, `previous` is dropped
//! and `current` becomes it. A bucket untouched for a minute is full again, so forgetting it at
//! a time swap changes nothing; a swap forced by a flood forgets buckets sooner, which can only
//! let a forgotten address through early, never refuse one wrongly.

use std::collections::HashMap;
use std::net::IpAddr;

/// How many addresses the limiter remembers at most, in both maps together.
pub const MAX_ADDRESSES: usize = 100_000;

const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left, in thousandths of a request (integer arithmetic, no drift).
    milli: i64,
    /// When `milli` was last brought up to date, ms.
    at_ms: i64,
}

/// Token buckets by client address.
#[derive(Debug)]
pub struct Limiter {
    current: HashMap<IpAddr, Bucket>,
    previous: HashMap<IpAddr, Bucket>,
    swapped_ms: i64,
    cap: usize,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::with_cap(MAX_ADDRESSES)
    }
}

impl Limiter {
    /// A limiter remembering at most `cap` addresses.
    pub fn with_cap(cap: usize) -> Limiter {
        Limiter {
            current: HashMap::new(),
            previous: HashMap::new(),
            swapped_ms: i64::MIN,
            cap: cap.max(2),
        }
    }

    /// Takes one request of `ip` at `now_ms` under a limit of `per_minute`: `Ok`, or
    /// `Err(seconds)` until one request is allowed again (rounded up, at least 1).
    pub fn take(&mut self, ip: IpAddr, per_minute: u32, now_ms: i64) -> Result<(), u64> {
        let per_minute = i64::from(per_minute.max(1));
        let full = per_minute * 1000;
        if now_ms.saturating_sub(self.swapped_ms) >= MINUTE_MS || self.current.len() >= self.cap / 2
        {
            self.previous = std::mem::take(&mut self.current);
            self.swapped_ms = now_ms;
        }
        let bucket = match self.current.get(&ip) {
            Some(b) => *b,
            None => self.previous.remove(&ip).unwrap_or(Bucket {
                milli: full,
                at_ms: now_ms,
            }),
        };
        // Refill: `per_minute` requests per 60 000 ms = `per_minute` thousandths per ms / 60.
        let elapsed = now_ms.saturating_sub(bucket.at_ms).max(0);
        let milli = (bucket.milli + elapsed.saturating_mul(per_minute) / 60).min(full);
        let (milli, result) = if milli >= 1000 {
            (milli - 1000, Ok(()))
        } else {
            // Thousandths missing, at `per_minute / 60` per ms: ms until a whole token.
            let wait_ms = ((1000 - milli) * 60 + per_minute - 1) / per_minute;
            (milli, Err(((wait_ms + 999) / 1000).max(1) as u64))
        };
        self.current.insert(
            ip,
            Bucket {
                milli,
                at_ms: now_ms,
            },
        );
        result
    }

    /// Whether `ip` is out of requests at `now_ms` under `per_minute`, without taking one:
    /// `Some(seconds)` until one is allowed again. (The sign-in of the operator's screen takes
    /// a request only for each failed attempt, and refuses any attempt while this says so.)
    pub fn blocked(&self, ip: IpAddr, per_minute: u32, now_ms: i64) -> Option<u64> {
        let per_minute = i64::from(per_minute.max(1));
        let bucket = self.current.get(&ip).or_else(|| self.previous.get(&ip))?;
        let elapsed = now_ms.saturating_sub(bucket.at_ms).max(0);
        let milli = (bucket.milli + elapsed.saturating_mul(per_minute) / 60).min(per_minute * 1000);
        (milli < 1000).then(|| {
            let wait_ms = ((1000 - milli) * 60 + per_minute - 1) / per_minute;
            ((wait_ms + 999) / 1000).max(1) as u64
        })
    }

    /// Addresses remembered now.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// Nothing remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn a_burst_of_the_limit_passes_and_the_next_waits_for_one_refill() {
        let mut l = Limiter::default();
        for _ in 0..12 {
            assert_eq!(l.take(ip(1), 12, 1_000), Ok(()));
        }
        // 12 per minute: one back every 5 s.
        assert_eq!(l.take(ip(1), 12, 1_000), Err(5));
        assert_eq!(l.take(ip(1), 12, 4_000), Err(2));
        assert_eq!(l.take(ip(1), 12, 6_000), Ok(()));
        assert_eq!(l.take(ip(1), 12, 6_000), Err(5));
        // Another address has its own bucket.
        assert_eq!(l.take(ip(2), 12, 6_000), Ok(()));
    }

    #[test]
    fn blocked_says_when_without_taking() {
        let mut l = Limiter::default();
        assert_eq!(l.blocked(ip(9), 5, 0), None, "unknown address");
        for _ in 0..5 {
            assert_eq!(l.blocked(ip(9), 5, 0), None);
            assert_eq!(l.take(ip(9), 5, 0), Ok(()));
        }
        // 5 per minute: one back every 12 s; asking again takes nothing.
        assert_eq!(l.blocked(ip(9), 5, 0), Some(12));
        assert_eq!(l.blocked(ip(9), 5, 6_000), Some(6));
        assert_eq!(l.blocked(ip(9), 5, 12_000), None);
        assert_eq!(l.blocked(ip(10), 5, 12_000), None, "another address");
    }

    #[test]
    fn no_window_edge_lets_twice_the_limit_through() {
        let mut l = Limiter::default();
        let mut passed = 0;
        // 240 requests over 1.6 s straddling a minute boundary (the old fixed window let all
        // of a limit of 120 through on either side).
        for i in 0..240 {
            if l.take(ip(7), 120, 59_200 + i * 1600 / 240).is_ok() {
                passed += 1;
            }
        }
        assert!(passed <= 120 + 4, "{passed} passed");
    }

    #[test]
    fn retry_after_is_at_least_one_second_and_at_most_a_minute() {
        let mut l = Limiter::default();
        assert_eq!(l.take(ip(3), 1, 0), Ok(()));
        assert_eq!(l.take(ip(3), 1, 0), Err(60));
        let mut l = Limiter::default();
        for _ in 0..6000 {
            let _ = l.take(ip(4), 6000, 0);
        }
        assert_eq!(l.take(ip(4), 6000, 0), Err(1));
    }

    #[test]
    fn a_flood_of_distinct_addresses_stays_bounded() {
        let mut l = Limiter::default();
        for n in 0..200_000u32 {
            let _ = l.take(ip(n), 120, 1_000 + i64::from(n / 1000));
            assert!(l.len() <= MAX_ADDRESSES, "{} at {n}", l.len());
        }
        // An address seen recently is still limited.
        for _ in 0..3 {
            let _ = l.take(ip(199_999), 2, 2_000);
        }
        assert!(l.take(ip(199_999), 2, 2_000).is_err());
    }

    #[test]
    fn an_address_idle_for_a_minute_is_forgotten_with_a_full_bucket() {
        let mut l = Limiter::default();
        assert_eq!(l.take(ip(5), 1, 0), Ok(()));
        let _ = l.take(ip(6), 1, 61_000);
        let _ = l.take(ip(6), 1, 122_000);
        assert_eq!(l.len(), 1);
        assert_eq!(l.take(ip(5), 1, 122_000), Ok(()));
    }
}
