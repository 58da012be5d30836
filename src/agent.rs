//! The capture state machine: wait for the RTB House id and the Calltouch session, hand the id
//! to Calltouch, queue the binding and deliver it once per (session, id), surviving reloads.
//!
//! One [`Agent`] per page, shared as [`Shared`] by its timers and event listeners, which hold
//! only weak references. Every entry point uses `try_borrow_mut` and gives up quietly when the
//! agent is busy, so no re-entrant call from the page can panic.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use aidlink_protocol::{cookie, Backoff, Binding, Touch};
use wasm_bindgen::JsValue;

use crate::config::Config;
use crate::pending::{self, Pending};
use crate::send::{self, Outcome};
use crate::watch::Watchers;
use crate::{page, session};

/// An agent shared with its timers and listeners.
pub type Shared = Rc<RefCell<Agent>>;

/// Where the agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// `consent: pending`: reads and sends nothing until consent is granted.
    ConsentPending,
    /// Watching for the RTB House id and/or the Calltouch session.
    Waiting,
    /// A binding was delivered; still watching for a new id or session.
    Bound,
    /// `stop()` was called.
    Stopped,
    /// `denyConsent()` was called; aidlink's storage is cleared.
    Denied,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::ConsentPending => "consent_pending",
            State::Waiting => "waiting",
            State::Bound => "bound",
            State::Stopped => "stopped",
            State::Denied => "denied",
        }
    }

    fn active(self) -> bool {
        matches!(self, State::Waiting | State::Bound)
    }
}

/// What `window.aidlink.status()` returns (a plain object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `consent_pending`, `waiting`, `bound`, `stopped`, `denied` (or `loading` / `failed`
    /// from the loader).
    pub state: &'static str,
    /// The RTB House id is known.
    pub cookie: bool,
    /// The Calltouch session is known.
    pub session: bool,
    /// Bindings delivered from this page.
    pub sent: u32,
    /// The last problem, if any.
    pub last_error: Option<String>,
}

/// Serialised by serde-wasm-bindgen into the plain object `{ state, cookie, session, sent,
/// lastError }` (`lastError` null when there is none). Written as a map rather than derived:
/// serde-wasm-bindgen interns derived field names in a hash map that costs 1 KB gzip.
impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("state", self.state)?;
        m.serialize_entry("cookie", &self.cookie)?;
        m.serialize_entry("session", &self.session)?;
        m.serialize_entry("sent", &self.sent)?;
        m.serialize_entry("lastError", &self.last_error)?;
        m.end()
    }
}

/// The capture agent of one page.
pub struct Agent {
    config: Config,
    endpoint: String,
    touch: Touch,
    state: State,
    aid: Option<String>,
    session: Option<String>,
    sent_ids: Vec<String>,
    queue: Vec<Pending>,
    in_flight: bool,
    send_attempt: u32,
    send_timer: Option<i32>,
    poll_attempt: u32,
    poll_timer: Option<i32>,
    attrs_due: Option<String>,
    sent: u32,
    last_error: Option<String>,
    watchers: Option<Watchers>,
}

impl Agent {
    fn debug(&self, line: &str) {
        if self.config.debug {
            let mut text = String::from("aidlink: ");
            text.push_str(line);
            page::log(&text);
        }
    }

    /// The status object's fields.
    pub fn status(&self) -> Status {
        Status {
            state: self.state.name(),
            cookie: self.aid.is_some(),
            session: self.session.is_some(),
            sent: self.sent,
            last_error: self.last_error.clone(),
        }
    }

    fn persist(&self) {
        page::save(pending::SENT_KEY, &pending::encode_sent(&self.sent_ids));
        page::save(pending::PENDING_KEY, &pending::encode_pending(&self.queue));
    }

    fn teardown(&mut self, state: State) {
        self.state = state;
        for timer in [self.poll_timer.take(), self.send_timer.take()]
            .into_iter()
            .flatten()
        {
            page::clear_timeout(timer);
        }
        if let Some(watchers) = self.watchers.take() {
            watchers.remove();
        }
    }
}

