//! The capture state machine: read the RTB House id and the Calltouch session when asked to
//! look, hand the id to Calltouch, queue the binding; consent and stop; and carry out what the
//! delivery state ([`crate::deliver::Delivery`], pure) asks for: requests, beacons, retries,
//! storage.
//!
//! When to look is the loader's business (`www/loader/watch.js`: the poll, the page's events);
//! it asks through [`tick`], which answers what to do next: wait for this request, retry in so
//! many ms, or stop waiting. One [`Agent`] per page. Every entry point uses `try_borrow(_mut)`
//! and gives up quietly when the agent is busy, so no re-entrant call from the page can panic;
//! and no borrow is held while the page's own code runs (cookie getters, `ct`, `fetch`), so a
//! consent manager calling `denyConsent()` from inside one of them is obeyed at once.

use alloc::rc::Rc;
use alloc::string::String;
use core::cell::RefCell;

use aidlink_protocol::{cookie, Binding, Touch};
use wasm_bindgen::JsValue;

use crate::config::Config;
use crate::deliver::{self, Delivery};
use crate::page::{self, LocalStorage};
use crate::pending::Pending;
use crate::session;

mod transport;

pub use transport::flush;
use transport::{kick, settle};

/// An agent, shared by the entry points (and by the tests, which run several).
pub type Shared = Rc<RefCell<Agent>>;

/// [`tick`]: read the ids now, queue a new binding, send what is due.
pub const LOOK: u32 = 0;
/// [`tick`]: the page is hidden or left: hand what is queued to the browser.
pub const FLUSH: u32 = 1;
/// [`tick`]: the retry delay [`tick`] asked for has passed: send again.
pub const RETRY: u32 = 2;
/// [`tick`]: the request [`tick`] returned has answered (its `Response`, or `undefined` when it
/// failed).
pub const SETTLED: u32 = 3;

/// Where the agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// `consent: pending`: reads and sends nothing until consent is granted.
    ConsentPending,
    /// Watching for the RTB House id and/or the Calltouch session; `status()` says `bound`
    /// once a binding was delivered from this page (derived, not a state of its own).
    Waiting,
    /// `stop()` was called.
    Stopped,
    /// `denyConsent()` was called; aidlink's storage is cleared.
    Denied,
}

impl State {
    /// The name `status()` gives it; `bound` is waiting after a binding was delivered.
    fn name(self, bound: bool) -> &'static str {
        const NAMES: [&str; 5] = ["consent_pending", "waiting", "stopped", "denied", "bound"];
        let at = if bound && self == State::Waiting {
            4
        } else {
            self as usize
        };
        NAMES.get(at).copied().unwrap_or_default()
    }

    /// Watching and sending.
    pub fn active(self) -> bool {
        self == State::Waiting
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
/// lastError }` (`lastError` null when there is none). Written as a map rather than derived
/// (serde-wasm-bindgen interns derived field names in a hash map that costs 1 KB gzip), and
/// every value through one type ([`Value`]), so the map's value code exists once rather than
/// once per field type.
impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("state", &Value::Text(Some(self.state)))?;
        m.serialize_entry("cookie", &Value::Flag(self.cookie))?;
        m.serialize_entry("session", &Value::Flag(self.session))?;
        m.serialize_entry("sent", &Value::Count(self.sent))?;
        m.serialize_entry("lastError", &Value::Text(self.last_error.as_deref()))?;
        m.end()
    }
}

/// One value of the status object: a string (`None`: null), a boolean or a count.
enum Value<'a> {
    Text(Option<&'a str>),
    Flag(bool),
    Count(u32),
}

impl serde::Serialize for Value<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Value::Text(Some(text)) => s.serialize_str(text),
            Value::Text(None) => s.serialize_none(),
            Value::Flag(flag) => s.serialize_bool(flag),
            Value::Count(count) => s.serialize_u32(count),
        }
    }
}

