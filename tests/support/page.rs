//! What the browser suites share: the page fixtures of `tests/page_fixture.js` (cookies, a
//! Calltouch queue stub and init.js, fetch and beacon recorders, hostile page variants) and
//! helpers to start agents on a clean page, each waited for by the loader's own watcher
//! (`www/loader/watch.js`), as on a real page. Each suite uses part of it.
#![allow(dead_code)]

use aidlink::agent::{self, Shared};
use aidlink::config::{Config, RawConfig};
use wasm_bindgen::{prelude::*, JsCast};
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/tests/page_fixture.js")]
extern "C" {
    pub fn reset();
    #[wasm_bindgen(js_name = setCookie)]
    pub fn set_cookie(name: &str, value: &str);
    #[wasm_bindgen(js_name = installFetch)]
    pub fn install_fetch(statuses: Vec<u16>, retry_after: u32);
    #[wasm_bindgen(js_name = removeFetch)]
    pub fn remove_fetch();
    pub fn attempts() -> u32;
    #[wasm_bindgen(js_name = attemptTimes)]
    pub fn attempt_times() -> Vec<f64>;
    pub fn delivered() -> Vec<String>;
    #[wasm_bindgen(js_name = lastType)]
    pub fn last_type() -> String;
    #[wasm_bindgen(js_name = installCtStub)]
    pub fn install_ct_stub();
    #[wasm_bindgen(js_name = loadCtInit)]
    pub fn load_ct_init(session: &str);
    #[wasm_bindgen(js_name = queuedCtCalls)]
    pub fn queued_ct_calls() -> i32;
    #[wasm_bindgen(js_name = attrsCalls)]
    pub fn attrs_calls() -> Vec<JsValue>;
    #[wasm_bindgen(js_name = setCt)]
    pub fn set_ct(value: JsValue);
    #[wasm_bindgen(js_name = setCallValue)]
    pub fn set_call_value(value: JsValue);
    #[wasm_bindgen(js_name = storageValue)]
    pub fn storage_value(key: &str) -> Option<String>;
    #[wasm_bindgen(js_name = setStorageValue)]
    pub fn set_storage_value(key: &str, value: &str);
    #[wasm_bindgen(js_name = breakCookies)]
    pub fn break_cookies();
    #[wasm_bindgen(js_name = restoreCookies)]
    pub fn restore_cookies();
    #[wasm_bindgen(js_name = breakStorage)]
    pub fn break_storage();
    #[wasm_bindgen(js_name = restoreStorage)]
    pub fn restore_storage();
    pub fn sleep(ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = pushState)]
    pub fn push_state(path: &str);
    #[wasm_bindgen(js_name = makeScript)]
    pub fn make_script(attrs: JsValue) -> web_sys::Element;
    #[wasm_bindgen(js_name = parseAttr)]
    pub fn parse_attr(json: &str, key: &str) -> JsValue;
    #[wasm_bindgen(js_name = installSlowFetch)]
    pub fn install_slow_fetch(statuses: Vec<u16>, delay_ms: u32);
    #[wasm_bindgen(js_name = installHostileFetch)]
    pub fn install_hostile_fetch();
    #[wasm_bindgen(js_name = installBeacon)]
    pub fn install_beacon();
    pub fn beacons() -> u32;
    #[wasm_bindgen(js_name = hidePage)]
    pub fn hide_page();
    #[wasm_bindgen(js_name = showPage)]
    pub fn show_page();
    #[wasm_bindgen(js_name = recordPageErrors)]
    pub fn record_page_errors();
    #[wasm_bindgen(js_name = pageErrors)]
    pub fn page_errors() -> Vec<String>;
    #[wasm_bindgen(js_name = hookCookies)]
    pub fn hook_cookies(hook: &js_sys::Function);
    #[wasm_bindgen(js_name = cookieReads)]
    pub fn cookie_reads() -> u32;
    #[wasm_bindgen(js_name = replaceState)]
    pub fn replace_state(path: &str);
    /// Dispatches `pageshow`; how many agents looked again (read `document.cookie`) during it.
    #[wasm_bindgen(js_name = lookAgain)]
    pub fn look_again_count() -> u32;
    #[wasm_bindgen(js_name = timersArmed)]
    pub fn timers_armed() -> u32;
    pub fn answered() -> u32;
}