/// Creates the agent for `config`, POSTing to the absolute `endpoint`. With consent pending it
/// waits for [`grant_consent`]; otherwise it starts watching at once.
pub fn start(config: Config, endpoint: String) -> Shared {
    let (search, path, host, referrer) = page::landing();
    let touch = Touch::from_page(&search, &path, &referrer, &host, page::now_ms() as u64);
    let consent_pending = config.consent_pending;
    let agent = Rc::new(RefCell::new(Agent {
        config,
        endpoint,
        touch,
        state: State::ConsentPending,
        aid: None,
        session: None,
        sent_ids: Vec::new(),
        queue: Vec::new(),
        in_flight: false,
        send_attempt: 0,
        send_timer: None,
        poll_attempt: 0,
        poll_timer: None,
        attrs_due: None,
        sent: 0,
        last_error: None,
        watchers: None,
    }));
    if consent_pending {
        if let Ok(a) = agent.try_borrow() {
            a.debug("waiting for consent (grantConsent)");
        }
    } else {
        activate(&agent);
    }
    agent
}

fn activate(agent: &Shared) {
    {
        let Ok(mut a) = agent.try_borrow_mut() else {
            return;
        };
        a.state = State::Waiting;
        a.sent_ids = page::load(pending::SENT_KEY)
            .map(|v| pending::decode_sent(&v))
            .unwrap_or_default();
        a.queue = page::load(pending::PENDING_KEY)
            .map(|v| pending::decode_pending(&v))
            .unwrap_or_default();
        a.watchers = Some(Watchers::install(Rc::downgrade(agent)));
        a.debug("waiting for the RTB House id and the Calltouch session");
    }
    check(agent);
    schedule_poll(agent);
    kick(agent);
}

/// `grantConsent()`: starts an agent that was waiting for consent.
pub fn grant_consent(agent: &Shared) {
    let waiting = agent
        .try_borrow()
        .is_ok_and(|a| a.state == State::ConsentPending);
    if waiting {
        activate(agent);
    }
}

/// `denyConsent()`: stops everything and clears what aidlink stored.
pub fn deny_consent(agent: &Shared) {
    if let Ok(mut a) = agent.try_borrow_mut() {
        a.teardown(State::Denied);
        a.queue.clear();
        a.sent_ids.clear();
        a.aid = None;
        a.session = None;
        page::save(pending::SENT_KEY, "");
        page::save(pending::PENDING_KEY, "");
        a.debug("consent denied: stopped, storage cleared");
    }
}

/// `stop()`: stops watching and sending; what is queued stays stored for the next page.
pub fn stop(agent: &Shared) {
    if let Ok(mut a) = agent.try_borrow_mut() {
        if a.state != State::Denied {
            a.teardown(State::Stopped);
            a.debug("stopped");
        }
    }
}

/// Reads the ids now and queues a binding when both are known and new.
pub fn check(agent: &Shared) {
    let queued = {
        let Ok(mut a) = agent.try_borrow_mut() else {
            return;
        };
        if !a.state.active() {
            return;
        }
        let cookies = page::cookies();
        let aid = cookie::read_aid(&cookies, &a.config.cookie);
        let session = session::session_id(&a.config, &cookies);
        if aid != a.aid {
            a.debug(if aid.is_some() {
                "RTB House id found"
            } else {
                "RTB House id gone"
            });
        }
        if session != a.session {
            a.debug(if session.is_some() {
                "Calltouch session found"
            } else {
                "Calltouch session gone"
            });
        }
        a.aid = aid;
        a.session = session;
        hand_attrs(&mut a);
        let (Some(aid), Some(session)) = (a.aid.clone(), a.session.clone()) else {
            return;
        };
        let binding = Binding::new(
            a.config.site.clone(),
            session,
            session::ct_client(&cookies),
            aid.clone(),
            Some(a.touch.clone()),
        );
        let known = a.sent_ids.contains(&binding.id) || a.queue.iter().any(|p| p.id == binding.id);
        if known {
            return;
        }
        let Some(body) = to_json(&binding) else {
            return;
        };
        if a.config.set_attrs {
            a.attrs_due = attrs_json(&a.config.attr_key, &aid);
            hand_attrs(&mut a);
        }
        a.queue.push(Pending {
            id: binding.id,
            body,
        });
        a.persist();
        a.debug("binding queued");
        true
    };
    if queued {
        kick(agent);
    }
}

/// `ct('set_attrs', json)` once `ct` exists (the queue stub counts: it replays the call).
fn hand_attrs(a: &mut Agent) {
    if a.attrs_due.is_none() {
        return;
    }
    let Some(ct) = page::ct() else {
        return;
    };
    if let Some(json) = a.attrs_due.take() {
        if page::call_ct(&ct, "set_attrs", &json).is_some() {
            a.debug("RTB House id handed to Calltouch (set_attrs)");
        } else {
            a.last_error = Some(String::from("ct('set_attrs') threw"));
        }
    }
}

