//! The binding payload: one visitor's RTB House id bound to a Calltouch session, as the capture
//! module (or a site's own backend) POSTs it to `/v1/bindings`. docs/contract.md fixes its shape.

use alloc::string::String;
use serde::{Deserialize, Deserializer, Serialize};

use crate::cookie::{is_valid_aid, is_valid_session};
use crate::touch::MAX_FIELD_LEN;

/// Payload version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 4096;
/// Longest accepted binding id.
pub const MAX_ID_LEN: usize = 64;

/// `POST /v1/bindings` body. Unknown fields are ignored when reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// Payload version, always [`VERSION`].
    #[serde(serialize_with = "version")]
    pub v: u8,
    /// Client-made binding id (1 to 64 characters, no control characters); the relay is
    /// idempotent on it.
    pub id: String,
    /// Calltouch site id (numeric account id).
    pub site: String,
    /// Calltouch session id.
    pub session: String,
    /// Calltouch visitor id (cookie `_ct`, `ctClientId` in Calltouch's API), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ct_client: Option<String>,
    /// RTB House visitor id (cookie `__r_aid_v__`).
    pub aid: String,
    /// The page view's traffic touchpoint, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch: Option<Touch>,
}

/// Where a visit came from, as seen on its landing page. Every field is optional on the wire
/// (absent or `null` reads as empty / 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Touch {
    /// `utm_source` of the landing URL.
    #[serde(deserialize_with = "nullable")]
    pub utm_source: String,
    /// `utm_medium` of the landing URL.
    #[serde(deserialize_with = "nullable")]
    pub utm_medium: String,
    /// `utm_campaign` of the landing URL.
    #[serde(deserialize_with = "nullable")]
    pub utm_campaign: String,
    /// `utm_content` of the landing URL.
    #[serde(deserialize_with = "nullable")]
    pub utm_content: String,
    /// `utm_term` of the landing URL.
    #[serde(deserialize_with = "nullable")]
    pub utm_term: String,
    /// Referrer host only (never the referrer's path or query); empty for none.
    #[serde(rename = "ref", deserialize_with = "nullable")]
    pub r#ref: String,
    /// Landing path without query string.
    #[serde(deserialize_with = "nullable")]
    pub path: String,
    /// Client timestamp, milliseconds since the epoch.
    #[serde(deserialize_with = "nullable")]
    pub ts: u64,
}

/// Writes `v` as the wider integer the timestamp already uses: serializers format a `u8`
/// with code of its own (in the capture bundle: itoa's `u8` path and the panic message it
/// carries), for the same digits.
fn version<S: serde::Serializer>(v: &u8, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::from(*v))
}

fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Why a [`Binding`] was refused; each names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// `v` is not a version this relay reads.
    #[error("v: unsupported payload version {0}")]
    Version(u8),
    /// `id` is empty, longer than 64 characters or holds a control character.
    #[error("id: must be 1 to 64 characters, none of them control characters")]
    Id,
    /// `site` is not a numeric Calltouch site id.
    #[error("site: must be 1 to 20 digits")]
    Site,
    /// `session` is not a Calltouch session id.
    #[error("session: must be 1 to 64 letters, digits, '-' or '_'")]
    Session,
    /// `ct_client` is not a Calltouch visitor id.
    #[error("ct_client: must be 1 to 64 letters, digits, '-' or '_'")]
    CtClient,
    /// `aid` is not an acceptable RTB House id.
    #[error("aid: must be 1 to 256 printable ASCII characters without ; \" \\ or space")]
    Aid,
    /// A touchpoint field is longer than 256 bytes.
    #[error("touch.{0}: longer than 256 bytes")]
    TouchField(&'static str),
}

impl Binding {
    /// Builds a binding with its deterministic id (see [`binding_id`]).
    pub fn new(
        site: String,
        session: String,
        ct_client: Option<String>,
        aid: String,
        touch: Option<Touch>,
    ) -> Self {
        Binding {
            v: VERSION,
            id: binding_id(&site, &session, &aid),
            site,
            session,
            ct_client,
            aid,
            touch,
        }
    }

