//! Delivering queued bindings: one request at a time, retried with backoff while the relay is
//! unreachable or busy, flushed with `sendBeacon` when the page is hidden or left, and kept in
//! storage (merged with what other tabs of the site stored) so that nothing is lost and
//! nothing is POSTed twice across page loads and tabs.
//!
//! [`Delivery`] owns that state and is pure: its methods take what happened (an answer, the
//! page being hidden, the storage shared with other tabs through [`Store`]) and say what to do
//! next (send this, retry in so many ms). The agent makes the requests and beacons; the loader
//! keeps the time.

use alloc::string::String;
use alloc::vec::Vec;
use core::mem::take;

use aidlink_protocol::Backoff;

use crate::pending::{self, Pending, Store};
use crate::send::Outcome;

/// What an answer came to, for the agent to report and act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Nothing changed (the binding was no longer queued, or the agent stopped meanwhile):
    /// send the next one.
    Ignored,
    /// Delivered: send the next one.
    Delivered,
    /// The relay refused it (4xx), not retried: send the next one.
    Refused,
    /// Not delivered: send nothing until [`Delivery::retry_due`], `delay_ms` from now.
    Retry {
        /// How long to wait (backoff with jitter, at least the server's `Retry-After`).
        delay_ms: u64,
    },
}

/// The delivery state of one page: what is queued, under way, handed to the browser, sent.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Ids of bindings delivered (or handed to the browser), from every tab of this site.
    sent_ids: Vec<String>,
    /// Bindings waiting to be delivered, oldest first; the first one is the one in flight.
    queue: Vec<Pending>,
    /// Bindings whose request was under way when the page was hidden: counted as sent in
    /// storage (the `keepalive` request outlives the page), taken back if it fails after all.
    handed: Vec<Pending>,
    /// Bindings beaconed as a last chance while the relay was failing (once each per page).
    beaconed: Vec<String>,
    /// The binding whose request is under way.
    in_flight: Option<String>,
    /// Failed attempts since the last answer that settled a binding.
    attempt: u32,
    /// A retry is due later ([`Settled::Retry`]); nothing is sent until [`Delivery::retry_due`].
    retrying: bool,
    /// Bindings delivered (or handed to the browser) from this page.
    sent: u32,
}

impl Delivery {
    /// Takes up what storage holds: the sent ids and the undelivered bindings (on activation,
    /// when nothing is known yet).
    pub fn restore(&mut self, store: &impl Store) {
        // Nothing is known yet: the merge takes the stored sent ids as they are.
        self.merge_stored(store);
        self.queue = stored_queue(store);
    }

    /// Bindings delivered (or handed to the browser) from this page.
    pub fn sent(&self) -> u32 {
        self.sent
    }

    /// The relay failed the last attempt and has not answered since.
    pub fn failing(&self) -> bool {
        self.attempt > 0
    }

    /// The bindings waiting, oldest first (the one in flight included).
    pub fn queue(&self) -> &[Pending] {
        &self.queue
    }

    /// The binding `id` is sent, queued or handed over, as far as this page knows.
    pub fn knows(&self, id: &str) -> bool {
        self.sent_ids.iter().any(|s| s == id)
            || self.queue.iter().any(|p| p.id == id)
            || self.handed.iter().any(|p| p.id == id)
    }

    /// True when the binding `id` is new to every tab of the site: not known here, not sent or
    /// queued by another tab (whose sent ids are merged in on the way).
    pub fn is_new(&mut self, id: &str, store: &impl Store) -> bool {
        if self.knows(id) {
            return false;
        }
        self.merge_stored(store);
        !self.knows(id) && !stored_queue(store).iter().any(|p| p.id == id)
    }

    /// Queues `item` (last) and stores the queue.
    pub fn enqueue(&mut self, item: Pending, store: &impl Store) {
        self.queue.push(item);
        self.persist(store);
    }

    /// The body of the oldest queued binding, now marked in flight, unless a send is under way
    /// or waiting to retry.
    pub fn next_send(&mut self) -> Option<String> {
        if self.in_flight.is_some() || self.retrying {
            return None;
        }
        let item = self.queue.first()?;
        self.in_flight = Some(item.id.clone());
        Some(item.body.clone())
    }

    /// The retry delay has passed (or the agent stopped): [`Delivery::next_send`] may send
    /// again.
    pub fn retry_due(&mut self) {
        self.retrying = false;
    }

