//! Delivering queued bindings: one request at a time, retried with backoff while the relay is
//! unreachable or busy, flushed with `sendBeacon` when the page is hidden or left, and kept in
//! `localStorage` (merged with what other tabs of the site stored) so that nothing is lost and
//! nothing is POSTed twice across page loads and tabs.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use aidlink_protocol::Backoff;

use crate::agent::{self, Agent, Shared, State};
use crate::page;
use crate::pending::{self, Pending};
use crate::send::{self, Outcome};

/// Writes the sent ids and the queue to storage, merged with what other tabs wrote there since:
/// their sent ids are kept (and what they sent leaves this tab's queue), their undelivered
/// bindings stay stored for the next page load.
pub fn persist(a: &mut Agent) {
    merge_stored(a);
    let mut stored: Vec<Pending> = page::load(pending::PENDING_KEY)
        .map(|v| pending::decode_pending(&v))
        .unwrap_or_default();
    stored.retain(|p| {
        !a.sent_ids.contains(&p.id)
            && !a.queue.iter().any(|q| q.id == p.id)
            && !a.handed.iter().any(|q| q.id == p.id)
    });
    stored.extend(a.queue.iter().cloned());
    page::save(pending::SENT_KEY, &pending::encode_sent(&a.sent_ids));
    page::save(pending::PENDING_KEY, &pending::encode_pending(&stored));
}

/// Adds the sent ids other tabs stored to this agent's, and drops what they sent from its
/// queue (but not the request in flight, whose answer is still to come).
pub fn merge_stored(a: &mut Agent) {
    let Some(value) = page::load(pending::SENT_KEY) else {
        return;
    };
    let mut merged = pending::decode_sent(&value);
    for id in a.sent_ids.drain(..) {
        if !merged.contains(&id) {
            merged.push(id);
        }
    }
    a.sent_ids = merged;
    let (sent, in_flight) = (&a.sent_ids, &a.in_flight);
    a.queue
        .retain(|p| in_flight.as_ref() == Some(&p.id) || !sent.contains(&p.id));
}

/// True when another tab stored the binding `id` as waiting to be delivered.
pub fn stored_pending(id: &str) -> bool {
    page::load(pending::PENDING_KEY)
        .is_some_and(|v| pending::decode_pending(&v).iter().any(|p| p.id == id))
}

/// One more binding delivered (or handed to the browser) from this page.
fn count_sent(a: &mut Agent) {
    a.sent += 1;
    if a.state == State::Waiting {
        a.state = State::Bound;
    }
}

/// Removes everything aidlink stored (consent denied).
pub fn forget() {
    page::save(pending::SENT_KEY, "");
    page::save(pending::PENDING_KEY, "");
}

/// Sends the oldest queued binding unless a send is under way or waiting to retry. The page's
/// `fetch` is called here, with no borrow held and only while the agent is active.
pub fn kick(agent: &Shared) {
    let (endpoint, item) = {
        let Ok(mut a) = agent.try_borrow_mut() else {
            return;
        };
        if !a.state.active() || a.in_flight.is_some() || a.send_timer.is_some() {
            return;
        }
        let Some(item) = a.queue.first().cloned() else {
            return;
        };
        a.in_flight = Some(item.id.clone());
        (a.endpoint.clone(), item)
    };
    match send::start(&endpoint, &item.body) {
        Ok(request) => {
            let weak = Rc::downgrade(agent);
            wasm_bindgen_futures::spawn_local(async move {
                let outcome = send::finish(request).await;
                if let Some(agent) = weak.upgrade() {
                    settle(&agent, item, outcome);
                }
            });
        }
        Err(outcome) => settle(agent, item, outcome),
    }
}

