//! The capture module in a real browser (Chromium, Firefox or WebKit) on pages that make its
//! life hard: two tabs sharing
//! one `localStorage`, a tab hidden while the relay fails, while a request is under way or before
//! the next check has seen a new id, a page whose `fetch` misbehaves, a consent manager calling
//! back from inside the cookie getter, consent refused before the module loaded, SPA routers
//! calling `replaceState` in a loop, the RTB House id in the current tags' JSON cookie
//! (`__rtbh.aid`), late, rewritten, or beside the plain `__r_aid_v__`.
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
async fn two_tabs_sharing_storage_post_each_binding_once() {
    fresh();
    // Tab B opened before the RTB House cookie exists; tab A opened after it.
    let tab_b = start(|r| r.mod_id = None);
    set_cookie("_ct_session_id", "66001");
    set_cookie("__r_aid_v__", AID);
    let tab_a = start(|r| r.mod_id = None);
    assert!(wait_for(3000, || delivered().len() == 1).await);
    look_again(2);
    assert!(status(&tab_b).cookie && status(&tab_b).session);
    assert_eq!(
        attempts(),
        1,
        "the other tab sees it stored and does not POST it"
    );
    // Safari rotates the id: one new binding, from one of the tabs.
    set_cookie("__r_aid_v__", "Rotated0123456789ab");
    assert!(wait_for(6000, || delivered().len() == 2).await);
    look_again(2);
    assert_eq!(
        attempts(),
        2,
        "one of the tabs POSTed it, the other did not"
    );
    agent::stop(&tab_a);
    agent::stop(&tab_b);
    // A reload with the first id: both tabs' sent ids survived each other's writes.
    set_cookie("__r_aid_v__", AID);
    let reloaded = start(|r| r.mod_id = None);
    look_again(1);
    assert!(status(&reloaded).cookie && status(&reloaded).session);
    assert_eq!(attempts(), 2, "nothing POSTed twice after a reload");
    agent::stop(&reloaded);
}

#[wasm_bindgen_test]
async fn hidden_while_the_relay_fails_beacons_once_and_keeps_it_queued() {
    fresh();
    install_beacon();
    install_fetch(vec![503, 204], 2);
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "66002");
    let agent = start(|_| {});
    assert!(
        wait_for(2000, || status(&agent).last_error.is_some()).await,
        "the first request failed"
    );
    agent::flush(&agent); // the tab is hidden: visibilitychange
    agent::flush(&agent); // hidden again
    assert_eq!(beacons(), 1, "one last-chance beacon");
    assert!(
        storage_value(PENDING_KEY).is_some_and(|p| p.contains("66002")),
        "still queued for the next page load: the beacon may have met the same failure"
    );
    assert_eq!(status(&agent).sent, 0, "not counted as sent");
    assert!(
        wait_for(4000, || delivered().len() == 1).await,
        "the page lived on: the retry still happens"
    );
    let times = attempt_times();
    assert!(times[1] - times[0] >= 1990.0, "Retry-After kept: {times:?}");
    assert_eq!(status(&agent).sent, 1);
    assert_eq!(storage_value(PENDING_KEY), None);
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn hidden_during_a_request_neither_loses_it_nor_sends_it_twice() {
    // The page is left while the request is under way: its keepalive carries it, and the next
    // page does not POST it again.
    fresh();
    install_beacon();
    install_slow_fetch(vec![204], 400);
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "66003");
    let agent = start(|_| {});
    assert!(wait_for(1000, || attempts() == 1).await);
    agent::flush(&agent);
    agent::stop(&agent);
    assert_eq!(storage_value(PENDING_KEY), None, "nothing left to resend");
    let next_page = start(|_| {});
    // The first page's request has its answer, and the next page has looked again since.
    assert!(wait_for(2000, || answered() == 1).await);
    look_again(1);
    assert_eq!(attempts(), 1, "not POSTed again by the next page");
    assert_eq!(beacons(), 0);
    agent::stop(&next_page);

    // The tab is hidden while the request is under way and the page stays: the request
    // fails after all, so the binding is queued again and retried.
    fresh();
    install_beacon();
    install_slow_fetch(vec![503, 204], 400);
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "66004");
    let agent = start(|_| {});
    assert!(wait_for(1000, || attempts() == 1).await);
    agent::flush(&agent);
    assert!(
        wait_for(5000, || delivered().len() == 1).await,
        "retried after it failed"
    );
    assert!(wait_for(1000, || status(&agent).sent == 1).await);
    assert_eq!((attempts(), beacons()), (2, 0));
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn hidden_before_the_next_check_still_sends_the_new_binding() {
    // The session arrives where no event tells of it (`window.call_value`) and the tab is
    // hidden in the same task, before the poll looks again: hiding looks again and hands
    // the binding over at once (a keepalive request, which outlives the page).
    fresh();
    install_beacon();
    set_cookie("__r_aid_v__", AID);
    let agent = start(|r| r.mod_id = None);
    next_check().await;
    assert_eq!(attempts(), 0, "no session yet: nothing to send");
    set_call_value(JsValue::from_str("66009"));
    hide_page();
    let handed_while_hiding = storage_value(SENT_KEY).is_some_and(|ids| !ids.is_empty());
    show_page();
    assert!(
        handed_while_hiding,
        "handed over in the hiding event itself"
    );
    assert!(wait_for(1000, || delivered().len() == 1).await);
    let body = &delivered()[0];
    assert_eq!(body_field(body, "session"), "66009");
    assert_eq!(body_field(body, "aid"), AID);
    assert!(wait_for(1000, || status(&agent).sent == 1).await);
    look_again(1);
    assert_eq!((attempts(), beacons()), (1, 0), "sent once");
    assert_eq!(status(&agent).sent, 1);
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn a_fetch_that_throws_or_returns_garbage_is_retried_never_thrown() {
    fresh();
    record_page_errors();
    install_hostile_fetch();
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "66005");
    let agent = start(|_| {});
    assert!(
        wait_for(12000, || delivered().len() == 1).await,
        "delivered once the page's fetch works: {} attempts",
        attempts()
    );
    assert_eq!(attempts(), 4, "throws, not a promise, not a Response, 204");
    assert_eq!(
        page_errors(),
        Vec::<String>::new(),
        "nothing thrown into the page"
    );
    let s = status(&agent);
    assert_eq!((s.state, s.sent), ("bound", 1));
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn deny_from_inside_the_cookie_getter_is_obeyed_at_once() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "66006");
    install_ct_stub();
    let agent = start(|r| r.consent = Some("pending".into()));
    let inner = agent.clone();
    let deny = Closure::<dyn FnMut()>::new(move || {
        agent::deny_consent(&inner);
    });
    hook_cookies(deny.as_ref().unchecked_ref());
    let timers = timers_armed();
    agent::grant_consent(&agent);
    // Nothing can happen later: no timer armed, no listener answering a page event.
    assert_eq!(timers_armed(), timers, "no timer armed once denied");
    assert_eq!(look_again_count(), 0, "no listener once denied");
    restore_cookies();
    assert_eq!(status(&agent).state, "denied");
    assert_eq!(attempts(), 0, "nothing sent");
    assert_eq!(queued_ct_calls(), 0, "nothing handed to Calltouch");
    assert_eq!(storage_value(SENT_KEY), None);
    assert_eq!(storage_value(PENDING_KEY), None);
}

