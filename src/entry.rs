//! The JavaScript entry points behind `window.aidlink` and the npm `start()`: the script-tag
//! start (`data-*` attributes), the npm start (an options object read field by field with
//! serde-wasm-bindgen, feature `npm`), and the handle's `grantConsent`, `denyConsent`, `stop`,
//! `status`.

use alloc::string::String;
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::agent::{self, Shared, Status};
use crate::config::{Config, Field, RawConfig, Source};
use crate::{deliver, page};

enum Global {
    Idle,
    Failed(String),
    Running(Shared),
}

/// The page's one agent (or why there is none). A plain static rather than `thread_local!`,
/// whose access check links a panic path that formats: the module runs on the page's one
/// thread.
struct Page(RefCell<Global>);

// SAFETY: wasm32-unknown-unknown without the `atomics` feature has one thread; nothing here is
// ever touched from another.
unsafe impl Sync for Page {}

static GLOBAL: Page = Page(RefCell::new(Global::Idle));

fn running() -> Option<Shared> {
    match &*GLOBAL.0.try_borrow().ok()? {
        Global::Running(agent) => Some(agent.clone()),
        _ => None,
    }
}

fn set(global: Global) {
    if let Ok(mut g) = GLOBAL.0.try_borrow_mut() {
        *g = global;
    }
}

fn fail(line: String) {
    page::error(&line);
    set(Global::Failed(line));
}

fn launch(mut config: Config, endpoint: String, early: Early) {
    if running().is_some() {
        return;
    }
    match early {
        Early::Granted => config.consent_pending = false,
        Early::Denied => config.consent_pending = true,
        Early::None => {}
    }
    let agent = agent::start(config, endpoint);
    if early == Early::Denied {
        agent::deny_consent(&agent);
    }
    set(Global::Running(agent));
}

/// What the page said about consent before the module had loaded (the loader queued it):
/// `"granted"`, `"denied"` (which wins: a denial is final) or anything else for nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Early {
    None,
    Granted,
    Denied,
}

impl Early {
    fn read(early: &str) -> Early {
        match early {
            "granted" => Early::Granted,
            "denied" => Early::Denied,
            _ => Early::None,
        }
    }
}

/// The endpoint: the configured one resolved against `base`, or `base`'s origin +
/// `/v1/bindings`.
fn endpoint(config: &Config, base: &str) -> Option<String> {
    page::resolve(config.endpoint.as_deref().unwrap_or("/v1/bindings"), base)
}

/// Starts from the script tag's `data-*` attributes; `src` is the script's absolute URL,
/// whose origin is the default relay; `early` is the consent the page gave or refused before
/// the module loaded. Bad settings: one `console.error` naming the attribute.
#[wasm_bindgen(js_name = startTag)]
pub fn start_tag(script: &web_sys::Element, src: &str, early: &str) {
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
    start_raw(Ok(raw), Source::Tag, src, Early::read(early));
}

fn start_raw(raw: Result<RawConfig, Field>, source: Source, base: &str, early: Early) {
    let config = raw.and_then(RawConfig::validate).and_then(|config| {
        let url = endpoint(&config, base).ok_or(Field::Endpoint)?;
        Ok((config, url))
    });
    match config {
        Ok((config, url)) => launch(config, url, early),
        Err(field) => {
            if early == Early::Denied {
                deliver::forget(&page::LocalStorage);
            }
            fail(field.message(source));
        }
    }
}

/// One npm option, read with serde-wasm-bindgen; absent or `null` = not given, the wrong type
/// = `field` (named in the console line).
#[cfg(feature = "npm")]
fn option<T: serde::de::DeserializeOwned>(
    options: &JsValue,
    key: &str,
    field: Field,
) -> Result<Option<T>, Field> {
    let value = page::get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    serde_wasm_bindgen::from_value(value)
        .map(Some)
        .map_err(|_| field)
}