fn settle(agent: &Shared, item: Pending, outcome: Outcome) {
    {
        let Ok(mut a) = agent.try_borrow_mut() else {
            // Busy (the page called back into aidlink): settle on the next tick.
            let weak = Rc::downgrade(agent);
            page::set_timeout(0, move || {
                if let Some(agent) = weak.upgrade() {
                    settle(&agent, item, outcome);
                }
            });
            return;
        };
        a.in_flight = None;
        let queued = a.queue.iter().any(|p| p.id == item.id);
        let handed = a.handed.iter().any(|p| p.id == item.id);
        a.handed.retain(|p| p.id != item.id);
        match outcome {
            _ if !queued && !handed => {}
            Outcome::Delivered | Outcome::Rejected(_) => {
                a.queue.retain(|p| p.id != item.id);
                if !a.sent_ids.contains(&item.id) {
                    a.sent_ids.push(item.id.clone());
                }
                a.send_attempt = 0;
                if outcome == Outcome::Delivered {
                    count_sent(&mut a);
                    a.last_error = None;
                    a.debug("binding delivered");
                } else {
                    a.last_error = Some(String::from("the relay refused the binding"));
                    a.debug("the relay refused the binding (4xx); not retried");
                }
                persist(&mut a);
            }
            Outcome::Retry(retry_after) if a.state.active() => {
                if handed {
                    // Hidden with the request under way, and the page is still here: it
                    // failed after all, so it is queued again rather than lost (and no longer
                    // stored as sent, which the merge below would bring back).
                    a.sent_ids.retain(|id| *id != item.id);
                    if let Some(value) = page::load(pending::SENT_KEY) {
                        let mut stored = pending::decode_sent(&value);
                        stored.retain(|id| *id != item.id);
                        page::save(pending::SENT_KEY, &pending::encode_sent(&stored));
                    }
                    a.queue.insert(0, item);
                }
                let delay = Backoff::SEND.delay_after(a.send_attempt, page::random(), retry_after);
                a.send_attempt = a.send_attempt.saturating_add(1);
                a.last_error = Some(String::from("relay unreachable or busy; retrying"));
                a.debug("binding not delivered; will retry");
                persist(&mut a);
                a.send_timer = agent::later(delay, Rc::downgrade(agent), |agent| {
                    if let Ok(mut a) = agent.try_borrow_mut() {
                        a.send_timer = None;
                    }
                    kick(agent);
                });
                return;
            }
            Outcome::Retry(_) => {}
        }
    }
    kick(agent);
}

/// The page is being hidden or left: everything queued goes now, as the last chance it may be.
/// While the relay answers, the request under way is counted as handed over (its `keepalive`
/// outlives the page) and the rest goes to `navigator.sendBeacon`, which the browser delivers
/// after the page is gone; both count as sent. While the relay is failing, each waiting binding
/// is beaconed once but stays queued, in memory and in storage: the retry keeps its
/// `Retry-After` if the page lives on, and the next page load sends it if it does not (the relay
/// is idempotent on the binding id, so a beacon that did arrive costs one duplicate request,
/// never a lost visitor).
pub fn flush(agent: &Shared) {
    let Ok(mut a) = agent.try_borrow_mut() else {
        return;
    };
    if !a.state.active() {
        return;
    }
    if a.send_attempt == 0 {
        let in_flight = a.in_flight.clone();
        if let Some(at) = a
            .queue
            .iter()
            .position(|p| Some(&p.id) == in_flight.as_ref())
        {
            let item = a.queue.remove(at);
            a.sent_ids.push(item.id.clone());
            a.handed.push(item);
        }
        for item in a.queue.clone() {
            if send::beacon(&a.endpoint, &item.body) {
                a.queue.retain(|p| p.id != item.id);
                a.sent_ids.push(item.id);
                count_sent(&mut a);
                a.debug("binding handed to sendBeacon");
            }
        }
    } else {
        for item in a.queue.clone() {
            let first = !a.beaconed.contains(&item.id) && a.in_flight.as_ref() != Some(&item.id);
            if first && send::beacon(&a.endpoint, &item.body) {
                a.beaconed.push(item.id);
                a.debug("binding beaconed; still queued while the relay is failing");
            }
        }
    }
    persist(&mut a);
}