#[wasm_bindgen_test]
async fn set_attrs_needs_no_session_and_is_repeated_on_every_page() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    install_ct_stub();
    load_ct_init("ignored");
    let agent = start(|r| r.mod_id = None); // no session source on this page
    assert!(wait_for(2000, || attrs_calls().len() == 1).await);
    assert_eq!(attempts(), 0, "no session: no binding");
    agent::stop(&agent);
    // The next page, binding or not, hands the id to its own Calltouch session again.
    set_cookie("_ct_session_id", "66007");
    let first = start(|r| r.mod_id = None);
    assert!(wait_for(2000, || delivered().len() == 1).await);
    agent::stop(&first);
    let second = start(|r| r.mod_id = None);
    assert!(wait_for(2000, || attrs_calls().len() == 3).await);
    look_again(1);
    assert_eq!(attempts(), 1, "the binding itself is not repeated");
    assert_eq!(attrs_calls().len(), 3, "once per page");
    agent::stop(&second);
}

/// Entry-level (the `window.aidlink` functions): consent refused while the module loaded, and
/// a refusal on a page whose settings are bad. One test: the module has one global agent.
#[wasm_bindgen_test]
async fn consent_refused_before_load_or_with_bad_settings_clears_storage() {
    fresh();
    set_cookie("__r_aid_v__", AID);
    set_cookie("_ct_session_id", "66008");
    install_ct_stub();
    let no_site = make_script(js_sys::Object::new().into());
    aidlink::start_tag(&no_site, "https://relay.test/aidlink.js", "");
    set_storage_value(SENT_KEY, "b0000000000000001");
    aidlink::deny_consent();
    assert_eq!(
        storage_value(SENT_KEY),
        None,
        "cleared though aidlink is off"
    );

    set_storage_value(PENDING_KEY, "b2\t{\"v\":1}\n");
    let attrs = js_sys::Object::new();
    js_sys::Reflect::set(&attrs, &"data-site".into(), &"38342".into()).unwrap();
    let tag = make_script(attrs.into());
    let timers = timers_armed();
    aidlink::start_tag(&tag, "https://relay.test/aidlink.js", "denied");
    // Nothing can happen later: no timer armed, no listener answering a page event.
    assert_eq!(timers_armed(), timers, "no timer armed once denied");
    assert_eq!(look_again_count(), 0, "no listener once denied");
    assert_eq!(cookie_reads(), 0, "the cookies were not read");
    let status = aidlink::status();
    let state = js_sys::Reflect::get(&status, &"state".into()).unwrap();
    assert_eq!(state.as_string().as_deref(), Some("denied"));
    assert_eq!(attempts(), 0, "nothing sent");
    assert_eq!(queued_ct_calls(), 0, "nothing handed to Calltouch");
    assert_eq!(storage_value(PENDING_KEY), None);
    aidlink::stop();
}

