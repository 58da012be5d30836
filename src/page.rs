//! Guarded access to the host page: every call that can throw (a hostile `document.cookie`
//! getter, `ct` that is not a function, disabled storage, a missing `fetch`) is caught here
//! and read as "absent", so nothing the page does can make the module throw, and nothing the
//! module does can throw into the page.

use alloc::string::String;
use js_sys::{Function, Reflect};
use wasm_bindgen::{prelude::*, JsCast};

use crate::pending::Store;

#[wasm_bindgen]
extern "C" {
    /// `globalThis`: `window` in a page.
    #[wasm_bindgen(js_name = globalThis)]
    type Global;
    #[wasm_bindgen(static_method_of = Global, getter = globalThis)]
    fn global_this() -> JsValue;
    #[wasm_bindgen(js_name = document)]
    type Document;
    #[wasm_bindgen(catch, static_method_of = Document, getter = cookie)]
    fn document_cookie() -> Result<String, JsValue>;
    #[wasm_bindgen(catch, static_method_of = Document, getter = referrer)]
    fn document_referrer() -> Result<String, JsValue>;
    #[wasm_bindgen(catch, js_namespace = localStorage, js_name = getItem)]
    fn storage_get(key: &str) -> Result<Option<String>, JsValue>;
    #[wasm_bindgen(catch, js_namespace = localStorage, js_name = setItem)]
    fn storage_set(key: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = localStorage, js_name = removeItem)]
    fn storage_remove(key: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = console, js_name = log)]
    fn console_log(line: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = console, js_name = error)]
    fn console_error(line: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = console, js_name = warn)]
    fn console_warn(line: &str) -> Result<(), JsValue>;
    /// `String(value)`: a number's `toString()`, which never throws.
    #[wasm_bindgen(js_name = String)]
    fn js_string(value: &JsValue) -> String;
}

/// `console.log`, never throwing.
pub fn log(line: &str) {
    let _ = console_log(line);
}

/// `console.error`, never throwing (the one line for a bad configuration).
pub fn error(line: &str) {
    let _ = console_error(line);
}

/// `console.warn`, never throwing.
pub fn warn(line: &str) {
    let _ = console_warn(line);
}

/// `document.cookie`, or empty when there is none or the getter throws.
pub fn cookies() -> String {
    Document::document_cookie().unwrap_or_default()
}

/// `obj[key]`, or `undefined` when reading throws.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() && !obj.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `window[key]`, or `undefined`.
pub fn global(key: &str) -> JsValue {
    get(&Global::global_this(), key)
}

/// A string or a finite number as an id string (`261374990` and `"261374990"` alike).
pub fn id_string(value: &JsValue) -> Option<String> {
    if let Some(s) = value.as_string() {
        return Some(s);
    }
    value
        .as_f64()
        .filter(|n| n.is_finite() && n.fract() == 0.0 && *n >= 0.0)
        .map(|_| js_string(value))
}

/// `window.ct` when it is a function.
pub fn ct() -> Option<Function> {
    let ct = global("ct");
    ct.is_function().then(|| ct.unchecked_into())
}

/// `ct(a, b)`; `None` when it throws.
pub fn call_ct(ct: &Function, a: &str, b: &str) -> Option<JsValue> {
    ct.call2(
        &JsValue::UNDEFINED,
        &JsValue::from_str(a),
        &JsValue::from_str(b),
    )
    .ok()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// `Math.random()`, for retry jitter.
pub fn random() -> f64 {
    js_sys::Math::random()
}

/// Reads a `localStorage` value; `None` on any error (disabled storage and sandboxed frames
/// throw, caught by the binding).
pub fn load(key: &str) -> Option<String> {
    storage_get(key).ok().flatten()
}

/// Writes (or, for an empty value, removes) a `localStorage` value; quota and disabled-storage
/// errors are swallowed: the module then simply forgets across page loads.
pub fn save(key: &str, value: &str) {
    let _ = if value.is_empty() {
        storage_remove(key)
    } else {
        storage_set(key, value)
    };
}

/// `localStorage` as the delivery state's [`Store`]: shared by the site's tabs, guarded like
/// [`load`] and [`save`].
pub struct LocalStorage;

impl Store for LocalStorage {
    fn load(&self, key: &str) -> Option<String> {
        load(key)
    }

    fn save(&self, key: &str, value: &str) {
        save(key, value);
    }
}

/// The `location` fields a touchpoint needs: search, pathname, hostname; and the referrer's
/// host, as the browser's `URL` parses `document.referrer` (empty when there is none).
pub fn landing() -> (String, String, String, String) {
    let location = global("location");
    let field = |key| get(&location, key).as_string().unwrap_or_default();
    let referrer = Document::document_referrer().unwrap_or_default();
    let referrer_host = web_sys::Url::new_with_base(&referrer, &referrer)
        .map(|url| url.hostname())
        .unwrap_or_default();
    (
        field("search"),
        field("pathname"),
        field("hostname"),
        referrer_host,
    )
}

/// Resolves `url` against `base` (`new URL(url, base).href`); `None` unless http(s).
pub fn resolve(url: &str, base: &str) -> Option<String> {
    let parsed = web_sys::Url::new_with_base(url, base).ok()?;
    let protocol = parsed.protocol();
    (protocol == "https:" || protocol == "http:").then(|| parsed.href())
}