/// The capture agent of one page.
pub struct Agent {
    /// Shared with each check, which reads the page without holding the agent.
    config: Rc<Config>,
    endpoint: String,
    touch: Touch,
    state: State,
    aid: Option<String>,
    session: Option<String>,
    /// The queue, the request under way, retries, what was sent: all delivery state.
    delivery: Delivery,
    /// The RTB House id last given to `ct('set_attrs')` on this page.
    attrs_handed: Option<String>,
    last_error: Option<String>,
}

impl Agent {
    fn debug(&self, line: &str) {
        debug(&self.config, line);
    }

    /// The status object's fields.
    pub fn status(&self) -> Status {
        Status {
            state: self.state.name(self.delivery.sent() > 0),
            cookie: self.aid.is_some(),
            session: self.session.is_some(),
            sent: self.delivery.sent(),
            last_error: self.last_error.clone(),
        }
    }

    /// Watching and sending from now on: what earlier pages left in storage is taken up.
    fn activate(&mut self) {
        self.state = State::Waiting;
        self.delivery.restore(&LocalStorage);
        self.debug("waiting for the RTB House id and the Calltouch session");
    }

    fn teardown(&mut self, state: State) {
        self.state = state;
        self.delivery.retry_due();
    }
}

/// A debug line on the console when `config.debug` is on.
fn debug(config: &Config, line: &str) {
    if config.debug {
        let mut text = String::from("aidlink: ");
        text.push_str(line);
        page::log(&text);
    }
}

/// Creates the agent for `config`, POSTing to the absolute `endpoint`. With consent pending it
/// waits for [`grant_consent`]; otherwise it is active at once, and its first [`tick`] looks.
pub fn start(config: Config, endpoint: String) -> Shared {
    let (search, path, host, referrer_host) = page::landing();
    let touch = Touch::from_page(&search, &path, &referrer_host, &host, page::now_ms() as u64);
    let mut agent = Agent {
        config: Rc::new(config),
        endpoint,
        touch,
        state: State::ConsentPending,
        aid: None,
        session: None,
        delivery: Delivery::default(),
        attrs_handed: None,
        last_error: None,
    };
    if agent.config.consent_pending {
        agent.debug("waiting for consent (grantConsent)");
    } else {
        agent.activate();
    }
    Rc::new(RefCell::new(agent))
}

/// One step, as the loader asks for it (`kind`: [`LOOK`], [`FLUSH`], [`RETRY`] or [`SETTLED`]
/// with the request's `response`). What to do next: the request now under way (a promise), a
/// retry due in so many ms (a number), `false` when the agent is not active (the loader stops
/// waiting), or `undefined` for nothing.
pub fn tick(agent: &Shared, kind: u32, response: JsValue) -> JsValue {
    match kind {
        LOOK => {
            check(agent);
            kick(agent)
        }
        FLUSH => {
            flush(agent);
            idle(agent)
        }
        RETRY => {
            if let Ok(mut a) = agent.try_borrow_mut() {
                a.delivery.retry_due();
            }
            kick(agent)
        }
        _ => settle(agent, response),
    }
}

/// Nothing to do: `false` when the agent is not active, else `undefined`.
fn idle(agent: &Shared) -> JsValue {
    match agent.try_borrow() {
        Ok(a) if !a.state.active() => JsValue::FALSE,
        _ => JsValue::UNDEFINED,
    }
}

/// `grantConsent()`: an agent that was waiting for consent becomes active and looks at once;
/// what that look says to do next (as [`tick`]), or `false` when it was not waiting.
pub fn grant_consent(agent: &Shared) -> JsValue {
    let activated = agent.try_borrow_mut().is_ok_and(|mut a| {
        let waiting = a.state == State::ConsentPending;
        if waiting {
            a.activate();
        }
        waiting
    });
    if !activated {
        return JsValue::FALSE;
    }
    tick(agent, LOOK, JsValue::UNDEFINED)
}

