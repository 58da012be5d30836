//! The agent's side of delivery: what [`Delivery`](crate::deliver::Delivery) decides, carried
//! out in the page — the request through the page's `fetch`, `sendBeacon`, the retry timer,
//! `localStorage` — and reported in `status()` and the debug log.

use alloc::rc::Rc;
use alloc::string::String;

use super::{later, nudge, Shared};
use crate::deliver::Settled;
use crate::page::{self, LocalStorage};
use crate::pending::Pending;
use crate::send::{self, Outcome};

/// Sends the oldest queued binding unless a send is under way or waiting to retry. The page's
/// `fetch` is called here, with no borrow held and only while the agent is active.
pub fn kick(agent: &Shared) {
    let (endpoint, item) = {
        let Ok(mut a) = agent.try_borrow_mut() else {
            return;
        };
        if !a.state.active() {
            return;
        }
        let Some(item) = a.delivery.next_send() else {
            return;
        };
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
        let active = a.state.active();
        match a
            .delivery
            .settled(item, outcome, active, page::random(), &LocalStorage)
        {
            Settled::Ignored => {}
            Settled::Delivered => {
                a.last_error = None;
                a.debug("binding delivered");
            }
            Settled::Refused => {
                a.last_error = Some(String::from("the relay refused the binding"));
                a.debug("the relay refused the binding (4xx); not retried");
            }
            Settled::Retry { delay_ms } => {
                a.last_error = Some(String::from("relay unreachable or busy; retrying"));
                a.debug("binding not delivered; will retry");
                let timer = later(delay_ms, Rc::downgrade(agent), |agent| {
                    if let Ok(mut a) = agent.try_borrow_mut() {
                        a.delivery.retry_due();
                    }
                    kick(agent);
                });
                a.delivery.retry_scheduled(timer);
                return;
            }
        }
    }
    kick(agent);
}

/// The page is being hidden or left: everything queued goes now, as the last chance it may be
/// (the rules are [`Delivery::flush`](crate::deliver::Delivery::flush)'s).
pub fn flush(agent: &Shared) {
    let Ok(mut a) = agent.try_borrow_mut() else {
        return;
    };
    if !a.state.active() {
        return;
    }
    let a = &mut *a;
    let failing = a.delivery.failing();
    let endpoint = &a.endpoint;
    let taken = a
        .delivery
        .flush(&LocalStorage, |body| send::beacon(endpoint, body));
    for _ in 0..taken {
        a.debug(if failing {
            "binding beaconed; still queued while the relay is failing"
        } else {
            "binding handed to sendBeacon"
        });
    }
}

/// The page is hidden or left: look again (within the throttle, like any page event: an id
/// that appeared since the last check would otherwise wait for the next page load), then flush.
pub fn leave(agent: &Shared) {
    nudge(agent);
    flush(agent);
}