    /// Checks every field's shape and size; the first problem found is returned.
    pub fn validate(&self) -> Result<(), BindingError> {
        if self.v != VERSION {
            return Err(BindingError::Version(self.v));
        }
        let id_ok = !self.id.is_empty()
            && self.id.chars().count() <= MAX_ID_LEN
            && !self.id.chars().any(char::is_control);
        if !id_ok {
            return Err(BindingError::Id);
        }
        if !is_site_id(&self.site) {
            return Err(BindingError::Site);
        }
        if !is_valid_session(&self.session) {
            return Err(BindingError::Session);
        }
        if self
            .ct_client
            .as_deref()
            .is_some_and(|c| !is_valid_session(c))
        {
            return Err(BindingError::CtClient);
        }
        if !is_valid_aid(&self.aid) {
            return Err(BindingError::Aid);
        }
        if let Some(touch) = &self.touch {
            let fields = [
                ("utm_source", &touch.utm_source),
                ("utm_medium", &touch.utm_medium),
                ("utm_campaign", &touch.utm_campaign),
                ("utm_content", &touch.utm_content),
                ("utm_term", &touch.utm_term),
                ("ref", &touch.r#ref),
                ("path", &touch.path),
            ];
            if let Some((name, _)) = fields.iter().find(|(_, v)| v.len() > MAX_FIELD_LEN) {
                return Err(BindingError::TouchField(name));
            }
        }
        Ok(())
    }
}

/// How far a client's clock may be from the relay's before its timestamp is not believed.
pub const MAX_CLOCK_SKEW_MS: u64 = 24 * 3600 * 1000;

impl Touch {
    /// The touchpoint with its timestamp kept when it is within [`MAX_CLOCK_SKEW_MS`] of
    /// `received_ms` (the relay's clock), else replaced by `received_ms`: a client cannot
    /// reorder a visitor's visits by claiming a time far in the past or the future.
    pub fn with_sane_time(mut self, received_ms: u64) -> Touch {
        if self.ts.abs_diff(received_ms) > MAX_CLOCK_SKEW_MS {
            self.ts = received_ms;
        }
        self
    }
}

/// True for a Calltouch site id: 1 to 20 ASCII digits.
pub fn is_site_id(site: &str) -> bool {
    (1..=20).contains(&site.len()) && site.bytes().all(|b| b.is_ascii_digit())
}

/// The binding id for (site, session, aid): `b` + 16 hex digits of a 64-bit FNV-1a hash.
///
/// Deterministic, so two copies of the tag, two tabs or a page reload make the same id and
/// the relay stores the binding once.
pub fn binding_id(site: &str, session: &str, aid: &str) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in [site, session, aid] {
        for b in part.bytes().chain(core::iter::once(0)) {
            hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }
    let mut id = String::with_capacity(17);
    id.push('b');
    for shift in (0..16).rev() {
        let nibble = (hash >> (shift * 4)) & 0xf;
        let digit = b"0123456789abcdef".get(nibble as usize).copied();
        id.push(char::from(digit.unwrap_or(b'0')));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn sample() -> Binding {
        Binding::new(
            "38342".into(),
            "261374990".into(),
            Some("2200000000464647719".into()),
            "AbCdEf0123456789xyz".into(),
            Some(Touch {
                utm_source: "yandex".into(),
                utm_medium: "cpc".into(),
                utm_campaign: "spring".into(),
                r#ref: "yandex.ru".into(),
                path: "/landing".into(),
                ts: 1_732_500_000_000,
                ..Touch::default()
            }),
        )
    }

    #[test]
    fn contract_example_parses_and_validates() {
        let json = r#"{ "v": 1, "id": "client-made binding id, <= 64 chars",
          "site": "38342", "session": "261374990", "ct_client": "2200000000464647719",
          "aid": "AbCdEf0123456789xyz", "extra": {"ignored": true},
          "touch": { "utm_source": "yandex", "utm_medium": "cpc", "utm_campaign": "spring",
                     "utm_content": "", "utm_term": "", "ref": "yandex.ru", "path": "/landing",
                     "ts": 1732500000000 } }"#;
        let b: Binding = serde_json::from_str(json).unwrap();
        assert_eq!(b.touch.as_ref().unwrap().r#ref, "yandex.ru");
        assert_eq!(b.touch.as_ref().unwrap().ts, 1_732_500_000_000);
        b.validate().unwrap();
    }

    #[test]
    fn optional_parts_may_be_absent_or_null() {
        let b: Binding = serde_json::from_str(
            r#"{"v":1,"id":"x","site":"1","session":"2","aid":"a","touch":{"utm_source":null,"ts":null}}"#,
        )
        .unwrap();
        assert_eq!(b.ct_client, None);
        assert_eq!(b.touch, Some(Touch::default()));
        b.validate().unwrap();
    }

    #[test]
    fn serialises_without_absent_options_and_round_trips() {
        let mut b = sample();
        let json = serde_json::to_string(&b).unwrap();
        assert!(json.contains(r#""ref":"yandex.ru""#), "{json}");
        assert_eq!(serde_json::from_str::<Binding>(&json).unwrap(), b);
        b.ct_client = None;
        b.touch = None;
        let json = serde_json::to_string(&b).unwrap();
        assert!(
            !json.contains("ct_client") && !json.contains("touch"),
            "{json}"
        );
    }

    #[test]
    fn validation_names_the_field() {
        type Spoil = fn(&mut Binding);
        let cases: [(Spoil, &str); 9] = [
            (|b| b.v = 2, "v:"),
            (|b| b.id = "x".repeat(65), "id:"),
            (|b| b.id = "a\nb".into(), "id:"),
            (|b| b.site = "38a".into(), "site:"),
            (|b| b.session = "null".into(), "session:"),
            (|b| b.ct_client = Some("1 2".into()), "ct_client:"),
            (|b| b.aid = "a b".into(), "aid:"),
            (
                |b| b.touch.as_mut().unwrap().path = "/".repeat(257),
                "touch.path:",
            ),
            (
                |b| b.touch.as_mut().unwrap().r#ref = "r".repeat(300),
                "touch.ref:",
            ),
        ];
        for (spoil, prefix) in cases {
            let mut b = sample();
            spoil(&mut b);
            let msg = b.validate().unwrap_err().to_string();
            assert!(msg.starts_with(prefix), "{msg} should start with {prefix}");
        }
    }

    #[test]
    fn a_client_time_far_from_the_relays_clock_is_replaced_by_the_time_of_arrival() {
        let now = 1_732_500_000_000;
        let at = |ts: u64| {
            Touch {
                ts,
                ..Touch::default()
            }
            .with_sane_time(now)
            .ts
        };
        assert_eq!(
            at(now - 3_600_000),
            now - 3_600_000,
            "an hour slow is believed"
        );
        assert_eq!(at(now + MAX_CLOCK_SKEW_MS), now + MAX_CLOCK_SKEW_MS);
        assert_eq!(at(u64::MAX), now, "the far future is not");
        assert_eq!(at(0), now);
        assert_eq!(at(now - MAX_CLOCK_SKEW_MS - 1), now);
    }

    #[test]
    fn binding_id_is_deterministic_and_distinguishes_inputs() {
        let a = binding_id("1", "2", "3");
        assert_eq!(a, binding_id("1", "2", "3"));
        assert_eq!(a.len(), 17);
        assert!(a.starts_with('b'));
        assert_ne!(a, binding_id("1", "2", "4"), "rotated id is a new binding");
        assert_ne!(a, binding_id("1", "23", ""), "parts are separated");
        assert_ne!(binding_id("12", "3", "x"), binding_id("1", "23", "x"));
    }
}
