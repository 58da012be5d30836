//! The RTB House server-to-server postback (docs/domain.md §4): one URL, no body, every value
//! percent-encoded. No personal data: only the pseudonymous id, the event code and an opaque
//! conversion id. RTB House refuses conversions more than 24 hours old ([`too_old`]). Pure.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::Site;
use crate::webhook::{Lead, LeadKind};

/// Everything but RFC 3986 unreserved characters and `,` (RTB House's own template keeps the
/// comma of the offer list literal: `…_123,456`).
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b',');

/// The conversion tag's parts after `pr_<HASH>_conversion_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion<'a> {
    /// Event class (`action`).
    pub class: &'a str,
    /// Event subclass (`call`, `form`).
    pub subclass: &'a str,
    /// Conversion value, dot decimal separator; may be empty.
    pub value: &'a str,
    /// Conversion id; `_` becomes `-` (the tag's separator).
    pub conversion_id: &'a str,
    /// Comma-separated offer ids; may be empty.
    pub offer_ids: &'a str,
}

/// The full postback URL.
#[allow(clippy::too_many_arguments)]
pub fn postback_url(
    endpoint: &str,
    region: &str,
    pkey: &str,
    aid: &str,
    time_ms: i64,
    hash: &str,
    conv: &Conversion,
    cd: &str,
) -> String {
    let conversion_id = conv.conversion_id.replace('_', "-");
    let tag = format!(
        "pr_{hash}_conversion_{}_{}_{}_{conversion_id}_{}",
        conv.class, conv.subclass, conv.value, conv.offer_ids
    );
    let enc = |v: &str| utf8_percent_encode(v, VALUE).to_string();
    format!(
        "{}?pkey={}&aid={}&time={time_ms}&tag={}&cd={}",
        endpoint.replace("{region}", region),
        enc(pkey),
        enc(aid),
        enc(&tag),
        enc(cd)
    )
}

/// RTB House's `cd` ("custom deduplication"): an attribution flag, not a dedup key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cd {
    /// RTB House decides (its own templates send this; `dedup = "default"`).
    #[default]
    Default,
    /// The conversion is attributed to RTB House.
    False,
    /// The conversion is attributed to another source.
    True,
}

impl Cd {
    /// The parameter value: `default`, `false`, `true`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cd::Default => "default",
            Cd::False => "false",
            Cd::True => "true",
        }
    }

    /// The value [`Cd::as_str`] wrote (as stored); `None` for anything else.
    pub fn parse(text: &str) -> Option<Cd> {
        [Cd::Default, Cd::False, Cd::True]
            .into_iter()
            .find(|cd| cd.as_str() == text)
    }
}

/// How old a conversion RTB House still accepts: 24 hours after its event time.
pub const HORIZON_MS: i64 = 24 * 3600 * 1000;

/// Why a postback of event time `time_ms` must not be sent at `now_ms`: more than 24 hours
/// ([`HORIZON_MS`]) have passed, `too old for RTB House (25h)`, its age in whole hours rounded
/// down (so just past the horizon reads `(24h)`). Exactly 24 hours is still in time.
pub fn too_old(time_ms: i64, now_ms: i64) -> Option<String> {
    let age_ms = now_ms.saturating_sub(time_ms);
    (age_ms > HORIZON_MS).then(|| format!("too old for RTB House ({}h)", age_ms / 3_600_000))
}

/// What a queued postback keeps of its lead: enough to build the URL at each attempt from the
/// site's settings of that moment (a PKEY fixed since, a region moved), and nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postback {
    /// Call or request.
    pub kind: LeadKind,
    /// Calltouch call id / `requestId`.
    pub source_id: String,
    /// The RTB House visitor id.
    pub aid: String,
    /// Event time, ms since the epoch.
    pub time_ms: i64,
    /// The `cd` decided with the lead (see [`crate::decide::credit`]).
    pub cd: Cd,
}

impl Postback {
    /// The postback of a lead going to `aid`: time = the lead's `timestamp`, else
    /// `received_ms`, when the relay first received the lead (not when it was decided, which
    /// may be later: at call end, after a restart). Fixed here, once, with `cd`: the outbox
    /// keeps them.
    pub fn for_lead(lead: &Lead, aid: &str, received_ms: i64, cd: Cd) -> Postback {
        Postback {
            kind: lead.kind,
            source_id: lead.source_id.clone(),
            aid: aid.to_string(),
            time_ms: lead.event_time_ms.unwrap_or(received_ms),
            cd,
        }
    }