/// `{"<attr_key>":"<aid>"}` serialised by `JSON.stringify`.
fn attrs_json(key: &str, aid: &str) -> Option<String> {
    let attrs = js_sys::Object::new();
    js_sys::Reflect::set(&attrs, &JsValue::from_str(key), &JsValue::from_str(aid)).ok()?;
    js_sys::JSON::stringify(&attrs).ok().map(String::from)
}

/// The binding's JSON body, serialised by serde (the protocol crate's wire type).
fn to_json(binding: &Binding) -> Option<String> {
    serde_json::to_string(binding).ok()
}

fn schedule_poll(agent: &Shared) {
    let Ok(mut a) = agent.try_borrow_mut() else {
        return;
    };
    if !a.state.active() {
        return;
    }
    let delay = Backoff::POLL.ceiling(a.poll_attempt);
    a.poll_attempt = a.poll_attempt.saturating_add(1);
    let weak = Rc::downgrade(agent);
    a.poll_timer = page::set_timeout(delay, move || {
        if let Some(agent) = weak.upgrade() {
            check(&agent);
            schedule_poll(&agent);
        }
    });
}

/// Sends the oldest queued binding unless a send is under way or waiting to retry.
pub fn kick(agent: &Shared) {
    let (endpoint, item) = {
        let Ok(mut a) = agent.try_borrow_mut() else {
            return;
        };
        if !a.state.active() || a.in_flight || a.send_timer.is_some() {
            return;
        }
        let Some(item) = a.queue.first().cloned() else {
            return;
        };
        a.in_flight = true;
        (a.endpoint.clone(), item)
    };
    let weak = Rc::downgrade(agent);
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = send::post(&endpoint, &item.body).await;
        if let Some(agent) = weak.upgrade() {
            settle(&agent, &item.id, outcome);
        }
    });
}

fn settle(agent: &Shared, id: &str, outcome: Outcome) {
    {
        let Ok(mut a) = agent.try_borrow_mut() else {
            return;
        };
        a.in_flight = false;
        let still_queued = a.queue.iter().any(|p| p.id == id);
        match outcome {
            Outcome::Delivered | Outcome::Rejected(_) if still_queued => {
                a.queue.retain(|p| p.id != id);
                a.sent_ids.push(String::from(id));
                a.send_attempt = 0;
                if outcome == Outcome::Delivered {
                    a.sent += 1;
                    a.last_error = None;
                    if a.state == State::Waiting {
                        a.state = State::Bound;
                    }
                    a.debug("binding delivered");
                } else {
                    a.last_error = Some(String::from("the relay refused the binding"));
                    a.debug("the relay refused the binding (4xx); not retried");
                }
                a.persist();
            }
            Outcome::Retry(retry_after) if still_queued && a.state.active() => {
                let delay = Backoff::SEND.delay_after(a.send_attempt, page::random(), retry_after);
                a.send_attempt = a.send_attempt.saturating_add(1);
                a.last_error = Some(String::from("relay unreachable or busy; retrying"));
                a.debug("binding not delivered; will retry");
                let weak = Rc::downgrade(agent);
                a.send_timer = page::set_timeout(delay, move || {
                    if let Some(agent) = weak.upgrade() {
                        if let Ok(mut a) = agent.try_borrow_mut() {
                            a.send_timer = None;
                        }
                        kick(&agent);
                    }
                });
                return;
            }
            _ => {}
        }
    }
    kick(agent);
}

/// The page is being hidden or left: hand every queued binding that is not already under way
/// to `navigator.sendBeacon`, which the browser delivers after the page is gone.
pub fn flush(agent: &Shared) {
    let Ok(mut a) = agent.try_borrow_mut() else {
        return;
    };
    if !a.state.active() {
        return;
    }
    if let Some(timer) = a.send_timer.take() {
        page::clear_timeout(timer);
    }
    let skip = usize::from(a.in_flight);
    let waiting: Vec<Pending> = a.queue.iter().skip(skip).cloned().collect();
    for item in waiting {
        if send::beacon(&a.endpoint, &item.body) {
            a.queue.retain(|p| p.id != item.id);
            a.sent_ids.push(item.id);
            a.sent += 1;
            if a.state == State::Waiting {
                a.state = State::Bound;
            }
            a.debug("binding handed to sendBeacon");
        }
    }
    a.persist();
}