/// `denyConsent()`: stops everything and clears what aidlink stored. False when the agent was
/// busy (the caller tries again on the next tick).
pub fn deny_consent(agent: &Shared) -> bool {
    let Ok(mut a) = agent.try_borrow_mut() else {
        return false;
    };
    a.teardown(State::Denied);
    a.delivery.clear();
    a.aid = None;
    a.session = None;
    deliver::forget(&LocalStorage);
    a.debug("consent denied: stopped, storage cleared");
    true
}

/// `stop()`: stops watching and sending; what is queued stays stored for the next page. False
/// when the agent was busy (the caller tries again on the next tick).
pub fn stop(agent: &Shared) -> bool {
    let Ok(mut a) = agent.try_borrow_mut() else {
        return false;
    };
    if a.state != State::Denied {
        a.teardown(State::Stopped);
        a.debug("stopped");
    }
    true
}

/// Reads the ids now, hands a new RTB House id to Calltouch and queues a binding when both
/// ids are known and the binding is new to every tab of the site.
pub fn check(agent: &Shared) {
    let config = {
        let Ok(a) = agent.try_borrow() else {
            return;
        };
        if !a.state.active() {
            return;
        }
        Rc::clone(&a.config)
    };
    // The page's code runs here (cookie getters, `ct`): no borrow is held.
    let cookies = page::cookies();
    let aid = cookie::read_aid(&cookies, config.cookie_names(), page::now_ms() as u64);
    let session = session::session_id(&config, &cookies);
    let ct_client = session::ct_client(&cookies);
    hand_attrs(agent, &config, aid.as_deref());
    let Ok(mut a) = agent.try_borrow_mut() else {
        return;
    };
    if !a.state.active() {
        return;
    }
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
    let (Some(aid), Some(session)) = (a.aid.clone(), a.session.clone()) else {
        return;
    };
    let binding = Binding::new(
        config.site.clone(),
        session,
        ct_client,
        aid,
        Some(a.touch.clone()),
    );
    // Another tab of the site may have sent or queued it since this page loaded.
    if !a.delivery.is_new(&binding.id, &LocalStorage) {
        return;
    }
    let Some(body) = to_json(&binding) else {
        return;
    };
    let item = Pending {
        id: binding.id,
        body,
    };
    a.delivery.enqueue(item, &LocalStorage);
    a.debug("binding queued");
}

/// `ct('set_attrs', json)` once per RTB House id on each page, as soon as `ct` exists (the
/// loader's queue stub counts: init.js replays it), whether or not the session is known yet:
/// the relay falls back to `attrs` when it has no binding.
fn hand_attrs(agent: &Shared, config: &Config, aid: Option<&str>) {
    let Some(aid) = aid else {
        return;
    };
    let due = config.set_attrs
        && agent
            .try_borrow()
            .is_ok_and(|a| a.state.active() && a.attrs_handed.as_deref() != Some(aid));
    if !due {
        return;
    }
    let Some(ct) = page::ct() else {
        return;
    };
    let Some(json) = attrs_json(&config.attr_key, aid) else {
        return;
    };
    let handed = page::call_ct(&ct, "set_attrs", &json).is_some();
    if let Ok(mut a) = agent.try_borrow_mut() {
        a.attrs_handed = Some(String::from(aid));
        if handed {
            a.debug("RTB House id handed to Calltouch (set_attrs)");
        } else {
            a.last_error = Some(String::from("ct('set_attrs') threw"));
        }
    }
}

/// `{"<attr_key>":"<aid>"}`, serialised by serde_json (the binding's serialiser), which escapes
/// a key exactly as `JSON.stringify` does.
fn attrs_json(key: &str, aid: &str) -> Option<String> {
    serde_json::to_string(&Attrs(key, aid)).ok()
}

/// The one-entry object `set_attrs` takes.
struct Attrs<'a>(&'a str, &'a str);

impl serde::Serialize for Attrs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.0, self.1)?;
        map.end()
    }
}

/// The binding's JSON body, serialised by serde (the protocol crate's wire type).
fn to_json(binding: &Binding) -> Option<String> {
    serde_json::to_string(binding).ok()
}