/// The loader's waiting (the poll, the page's events, requests and retry delays), as shipped.
#[wasm_bindgen(module = "/www/loader/watch.js")]
extern "C" {
    pub type Watcher;
    #[wasm_bindgen(js_name = aidlinkWatcher)]
    fn watcher(check: &js_sys::Function) -> Watcher;
    #[wasm_bindgen(method)]
    fn start(this: &Watcher, first: JsValue);
}

/// Waits for the agent behind `check` as the loader does: the first look, then the watcher.
fn watch(check: impl Fn(u32, JsValue) -> JsValue + 'static) {
    let first = check(agent::LOOK, JsValue::UNDEFINED);
    let check = Closure::<dyn Fn(u32, JsValue) -> JsValue>::new(check);
    watcher(check.as_ref().unchecked_ref()).start(first);
    check.forget();
}

pub const AID: &str = "AbCdEf0123456789xyz";
pub const ENDPOINT: &str = "https://relay.test/v1/bindings";

/// Lets `ms` of the scenario pass: only where the time is the scenario itself (a cookie
/// written 3 s after load, a minute of throttled checks), never to wait for a result; each
/// call says why in a comment.
pub async fn pace(ms: u32) {
    let _ = JsFuture::from(sleep(ms)).await;
}

/// Waits up to `ms` for `cond`, checking every 50 ms.
pub async fn wait_for(ms: u32, cond: impl Fn() -> bool) -> bool {
    for _ in 0..ms / 50 {
        if cond() {
            return true;
        }
        pace(50).await;
    }
    cond()
}

/// Waits (up to 3 s) until a running agent has looked at the page again after this call: its
/// poll or an event read `document.cookie`. What a check would have sent has been handed to
/// `fetch` by then, so "nothing was sent" can be asserted after it.
pub async fn next_check() {
    let before = cookie_reads();
    assert!(
        wait_for(3000, || cookie_reads() > before).await,
        "no check of the page within 3 s"
    );
}

/// Makes every running agent look again now (a `pageshow`, answered synchronously during an
/// agent's first minute) and asserts that at least `agents` did: what they would send has been
/// handed to `fetch` when this returns.
pub fn look_again(agents: u32) {
    let looked = look_again_count();
    assert!(
        looked >= agents,
        "{looked} of {agents} agents looked again on pageshow"
    );
}

pub fn config(edit: impl FnOnce(&mut RawConfig)) -> Config {
    let mut raw = RawConfig {
        site: Some("38342".into()),
        mod_id: Some("vwgixinz".into()),
        ..RawConfig::default()
    };
    edit(&mut raw);
    raw.validate().expect("valid test config")
}

thread_local! {
    static STARTED: std::cell::RefCell<Vec<Shared>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub fn start(edit: impl FnOnce(&mut RawConfig)) -> Shared {
    let agent = agent::start(config(edit), ENDPOINT.into());
    STARTED.with(|s| s.borrow_mut().push(agent.clone()));
    let watched = agent.clone();
    watch(move |kind, response| agent::tick(&watched, kind, response));
    agent
}

/// The script tag's start (`window.aidlink`'s module) with the loader's watcher.
pub fn start_tag(script: &web_sys::Element, src: &str, early: &str) {
    aidlink::start_tag(script, src, early);
    watch(aidlink::check);
}

/// A clean page: agents of earlier tests stopped (even when they failed), cookies, storage,
/// `ct`, `call_value` cleared, a fresh fetch recorder answering 204.
pub fn fresh() {
    STARTED.with(|s| {
        s.borrow_mut().drain(..).for_each(|a| {
            agent::stop(&a);
        })
    });
    reset();
}

pub fn status(agent: &Shared) -> aidlink::agent::Status {
    agent.borrow().status()
}

pub fn body_field(body: &str, key: &str) -> JsValue {
    parse_attr(body, key)
}
