//! The traffic touchpoint of a page view: where the visitor came from, as the capture module
//! sees it on the landing page, and how the relay reads it as source / medium.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::String;

use crate::binding::Touch;
use crate::text::{before_any, cut, decode, split};

/// The query parameters a touchpoint keeps, in the order of [`Touch`]'s fields.
pub const UTM_KEYS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
];

/// Longest value kept for any touchpoint field; longer values are cut at a char boundary.
pub const MAX_FIELD_LEN: usize = 256;

impl Touch {
    /// Builds the touchpoint of a page view.
    ///
    /// - `search`: the landing URL's query string, with or without the leading `?`;
    /// - `path`: the landing path (`location.pathname`), kept without query or fragment;
    /// - `referrer_host`: the host of `document.referrer` (the browser's `URL` parses it: its
    ///   `hostname`), empty for none; kept lowercased, and not at all when it is `page_host` (a
    ///   navigation inside the site is not a traffic source). Never the referrer's path or query;
    /// - `ts`: client time in milliseconds since the epoch.
    pub fn from_page(
        search: &str,
        path: &str,
        referrer_host: &str,
        page_host: &str,
        ts: u64,
    ) -> Self {
        let mut touch = Touch {
            path: clip(before_any(path, b"?#")),
            ts,
            ..Touch::default()
        };
        let query = search.strip_prefix('?').unwrap_or(search);
        let query = before_any(query, b"#");
        for pair in split(query, b'&') {
            let (key, value) = cut(pair, b'=').unwrap_or((pair, ""));
            let key = form_decode(key);
            let Some(slot) = touch.utm_slot(&key) else {
                continue;
            };
            if slot.is_empty() {
                *slot = clip(&form_decode(value));
            }
        }
        if !referrer_host.eq_ignore_ascii_case(page_host) {
            touch.r#ref = clip(referrer_host);
            touch.r#ref.make_ascii_lowercase();
        }
        touch
    }

    fn utm_slot(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "utm_source" => &mut self.utm_source,
            "utm_medium" => &mut self.utm_medium,
            "utm_campaign" => &mut self.utm_campaign,
            "utm_content" => &mut self.utm_content,
            "utm_term" => &mut self.utm_term,
            _ => return None,
        })
    }

    /// True for a direct visit: no `utm_source` and no external referrer.
    pub fn is_direct(&self) -> bool {
        self.utm_source.is_empty() && self.r#ref.is_empty()
    }

    /// The traffic source: `utm_source`, else the referrer host, else `(direct)`.
    pub fn source(&self) -> &str {
        if !self.utm_source.is_empty() {
            &self.utm_source
        } else if !self.r#ref.is_empty() {
            &self.r#ref
        } else {
            "(direct)"
        }
    }

    /// The traffic medium: `utm_medium`, else `referral` for a referred visit, else `(none)`.
    pub fn medium(&self) -> &str {
        if !self.utm_medium.is_empty() {
            &self.utm_medium
        } else if !self.r#ref.is_empty() {
            "referral"
        } else {
            "(none)"
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space). A value that
/// does not decode to UTF-8 (a Windows-1251 link, a cut-off escape) is kept percent-encoded,
/// as cookies are: nothing is lost, and a traffic condition can still match it.
pub fn form_decode(component: &str) -> Cow<'_, str> {
    // Only a decoded escape can make the text other than UTF-8: with spaces alone it stays so.
    decode(component, true, true)
        .or_else(|| decode(component, true, false))
        .unwrap_or(Cow::Borrowed(component))
}

/// `value` cut to [`MAX_FIELD_LEN`] bytes at a char boundary. Written with `get`, not an index:
/// a slice index carries a panic whose message formats the bounds and a `char` (the bundle's
/// optimiser only sometimes proves it unreachable).
fn clip(value: &str) -> String {
    let mut end = value.len().min(MAX_FIELD_LEN);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_fields_from_query() {
        let t = Touch::from_page(
            "?utm_source=yandex&utm_medium=cpc&utm_campaign=spring+sale&utm_content=%D0%B1%D0%B0%D0%BD%D0%BD%D0%B5%D1%80&utm_term=a%26b&gclid=x",
            "/landing",
            "",
            "shop.example",
            1_732_500_000_000,
        );
        assert_eq!(t.utm_source, "yandex");
        assert_eq!(t.utm_medium, "cpc");
        assert_eq!(t.utm_campaign, "spring sale");
        assert_eq!(t.utm_content, "баннер");
        assert_eq!(t.utm_term, "a&b");
        assert_eq!(t.path, "/landing");
        assert_eq!(t.ts, 1_732_500_000_000);
        assert!(!t.is_direct());
        assert_eq!((t.source(), t.medium()), ("yandex", "cpc"));
    }

    #[test]
    fn first_occurrence_wins_and_fragment_is_ignored() {
        let t = Touch::from_page("utm_source=a&utm_source=b#utm_medium=c", "/", "", "x", 0);
        assert_eq!(t.utm_source, "a");
        assert_eq!(t.utm_medium, "");
    }

    #[test]
    fn referrer_host_is_lowercased_and_the_own_site_dropped() {
        let t = Touch::from_page("", "/p", "Yandex.RU", "shop.example", 0);
        assert_eq!(t.r#ref, "yandex.ru");
        assert_eq!((t.source(), t.medium()), ("yandex.ru", "referral"));
        let internal = Touch::from_page("", "/p", "Shop.Example", "shop.example", 0);
        assert_eq!(internal.r#ref, "");
        assert!(internal.is_direct());
        assert_eq!(
            (internal.source(), internal.medium()),
            ("(direct)", "(none)")
        );
    }

    #[test]
    fn path_drops_query_and_long_values_are_clipped() {
        let long = "я".repeat(200);
        let t = Touch::from_page(&alloc::format!("utm_term={long}"), "/a?b=c#d", "", "", 0);
        assert_eq!(t.path, "/a");
        assert!(t.utm_term.len() <= MAX_FIELD_LEN);
        assert!(long.starts_with(&t.utm_term));
    }

    #[test]
    fn form_decode_handles_plus_and_bad_bytes() {
        assert_eq!(form_decode("a+b%20c"), "a b c");
        assert_eq!(form_decode("%FF"), "%FF");
        // Windows-1251 escapes, as old ad links carry them: kept as sent (`+` still a space).
        assert_eq!(form_decode("%EF%F0%E8+%E2%E5%F2"), "%EF%F0%E8 %E2%E5%F2");
        assert_eq!(form_decode("%D0%BF%D1%80"), "пр");
        assert_eq!(form_decode("%2B+1"), "+ 1", "an escaped + is a plus");
        assert!(matches!(form_decode("plain"), Cow::Borrowed("plain")));
    }
}
