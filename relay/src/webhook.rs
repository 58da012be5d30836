//! A Calltouch webhook (docs/domain.md §3), parsed into a [`Lead`]: URL-encoded fields from the
//! query or a form body, `null` / `undefined` / empty read as absent, unknown fields ignored,
//! personal data (phone, name, IP, city, e-mail, …) never kept. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Call or web-form request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadKind {
    /// A tracked phone call.
    Call,
    /// A web-form lead ("заявка").
    Request,
}

impl LeadKind {
    /// `call` / `request`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadKind::Call => "call",
            LeadKind::Request => "request",
        }
    }

    /// Reads `call` / `request`.
    pub fn parse(name: &str) -> Option<LeadKind> {
        [LeadKind::Call, LeadKind::Request]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// When in a call the webhook was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    /// `callconnected`: the call started.
    Connected,
    /// `calldisconnected`: the call ended; metrics and tags are final.
    Disconnected,
}

/// The webhook's own traffic fields (under the webhook's attribution model).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// `source`.
    pub source: String,
    /// `medium`.
    pub medium: String,
    /// `utm_source`.
    pub utm_source: String,
    /// `utm_medium`.
    pub utm_medium: String,
    /// `utm_campaign`.
    pub utm_campaign: String,
    /// `utm_content`.
    pub utm_content: String,
    /// `utm_term`.
    pub utm_term: String,
}

/// One webhook event, without personal data. Stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    /// Call or request.
    pub kind: LeadKind,
    /// Calltouch call id / `requestId`.
    pub source_id: String,
    /// Calls: start or end; `None` when Calltouch did not say (treated as not ended).
    pub phase: Option<CallPhase>,
    /// Event time, ms since the epoch, from `timestamp` (unix seconds) when present and valid.
    /// `calltime` / `requestDate` are not read: they are the project's local time with no zone.
    /// Without it the postback's time is when the relay first received the lead (the webhook
    /// is sent at the event).
    pub event_time_ms: Option<i64>,
    /// Calltouch session id.
    pub session_id: Option<String>,
    /// Calltouch visitor id.
    pub ct_client_id: Option<String>,
    /// Calltouch site id as sent.
    pub site_id: Option<String>,
    /// `status`: successful (true) / unsuccessful (false).
    pub successful: Option<bool>,
    /// `unique` / `uniquerequest`.
    pub unique: Option<bool>,
    /// `targetcall` / `targetrequest`.
    pub target: Option<bool>,
    /// `uniqtargetcall` / `uniqtargetrequest`.
    pub unique_target: Option<bool>,
    /// Every tag name from `tags_*`, trimmed, de-duplicated.
    pub tags: Vec<String>,
    /// The webhook's own traffic fields.
    pub traffic: Traffic,
    /// `attrs` as given by `ct('set_attrs', …)`; values as strings.
    pub attrs: BTreeMap<String, String>,
}

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// `leadtype` missing or not `call` / `request`.
    #[error("leadtype: must be call or request")]
    LeadType,
    /// Call without `id` / request without `requestId`, or one that is not an id.
    #[error("{0}: missing or not an id (1 to 64 of A-Z a-z 0-9 - _ .)")]
    Id(&'static str),
}

/// The tags a call's tag filter sees (docs/domain.md §5.5): by extension, by number, manual, API.
/// Predict (`tags_auto_pr`) and Antifraud (`tags_auto_af`) labels are Calltouch's own
/// classifications, not tags an operator filters on.
const CALL_TAG_FIELDS: &[&str] = &["tags_auto_ct", "tags_auto_pn", "tags_manual", "tags_api"];
/// A request's tags.
const REQUEST_TAG_FIELDS: &[&str] = &["tags_request"];

impl Lead {
    /// The id in the API: `call-<id>` / `request-<requestId>`.
    pub fn lead_id(&self) -> String {
        format!("{}-{}", self.kind.as_str(), self.source_id)
    }

    /// True for a call's `calldisconnected` event.
    pub fn is_call_end(&self) -> bool {
        self.phase == Some(CallPhase::Disconnected)
    }
}

