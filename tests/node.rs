//! The capture module's wasm build under Node (no `window`): the pure rules compiled to wasm
//! behave as on the host, and the JS entry points do nothing harmful without a page.
#![cfg(target_arch = "wasm32")]

use aidlink::config::{Field, RawConfig, Source};
use aidlink_protocol::cookie::read_aid;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

fn field(status: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(status, &JsValue::from_str(key)).unwrap()
}

#[wasm_bindgen_test]
fn entry_points_without_a_page_neither_throw_nor_start() {
    aidlink::grant_consent();
    aidlink::deny_consent();
    aidlink::stop();
    let status = aidlink::status();
    assert_eq!(
        field(&status, "state").as_string().as_deref(),
        Some("loading")
    );
    assert_eq!(field(&status, "sent").as_f64(), Some(0.0));
    assert!(field(&status, "lastError").is_null());
}

#[wasm_bindgen_test]
fn cookie_rules_hold_in_wasm() {
    let cookies = "x__r_aid_v__=no; __r_aid_v__=\"AbC%5F1\"; __r_aid_v__=later";
    assert_eq!(
        read_aid(cookies, ["__r_aid_v__"], 0).as_deref(),
        Some("AbC_1")
    );
    assert_eq!(read_aid("__r_aid_v__=a%20b", ["__r_aid_v__"], 0), None);
}

#[wasm_bindgen_test]
fn bad_config_names_the_field() {
    let err = RawConfig::default().validate().unwrap_err();
    assert_eq!(err, Field::Site);
    assert!(err.message(Source::Tag).starts_with("aidlink: data-site "));
}
