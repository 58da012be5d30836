//! The site form, in the order of Calltouch's own RTB House page: PKEY (write-only),
//! Advertiser tagging hash, Region, the metrics, Tags and Tag match, the traffic conditions,
//! Attribution model, `Integration enabled`, then the keys added since (dedup, values, allowed
//! origins, webhook IP allow-list, attrs key). [`SiteForm`] holds what was typed (so a refused
//! form comes back as typed, a newly typed PKEY included, never the stored one), reads a posted form, becomes a [`Site`] (or the problems reading
//! it), and writes itself as HTML with each problem beside its field. Conditions work without
//! script: `Add condition` and `Remove condition` post the form back; a row without a field is
//! ignored, and there is always one empty row to fill.

use std::fmt::Write;

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::html::{self, described, esc, options, Input};
use super::i18n::{Lang, T};
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

/// Where to put the keyboard focus when the form comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The last condition row's field (after `Add condition`).
    LastRow,
    /// `Add condition` (after `Remove condition`).
    AddButton,
}

/// What the form's HTML needs besides the form.
pub struct View<'a> {
    /// Language.
    pub lang: Lang,
    /// Where it posts.
    pub action: &'a str,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// Adding a site: the `Site id` field comes first.
    pub new_site: bool,
    /// The PKEY in effect now (shown masked), if any.
    pub pkey_now: Option<&'a str>,
    /// Problems, key paths relative to the site.
    pub problems: &'a [Problem],
    /// Focus to set.
    pub focus: Option<Focus>,
}

impl View<'_> {
    /// The problems of `field`, in the page's language, joined.
    fn error(&self, field: &str) -> Option<String> {
        let texts: Vec<String> = self
            .problems
            .iter()
            .filter(|p| field_of(&p.path) == field)
            .map(|p| match self.lang {
                Lang::Ru => p.message.ru().into_owned(),
                Lang::En => p.message.en().into_owned(),
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join("; "))
    }

    fn input<'a>(&self, name: &'a str, label: T, value: &'a str, hint: Option<T>) -> Input<'a> {
        Input {
            name,
            label: self.lang.t(label),
            value,
            kind: "text",
            hint: hint.map(|h| self.lang.t(h)),
            error: self.error(name),
            extra: "",
        }
    }

    fn select(&self, name: &str, label: T, choices: &[(&str, &str)], value: &str) -> String {
        let (described, notes) = described(name, None, self.error(name).as_deref());
        format!(
            "<div class=\"field\"><label for=\"{name}\">{label}</label>\
             <select id=\"{name}\" name=\"{name}\"{described}>{options}</select>{notes}</div>",
            label = esc(self.lang.t(label)),
            options = options(choices, value),
        )
    }

    fn textarea(&self, name: &str, label: T, value: &str, hint: T) -> String {
        let (described, notes) =
            described(name, Some(self.lang.t(hint)), self.error(name).as_deref());
        format!(
            "<div class=\"field\"><label for=\"{name}\">{label}</label>\
             <textarea id=\"{name}\" name=\"{name}\" rows=\"3\"{described}>{value}</textarea>{notes}</div>",
            label = esc(self.lang.t(label)),
            value = esc(value),
        )
    }
}

