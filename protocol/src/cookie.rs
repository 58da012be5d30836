//! Reading cookies the way `document.cookie` presents them (`a=1; b=2`): split on `;`, trim,
//! exact name match, first match wins, strip one pair of double quotes, percent-decode with the
//! raw value as fallback. And the RTB House id in either form a cookie (or a Calltouch `attrs`
//! value) carries it: the id itself, or the JSON object the current RTB House tags write
//! ([`read_aid_value`]; the scanner is in `json`).

use alloc::borrow::Cow;
use alloc::string::String;

use crate::text::{cut, percent_decode, split};

mod json;

/// Name of the first-party cookie the older RTB House tag writes: the id itself.
pub const RTB_COOKIE: &str = "__r_aid_v__";
/// Name of the cookie the current RTB House tags write: percent-encoded JSON,
/// `{"eventType":"aid","id":"<id>","expiryDate":"<ISO 8601>"}`.
pub const RTB_JSON_COOKIE: &str = "__rtbh.aid";
/// The cookies the capture module reads when none are configured, in order: first found wins.
pub const DEFAULT_COOKIES: [&str; 2] = [RTB_COOKIE, RTB_JSON_COOKIE];
/// Longest RTB House id accepted.
pub const MAX_AID_LEN: usize = 256;

/// Finds the cookie `name` in a `document.cookie` string and returns its decoded value.
///
/// The first cookie whose name is exactly `name` wins (`x__r_aid_v__` does not match
/// `__r_aid_v__`). One pair of surrounding double quotes is stripped, then the value is
/// percent-decoded; a value that does not decode to UTF-8 is returned raw.
pub fn find<'a>(cookies: &'a str, name: &str) -> Option<Cow<'a, str>> {
    split(cookies, b';').find_map(|pair| {
        let (key, value) = cut(pair, b'=')?;
        (key.trim() == name).then(|| decode(value.trim()))
    })
}

/// Strips one pair of surrounding double quotes, then percent-decodes (raw value on failure).
pub fn decode(raw: &str) -> Cow<'_, str> {
    let unquoted = raw
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(raw);
    percent_decode(unquoted).unwrap_or(Cow::Borrowed(unquoted))
}

/// True when `value` is acceptable as an RTB House visitor id: 1 to 256 printable ASCII
/// characters, none of them `;`, `"`, `\` or a space (so UUIDs, with their `-`, pass). The id
/// is otherwise opaque.
pub fn is_valid_aid(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_AID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b'"' | b'\\'))
}

/// The RTB House id in one decoded value: a cookie's value as [`find`] returns it, or a
/// Calltouch `attrs[attr_key]` value. `now_ms` is the current time in ms since the epoch.
///
/// - A value starting with `{` is the JSON form `{"eventType":"aid","id":"…","expiryDate":"…"}`:
///   the id is its `id`. It reads as absent when `id` is missing, not a string, empty, `unknown`,
///   written with JSON escapes or not a valid id; when `eventType` is present and is not `"aid"`; when `expiryDate` is at
///   or before `now_ms` (a missing or `null` `expiryDate` never expires); and when the text is
///   not one flat JSON object or the date is not UTC ISO 8601 (`2027-04-20T15:22:01.591Z`).
/// - A value starting with `%7B` is the JSON form percent-encoded once more (a cookie written
///   already encoded and encoded again): it is decoded once more, and must then be the JSON
///   form. Any other value starting with `%` (encoded deeper still) reads as absent.
/// - Anything else is the id itself, valid per [`is_valid_aid`] and not `unknown`.
///
/// Never panics: anything unparseable reads as absent.
pub fn read_aid_value(value: &str, now_ms: u64) -> Option<String> {
    let value = value.trim();
    let id = match value.as_bytes() {
        [b'{', ..] => return from_json(value, now_ms),
        [b'%', b'7', b'B' | b'b', ..] => {
            let once_more = percent_decode(value)?;
            if !once_more.starts_with('{') {
                return None;
            }
            return from_json(&once_more, now_ms);
        }
        [b'%', ..] => return None,
        _ => value,
    };
    usable(id).then(|| String::from(id))
}

fn from_json(text: &str, now_ms: u64) -> Option<String> {
    let object = json::parse(text)?;
    if object.expiry_ms.is_some_and(|expiry| expiry <= now_ms) {
        return None;
    }
    object.id.filter(|id| usable(id)).map(String::from)
}

/// A valid id that is not the placeholder `unknown` the tags write for "no id yet".
fn usable(id: &str) -> bool {
    is_valid_aid(id) && id != "unknown"
}

/// Reads the RTB House id from a `document.cookie` string: the first of `names`, in order,
/// whose cookie holds an id per [`read_aid_value`] (a cookie whose value reads as absent does
/// not win: the next name is tried). For each name the first cookie of that exact name is the
/// one read.
pub fn read_aid<'n>(
    cookies: &str,
    names: impl IntoIterator<Item = &'n str>,
    now_ms: u64,
) -> Option<String> {
    names
        .into_iter()
        .find_map(|name| read_aid_value(&find(cookies, name)?, now_ms))
}

/// Calltouch's `_ct_ids` cookie, `<mod_id>:<site_id>:<sessionId>` once decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtIds<'a> {
    /// The Calltouch script id (8 lowercase letters or digits).
    pub mod_id: &'a str,
    /// The numeric Calltouch account (site) id.
    pub site_id: &'a str,
    /// The Calltouch session id.
    pub session: &'a str,
}

/// Splits a decoded `_ct_ids` value; `None` unless it has three non-empty parts.
pub fn parse_ct_ids(value: &str) -> Option<CtIds<'_>> {
    let (mod_id, rest) = cut(value, b':')?;
    let (site_id, session) = cut(rest, b':')?;
    let ids = CtIds {
        mod_id,
        site_id,
        session,
    };
    let all_present = !ids.mod_id.is_empty() && !ids.site_id.is_empty() && !ids.session.is_empty();
    (all_present && is_valid_session(ids.session)).then_some(ids)
}

/// True when `value` looks like a Calltouch session id or visitor id: 1 to 64 ASCII letters,
/// digits, `-` or `_`. Guards against `null`, `undefined` and garbage from other scripts.
pub fn is_valid_session(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value != "null"
        && value != "undefined"
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests;