    /// The URL with `site`'s current credentials, region and values: calls `action`/`call`
    /// with id `ct-call-<id>` and value `call_value`, requests `action`/`form` with
    /// `ct-req-<requestId>` and `request_value` (empty: an empty segment), and this `cd`.
    pub fn url(&self, endpoint: &str, site: &Site) -> String {
        let (subclass, prefix, value) = match self.kind {
            LeadKind::Call => ("call", "ct-call-", &site.call_value),
            LeadKind::Request => ("form", "ct-req-", &site.request_value),
        };
        let conversion_id = format!("{prefix}{}", self.source_id);
        let conv = Conversion {
            class: "action",
            subclass,
            value,
            conversion_id: &conversion_id,
            offer_ids: "",
        };
        postback_url(
            endpoint,
            site.region.as_str(),
            &site.pkey,
            &self.aid,
            self.time_ms,
            &site.tagging_hash,
            &conv,
            self.cd.as_str(),
        )
    }
}

/// The URL with its PKEY value masked (first two characters kept), for the admin API.
pub fn mask_pkey(url: &str) -> String {
    mask_param(url, "pkey", 2)
}

/// The URL as logged: PKEY masked, and the visitor id (`aid`, or `uid` / `sid`) hidden
/// entirely: a cookie id is personal data (docs/domain.md §6), never logged.
pub fn for_log(url: &str) -> String {
    ["aid", "uid", "sid"]
        .into_iter()
        .fold(mask_pkey(url), |url, name| mask_param(&url, name, 0))
}

