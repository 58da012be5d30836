//! The relay's one clock, in milliseconds since the epoch. Production reads the system time;
//! tests hold a [`Clock::manual`] and move it, so time-dependent rules (retention's cutoff,
//! RTB House's 24 hours) are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Where "now" comes from; cheap to clone (clones of a manual clock move together).
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `at_ms` until [`Clock::set`] or [`Clock::advance`] moves it.
    pub fn manual(at_ms: i64) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(at_ms))))
    }

    /// Now, ms.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            Some(at) => at.load(Ordering::SeqCst),
            None => now_ms(),
        }
    }

    /// Moves a manual clock to `at_ms` (no effect on the system clock).
    pub fn set(&self, at_ms: i64) {
        if let Some(at) = &self.0 {
            at.store(at_ms, Ordering::SeqCst);
        }
    }

    /// Moves a manual clock forward by `ms` (no effect on the system clock).
    pub fn advance(&self, ms: i64) {
        if let Some(at) = &self.0 {
            at.fetch_add(ms, Ordering::SeqCst);
        }
    }
}

/// The system time, ms since the epoch (0 before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_move_with_it() {
        let clock = Clock::manual(1_000);
        let clone = clock.clone();
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(500);
        assert_eq!(clone.now_ms(), 1_500);
        clone.set(10);
        assert_eq!(clock.now_ms(), 10);
    }

    #[test]
    fn the_system_clock_reads_the_time() {
        let before = now_ms();
        let read = Clock::system().now_ms();
        assert!(read >= before && read > 1_700_000_000_000);
        Clock::system().advance(1_000_000); // no effect
        assert!(Clock::system().now_ms() < read + 1_000_000);
    }
}
