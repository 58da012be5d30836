//! The module's settings, from the script tag's `data-*` attributes or the npm `start(options)`
//! object (docs/contract.md), validated before anything is read or sent. Pure: host-tested.

use aidlink_protocol::text::{before_any, split};
use alloc::string::String;

/// Where the settings came from; decides how a bad field is named in the console line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `<script data-site=…>`: fields are named `data-site`, `data-mod-id`, …
    Tag,
    /// `start({ site, modId, … })`: fields are named `site`, `modId`, …
    Npm,
}

/// Settings as given, before validation. `None` = not given (use the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawConfig {
    /// Calltouch site id (`data-site` / `site`); required.
    pub site: Option<String>,
    /// Calltouch `mod_id` (`data-mod-id` / `modId`).
    pub mod_id: Option<String>,
    /// Binding endpoint (`data-endpoint` / `endpoint`).
    pub endpoint: Option<String>,
    /// RTB House cookie names, comma-separated (`data-cookie` / `cookie`; an npm array arrives
    /// joined with commas).
    pub cookie: Option<String>,
    /// Key used in `ct('set_attrs', …)` (`data-attr-key` / `attrKey`).
    pub attr_key: Option<String>,
    /// `"true"` / `"false"` (`data-set-attrs` / `setAttrs`).
    pub set_attrs: Option<String>,
    /// `"granted"` / `"pending"` (`data-consent` / `consent`).
    pub consent: Option<String>,
    /// Present and not `"false"` = log each step (`data-debug` / `debug`).
    pub debug: Option<String>,
}

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Calltouch site id (digits).
    pub site: String,
    /// Calltouch `mod_id`, for `ct('calltracking_params', mod_id)`.
    pub mod_id: Option<String>,
    /// Absolute or relative URL the bindings are POSTed to; `None` = the default for the
    /// source (script origin + `/v1/bindings`, or the page origin for npm).
    pub endpoint: Option<String>,
    /// RTB House cookie names, in order (the first that holds an id wins), comma-separated as
    /// given: read them with [`Config::cookie_names`]. Default `__r_aid_v__,__rtbh.aid`.
    pub cookie: String,
    /// Key used in `ct('set_attrs', …)`.
    pub attr_key: String,
    /// Hand the id to Calltouch too.
    pub set_attrs: bool,
    /// Wait for `grantConsent()` before reading anything.
    pub consent_pending: bool,
    /// Log each step to the console.
    pub debug: bool,
}

/// The field that made a configuration invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Site id missing or not digits.
    Site,
    /// `mod_id` not 1–32 lowercase letters or digits.
    ModId,
    /// Endpoint not an http(s) URL or a path.
    Endpoint,
    /// A cookie name not a cookie token, or no name at all.
    Cookie,
    /// Attribute key empty, too long or with control characters.
    AttrKey,
    /// Not `true` or `false`.
    SetAttrs,
    /// Not `granted` or `pending`.
    Consent,
    /// Not `true` or `false` (npm only: the tag's `data-debug` is on when present).
    Debug,
    /// The options value is not an object (npm only).
    Options,
}

impl Field {
    /// The one console line for this problem, naming the field as the user wrote it.
    /// Built without `format!` (kept off the shipped path for size).
    pub fn message(self, source: Source) -> String {
        let (tag, npm, problem) = match self {
            Field::Site => (
                "data-site",
                "site",
                " is required: the numeric Calltouch site id",
            ),
            Field::ModId => (
                "data-mod-id",
                "modId",
                " must be the Calltouch mod_id (lowercase letters and digits)",
            ),
            Field::Endpoint => ("data-endpoint", "endpoint", " must be an http(s) URL"),
            Field::Cookie => (
                "data-cookie",
                "cookie",
                " must be one or more cookie names, comma-separated",
            ),
            Field::AttrKey => ("data-attr-key", "attrKey", " must be 1 to 64 characters"),
            Field::SetAttrs => ("data-set-attrs", "setAttrs", " must be true or false"),
            Field::Consent => ("data-consent", "consent", " must be granted or pending"),
            Field::Debug => ("data-debug", "debug", " must be true or false"),
            Field::Options => ("the script tag", "options", " must be an object"),
        };
        let mut line = String::from("aidlink: ");
        line.push_str(if source == Source::Tag { tag } else { npm });
        line.push_str(problem);
        line.push_str("; aidlink is off");
        line
    }
}

