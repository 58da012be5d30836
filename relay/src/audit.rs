//! What a save on the operator's screen changed in a site's settings, field by field, as its
//! audit trail keeps it: secrets (`pkey`, `webhook_token`) masked to their first two characters,
//! lists and conditions written out. Pure; stored as JSON text by [`crate::saved`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Site;

/// One field that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The settings key (`tagging_hash`, `traffic`, …).
    pub field: String,
    /// Its value before, as shown (`None`: the site did not exist).
    pub from: Option<String>,
    /// Its value after, as shown.
    pub to: String,
}

/// The keys of a site in the order the screen's form shows them.
const ORDER: [&str; 18] = [
    "id",
    "enabled",
    "pkey",
    "tagging_hash",
    "region",
    "metrics",
    "tags",
    "traffic",
    "attribution",
    "dedup",
    "rtbhouse_sources",
    "call_value",
    "request_value",
    "allowed_origins",
    "webhook_ip_allow",
    "attr_key",
    "webhook_token",
    // A key added to `Site` later still shows up (after these), from the JSON.
    "",
];

/// Keys whose values are never shown.
const SECRETS: [&str; 2] = ["pkey", "webhook_token"];

/// A secret as the audit trail shows it: `(empty)`, or its first two characters and `***`.
pub fn mask(secret: &str) -> String {
    if secret.is_empty() {
        "(empty)".into()
    } else {
        format!("{}***", secret.chars().take(2).collect::<String>())
    }
}

fn shown(field: &str, value: &Value) -> String {
    match value {
        Value::String(s) if SECRETS.contains(&field) => mask(s),
        Value::String(s) => s.clone(),
        Value::Array(items) if field == "traffic" => {
            let conditions: Vec<String> = items
                .iter()
                .map(|c| {
                    let part = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                    format!("{} {} \"{}\"", part("field"), part("op"), part("value"))
                })
                .collect();
            if conditions.is_empty() {
                "(none)".into()
            } else {
                conditions.join("; ")
            }
        }
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) if field == "tags" => {
            let names = shown("names", map.get("names").unwrap_or(&Value::Null));
            let how = map.get("match").and_then(Value::as_str).unwrap_or_default();
            format!("[{names}] match {how}")
        }
        other => other.to_string(),
    }
}

fn fields(site: &Site) -> serde_json::Map<String, Value> {
    match serde_json::to_value(site) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The fields that differ between `before` (`None`: a new site, every field is listed) and
/// `after`, in the form's order.
pub fn changes(before: Option<&Site>, after: &Site) -> Vec<Change> {
    let old = before.map(fields);
    let new = fields(after);
    let mut keys: Vec<&String> = new.keys().collect();
    let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
    keys.sort_by_key(|k| (rank(k), k.as_str()));
    let mut out = Vec::new();
    for key in keys {
        let value = &new[key.as_str()];
        let was = old
            .as_ref()
            .map(|o| o.get(key.as_str()).unwrap_or(&Value::Null));
        if was == Some(value) {
            continue;
        }
        let from = was.map(|w| shown(key, w));
        let mut to = shown(key, value);
        if SECRETS.contains(&key.as_str()) && from.as_deref() == Some(to.as_str()) {
            to.push_str(" (changed)");
        }
        out.push(Change {
            field: key.clone(),
            from,
            to,
        });
    }
    out
}

/// The changes as stored.
pub fn encode(changes: &[Change]) -> String {
    serde_json::to_string(changes).unwrap_or_else(|_| "[]".into())
}

/// The changes as stored, read back; text that does not parse reads as no change listed.
pub fn decode(text: &str) -> Vec<Change> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TrafficCondition, TrafficField, TrafficOp};

    #[test]
    fn only_what_changed_is_listed_secrets_masked() {
        let before = crate::config::test_site("");
        let mut after = before.clone();
        after.pkey = "rtb-newer".into();
        after.enabled = false;
        after.traffic = vec![TrafficCondition {
            field: TrafficField::UtmSource,
            op: TrafficOp::Equals,
            value: "yandex".into(),
        }];
        let changes = changes(Some(&before), &after);
        let rows: Vec<(&str, Option<&str>, &str)> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.from.as_deref(), c.to.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("enabled", Some("true"), "false"),
                ("pkey", Some("rt***"), "rt*** (changed)"),
                ("traffic", Some("(none)"), "utm_source equals \"yandex\""),
            ]
        );
        let text = encode(&changes);
        assert!(
            !text.contains("rtb-newer") && !text.contains("rtb-test"),
            "{text}"
        );
        assert_eq!(decode(&text), changes);
        assert!(decode("not json").is_empty());
    }

    #[test]
    fn a_new_site_lists_every_field_in_the_forms_order() {
        let site = crate::config::test_site("tags = { names = [\"vip\"], match = \"all\" }");
        let changes = changes(None, &site);
        assert_eq!(changes[0].field, "id");
        assert_eq!(changes[2].field, "pkey");
        assert!(changes.iter().all(|c| c.from.is_none()));
        let token = changes.iter().find(|c| c.field == "webhook_token").unwrap();
        assert_eq!(token.to, "to***");
        let tags = changes.iter().find(|c| c.field == "tags").unwrap();
        assert_eq!(tags.to, "[vip] match all");
        assert_eq!(changes.len(), fields(&site).len());
    }
}