/// The npm `start(options)` fields (docs/contract.md, camelCase), each checked on its own so that
/// a wrong type names its field. `site` may be a string or an integer, `cookie` a string or an
/// array of strings.
#[cfg(feature = "npm")]
fn npm_options(options: &JsValue) -> Result<RawConfig, Field> {
    use alloc::string::ToString;
    if options.is_undefined() || options.is_null() {
        return Ok(RawConfig::default());
    }
    if !options.is_object() {
        return Err(Field::Options);
    }
    let site = match option::<String>(options, "site", Field::Site) {
        Ok(site) => site,
        Err(_) => option::<u64>(options, "site", Field::Site)?.map(|n| n.to_string()),
    };
    // A comma-separated string or an array of names; the config splits the string.
    let cookie = match option::<String>(options, "cookie", Field::Cookie) {
        Ok(cookie) => cookie,
        Err(_) => option::<alloc::vec::Vec<String>>(options, "cookie", Field::Cookie)?
            .map(|names| names.join(",")),
    };
    let flag = |b: bool| String::from(if b { "true" } else { "false" });
    Ok(RawConfig {
        site,
        mod_id: option(options, "modId", Field::ModId)?,
        endpoint: option(options, "endpoint", Field::Endpoint)?,
        cookie,
        attr_key: option(options, "attrKey", Field::AttrKey)?,
        set_attrs: option(options, "setAttrs", Field::SetAttrs)?.map(flag),
        consent: option(options, "consent", Field::Consent)?,
        debug: option::<bool>(options, "debug", Field::Debug)?
            .filter(|on| *on)
            .map(|_| String::new()),
    })
}

/// Starts from the npm `start(options)` object; the default endpoint is the page's origin +
/// `/v1/bindings`; `early` as for [`start_tag`]. Bad options: one `console.error` naming the
/// field.
#[cfg(feature = "npm")]
#[wasm_bindgen(js_name = startNpm)]
pub fn start_npm(options: JsValue, early: &str) {
    let base = page::get(&page::global("location"), "href")
        .as_string()
        .unwrap_or_default();
    start_raw(
        npm_options(&options),
        Source::Npm,
        &base,
        Early::read(early),
    );
}

/// The loader asks the running agent for one step ([`agent::tick`]): `kind` is `0` look, `1`
/// flush (the page is hidden or left), `2` the retry delay has passed, `3` the request answered
/// (`response`). What to do next: a promise to wait for, a retry delay in ms, `false` to stop
/// waiting (no agent is active), or `undefined`.
#[wasm_bindgen]
pub fn check(kind: u32, response: JsValue) -> JsValue {
    match running() {
        Some(agent) => agent::tick(&agent, kind, response),
        None => JsValue::FALSE,
    }
}

/// `window.aidlink.grantConsent()`: what the first look says to do next (as [`check`]), or
/// `false` when nothing started.
#[wasm_bindgen(js_name = grantConsent)]
pub fn grant_consent() -> JsValue {
    match running() {
        Some(agent) => agent::grant_consent(&agent),
        None => JsValue::FALSE,
    }
}

/// `window.aidlink.denyConsent()`: also obeyed when the agent is not running at all (bad
/// settings): what aidlink stored on earlier visits is cleared. False when the agent was busy
/// (the loader calls again on the next microtask).
#[wasm_bindgen(js_name = denyConsent)]
pub fn deny_consent() -> bool {
    match running() {
        Some(agent) => agent::deny_consent(&agent),
        None => {
            deliver::forget(&page::LocalStorage);
            true
        }
    }
}

/// `window.aidlink.stop()`. False when the agent was busy (the loader calls again on the next
/// microtask).
#[wasm_bindgen]
pub fn stop() -> bool {
    running().is_none_or(|agent| agent::stop(&agent))
}

/// `window.aidlink.status()`: `{ state, cookie, session, sent, lastError }`, a plain object
/// made by serde-wasm-bindgen.
#[wasm_bindgen]
pub fn status() -> JsValue {
    let status = GLOBAL.0.try_borrow().ok().and_then(|g| match &*g {
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
