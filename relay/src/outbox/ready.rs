//! Postbacks claimed ahead of a free slot, so that a slot freed by a finished request starts
//! the next postback at once instead of after a claim (a write, and its commit, on the
//! store). Pure: the worker gives the time and the counts.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::store::Delivery;

/// How many postbacks are kept claimed ahead of a free slot.
pub(super) const AHEAD: u32 = 4;

/// How long a postback claimed ahead may wait for a slot. Its lease (the request's timeout
/// plus 10 s) must outlast the wait and the request: one older than this is given up unsent,
/// and claimed again once its lease expires, so no other instance can have claimed it while
/// this one still means to send it.
pub(super) const MAX_WAIT: Duration = Duration::from_secs(5);

/// The postbacks claimed ahead, oldest first.
#[derive(Debug, Default)]
pub(super) struct Ready {
    items: VecDeque<(Delivery, Instant)>,
}

impl Ready {
    /// How many are waiting.
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Keeps `delivery`, claimed at `at`.
    pub(super) fn push(&mut self, delivery: Delivery, at: Instant) {
        self.items.push_back((delivery, at));
    }

    /// Gives up those that waited [`MAX_WAIT`] or longer by `now`; how many.
    pub(super) fn expire(&mut self, now: Instant) -> usize {
        let before = self.items.len();
        self.items
            .retain(|(_, at)| now.saturating_duration_since(*at) < MAX_WAIT);
        before - self.items.len()
    }

    /// The next to start: of the sites below their cap (`cap(site)`), the one with the fewest
    /// postbacks in flight, its oldest; `None` when every waiting one's site is at its cap.
    pub(super) fn take(
        &mut self,
        in_flight: &HashMap<String, u32>,
        cap: impl Fn(&str) -> u32,
    ) -> Option<Delivery> {
        let busy = |site: &str| in_flight.get(site).copied().unwrap_or(0);
        let (at, _) = self
            .items
            .iter()
            .enumerate()
            .filter(|(_, (d, _))| busy(&d.site) < cap(&d.site))
            .min_by_key(|(i, (d, _))| (busy(&d.site), *i))?;
        self.items.remove(at).map(|(d, _)| d)
    }

    /// Per site, the postbacks in flight plus those waiting here: what a claim counts as held.
    pub(super) fn held(&self, in_flight: &HashMap<String, u32>) -> HashMap<String, u32> {
        let mut held = in_flight.clone();
        for (d, _) in &self.items {
            *held.entry(d.site.clone()).or_default() += 1;
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postback::Postback;

    fn due(site: &str, lead: &str) -> Delivery {
        Delivery {
            site: site.into(),
            lead_id: lead.into(),
            postback: Postback {
                kind: crate::webhook::LeadKind::Call,
                source_id: lead.into(),
                aid: "Aid1".into(),
                time_ms: 5,
                cd: crate::postback::Cd::Default,
            },
            attempts: 0,
            first_at_ms: 0,
            forced: false,
        }
    }

    fn flying(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn the_site_with_the_fewest_in_flight_starts_first_and_a_full_site_waits() {
        let t = Instant::now();
        let mut ready = Ready::default();
        ready.push(due("a", "call-1"), t);
        ready.push(due("a", "call-2"), t);
        ready.push(due("b", "call-3"), t);
        let cap = |_: &str| 2;
        let in_flight = flying(&[("a", 1)]);
        assert_eq!(ready.take(&in_flight, cap).unwrap().lead_id, "call-3");
        assert_eq!(ready.take(&in_flight, cap).unwrap().lead_id, "call-1");
        let full = flying(&[("a", 2)]);
        assert!(ready.take(&full, cap).is_none(), "a is at its cap");
        assert_eq!(ready.len(), 1);
    }

    #[test]
    fn held_counts_in_flight_and_waiting_per_site() {
        let t = Instant::now();
        let mut ready = Ready::default();
        ready.push(due("a", "call-1"), t);
        ready.push(due("b", "call-2"), t);
        let held = ready.held(&flying(&[("a", 3)]));
        assert_eq!(held, flying(&[("a", 4), ("b", 1)]));
    }

    #[test]
    fn one_that_waited_too_long_is_given_up() {
        let t = Instant::now();
        let mut ready = Ready::default();
        ready.push(due("a", "call-old"), t);
        ready.push(due("a", "call-new"), t + Duration::from_secs(3));
        assert_eq!(ready.expire(t + MAX_WAIT - Duration::from_millis(1)), 0);
        assert_eq!(ready.expire(t + MAX_WAIT), 1);
        let left = ready.take(&HashMap::new(), |_| 1).unwrap();
        assert_eq!(left.lead_id, "call-new");
        assert_eq!(ready.len(), 0);
    }
}