impl RawConfig {
    /// Checks every field and applies the defaults of docs/contract.md.
    pub fn validate(self) -> Result<Config, Field> {
        let site = self
            .site
            .filter(|s| aidlink_protocol::binding::is_site_id(s.trim()))
            .ok_or(Field::Site)?;
        let mod_id = match self.mod_id {
            Some(m) if m.is_empty() => None,
            Some(m) if is_mod_id(&m) => Some(m),
            Some(_) => return Err(Field::ModId),
            None => None,
        };
        let endpoint = match self.endpoint {
            Some(e) if is_endpoint(e.trim()) => Some(String::from(e.trim())),
            Some(_) => return Err(Field::Endpoint),
            None => None,
        };
        let cookie = match self.cookie {
            Some(list) if is_cookie_list(&list) => list,
            Some(_) => return Err(Field::Cookie),
            None => String::from("__r_aid_v__,__rtbh.aid"),
        };
        let attr_key = match self.attr_key {
            Some(k) if is_attr_key(&k) => k,
            Some(_) => return Err(Field::AttrKey),
            None => String::from(aidlink_protocol::cookie::RTB_COOKIE),
        };
        let set_attrs = match self.set_attrs.as_deref().map(str::trim) {
            None | Some("") | Some("true") => true,
            Some("false") => false,
            Some(_) => return Err(Field::SetAttrs),
        };
        let consent_pending = match self.consent.as_deref().map(str::trim) {
            None | Some("") | Some("granted") => false,
            Some("pending") => true,
            Some(_) => return Err(Field::Consent),
        };
        let debug = self.debug.is_some_and(|d| d.trim() != "false");
        Ok(Config {
            site: String::from(site.trim()),
            mod_id,
            endpoint,
            cookie,
            attr_key,
            set_attrs,
            consent_pending,
            debug,
        })
    }
}

/// 1 to 64 characters, none of them a control character. Counted in the same walk that checks
/// them (`chars().count()` links a routine of its own).
fn is_attr_key(k: &str) -> bool {
    let mut count = 0;
    k.chars().all(|c| {
        count += 1;
        !c.is_control()
    }) && (1..=64).contains(&count)
}