/// `name=value` in the query becomes `name=<first keep chars>***`.
fn mask_param(url: &str, name: &str, keep: usize) -> String {
    let Some(query_at) = url.find('?') else {
        return url.to_string();
    };
    let mut at = query_at + 1;
    while at < url.len() {
        let end = url[at..].find('&').map_or(url.len(), |i| at + i);
        if let Some(value) = url[at..end]
            .strip_prefix(name)
            .and_then(|v| v.strip_prefix('='))
        {
            let start = end - value.len();
            let kept: String = value.chars().take(keep).collect();
            return format!("{}{kept}***{}", &url[..start], &url[end..]);
        }
        at = end + 1;
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_rtb_house_test_vector_byte_for_byte() {
        let conv = Conversion {
            class: "action",
            subclass: "salenew",
            value: "12",
            conversion_id: "orderId",
            offer_ids: "123,456",
        };
        let url = postback_url(
            "https://{region}.creativecdn.com/partner/omni/postbacks",
            "omni",
            "rtb-test",
            "test-rtb",
            1_658_475_836_352,
            "IYIhaCDSPfPoVd4FIEF1",
            &conv,
            "false",
        );
        assert_eq!(
            url,
            "https://omni.creativecdn.com/partner/omni/postbacks?pkey=rtb-test&aid=test-rtb&time=1658475836352&tag=pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_salenew_12_orderId_123,456&cd=false"
        );
    }

    #[test]
    fn ids_with_separators_ampersands_and_spaces_are_escaped() {
        let conv = Conversion {
            class: "action",
            subclass: "call",
            value: "",
            conversion_id: "ct-call-a_b&c d",
            offer_ids: "",
        };
        let url = postback_url(
            "http://127.0.0.1:9/{region}/pb",
            "us",
            "p&k y",
            "A_b=c",
            5,
            "H",
            &conv,
            "default",
        );
        assert_eq!(
            url,
            "http://127.0.0.1:9/us/pb?pkey=p%26k%20y&aid=A_b%3Dc&time=5&tag=pr_H_conversion_action_call__ct-call-a-b%26c%20d_&cd=default"
        );
    }

    fn site() -> Site {
        crate::config::test_site("region = \"asia\"")
    }

    fn lead(query: &str) -> Lead {
        crate::webhook::test_lead(query)
    }

    #[test]
    fn calls_and_requests_map_to_their_event_codes() {
        let endpoint = "https://{region}.creativecdn.com/partner/omni/postbacks";
        let call = lead("leadtype=call&id=55_1&timestamp=1732500100&callerphone=79161234567");
        assert_eq!(
            Postback::for_lead(&call, "Aid1", 0, Cd::Default).url(endpoint, &site()),
            "https://asia.creativecdn.com/partner/omni/postbacks?pkey=rtb-test&aid=Aid1&time=1732500100000&tag=pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_call__ct-call-55-1_&cd=default"
        );
        let request = lead("leadtype=request&requestId=9001&fio=Anna");
        let url = Postback::for_lead(&request, "Aid1", 42, Cd::Default).url(endpoint, &site());
        assert!(url.contains("&time=42&tag=pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_form__ct-req-9001_&cd=default"), "{url}");
        assert!(!url.contains("79161234567") && !url.contains("Anna"));
    }

    #[test]
    fn pkey_is_masked() {
        assert_eq!(
            mask_pkey("https://x/p?pkey=rtb-test&aid=a"),
            "https://x/p?pkey=rt***&aid=a"
        );
        assert_eq!(
            mask_pkey("https://x/p?aid=a&pkey=secret"),
            "https://x/p?aid=a&pkey=se***"
        );
        assert_eq!(mask_pkey("https://x/p?aid=a"), "https://x/p?aid=a");
        assert_eq!(
            mask_pkey("https://x/p?xpkey=1&pkey=secret"),
            "https://x/p?xpkey=1&pkey=se***",
            "only the pkey parameter"
        );
    }

    #[test]
    fn logged_urls_hide_the_visitor_id_and_the_pkey() {
        let url = Postback::for_lead(
            &lead("leadtype=call&id=5"),
            "AbCdEf0123456789xyz",
            7,
            Cd::Default,
        )
        .url(
            "https://{region}.creativecdn.com/partner/omni/postbacks",
            &site(),
        );
        assert_eq!(
            for_log(&url),
            "https://asia.creativecdn.com/partner/omni/postbacks?pkey=rt***&aid=***&time=7&tag=pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_call__ct-call-5_&cd=default"
        );
        assert_eq!(
            for_log("https://x/p?uid=U1&sid=S1"),
            "https://x/p?uid=***&sid=***"
        );
    }

    #[test]
    fn call_and_request_values_fill_the_value_segment() {
        let endpoint = "https://{region}.creativecdn.com/partner/omni/postbacks";
        let mut site = site();
        site.call_value = "1500.50".into();
        site.request_value = "700".into();
        let call = Postback::for_lead(&lead("leadtype=call&id=5"), "Aid1", 7, Cd::Default);
        let request = Postback::for_lead(
            &lead("leadtype=request&requestId=9"),
            "Aid1",
            7,
            Cd::Default,
        );
        let tag = |url: String| url.split("&tag=").nth(1).unwrap_or_default().to_string();
        assert_eq!(
            tag(call.url(endpoint, &site)),
            "pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_call_1500.50_ct-call-5_&cd=default",
            "the value as written, dot kept"
        );
        assert_eq!(
            tag(request.url(endpoint, &site)),
            "pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_form_700_ct-req-9_&cd=default",
            "a request takes request_value"
        );
        site.call_value = String::new();
        assert_eq!(
            tag(call.url(endpoint, &site)),
            "pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_call__ct-call-5_&cd=default",
            "empty = an empty segment"
        );
    }

    #[test]
    fn the_decided_cd_is_sent() {
        let endpoint = "https://{region}.creativecdn.com/partner/omni/postbacks";
        for (cd, text) in [
            (Cd::Default, "default"),
            (Cd::False, "false"),
            (Cd::True, "true"),
        ] {
            let url = Postback::for_lead(&lead("leadtype=call&id=5"), "Aid1", 7, cd)
                .url(endpoint, &site());
            assert!(url.ends_with(&format!("_ct-call-5_&cd={text}")), "{url}");
            assert_eq!(cd.as_str(), text);
            assert_eq!(Cd::parse(text), Some(cd), "stored and read back");
        }
        assert_eq!(Cd::parse("False"), None);
    }

    #[test]
    fn older_than_24_hours_is_too_old() {
        let hour = 3_600_000;
        let t = 1_732_500_000_000;
        assert_eq!(too_old(t, t), None);
        assert_eq!(too_old(t, t + HORIZON_MS), None, "exactly 24 h is in time");
        assert_eq!(
            too_old(t, t + HORIZON_MS + 1).as_deref(),
            Some("too old for RTB House (24h)"),
            "hours rounded down"
        );
        assert_eq!(
            too_old(t, t + 25 * hour + 59 * 60_000).as_deref(),
            Some("too old for RTB House (25h)")
        );
        assert_eq!(
            too_old(t, t - hour),
            None,
            "an event time ahead of the clock"
        );
        assert_eq!(HORIZON_MS, 24 * hour);
    }
}