/// Parses a webhook's fields (query pairs followed by form-body pairs; the first present
/// value of a field wins, so `attrs=null` in the query does not hide `attrs` in the body).
pub fn parse_lead(fields: &[(String, String)]) -> Result<Lead, WebhookError> {
    let get = |name: &str| -> Option<&str> {
        fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty() && *v != "null" && *v != "undefined")
    };
    let text = |name: &str| get(name).unwrap_or_default().to_string();
    let flag = |name: &str, word: &str| get(name).and_then(|v| read_flag(v, word));
    let kind = match get("leadtype") {
        Some("call") => LeadKind::Call,
        Some("request") => LeadKind::Request,
        _ => return Err(WebhookError::LeadType),
    };
    let id_field = match kind {
        LeadKind::Call => "id",
        LeadKind::Request => "requestId",
    };
    let source_id = get(id_field)
        .filter(|id| is_id(id))
        .ok_or(WebhookError::Id(id_field))?
        .to_string();
    let phase = match get("callphase") {
        Some("callconnected") => Some(CallPhase::Connected),
        Some("calldisconnected") => Some(CallPhase::Disconnected),
        _ => None,
    };
    let event_time_ms = get("timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|s| *s > 0)
        .and_then(|s| s.checked_mul(1000));
    let (unique, target, unique_target) = match kind {
        LeadKind::Call => (
            flag("unique", "unique"),
            flag("targetcall", "target"),
            flag("uniqtargetcall", "uniqtarget"),
        ),
        LeadKind::Request => (
            flag("uniquerequest", "unique"),
            flag("targetrequest", "target"),
            flag("uniqtargetrequest", "uniqtarget"),
        ),
    };
    let mut tags: Vec<String> = Vec::new();
    let tag_fields = match kind {
        LeadKind::Call => CALL_TAG_FIELDS,
        LeadKind::Request => REQUEST_TAG_FIELDS,
    };
    for field in tag_fields {
        for tag in get(field).unwrap_or_default().split(',') {
            let tag = tag.trim();
            if !tag.is_empty() && tag != "null" && !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_string());
            }
        }
    }
    Ok(Lead {
        kind,
        source_id,
        phase: if kind == LeadKind::Call { phase } else { None },
        event_time_ms,
        session_id: get("sessionId").filter(|s| is_id(s)).map(str::to_string),
        ct_client_id: get("ctClientId").filter(|s| is_id(s)).map(str::to_string),
        site_id: get("siteId").map(str::to_string),
        successful: get("status").and_then(|v| {
            if v.eq_ignore_ascii_case("unsuccessful") {
                Some(false)
            } else {
                read_flag(v, "successful")
            }
        }),
        unique,
        target,
        unique_target,
        tags,
        traffic: Traffic {
            source: text("source"),
            medium: text("medium"),
            utm_source: text("utm_source"),
            utm_medium: text("utm_medium"),
            utm_campaign: text("utm_campaign"),
            utm_content: text("utm_content"),
            utm_term: text("utm_term"),
        },
        attrs: get("attrs").map(parse_attrs).unwrap_or_default(),
    })
}

/// A Calltouch flag: its word (`target`, `uniqtarget`, `unique`) or `true` / `1` is yes; the
/// word with `non-` (`non-target`) or `false` / `0` is no; anything else is unknown. Calls and
/// requests take the same forms.
fn read_flag(value: &str, word: &str) -> Option<bool> {
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        v if v == word => Some(true),
        v if v.strip_prefix("non-") == Some(word) => Some(false),
        _ => None,
    }
}

fn is_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `attrs`: a JSON object; string values kept, numbers and booleans stringified, anything
/// else (or garbage) dropped.
fn parse_attrs(raw: &str) -> BTreeMap<String, String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(raw) else {
        return BTreeMap::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect()
}

/// Parses a URL-encoded webhook body for unit tests.
#[cfg(test)]
pub(crate) fn test_lead(query: &str) -> Lead {
    let fields: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    parse_lead(&fields).expect("test webhook parses")
}

#[cfg(test)]
mod tests;
