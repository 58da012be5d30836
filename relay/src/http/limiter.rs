//! The per-IP limit on `POST /v1/bindings`: a token bucket per client address (an IPv6 client
//! by its /64: [`client_key`]; capacity
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

/// A request, in the bucket's units: a limit of `n` per minute refills exactly `n` units per
/// millisecond, so no fraction of a refill is ever rounded away.
const REQUEST: i64 = MINUTE_MS;

/// The address a client is counted under: itself, or for IPv6 its /64 (one host usually holds
/// the whole prefix, and could otherwise take a fresh limit per address).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(
            u128::from(v6) & !((1u128 << 64) - 1),
        )),
        v4 => v4,
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left, in [`REQUEST`]ths of a request (integer arithmetic, no drift).
    units: i64,
    /// When `units` was last brought up to date, ms.
    at_ms: i64,
}

impl Bucket {
    /// Its units at `now_ms`: `per_minute` requests per 60 000 ms = `per_minute` units per ms,
    /// up to a full bucket.
    fn refilled(&self, per_minute: i64, now_ms: i64) -> i64 {
        let elapsed = now_ms.saturating_sub(self.at_ms).max(0);
        self.units
            .saturating_add(elapsed.saturating_mul(per_minute))
            .min(per_minute * REQUEST)
    }
}

/// `None` when `units` hold a whole request; else the seconds until they will (rounded up, at
/// least 1), at `per_minute` units per ms.
fn wait_secs(units: i64, per_minute: i64) -> Option<u64> {
    (units < REQUEST).then(|| {
        let wait_ms = (REQUEST - units + per_minute - 1) / per_minute;
        ((wait_ms + 999) / 1000).max(1) as u64
    })
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
        let ip = client_key(ip);
        let per_minute = i64::from(per_minute.max(1));
        let full = per_minute * REQUEST;
        if now_ms.saturating_sub(self.swapped_ms) >= MINUTE_MS || self.current.len() >= self.cap / 2
        {
            self.previous = std::mem::take(&mut self.current);
            self.swapped_ms = now_ms;
        }
        let bucket = match self.current.get(&ip) {
            Some(b) => *b,
            None => self.previous.remove(&ip).unwrap_or(Bucket {
                units: full,
                at_ms: now_ms,
            }),
        };
        let units = bucket.refilled(per_minute, now_ms);
        let (units, result) = match wait_secs(units, per_minute) {
            None => (units - REQUEST, Ok(())),
            Some(secs) => (units, Err(secs)),
        };
        self.current.insert(
            ip,
            Bucket {
                units,
                at_ms: now_ms,
            },
        );
        result
    }

    /// Whether `ip` is out of requests at `now_ms` under `per_minute`, without taking one:
    /// `Some(seconds)` until one is allowed again. (The sign-in of the operator's screen takes
    /// a request only for each failed attempt, and refuses any attempt while this says so.)
    pub fn blocked(&self, ip: IpAddr, per_minute: u32, now_ms: i64) -> Option<u64> {
        let ip = client_key(ip);
        let per_minute = i64::from(per_minute.max(1));
        let bucket = self.current.get(&ip).or_else(|| self.previous.get(&ip))?;
        wait_secs(bucket.refilled(per_minute, now_ms), per_minute)
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
    fn a_client_asking_more_often_than_its_refill_still_gets_its_share() {
        // 10 a minute = one per 6 s; asked every 5 ms, refused in between, each refusal must
        // not throw away the few thousandths refilled since the last.
        let mut l = Limiter::default();
        let mut passed = 0;
        for t in (0..60_000).step_by(5) {
            if l.take(ip(8), 10, t).is_ok() {
                passed += 1;
            }
        }
        assert_eq!(
            passed,
            10 + 9,
            "the burst, then one per 6 s over the minute"
        );
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let mut l = Limiter::default();
        let host = |n: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, n));
        for n in 0..3 {
            assert_eq!(l.take(host(n), 3, 0), Ok(()));
        }
        assert!(
            l.take(host(99), 3, 0).is_err(),
            "another address of the same /64"
        );
        let other = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1));
        assert_eq!(l.take(other, 3, 0), Ok(()));
        assert_eq!(
            client_key("::ffff:192.0.2.1".parse().unwrap()),
            ip(0xc000_0201)
        );
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