    /// The answer to the request in flight. `active` is false once the agent stopped (a retry
    /// is then left to the next page load); `jitter` ∈ [0, 1) spreads retries.
    pub fn settled(
        &mut self,
        outcome: Outcome,
        active: bool,
        jitter: f64,
        store: &impl Store,
    ) -> Settled {
        let Some(id) = self.in_flight.take() else {
            return Settled::Ignored;
        };
        let queued = self.queue.iter().any(|p| p.id == id);
        let mut handed = None;
        for item in take(&mut self.handed) {
            if item.id == id {
                handed = Some(item);
            } else {
                self.handed.push(item);
            }
        }
        if !queued && handed.is_none() {
            return Settled::Ignored;
        }
        let retry_after = match outcome {
            Outcome::Retry(retry_after) => retry_after,
            Outcome::Delivered | Outcome::Rejected(_) => {
                // Sent for good: the persist below drops it from the queue.
                if !self.sent_ids.contains(&id) {
                    self.sent_ids.push(id);
                }
                self.attempt = 0;
                let settled = if outcome == Outcome::Delivered {
                    self.sent += 1;
                    Settled::Delivered
                } else {
                    Settled::Refused
                };
                self.persist(store);
                return settled;
            }
        };
        if !active {
            return Settled::Ignored;
        }
        let delay_ms = Backoff::SEND.delay_after(self.attempt, jitter, retry_after);
        self.attempt = self.attempt.saturating_add(1);
        self.retrying = true;
        if let Some(item) = handed {
            // Hidden with the request under way, and the page is still here: it failed after
            // all, so it is queued again rather than lost (and no longer stored as sent, which
            // the merge of the persist below would bring back).
            without(&mut self.sent_ids, &id);
            let mut queue = Vec::with_capacity(self.queue.len() + 1);
            queue.push(item);
            queue.append(&mut self.queue);
            self.queue = queue;
            self.persist_without(store, Some(&id));
        } else {
            self.persist(store);
        }
        Settled::Retry { delay_ms }
    }

    /// The page is being hidden or left: everything queued goes now, as the last chance it may
    /// be, through `beacon` (the body; true when the browser took it). How many bindings the
    /// browser took.
    ///
    /// While the relay answers, the request under way is counted as handed over (its
    /// `keepalive` outlives the page) and the rest is beaconed, which the browser delivers
    /// after the page is gone; both count as sent. While the relay is failing, each waiting
    /// binding is beaconed once but stays queued, in memory and in storage: the retry keeps its
    /// `Retry-After` if the page lives on, and the next page load sends it if it does not (the
    /// relay is idempotent on the binding id, so a beacon that did arrive costs one duplicate
    /// request, never a lost visitor).
    pub fn flush(&mut self, store: &impl Store, mut beacon: impl FnMut(&str) -> bool) -> u32 {
        let mut taken = 0;
        if self.attempt == 0 {
            // The request in flight, when there is one, is the first queued.
            for item in take(&mut self.queue) {
                if self.in_flight.as_ref() == Some(&item.id) {
                    self.sent_ids.push(item.id.clone());
                    self.handed.push(item);
                } else if beacon(&item.body) {
                    self.sent_ids.push(item.id);
                    self.sent += 1;
                    taken += 1;
                } else {
                    self.queue.push(item);
                }
            }
        } else {
            let (beaconed, in_flight) = (&mut self.beaconed, &self.in_flight);
            for item in &self.queue {
                let first = !beaconed.contains(&item.id) && in_flight.as_ref() != Some(&item.id);
                if first && beacon(&item.body) {
                    beaconed.push(item.id.clone());
                    taken += 1;
                }
            }
        }
        self.persist(store);
        taken
    }

    /// Consent denied: forgets the queue, what was handed over and the sent ids (the caller
    /// clears storage with [`forget`]).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.handed.clear();
        self.sent_ids.clear();
    }

    /// Adds the sent ids other tabs stored to this page's, and drops what was sent from the
    /// queue (but not the request in flight, whose answer is still to come).
    pub fn merge_stored(&mut self, store: &impl Store) {
        self.merge_without(store, None);
    }

    /// [`Delivery::merge_stored`], with `forget` dropped from the stored sent ids.
    fn merge_without(&mut self, store: &impl Store, forget: Option<&str>) {
        if let Some(value) = store.load(pending::SENT_KEY) {
            let mut merged = pending::decode_sent(&value);
            if let Some(id) = forget {
                without(&mut merged, id);
            }
            for id in take(&mut self.sent_ids) {
                if !merged.contains(&id) {
                    merged.push(id);
                }
            }
            self.sent_ids = merged;
        }
        let (sent, in_flight) = (&self.sent_ids, &self.in_flight);
        self.queue
            .retain(|p| in_flight.as_ref() == Some(&p.id) || !sent.contains(&p.id));
    }

    /// Writes the sent ids and the queue to storage, merged with what other tabs wrote there
    /// since: their sent ids are kept (and what they sent leaves this page's queue), their
    /// undelivered bindings stay stored for the next page load.
    pub fn persist(&mut self, store: &impl Store) {
        self.persist_without(store, None);
    }

    /// [`Delivery::persist`], with `forget` no longer stored as sent (a handed-over binding whose
    /// request failed after all).
    fn persist_without(&mut self, store: &impl Store, forget: Option<&str>) {
        self.merge_without(store, forget);
        let mut stored = stored_queue(store);
        stored.retain(|p| !self.knows(&p.id));
        stored.extend(self.queue.iter().cloned());
        store.save(pending::SENT_KEY, &pending::encode_sent(&self.sent_ids));
        store.save(pending::PENDING_KEY, &pending::encode_pending(&stored));
    }
}

/// `ids` without `id`.
fn without(ids: &mut Vec<String>, id: &str) {
    ids.retain(|other| other != id);
}

/// Removes everything aidlink stored (consent denied).
pub fn forget(store: &impl Store) {
    store.save(pending::SENT_KEY, "");
    store.save(pending::PENDING_KEY, "");
}

fn stored_queue(store: &impl Store) -> Vec<Pending> {
    store
        .load(pending::PENDING_KEY)
        .map(|v| pending::decode_pending(&v))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
