//! The JavaScript entry points behind `window.aidlink` and the npm `start()`: the script-tag
//! start (`data-*` attributes), the npm start (an options object read with serde-wasm-bindgen,
//! feature `npm`), and the handle's `grantConsent`, `denyConsent`, `stop`, `status`.

use alloc::string::String;
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::agent::{self, Shared, Status};
use crate::config::{Config, Field, RawConfig, Source};
use crate::page;

enum Global {
    Idle,
    Failed(String),
    Running(Shared),
}

thread_local! {
    static GLOBAL: RefCell<Global> = const { RefCell::new(Global::Idle) };
}

fn running() -> Option<Shared> {
    GLOBAL.with(|g| match &*g.borrow() {
        Global::Running(agent) => Some(agent.clone()),
        _ => None,
    })
}

fn fail(line: String) {
    page::error(&line);
    GLOBAL.with(|g| *g.borrow_mut() = Global::Failed(line));
}

fn launch(config: Config, endpoint: String) {
    if running().is_some() {
        return;
    }
    let agent = agent::start(config, endpoint);
    GLOBAL.with(|g| *g.borrow_mut() = Global::Running(agent));
}

/// The endpoint: the configured one resolved against `base`, or `base`'s origin +
/// `/v1/bindings`.
fn endpoint(config: &Config, base: &str) -> Option<String> {
    page::resolve(config.endpoint.as_deref().unwrap_or("/v1/bindings"), base)
}

/// Starts from the script tag's `data-*` attributes; `src` is the script's absolute URL,
/// whose origin is the default relay. Bad settings: one `console.error` naming the attribute.
#[wasm_bindgen(js_name = startTag)]
pub fn start_tag(script: &web_sys::Element, src: &str) {
    let attr = |name: &str| script.get_attribute(name);
    let raw = RawConfig {
        site: attr("data-site"),
        mod_id: attr("data-mod-id"),
        endpoint: attr("data-endpoint"),
        cookie: attr("data-cookie"),
        attr_key: attr("data-attr-key"),
        set_attrs: attr("data-set-attrs"),
        consent: attr("data-consent"),
        debug: attr("data-debug"),
    };
    start_raw(raw, Source::Tag, src);
}

fn start_raw(raw: RawConfig, source: Source, base: &str) {
    match raw.validate() {
        Ok(config) => match endpoint(&config, base) {
            Some(url) => launch(config, url),
            None => fail(Field::Endpoint.message(source)),
        },
        Err(field) => fail(field.message(source)),
    }
}

/// The npm `start(options)` fields (CONTRACT.md), camelCase.
#[cfg(feature = "npm")]
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Options {
    site: Option<StrOrNum>,
    mod_id: Option<String>,
    endpoint: Option<String>,
    cookie: Option<String>,
    attr_key: Option<String>,
    set_attrs: Option<bool>,
    consent: Option<String>,
    debug: Option<bool>,
}

/// `site: 38342` and `site: "38342"` alike.
#[cfg(feature = "npm")]
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StrOrNum {
    Str(String),
    Num(u64),
}

/// Starts from the npm `start(options)` object; the default endpoint is the page's origin +
/// `/v1/bindings`. Bad options: one `console.error` naming the field.
#[cfg(feature = "npm")]
#[wasm_bindgen(js_name = startNpm)]
pub fn start_npm(options: JsValue) {
    use alloc::string::ToString;
    let base = page::get(&page::global("location"), "href")
        .as_string()
        .unwrap_or_default();
    let options = if options.is_undefined() || options.is_null() {
        Ok(Options::default())
    } else {
        serde_wasm_bindgen::from_value::<Options>(options)
    };
    let Ok(o) = options else {
        return fail(Field::Options.message(Source::Npm));
    };
    let flag = |b: Option<bool>| b.map(|b| if b { "true" } else { "false" }.to_string());
    let raw = RawConfig {
        site: o.site.map(|s| match s {
            StrOrNum::Str(s) => s,
            StrOrNum::Num(n) => n.to_string(),
        }),
        mod_id: o.mod_id,
        endpoint: o.endpoint,
        cookie: o.cookie,
        attr_key: o.attr_key,
        set_attrs: flag(o.set_attrs),
        consent: o.consent,
        debug: o.debug.filter(|d| *d).map(|_| String::new()),
    };
    start_raw(raw, Source::Npm, &base);
}

/// `window.aidlink.grantConsent()`.
#[wasm_bindgen(js_name = grantConsent)]
pub fn grant_consent() {
    if let Some(agent) = running() {
        agent::grant_consent(&agent);
    }
}

/// `window.aidlink.denyConsent()`.
#[wasm_bindgen(js_name = denyConsent)]
pub fn deny_consent() {
    if let Some(agent) = running() {
        agent::deny_consent(&agent);
    }
}

/// `window.aidlink.stop()`.
#[wasm_bindgen]
pub fn stop() {
    if let Some(agent) = running() {
        agent::stop(&agent);
    }
}

/// `window.aidlink.status()`: `{ state, cookie, session, sent, lastError }`.
#[wasm_bindgen]
pub fn status() -> JsValue {
    let status = GLOBAL.with(|g| match &*g.borrow() {
        Global::Running(agent) => agent.try_borrow().ok().map(|a| a.status()),
        Global::Failed(line) => Some(idle("failed", Some(line.clone()))),
        Global::Idle => Some(idle("loading", None)),
    });
    let status = status.unwrap_or_else(|| idle("waiting", None));
    let plain = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    serde::Serialize::serialize(&status, &plain).unwrap_or(JsValue::NULL)
}

fn idle(state: &'static str, last_error: Option<String>) -> Status {
    Status {
        state,
        cookie: false,
        session: false,
        sent: 0,
        last_error,
    }
}
