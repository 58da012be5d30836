//! The site form, in the order of Calltouch's own RTB House page: PKEY (write-only),
//! Advertiser tagging hash, Region, the metrics, Tags and Tag match, the traffic conditions,
//! Attribution model, `Integration enabled`, then the keys added since (dedup, values, allowed
//! origins, webhook IP allow-list, attrs key). [`SiteForm`] holds what was typed (so a refused
//! form comes back as typed, a newly typed PKEY included, never the stored one), reads a posted form, becomes a [`Site`] (or the problems reading
//! it), and writes itself as HTML with each problem beside its field. Conditions work without
//! script: `Add condition` and `Remove condition` post the form back; a row without a field is
//! ignored, and there is always one empty row to fill.

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::i18n::T;
use crate::config::{Message, Metric, Problem, Site, TagFilter, TrafficCondition};

/// One traffic condition row as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// `utm_source`, …; empty: the row is ignored.
    pub field: String,
    /// `equals`, …
    pub op: String,
    /// The value compared with.
    pub value: String,
}

impl Row {
    fn blank(&self) -> bool {
        self.field.is_empty() && self.value.trim().is_empty()
    }
}

/// The site form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteForm {
    /// Calltouch site id (typed only when adding a site).
    pub id: String,
    /// A new PKEY; empty keeps the current one.
    pub pkey: String,
    /// `tagging_hash`.
    pub tagging_hash: String,
    /// `region`.
    pub region: String,
    /// The metrics ticked.
    pub metrics: Vec<String>,
    /// Tag names, comma-separated.
    pub tags: String,
    /// `any` / `all`.
    pub tag_match: String,
    /// The condition rows, in order.
    pub conditions: Vec<Row>,
    /// `attribution`.
    pub attribution: String,
    /// The switch.
    pub enabled: bool,
    /// `dedup`.
    pub dedup: String,
    /// `rtbhouse_sources`, comma-separated.
    pub rtbhouse_sources: String,
    /// `call_value`.
    pub call_value: String,
    /// `request_value`.
    pub request_value: String,
    /// `allowed_origins`, one a line.
    pub allowed_origins: String,
    /// `webhook_ip_allow`, one a line.
    pub webhook_ip_allow: String,
    /// `attr_key`.
    pub attr_key: String,
}

/// The config name of an enum value (`utm_source`, `last_non_direct`).
pub fn name<V: Serialize>(value: &V) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The enum value of a config name.
pub fn parse<V: DeserializeOwned>(text: &str) -> Option<V> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
}

/// The metrics in the form's order, with their labels.
pub const METRICS: [(Metric, T); 9] = [
    (Metric::AllCalls, T::AllCalls),
    (Metric::UniqueCalls, T::UniqueCalls),
    (Metric::TargetCalls, T::TargetCalls),
    (Metric::UniqueTargetCalls, T::UniqueTargetCalls),
    (Metric::FailedCalls, T::FailedCalls),
    (Metric::Requests, T::AllRequests),
    (Metric::UniqueRequests, T::UniqueRequests),
    (Metric::TargetRequests, T::TargetRequests),
    (Metric::UniqueTargetRequests, T::UniqueTargetRequests),
];

/// The traffic fields a condition can look at.
pub const FIELDS: [&str; 7] = [
    "source",
    "medium",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
];

/// The operators, with their labels.
pub const OPS: [(&str, T); 4] = [
    ("equals", T::OpEquals),
    ("not_equals", T::OpNotEquals),
    ("contains", T::OpContains),
    ("not_contains", T::OpNotContains),
];

