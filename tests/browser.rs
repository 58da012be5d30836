//! The capture module in a real browser (Chromium, Firefox or WebKit: CONTRIBUTING.md, "Running
//! the suites") against a real `document.cookie`, a real Calltouch queue stub replaced later by a
//! simulated `init.js`, and a fetch recorder in place of the relay. Run:
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p aidlink --target wasm32-unknown-unknown --test browser`.
//!
//! Tests wait for what they expect with a deadline (`wait_for`), and assert that nothing was
//! sent only after a later check of the module is seen (`next_check`, `look_again`).
#![cfg(target_arch = "wasm32")]

use aidlink::agent;
use aidlink::pending::{PENDING_KEY, SENT_KEY};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

#[path = "support/page.rs"]
mod page;
use page::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn cookie_first_then_session_from_calltouch_init() {
    fresh();
    install_ct_stub();
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct", "2200000000464647719");
    let agent = start(|_| {});
    next_check().await; // the poll has looked again: the stub still gives no session
    assert_eq!(attempts(), 0, "no session yet: nothing sent");
    assert_eq!(
        queued_ct_calls(),
        1,
        "the id is handed to the queue stub once (set_attrs, before any session); \
         calltracking_params is never queued while polling"
    );
    let s = status(&agent);
    assert!(s.cookie && !s.session);
    assert_eq!(s.state, "waiting");

    load_ct_init("261374990");
    assert!(
        wait_for(6000, || delivered().len() == 1).await,
        "binding sent once init.js is in"
    );
    let body = &delivered()[0];
    assert_eq!(body_field(body, "aid").as_string().as_deref(), Some(AID));
    assert_eq!(
        body_field(body, "session").as_string().as_deref(),
        Some("261374990")
    );
    assert_eq!(
        body_field(body, "site").as_string().as_deref(),
        Some("38342")
    );
    assert_eq!(
        body_field(body, "ct_client").as_string().as_deref(),
        Some("2200000000464647719")
    );
    assert_eq!(body_field(body, "v").as_f64(), Some(1.0));
    assert!(body_field(body, "touch").is_object());
    assert!(
        last_type().starts_with("text/plain;charset=UTF-8|true|omit"),
        "CORS simple request, keepalive, no cookies: {}",
        last_type()
    );
    let s = status(&agent);
    assert_eq!((s.state, s.sent, s.session), ("bound", 1, true));
    let attrs = attrs_calls();
    assert_eq!(attrs.len(), 1, "set_attrs handed once");
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn session_first_cookie_three_seconds_later() {
    fresh();
    set_cookie("_ct_session_id", "77001");
    let agent = start(|r| r.mod_id = None);
    pace(3000).await; // the scenario: the RTB House tag writes its cookie 3 s after load
    next_check().await;
    assert_eq!(attempts(), 0);
    assert!(status(&agent).session);
    set_cookie("__r_aid_v__", AID);
    assert!(
        wait_for(4000, || delivered().len() == 1).await,
        "sent soon after the cookie appears"
    );
    assert_eq!(
        body_field(&delivered()[0], "session")
            .as_string()
            .as_deref(),
        Some("77001")
    );
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn cookie_never_arrives_nothing_sent_no_error() {
    fresh();
    set_cookie("_ct_session_id", "77002");
    let agent = start(|_| {});
    // Three polls after the check at start (100, 200 and 400 ms apart): none sends.
    for _ in 0..3 {
        next_check().await;
    }
    assert_eq!(attempts(), 0);
    let s = status(&agent);
    assert_eq!((s.state, s.cookie, s.session), ("waiting", false, true));
    assert_eq!(s.last_error, None);
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn malformed_values_are_treated_as_absent() {
    fresh();
    set_cookie("__r_aid_v__", "a%20b");
    set_cookie("x__r_aid_v__", AID);
    set_cookie("_ct_session_id", "null");
    set_call_value(JsValue::from_str("undefined"));
    set_cookie("_ct_ids", "vwgixinz%3A99999%3A5555");
    let agent = start(|_| {});
    next_check().await;
    assert_eq!(
        attempts(),
        0,
        "invalid id, other site's _ct_ids, null session: nothing sent"
    );
    assert!(!status(&agent).cookie && !status(&agent).session);
    set_cookie("_ct_ids", "vwgixinz%3A38342%3A5555");
    set_cookie("__r_aid_v__", "%22Quoted_123%22");
    next_check().await;
    assert!(
        status(&agent).session,
        "the check after the change read the session"
    );
    assert_eq!(
        attempts(),
        0,
        "a percent-encoded quote decodes into an invalid id"
    );
    set_cookie("__r_aid_v__", "\"Quoted_123\"");
    assert!(wait_for(6000, || delivered().len() == 1).await);
    let body = &delivered()[0];
    assert_eq!(
        body_field(body, "session").as_string().as_deref(),
        Some("5555")
    );
    assert_eq!(
        body_field(body, "aid").as_string().as_deref(),
        Some("Quoted_123"),
        "one pair of quotes stripped"
    );
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn call_value_is_a_session_source() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    set_call_value(JsValue::from_f64(123456.0));
    let agent = start(|r| r.mod_id = None);
    assert!(wait_for(2000, || delivered().len() == 1).await);
    assert_eq!(
        body_field(&delivered()[0], "session")
            .as_string()
            .as_deref(),
        Some("123456")
    );
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn consent_pending_then_granted() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "77003");
    let timers = timers_armed();
    let agent = start(|r| r.consent = Some("pending".into()));
    // Nothing can happen later: no timer armed, no listener answering a page event.
    assert_eq!(
        timers_armed(),
        timers,
        "no timer armed while consent is pending"
    );
    assert_eq!(
        look_again_count(),
        0,
        "no listener while consent is pending"
    );
    assert_eq!(attempts(), 0);
    assert_eq!(cookie_reads(), 0, "the cookies were not even read");
    let s = status(&agent);
    assert_eq!(
        (s.state, s.cookie, s.session),
        ("consent_pending", false, false),
        "nothing read"
    );
    agent::grant_consent(&agent);
    assert!(wait_for(2000, || delivered().len() == 1).await);
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn consent_pending_then_denied_clears_storage() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "77004");
    set_storage_value(SENT_KEY, "b0000000000000001");
    set_storage_value(PENDING_KEY, "b2\t{\"v\":1}\n");
    let timers = timers_armed();
    let agent = start(|r| r.consent = Some("pending".into()));
    agent::deny_consent(&agent);
    agent::grant_consent(&agent);
    // Nothing can happen later: no timer armed, no listener answering a page event.
    assert_eq!(timers_armed(), timers, "no timer armed once denied");
    assert_eq!(look_again_count(), 0, "no listener once denied");
    assert_eq!(
        cookie_reads(),
        0,
        "grant after deny does not read the cookies"
    );
    assert_eq!(
        attempts(),
        0,
        "denied: nothing sent, grant after deny does not restart"
    );
    assert_eq!(status(&agent).state, "denied");
    assert_eq!(storage_value(SENT_KEY), None);
    assert_eq!(storage_value(PENDING_KEY), None);
}

#[wasm_bindgen_test]
async fn rtb_id_rotation_sends_again_reload_does_not() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "77005");
    let agent = start(|_| {});
    assert!(wait_for(2000, || delivered().len() == 1).await);
    agent::stop(&agent);
    // A reload (a new agent, same storage) does not POST the same binding again.
    let reloaded = start(|_| {});
    next_check().await;
    assert!(status(&reloaded).cookie && status(&reloaded).session);
    assert_eq!(attempts(), 1, "the reloaded page does not POST it again");
    // Safari rotated the id: a new binding.
    set_cookie("__r_aid_v__", "NewId0123456789abcd");
    push_state("/after-rotation");
    assert!(wait_for(2000, || delivered().len() == 2).await);
    assert_eq!(
        body_field(&delivered()[1], "aid").as_string().as_deref(),
        Some("NewId0123456789abcd")
    );
    assert_eq!(status(&reloaded).sent, 1);
    agent::stop(&reloaded);
}

#[wasm_bindgen_test]
async fn spa_navigation_to_a_new_session_sends_a_second_binding() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    install_ct_stub();
    load_ct_init("880001");
    let agent = start(|_| {});
    assert!(wait_for(2000, || delivered().len() == 1).await);
    // The scenario: 6 s on the page, so the poll is at its 5 s ceiling and only the pushState
    // (not a poll) can make the check prompt.
    pace(6000).await;
    load_ct_init("880002");
    push_state("/spa/next");
    assert!(
        wait_for(1000, || delivered().len() == 2).await,
        "pushState triggers a check at once"
    );
    assert_eq!(
        body_field(&delivered()[1], "session")
            .as_string()
            .as_deref(),
        Some("880002")
    );
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn unavailable_relay_503_then_204_is_sent_once_honouring_retry_after() {
    fresh();
    install_fetch(vec![503, 204], 2);
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "77006");
    let agent = start(|_| {});
    assert!(wait_for(5000, || delivered().len() == 1).await);
    assert!(wait_for(1000, || status(&agent).sent == 1).await);
    let times = attempt_times();
    assert!(
        times[1] - times[0] >= 1990.0,
        "Retry-After: 2 honoured ({:?})",
        times
    );
    let s = status(&agent);
    assert_eq!((s.sent, s.last_error), (1, None));
    // A later binding (the id rotates) is sent right after: a delivered binding left at the
    // head of the one-at-a-time queue would be POSTed again before it.
    set_cookie("__r_aid_v__", "NewId0123456789abcd");
    look_again(1);
    assert!(wait_for(3000, || delivered().len() == 2).await);
    assert_eq!(
        attempts(),
        3,
        "one retry, then nothing more of the first binding"
    );
    assert_eq!(
        body_field(&delivered()[1], "aid").as_string().as_deref(),
        Some("NewId0123456789abcd")
    );
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn relay_refusal_4xx_is_not_retried() {
    fresh();
    install_fetch(vec![400, 204], 0);
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "77007");
    let agent = start(|_| {});
    assert!(wait_for(2000, || status(&agent).last_error.is_some()).await);
    assert_eq!((attempts(), status(&agent).sent), (1, 0));
    // A later binding (the id rotates) is sent at once and is the next request: a refused
    // binding kept for a retry would hold the one-at-a-time queue and go first.
    set_cookie("__r_aid_v__", "NewId0123456789abcd");
    look_again(1);
    assert!(wait_for(3000, || delivered().len() == 1).await);
    assert_eq!(attempts(), 2, "the refused binding was not sent again");
    assert_eq!(
        body_field(&delivered()[0], "aid").as_string().as_deref(),
        Some("NewId0123456789abcd")
    );
    let s = status(&agent);
    assert_eq!(s.sent, 1);
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn set_attrs_gets_a_json_string_for_an_id_with_quote_like_characters() {
    fresh();
    let aid = "Ab'C`<d>&e=f_1%";
    set_cookie(
        "__r_aid_v__",
        &js_sys::encode_uri_component(aid).as_string().unwrap(),
    );
    set_cookie("_ct_session_id", "77008");
    install_ct_stub();
    let agent = start(|r| r.attr_key = Some("rtb \"id\"".into()));
    assert!(wait_for(2000, || delivered().len() == 1).await);
    load_ct_init("77008");
    let attrs = attrs_calls();
    assert_eq!(
        attrs.len(),
        1,
        "set_attrs queued on the stub, replayed by init.js"
    );
    let json = attrs[0]
        .as_string()
        .expect("set_attrs gets a JSON string, not an object");
    assert_eq!(
        parse_attr(&json, "rtb \"id\"").as_string().as_deref(),
        Some(aid)
    );
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn set_attrs_off_leaves_calltouch_alone() {
    fresh();
    install_ct_stub();
    load_ct_init("77009");
    set_cookie("__r_aid_v__", AID);
    let agent = start(|r| r.set_attrs = Some("false".into()));
    assert!(wait_for(2000, || delivered().len() == 1).await);
    assert!(attrs_calls().is_empty());
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn hostile_page_never_makes_it_throw() {
    fresh();
    set_ct(JsValue::from_f64(42.0));
    set_call_value(JsValue::from_str("123"));
    break_cookies();
    break_storage();
    remove_fetch();
    let agent = start(|_| {});
    next_check().await; // the poll met the throwing getter again
    let s = status(&agent);
    assert_eq!(
        (s.state, s.cookie),
        ("waiting", false),
        "throwing cookie getter reads as no cookie"
    );
    restore_cookies();
    set_cookie("__r_aid_v__", AID);
    assert!(wait_for(2000, || status(&agent).cookie).await);
    assert!(
        wait_for(2000, || status(&agent).last_error.is_some()).await,
        "no fetch: retrying, not throwing"
    );
    install_fetch(vec![204], 0);
    agent::flush(&agent); // page hidden: sendBeacon path with storage still broken
    restore_storage();
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn pending_bindings_survive_to_the_next_page_load() {
    fresh();
    install_fetch(vec![503], 60);
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "77010");
    let agent = start(|_| {});
    assert!(wait_for(2000, || attempts() == 1).await);
    agent::stop(&agent);
    let stored = storage_value(PENDING_KEY).expect("undelivered binding kept in localStorage");
    assert!(stored.contains("77010"));
    install_fetch(vec![204], 0);
    set_cookie("__r_aid_v__", "");
    let next_page = start(|_| {});
    assert!(
        wait_for(2000, || delivered().len() == 1).await,
        "sent on the next load, cookie or not"
    );
    assert_eq!(storage_value(PENDING_KEY), None);
    agent::stop(&next_page);
}

#[wasm_bindgen_test]
async fn two_script_tags_send_once() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "77011");
    let attrs = js_sys::Object::new();
    js_sys::Reflect::set(&attrs, &"data-site".into(), &"38342".into()).unwrap();
    let first = make_script(attrs.clone().into());
    let second = make_script(attrs.into());
    start_tag(&first, "https://relay.test/aidlink.js", "");
    aidlink::start_tag(&second, "https://relay.test/aidlink.js", "");
    assert!(wait_for(2000, || delivered().len() == 1).await);
    look_again(1);
    assert_eq!(attempts(), 1);
    let status: JsValue = aidlink::status();
    let state = js_sys::Reflect::get(&status, &"state".into()).unwrap();
    assert_eq!(state.as_string().as_deref(), Some("bound"));
    let sent = js_sys::Reflect::get(&status, &"sent".into()).unwrap();
    assert_eq!(sent.as_f64(), Some(1.0));
    aidlink::stop();
}
