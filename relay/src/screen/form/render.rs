//! The site form as HTML: each control with its `<label for>`, hint and problem (tied with
//! `aria-describedby`), in the order of Calltouch's page; problems of keys the form does not
//! show are listed above it. Condition rows carry `Remove condition`, and the fieldset `Add
//! condition` (admin.js handles both in place; without it they post the form back).

use std::fmt::Write;

use super::{field_of, name, SiteForm, FIELDS, METRICS, OPS};
use crate::config::Problem;
use crate::screen::html::{self, described, esc, options, Input};
use crate::screen::i18n::{Lang, T};

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