fn lines(text: &str, split: char) -> Vec<String> {
    text.split(split)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl SiteForm {
    /// The form showing `site` (the PKEY is never shown).
    pub fn from_site(site: &Site) -> SiteForm {
        SiteForm {
            id: site.id.clone(),
            pkey: String::new(),
            tagging_hash: site.tagging_hash.clone(),
            region: name(&site.region),
            metrics: site.metrics.iter().map(name).collect(),
            tags: site.tags.names.join(", "),
            tag_match: name(&site.tags.r#match),
            conditions: site
                .traffic
                .iter()
                .map(|c| Row {
                    field: name(&c.field),
                    op: name(&c.op),
                    value: c.value.clone(),
                })
                .collect(),
            attribution: name(&site.attribution),
            enabled: site.enabled,
            dedup: name(&site.dedup),
            rtbhouse_sources: site.rtbhouse_sources.join(", "),
            call_value: site.call_value.clone(),
            request_value: site.request_value.clone(),
            allowed_origins: site.allowed_origins.join("\n"),
            webhook_ip_allow: site
                .webhook_ip_allow
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            attr_key: site.attr_key.clone(),
        }
    }

    /// The form as posted.
    pub fn from_pairs(form: &[(String, String)]) -> SiteForm {
        let one = |name: &str| super::field(form, name).to_string();
        let all = |name: &str| -> Vec<String> {
            form.iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let (fields, ops, values) = (all("cond_field"), all("cond_op"), all("cond_value"));
        let conditions = (0..fields.len().max(ops.len()).max(values.len()))
            .map(|i| Row {
                field: fields.get(i).cloned().unwrap_or_default(),
                op: ops.get(i).cloned().unwrap_or_default(),
                value: values.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        SiteForm {
            id: one("id").trim().to_string(),
            pkey: one("pkey").trim().to_string(),
            tagging_hash: one("tagging_hash").trim().to_string(),
            region: one("region"),
            metrics: all("metric"),
            tags: one("tags"),
            tag_match: one("tag_match"),
            conditions,
            attribution: one("attribution"),
            enabled: !one("enabled").is_empty(),
            dedup: one("dedup"),
            rtbhouse_sources: one("rtbhouse_sources"),
            call_value: one("call_value").trim().to_string(),
            request_value: one("request_value").trim().to_string(),
            allowed_origins: one("allowed_origins"),
            webhook_ip_allow: one("webhook_ip_allow"),
            attr_key: one("attr_key").trim().to_string(),
        }
    }

    /// The site this form makes from `base` (which keeps its webhook token, and its PKEY when
    /// none was typed), and what could not be read, each with its key path (left out of the
    /// site, so the site can still be checked for the rest).
    pub fn to_site(&self, base: &Site) -> (Site, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut choice = |path: &str| {
            problems.push(Problem {
                path: path.into(),
                message: Message::Choice,
            })
        };
        let mut site = base.clone();
        if !self.pkey.is_empty() {
            site.pkey = self.pkey.clone();
        }
        site.tagging_hash = self.tagging_hash.clone();
        match parse(&self.region) {
            Some(region) => site.region = region,
            None => choice("region"),
        }
        site.metrics = Vec::new();
        for metric in &self.metrics {
            match parse(metric) {
                Some(m) => site.metrics.push(m),
                None => choice("metrics"),
            }
        }
        match parse(&self.tag_match) {
            Some(how) => {
                site.tags = TagFilter {
                    names: lines(&self.tags, ','),
                    r#match: how,
                }
            }
            None => choice("tag_match"),
        }
        site.traffic = Vec::new();
        for (i, row) in self.conditions.iter().enumerate() {
            if row.blank() {
                continue;
            }
            match (parse(&row.field), parse(&row.op)) {
                (Some(field), Some(op)) => site.traffic.push(TrafficCondition {
                    field,
                    op,
                    value: row.value.trim().to_string(),
                }),
                _ => choice(&format!("traffic[{i}]")),
            }
        }
        match parse(&self.attribution) {
            Some(model) => site.attribution = model,
            None => choice("attribution"),
        }
        match parse(&self.dedup) {
            Some(dedup) => site.dedup = dedup,
            None => choice("dedup"),
        }
        site.enabled = self.enabled;
        site.rtbhouse_sources = lines(&self.rtbhouse_sources, ',');
        site.call_value = self.call_value.clone();
        site.request_value = self.request_value.clone();
        site.allowed_origins = lines(&self.allowed_origins, '\n');
        site.attr_key = self.attr_key.clone();
        site.webhook_ip_allow = Vec::new();
        for entry in lines(&self.webhook_ip_allow, '\n') {
            match entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
            {
                Ok(net) => site.webhook_ip_allow.push(net),
                Err(_) => problems.push(Problem {
                    path: "webhook_ip_allow".into(),
                    message: Message::Network,
                }),
            }
        }
        (site, problems)
    }

    /// The rows to show: as typed, and one empty row at the end when the last is not.
    fn rows(&self) -> Vec<Row> {
        let mut rows = self.conditions.clone();
        if rows.last().is_none_or(|r| !r.blank()) {
            rows.push(Row::default());
        }
        rows
    }
}

/// Which form field a problem's key path belongs to: `traffic[2]` for a condition row,
/// else the key before any index or sub-key (`allowed_origins[1]` → `allowed_origins`,
/// `tags.names[0]` → `tags`).
pub fn field_of(path: &str) -> &str {
    if path.starts_with("traffic[") {
        return path
            .split(']')
            .next()
            .map_or(path, |p| &path[..p.len() + 1]);
    }
    let end = path.find(['[', '.']).unwrap_or(path.len());
    &path[..end]
}

mod render;

pub use render::{render, Focus, View};

#[cfg(test)]
mod tests;