#[wasm_bindgen_test]
async fn after_the_first_minute_page_events_check_at_most_every_5_s() {
    fresh();
    set_cookie("_ct_session_id", "66009");
    let agent = start(|_| {});
    let nothing = Closure::<dyn FnMut()>::new(|| {});
    hook_cookies(nothing.as_ref().unchecked_ref());
    // The scenario: the throttle starts a minute after load, then a router rewrites the URL
    // every 50 ms for 5 s as the user scrolls. Both are pacing, not waits for a result.
    pace(61_000).await;
    let before = cookie_reads();
    for n in 0..100 {
        replace_state(&format!("/router/{n}"));
        pace(50).await;
    }
    let checks = cookie_reads() - before;
    restore_cookies();
    assert!(
        (1..=2).contains(&checks),
        "5 s of replaceState calls led to {checks} checks"
    );
    agent::stop(&agent);
}

/// A UUID v1, as the current RTB House tags write in `__rtbh.aid`.
const UUID: &str = "6dca811d-3ccc-11f1-989d-c722ed84714f";

/// `__rtbh.aid`'s value as the current RTB House tag writes it: percent-encoded
/// `{"eventType":"aid","id":…,"expiryDate":…}`, expiring `expires_in_ms` from now.
fn rtbh_aid(id: &str, expires_in_ms: f64) -> String {
    let expiry = js_sys::Date::new(&JsValue::from_f64(js_sys::Date::now() + expires_in_ms));
    let json = js_sys::Object::new();
    for (key, value) in [
        ("eventType", JsValue::from_str("aid")),
        ("id", JsValue::from_str(id)),
        ("expiryDate", expiry.to_iso_string().into()),
    ] {
        js_sys::Reflect::set(&json, &key.into(), &value).unwrap();
    }
    let json = js_sys::JSON::stringify(&json).unwrap();
    js_sys::encode_uri_component(&String::from(json)).into()
}

const FOUR_MONTHS_MS: f64 = 120.0 * 86_400_000.0;

fn aid_of(body: &str) -> Option<String> {
    body_field(body, "aid").as_string()
}

#[wasm_bindgen_test]
async fn json_cookie_written_three_seconds_after_load_is_bound_with_its_id() {
    fresh();
    set_cookie("_ct_session_id", "66101");
    let agent = start(|r| r.mod_id = None); // the default names: __r_aid_v__, __rtbh.aid
    pace(3000).await; // the scenario: the RTB House tag writes its cookie 3 s after load
    next_check().await;
    assert_eq!(attempts(), 0);
    assert!(!status(&agent).cookie && status(&agent).session);
    set_cookie("__rtbh.aid", &rtbh_aid(UUID, FOUR_MONTHS_MS));
    // The poll is 3 s apart by now: only the cookie change event makes it this prompt.
    assert!(
        wait_for(1000, || delivered().len() == 1).await,
        "bound as soon as the JSON cookie appears"
    );
    assert_eq!(aid_of(&delivered()[0]).as_deref(), Some(UUID));
    // The tag rewrites it with a new id: picked up as promptly, a new binding.
    set_cookie(
        "__rtbh.aid",
        &rtbh_aid("k3X9pQ2mZ7vB1nL8wR4tY6uE0a", FOUR_MONTHS_MS),
    );
    assert!(wait_for(1000, || delivered().len() == 2).await);
    assert_eq!(
        aid_of(&delivered()[1]).as_deref(),
        Some("k3X9pQ2mZ7vB1nL8wR4tY6uE0a")
    );
    assert_eq!(status(&agent).state, "bound");
    agent::stop(&agent);
}

#[wasm_bindgen_test]
async fn both_cookies_present_the_first_listed_wins() {
    let both = || {
        set_cookie("_ct_session_id", "66102");
        set_cookie("__rtbh.aid", &rtbh_aid(UUID, FOUR_MONTHS_MS));
        set_cookie("__r_aid_v__", AID);
    };
    fresh();
    both();
    let agent = start(|r| r.mod_id = None);
    assert!(wait_for(2000, || delivered().len() == 1).await);
    assert_eq!(
        aid_of(&delivered()[0]).as_deref(),
        Some(AID),
        "the default list reads __r_aid_v__ first"
    );
    agent::stop(&agent);

    fresh();
    both();
    let agent = start(|r| {
        r.mod_id = None;
        r.cookie = Some(" __rtbh.aid , __r_aid_v__".into());
    });
    assert!(wait_for(2000, || delivered().len() == 1).await);
    assert_eq!(
        aid_of(&delivered()[0]).as_deref(),
        Some(UUID),
        "data-cookie=\"__rtbh.aid,__r_aid_v__\" reads __rtbh.aid first"
    );
    // The first listed now reads as absent (expired): the next name is used.
    set_cookie("__rtbh.aid", &rtbh_aid(UUID, -1000.0));
    assert!(wait_for(1000, || delivered().len() == 2).await);
    assert_eq!(aid_of(&delivered()[1]).as_deref(), Some(AID));
    agent::stop(&agent);
}
