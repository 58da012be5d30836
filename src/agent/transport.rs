//! The agent's side of delivery: what [`Delivery`](crate::deliver::Delivery) decides, carried
//! out in the page — the request through the page's `fetch`, `sendBeacon`, `localStorage` —
//! and reported in `status()` and the debug log. The loader waits for the request and for the
//! retry delay, and hands back the answer ([`super::tick`]).

use alloc::string::String;
use wasm_bindgen::JsValue;

use super::Shared;
use crate::deliver::Settled;
use crate::page::{self, LocalStorage};
use crate::send::{self, Outcome};

/// Sends the oldest queued binding unless a send is under way or waiting to retry. The page's
/// `fetch` is called here, with no borrow held and only while the agent is active. What to do
/// next, as [`super::tick`] answers it.
pub(super) fn kick(agent: &Shared) -> JsValue {
    let (endpoint, body) = {
        let Ok(mut a) = agent.try_borrow_mut() else {
            return JsValue::UNDEFINED;
        };
        if !a.state.active() {
            return JsValue::FALSE;
        }
        let Some(body) = a.delivery.next_send() else {
            return JsValue::UNDEFINED;
        };
        (a.endpoint.clone(), body)
    };
    match send::start(&endpoint, &body) {
        Ok(request) => request.into(),
        Err(outcome) => settled(agent, outcome, JsValue::UNDEFINED),
    }
}

/// The request's answer: its `Response`, or `undefined` when it failed.
pub(super) fn settle(agent: &Shared, response: JsValue) -> JsValue {
    let outcome = send::outcome(&response);
    settled(agent, outcome, response)
}

fn settled(agent: &Shared, outcome: Outcome, response: JsValue) -> JsValue {
    {
        let Ok(mut a) = agent.try_borrow_mut() else {
            // Busy (the page called back into aidlink): the loader hands the answer back on the
            // next microtask.
            return js_sys::Promise::resolve(&response).into();
        };
        let active = a.state.active();
        match a
            .delivery
            .settled(outcome, active, page::random(), &LocalStorage)
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
                return JsValue::from_f64(delay_ms as f64);
            }
        }
    }
    kick(agent)
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