/// The form's HTML.
pub fn render(form: &SiteForm, view: &View<'_>) -> String {
    let lang = view.lang;
    let t = |text: T| lang.t(text);
    let mut out = String::new();
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{}\" class=\"site-form\">{}\
         <button type=\"submit\" name=\"action\" value=\"save\" class=\"default-submit\" \
         tabindex=\"-1\" aria-hidden=\"true\"></button>",
        esc(view.action),
        html::csrf_field(view.csrf)
    );
    let general: Vec<&Problem> = view
        .problems
        .iter()
        .filter(|p| !form_fields().contains(&field_of(&p.path)) && !p.path.starts_with("traffic["))
        .collect();
    if !view.problems.is_empty() {
        out.push_str(&html::notice("error", t(T::NotSaved)));
    }
    for p in general {
        let text = match lang {
            Lang::Ru => p.message.ru(),
            Lang::En => p.message.en(),
        };
        out.push_str(&html::notice("error", &format!("{}: {text}", p.path)));
    }
    if view.new_site {
        let mut id = view.input("id", T::SiteId, &form.id, Some(T::SiteIdHint));
        id.extra = "required inputmode=\"numeric\" autocomplete=\"off\"";
        out.push_str(&id.html());
    }
    let pkey_hint = match view.pkey_now {
        Some(now) if !now.is_empty() => format!(
            "{} {}",
            lang.fill(T::PkeySet, &crate::audit::mask(now)),
            t(T::PkeyHint)
        ),
        _ => format!("{} {}", t(T::PkeyUnset), t(T::PkeyHint)),
    };
    // Only a PKEY typed into this very form comes back (masked by the browser), so a post-back
    // (a condition row added, a refused save) loses nothing; the stored one never does.
    let mut pkey = view.input("pkey", T::Pkey, &form.pkey, None);
    pkey.kind = "password";
    pkey.hint = Some(&pkey_hint);
    pkey.extra = "autocomplete=\"new-password\"";
    out.push_str(&pkey.html());
    let mut hash = view.input(
        "tagging_hash",
        T::TaggingHash,
        &form.tagging_hash,
        Some(T::TaggingHashHint),
    );
    hash.extra = "autocomplete=\"off\" spellcheck=\"false\"";
    out.push_str(&hash.html());
    let regions = [
        ("omni", "omni (EMEA)"),
        ("us", "us"),
        ("asia", "asia"),
        ("ams", "ams"),
    ];
    out.push_str(&view.select("region", T::Region, &regions, &form.region));

    let (metrics_described, metrics_notes) = described(
        "metrics",
        Some(t(T::MetricsNote)),
        view.error("metrics").as_deref(),
    );
    let _ = write!(
        out,
        "<fieldset class=\"checks\"{metrics_described}><legend>{}</legend>",
        esc(t(T::Metrics))
    );
    for (metric, label) in METRICS {
        let value = name(&metric);
        let checked = if form.metrics.contains(&value) {
            " checked"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<div class=\"check\"><input type=\"checkbox\" id=\"metric-{value}\" name=\"metric\" \
             value=\"{value}\"{checked}><label for=\"metric-{value}\">{}</label></div>",
            esc(t(label))
        );
    }
    let _ = write!(out, "{metrics_notes}</fieldset>");

    out.push_str(
        &view
            .input("tags", T::Tags, &form.tags, Some(T::TagsHint))
            .html(),
    );
    let matches = [("any", t(T::TagAny)), ("all", t(T::TagAll))];
    out.push_str(&view.select("tag_match", T::TagMatch, &matches, &form.tag_match));
    out.push_str(&html::notice("note", t(T::TagsNote)));

    let _ = write!(
        out,
        "<fieldset class=\"conditions\"><legend>{}</legend><p class=\"hint\">{}</p>",
        esc(t(T::TrafficConditions)),
        esc(t(T::TrafficNote))
    );
    let rows = form.rows();
    let mut fields: Vec<(&str, &str)> = vec![("", t(T::NoField))];
    fields.extend(FIELDS.iter().map(|f| (*f, *f)));
    let ops: Vec<(&str, &str)> = OPS.iter().map(|(v, l)| (*v, t(*l))).collect();
    for (i, row) in rows.iter().enumerate() {
        let focus = if view.focus == Some(Focus::LastRow) && i + 1 == rows.len() {
            " autofocus"
        } else {
            ""
        };
        let error = view.error(&format!("traffic[{i}]"));
        let (row_described, row_notes) = described(&format!("cond-{i}"), None, error.as_deref());
        let _ = write!(
            out,
            "<div class=\"condition\" id=\"condition-{i}\">\
             <div class=\"field\"><label for=\"cond-field-{i}\">{field}</label>\
             <select id=\"cond-field-{i}\" name=\"cond_field\"{row_described}{focus}>{field_options}</select></div>\
             <div class=\"field\"><label for=\"cond-op-{i}\">{operator}</label>\
             <select id=\"cond-op-{i}\" name=\"cond_op\">{op_options}</select></div>\
             <div class=\"field\"><label for=\"cond-value-{i}\">{value}</label>\
             <input type=\"text\" id=\"cond-value-{i}\" name=\"cond_value\" value=\"{typed}\"></div>\
             <button type=\"submit\" name=\"action\" value=\"remove:{i}\" class=\"secondary\">{remove}</button>\
             {row_notes}</div>",
            field = esc(t(T::Field)),
            field_options = options(&fields, &row.field),
            operator = esc(t(T::Operator)),
            op_options = options(&ops, if row.op.is_empty() { "equals" } else { &row.op }),
            value = esc(t(T::Value)),
            typed = esc(&row.value),
            remove = esc(t(T::RemoveCondition)),
        );
    }
    let add_focus = if view.focus == Some(Focus::AddButton) {
        " autofocus"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<button type=\"submit\" name=\"action\" value=\"add_condition\" class=\"secondary\"{add_focus}>{}</button></fieldset>",
        esc(t(T::AddCondition))
    );

    let models = [
        ("last_non_direct", t(T::LastNonDirect)),
        ("last_click", t(T::LastClick)),
        ("first_click", t(T::FirstClick)),
    ];
    out.push_str(&view.select(
        "attribution",
        T::AttributionModel,
        &models,
        &form.attribution,
    ));
    let checked = if form.enabled { " checked" } else { "" };
    let _ = write!(
        out,
        "<div class=\"check switch\"><input type=\"checkbox\" id=\"enabled\" name=\"enabled\" \
         value=\"on\"{checked}><label for=\"enabled\">{}</label></div>",
        esc(t(T::IntegrationEnabled))
    );

    let _ = write!(out, "<h2>{}</h2>", esc(t(T::MoreSettings)));
    let dedups = [
        ("default", t(T::DedupDefault)),
        ("attribution", t(T::DedupAttribution)),
    ];
    out.push_str(&view.select("dedup", T::Dedup, &dedups, &form.dedup));
    out.push_str(
        &view
            .input(
                "rtbhouse_sources",
                T::RtbHouseSources,
                &form.rtbhouse_sources,
                Some(T::CommaSeparated),
            )
            .html(),
    );
    out.push_str(
        &view
            .input(
                "call_value",
                T::CallValue,
                &form.call_value,
                Some(T::ValueHint),
            )
            .html(),
    );
    out.push_str(
        &view
            .input(
                "request_value",
                T::RequestValue,
                &form.request_value,
                Some(T::ValueHint),
            )
            .html(),
    );
    out.push_str(&view.textarea(
        "allowed_origins",
        T::AllowedOrigins,
        &form.allowed_origins,
        T::AllowedOriginsHint,
    ));
    out.push_str(&view.textarea(
        "webhook_ip_allow",
        T::WebhookIpAllow,
        &form.webhook_ip_allow,
        T::WebhookIpAllowHint,
    ));
    out.push_str(
        &view
            .input("attr_key", T::AttrKey, &form.attr_key, None)
            .html(),
    );
    let _ = write!(
        out,
        "<div class=\"actions\"><button type=\"submit\" name=\"action\" value=\"save\">{}</button></div></form>",
        esc(t(T::Save))
    );
    out
}

/// The fields the form shows (a problem of any other key is shown above the form).
fn form_fields() -> [&'static str; 16] {
    [
        "id",
        "pkey",
        "tagging_hash",
        "region",
        "metrics",
        "tags",
        "tag_match",
        "attribution",
        "dedup",
        "rtbhouse_sources",
        "call_value",
        "request_value",
        "allowed_origins",
        "webhook_ip_allow",
        "attr_key",
        "enabled",
    ]
}

#[cfg(test)]
mod tests;
