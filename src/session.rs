//! Finding the Calltouch session and visitor ids on the page, in docs/domain.md §2's order of
//! preference: the current script's `ct('calltracking_params', mod_id).sessionId`, the legacy
//! `window.call_value`, cookie `_ct_session_id`, cookie `_ct_ids`.

use aidlink_protocol::cookie::{self, is_valid_session};
use alloc::string::String;

use crate::config::Config;
use crate::page;

/// The Calltouch session id, if the page has one yet.
///
/// While `window.ct` is still the loader's queue stub (`ct.loaded === false`) it is not
/// called: a call would only queue up in `ct.callbacks`. Once `init.js` has replaced it, the
/// real function answers.
pub fn session_id(config: &Config, cookies: &str) -> Option<String> {
    from_ct(config)
        .or_else(|| page::id_string(&page::global("call_value")))
        .filter(|s| is_valid_session(s))
        .or_else(|| {
            cookie::find(cookies, "_ct_session_id")
                .filter(|s| is_valid_session(s))
                .map(|s| s.into_owned())
        })
        .or_else(|| {
            let raw = cookie::find(cookies, "_ct_ids")?;
            let ids = cookie::parse_ct_ids(&raw)?;
            (ids.site_id == config.site).then(|| String::from(ids.session))
        })
}

fn from_ct(config: &Config) -> Option<String> {
    let mod_id = config.mod_id.as_deref()?;
    let ct = page::ct()?;
    if page::get(&ct, "loaded") == wasm_bindgen::JsValue::FALSE {
        return None;
    }
    let params = page::call_ct(&ct, "calltracking_params", mod_id)?;
    page::id_string(&page::get(&params, "sessionId")).filter(|s| is_valid_session(s))
}

/// The Calltouch visitor id (`_ct` cookie, `ctClientId` in Calltouch's API), if set.
pub fn ct_client(cookies: &str) -> Option<String> {
    cookie::find(cookies, "_ct")
        .filter(|c| is_valid_session(c))
        .map(|c| c.into_owned())
}