fn is_mod_id(m: &str) -> bool {
    (1..=32).contains(&m.len())
        && m.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl Config {
    /// The RTB House cookie names, in the order they are tried: the comma-separated entries,
    /// trimmed, empty ones (`a,,b`, a trailing comma) skipped.
    pub fn cookie_names(&self) -> impl Iterator<Item = &str> {
        names(&self.cookie)
    }
}

fn names(list: &str) -> impl Iterator<Item = &str> {
    split(list, b',').map(str::trim).filter(|n| !n.is_empty())
}

/// At least one name, and every name a cookie token.
fn is_cookie_list(list: &str) -> bool {
    names(list).next().is_some() && names(list).all(is_cookie_name)
}

fn is_cookie_name(c: &str) -> bool {
    (1..=64).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// An absolute `http://` / `https://` URL with a host and no `user:password@` (which `fetch`
/// refuses), or a path starting with `/` (resolved against the default origin). Anything else
/// (`ftp:`, `javascript:`, `relay.example.com`) is refused.
fn is_endpoint(e: &str) -> bool {
    let rest = e
        .strip_prefix("https://")
        .or_else(|| e.strip_prefix("http://"));
    let ok_chars = !e.is_empty() && e.bytes().all(|b| b.is_ascii_graphic());
    match rest {
        Some(rest) => {
            let host = before_any(rest, b"/?#");
            ok_chars && !host.is_empty() && !host.bytes().any(|b| b == b'@')
        }
        None => ok_chars && e.starts_with('/') && !e.starts_with("//"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    fn raw(site: &str) -> RawConfig {
        RawConfig {
            site: Some(site.to_string()),
            ..RawConfig::default()
        }
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = raw("38342").validate().unwrap();
        assert_eq!(c.site, "38342");
        assert!(c
            .cookie_names()
            .eq(aidlink_protocol::cookie::DEFAULT_COOKIES));
        assert_eq!(c.attr_key, "__r_aid_v__");
        assert!(c.set_attrs && !c.consent_pending && !c.debug);
        assert_eq!((c.mod_id, c.endpoint), (None, None));
    }

    #[test]
    fn every_field_is_read() {
        let c = RawConfig {
            site: Some(" 38342 ".into()),
            mod_id: Some("vwgixinz".into()),
            endpoint: Some("https://relay.example.com/v1/bindings".into()),
            cookie: Some("my_aid".into()),
            attr_key: Some("rtb id".into()),
            set_attrs: Some("false".into()),
            consent: Some("pending".into()),
            debug: Some("".into()),
        }
        .validate()
        .unwrap();
        assert_eq!(c.site, "38342");
        assert_eq!(c.mod_id.as_deref(), Some("vwgixinz"));
        assert_eq!(
            c.endpoint.as_deref(),
            Some("https://relay.example.com/v1/bindings")
        );
        assert_eq!(
            (c.cookie.as_str(), c.attr_key.as_str()),
            ("my_aid", "rtb id")
        );
        assert!(
            !c.set_attrs && c.consent_pending && c.debug,
            "data-debug with no value is on"
        );
    }

    #[test]
    fn bad_fields_are_named_per_source() {
        let cases = [
            (RawConfig::default(), Field::Site),
            (raw("38a"), Field::Site),
            (
                RawConfig {
                    mod_id: Some("VWG!".into()),
                    ..raw("1")
                },
                Field::ModId,
            ),
            (
                RawConfig {
                    endpoint: Some("relay.example.com".into()),
                    ..raw("1")
                },
                Field::Endpoint,
            ),
            (
                RawConfig {
                    endpoint: Some("javascript:alert(1)".into()),
                    ..raw("1")
                },
                Field::Endpoint,
            ),
            (
                RawConfig {
                    endpoint: Some("//evil/x".into()),
                    ..raw("1")
                },
                Field::Endpoint,
            ),
            (
                RawConfig {
                    endpoint: Some("https:///x".into()),
                    ..raw("1")
                },
                Field::Endpoint,
            ),
            (
                RawConfig {
                    endpoint: Some("https://user:secret@relay.example.com/v1/bindings".into()),
                    ..raw("1")
                },
                Field::Endpoint,
            ),
            (
                RawConfig {
                    cookie: Some("a b".into()),
                    ..raw("1")
                },
                Field::Cookie,
            ),
            (
                RawConfig {
                    attr_key: Some("".into()),
                    ..raw("1")
                },
                Field::AttrKey,
            ),
            (
                RawConfig {
                    set_attrs: Some("yes".into()),
                    ..raw("1")
                },
                Field::SetAttrs,
            ),
            (
                RawConfig {
                    consent: Some("denied".into()),
                    ..raw("1")
                },
                Field::Consent,
            ),
        ];
        for (raw, field) in cases {
            assert_eq!(raw.clone().validate(), Err(field), "{raw:?}");
        }
        assert_eq!(
            Field::Site.message(Source::Tag),
            "aidlink: data-site is required: the numeric Calltouch site id; aidlink is off"
        );
        assert!(Field::Consent
            .message(Source::Npm)
            .starts_with("aidlink: consent must be"));
        assert!(Field::AttrKey
            .message(Source::Npm)
            .starts_with("aidlink: attrKey "));
        assert_eq!(
            Field::Debug.message(Source::Npm),
            "aidlink: debug must be true or false; aidlink is off"
        );
    }

    #[test]
    fn cookie_is_a_comma_separated_list() {
        let names = |list: &str| {
            RawConfig {
                cookie: Some(list.into()),
                ..raw("1")
            }
            .validate()
            .map(|c| c.cookie_names().map(String::from).collect::<Vec<_>>())
        };
        assert_eq!(names("__rtbh.aid"), Ok(vec!["__rtbh.aid".into()]));
        assert_eq!(
            names(" my_aid , __rtbh.aid,,__r_aid_v__, "),
            Ok(vec![
                "my_aid".into(),
                "__rtbh.aid".into(),
                "__r_aid_v__".into()
            ]),
            "trimmed, in order, empty entries skipped"
        );
        for bad in ["", " , ", "a,b c", "a;b", "a,é"] {
            assert_eq!(names(bad), Err(Field::Cookie), "{bad:?}");
        }
    }

    #[test]
    fn attr_key_is_1_to_64_characters_without_control_characters() {
        let key = |k: String| {
            RawConfig {
                attr_key: Some(k),
                ..raw("1")
            }
            .validate()
            .map(|c| c.attr_key)
        };
        let longest = "я".repeat(64);
        assert_eq!(
            key(longest.clone()),
            Ok(longest),
            "64 characters (128 bytes)"
        );
        assert_eq!(key("я".repeat(65)), Err(Field::AttrKey));
        assert_eq!(key("a\u{7f}b".into()), Err(Field::AttrKey));
        assert_eq!(
            key("a\u{85}".into()),
            Err(Field::AttrKey),
            "C1 controls too"
        );
        assert_eq!(key("ключ id".into()), Ok("ключ id".into()));
    }

    #[test]
    fn relative_endpoint_paths_are_accepted() {
        let c = RawConfig {
            endpoint: Some("/aidlink/v1/bindings".into()),
            ..raw("1")
        };
        assert_eq!(
            c.validate().unwrap().endpoint.as_deref(),
            Some("/aidlink/v1/bindings")
        );
        let c = RawConfig {
            endpoint: Some("http://127.0.0.1:8080/v1/bindings".into()),
            ..raw("1")
        };
        assert!(c.validate().is_ok());
    }

    #[test]
    fn empty_mod_id_means_none_and_debug_false_is_off() {
        let c = RawConfig {
            mod_id: Some(String::new()),
            debug: Some("false".into()),
            ..raw("1")
        }
        .validate()
        .unwrap();
        assert_eq!(c.mod_id, None);
        assert!(!c.debug);
    }
}
