//! Reading cookies the way `document.cookie` presents them (`a=1; b=2`), per DOMAIN.md §2:
//! split on `;`, trim, exact name match, first match wins, strip one pair of double quotes,
//! percent-decode with the raw value as fallback.

use alloc::borrow::Cow;
use alloc::string::String;

/// Default name of the first-party cookie the RTB House tag writes.
pub const RTB_COOKIE: &str = "__r_aid_v__";
/// Longest RTB House id accepted.
pub const MAX_AID_LEN: usize = 256;

/// Finds the cookie `name` in a `document.cookie` string and returns its decoded value.
///
/// The first cookie whose name is exactly `name` wins (`x__r_aid_v__` does not match
/// `__r_aid_v__`). One pair of surrounding double quotes is stripped, then the value is
/// percent-decoded; a value that does not decode to UTF-8 is returned raw.
pub fn find<'a>(cookies: &'a str, name: &str) -> Option<Cow<'a, str>> {
    cookies.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| decode(value.trim()))
    })
}

/// Strips one pair of surrounding double quotes, then percent-decodes (raw value on failure).
pub fn decode(raw: &str) -> Cow<'_, str> {
    let unquoted = raw
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(raw);
    match percent_encoding::percent_decode_str(unquoted).decode_utf8() {
        Ok(decoded) => decoded,
        Err(_) => Cow::Borrowed(unquoted),
    }
}

/// True when `value` is acceptable as an RTB House visitor id: 1 to 256 printable ASCII
/// characters, none of them `;`, `"`, `\` or a space. The id is otherwise opaque.
pub fn is_valid_aid(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_AID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b'"' | b'\\'))
}

/// Reads the RTB House id from a `document.cookie` string: the cookie `name`, decoded, and
/// only if it is a valid id (an invalid value reads as absent).
pub fn read_aid(cookies: &str, name: &str) -> Option<String> {
    find(cookies, name)
        .filter(|v| is_valid_aid(v))
        .map(Cow::into_owned)
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
    let mut parts = value.splitn(3, ':');
    let ids = CtIds {
        mod_id: parts.next()?,
        site_id: parts.next()?,
        session: parts.next()?,
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
mod tests {
    use super::*;

    #[test]
    fn exact_name_match_not_suffix() {
        let c = "x__r_aid_v__=wrong; __r_aid_v__=Right123";
        assert_eq!(find(c, RTB_COOKIE).as_deref(), Some("Right123"));
        assert_eq!(find("x__r_aid_v__=wrong", RTB_COOKIE), None);
        assert_eq!(find("__r_aid_v__x=wrong", RTB_COOKIE), None);
    }

    #[test]
    fn first_match_wins_and_whitespace_is_trimmed() {
        let c = "  a=1 ;__r_aid_v__ = first ; __r_aid_v__=second";
        assert_eq!(find(c, RTB_COOKIE).as_deref(), Some("first"));
    }

    #[test]
    fn empty_and_missing() {
        assert_eq!(find("", RTB_COOKIE), None);
        assert_eq!(find(";;; ;", RTB_COOKIE), None);
        assert_eq!(
            find("__r_aid_v__", RTB_COOKIE),
            None,
            "no '=' is not a cookie"
        );
        assert_eq!(
            read_aid("__r_aid_v__=", RTB_COOKIE),
            None,
            "empty value is absent"
        );
    }

    #[test]
    fn value_may_contain_equals() {
        assert_eq!(find("k=a=b", "k").as_deref(), Some("a=b"));
    }

    #[test]
    fn quotes_stripped_once_then_percent_decoded() {
        assert_eq!(find("k=\"abc\"", "k").as_deref(), Some("abc"));
        assert_eq!(find("k=\"\"abc\"\"", "k").as_deref(), Some("\"abc\""));
        assert_eq!(
            find("k=\"abc", "k").as_deref(),
            Some("\"abc"),
            "unbalanced kept"
        );
        assert_eq!(find("k=AbC%5F12", "k").as_deref(), Some("AbC_12"));
    }

    #[test]
    fn bad_percent_encoding_falls_back_to_raw() {
        assert_eq!(find("k=%FF%FEab", "k").as_deref(), Some("%FF%FEab"));
        assert_eq!(find("k=50%", "k").as_deref(), Some("50%"));
    }

    #[test]
    fn aid_validation() {
        assert!(is_valid_aid("AbCdEf0123456789xyz"));
        assert!(is_valid_aid("AbCdEf0123456789xyz_1700000000"));
        assert!(is_valid_aid(&"a".repeat(256)));
        assert!(!is_valid_aid(&"a".repeat(257)));
        for bad in ["", "a b", "a;b", "a\"b", "a\\b", "a\tb", "é", "a\u{7f}"] {
            assert!(!is_valid_aid(bad), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn read_aid_treats_invalid_as_absent() {
        assert_eq!(read_aid("__r_aid_v__=a%20b", RTB_COOKIE), None);
        assert_eq!(read_aid("__r_aid_v__=%22q%22", RTB_COOKIE), None);
        assert_eq!(
            read_aid("__r_aid_v__=%41bc", RTB_COOKIE).as_deref(),
            Some("Abc")
        );
        assert_eq!(
            read_aid("__r_aid_v__=x; __r_aid_v__=y", "__r_aid_v__").as_deref(),
            Some("x")
        );
    }

    #[test]
    fn ct_ids_cookie() {
        let raw = find("_ct_ids=vwgixinz%3A38342%3A261374990", "_ct_ids").unwrap();
        let ids = parse_ct_ids(&raw).unwrap();
        assert_eq!(
            ids,
            CtIds {
                mod_id: "vwgixinz",
                site_id: "38342",
                session: "261374990"
            }
        );
        assert_eq!(parse_ct_ids("vwgixinz:38342"), None);
        assert_eq!(parse_ct_ids("vwgixinz:38342:"), None);
        assert_eq!(parse_ct_ids("vwgixinz:38342:null"), None);
    }

    #[test]
    fn session_validation() {
        assert!(is_valid_session("261374990"));
        assert!(!is_valid_session("null"));
        assert!(!is_valid_session("undefined"));
        assert!(!is_valid_session("1 2"));
        assert!(!is_valid_session(&"1".repeat(65)));
    }
}
