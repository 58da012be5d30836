//! The test lead (`/admin/sites/{site}/test`): a call or web-form request typed in (or taken
//! from a recent real one: its stored facts, the RTB House id the pipeline would pick and the
//! source its attribution model credits), then `Check`: every rule in order with pass or fail,
//! computed by the pipeline's own [`crate::decide::check`], and the exact postback URL that
//! would go out, PKEY masked. Nothing is stored and nothing is sent.

use std::fmt::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::html::{self, esc, options, Input};
use super::i18n::{Lang, T};
use super::sites::{signed_page, tabs, Tab};
use super::{field, known_site, operator, posted_form, respond, Operator, ScreenError, Visit};
use crate::config::Site;
use crate::decide::{self, Decision, Rule};
use crate::http::AppState;
use crate::postback::{mask_pkey, Postback};
use crate::webhook::parse_lead;

mod typed;

use typed::{from_lead, TestForm, TRAFFIC};

/// A rule as the page names it.
fn rule_name(lang: Lang, site: &Site, rule: Rule) -> String {
    let text = match rule {
        Rule::Switch => T::RuleSwitch,
        Rule::Credentials => T::RuleCredentials,
        Rule::RtbId => T::RuleRtbId,
        Rule::CallEnd => T::RuleCallEnd,
        Rule::Metrics => T::RuleMetrics,
        Rule::Tags => T::RuleTags,
        Rule::Traffic(i) => {
            let c = &site.traffic[i];
            let what = format!(
                "{} {} \"{}\"",
                super::form::name(&c.field),
                super::form::name(&c.op),
                c.value
            );
            return lang.fill(T::RuleTraffic, &what);
        }
    };
    lang.t(text).to_string()
}

/// The verdict on the typed lead, as HTML: each rule, the decision, the postback URL.
fn verdict(state: &AppState, lang: Lang, site: &Site, form: &TestForm) -> String {
    let lead = match parse_lead(&form.webhook()) {
        Ok(lead) => lead,
        Err(e) => return html::notice("error", &lang.fill(T::ErrBadRequest, &e.to_string())),
    };
    let aid = Some(form.get("aid").trim()).filter(|a| !a.is_empty());
    let mut out = format!(
        "<section class=\"result\" aria-labelledby=\"result\"><h2 id=\"result\">{}</h2>\
         <table class=\"rules\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(lang.t(T::Result)),
        esc(lang.t(T::Rule)),
        esc(lang.t(T::Outcome))
    );
    for (rule, failed) in decide::checks(site, &lead, aid, &[]) {
        let (class, outcome) = match &failed {
            None => ("pass", lang.t(T::Pass).to_string()),
            Some(d) => (
                "fail",
                format!(
                    "{} (<code>{}</code>)",
                    esc(lang.t(T::Fail)),
                    esc(&d.reason())
                ),
            ),
        };
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td>{}</td><td data-outcome=\"{class}\">{outcome}</td></tr>",
            esc(&rule_name(lang, site, rule))
        );
    }
    out.push_str("</tbody></table>");
    let decision = decide::decide(site, &lead, aid, &[]);
    let _ = write!(
        out,
        "<p>{}: <code id=\"decision\">{}</code> — {}</p>",
        esc(lang.t(T::Decision)),
        esc(&decision.reason()),
        esc(&super::leads::reason_text(lang, &decision.reason()))
    );
    if let Decision::Send { aid, credit } = &decision {
        let config = state.settings.current();
        let url = Postback::for_lead(&lead, aid, state.now(), credit.cd)
            .url(&config.rtbhouse.endpoint, site);
        let _ = write!(
            out,
            "<p>{}</p><pre class=\"url\"><code id=\"postback-url\">{}</code></pre>",
            esc(lang.t(T::WouldSend)),
            esc(&mask_pkey(&url))
        );
    } else {
        out.push_str(&html::notice("note", lang.t(T::WouldNotSend)));
    }
    out.push_str(&html::notice("note", lang.t(T::NothingStored)));
    out.push_str("</section>");
    out
}

fn form_html(lang: Lang, site: &str, csrf: &str, f: &TestForm) -> String {
    let t = |text: T| lang.t(text);
    let mut out = format!(
        "<form method=\"post\" action=\"/admin/sites/{}/test\" class=\"test-lead\">{}",
        esc(site),
        html::csrf_field(csrf)
    );
    let select = |name: &str, label: T, choices: &[(&str, &str)]| {
        format!(
            "<div class=\"field\"><label for=\"{name}\">{}</label><select id=\"{name}\" name=\"{name}\">{}</select></div>",
            esc(t(label)),
            options(choices, f.get(name))
        )
    };
    let text = |name: &'static str, label: &'static str, value: &'static str| Input {
        name,
        label,
        value,
        kind: "text",
        hint: None,
        error: None,
        extra: "autocomplete=\"off\"",
    };
    out.push_str(&select(
        "leadtype",
        T::LeadType,
        &[("call", t(T::KindCall)), ("request", t(T::KindRequest))],
    ));
    let id = f.get("id").to_string();
    out.push_str(
        &Input {
            value: &id,
            ..text("id", t(T::LeadNumber), "")
        }
        .html(),
    );
    out.push_str(&select(
        "callphase",
        T::CallPhase,
        &[
            ("calldisconnected", t(T::CallEnded)),
            ("callconnected", t(T::CallStarted)),
        ],
    ));
    out.push_str(&select(
        "status",
        T::CallStatus,
        &[
            ("successful", t(T::Successful)),
            ("unsuccessful", t(T::Unsuccessful)),
        ],
    ));
    for (name, label) in [
        ("unique", T::Unique),
        ("target", T::Target),
        ("unique_target", T::UniqueTarget),
    ] {
        let checked = if f.get(name).is_empty() {
            ""
        } else {
            " checked"
        };
        let _ = write!(
            out,
            "<div class=\"check\"><input type=\"checkbox\" id=\"{name}\" name=\"{name}\" value=\"on\"{checked}>\
             <label for=\"{name}\">{}</label></div>",
            esc(t(label))
        );
    }
    let tags = f.get("tags").to_string();
    out.push_str(
        &Input {
            value: &tags,
            ..text("tags", t(T::LeadTags), "")
        }
        .html(),
    );
    let _ = write!(
        out,
        "<fieldset><legend>{}</legend>",
        esc(t(T::SourceFields))
    );
    for name in TRAFFIC {
        let value = f.get(name).to_string();
        out.push_str(
            &Input {
                value: &value,
                ..text(name, name, "")
            }
            .html(),
        );
    }
    out.push_str("</fieldset>");
    let aid = f.get("aid").to_string();
    out.push_str(
        &Input {
            value: &aid,
            ..text("aid", t(T::RtbId), "")
        }
        .html(),
    );
    let at = f.get("timestamp").to_string();
    let mut time = Input {
        value: &at,
        ..text("timestamp", t(T::EventTime), "")
    };
    time.extra = "inputmode=\"numeric\" autocomplete=\"off\"";
    out.push_str(&time.html());
    let _ = write!(
        out,
        "<div class=\"actions\"><button type=\"submit\">{}</button></div></form>",
        esc(t(T::Check))
    );
    out
}

async fn page_with(
    state: &AppState,
    visit: &Visit,
    op: &Operator,
    site: &Site,
    form: &TestForm,
    result: Option<String>,
) -> Result<Response, ScreenError> {
    let lang = visit.lang;
    let mut body = tabs(lang, &site.id, Tab::Test);
    let _ = write!(body, "<h1>{}</h1>", esc(lang.t(T::TestLead)));
    body.push_str(&html::notice("note", lang.t(T::TestLeadIntro)));
    if let Some(result) = result {
        body.push_str(&result);
    }
    let recent = state
        .store
        .lead_log(site.id.clone(), None, None, 10)
        .await?;
    if !recent.is_empty() {
        let _ = write!(
            body,
            "<p>{}</p><ul class=\"recent\">",
            esc(lang.t(T::PickRecent))
        );
        for row in recent {
            let id = esc(&row.lead_id);
            let _ = write!(
                body,
                "<li><a href=\"/admin/sites/{}/test?from={id}\">{id}</a> <code>{}</code></li>",
                esc(&site.id),
                esc(row.reason.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</ul>");
    }
    body.push_str(&form_html(lang, &site.id, op.csrf(), form));
    Ok(signed_page(visit, op, lang.t(T::TestLead), &body))
}

/// `GET /admin/sites/{site}/test[?from=lead_id]`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path(site): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let op = operator(&state, &visit).await?;
        let config = state.settings.current();
        let site = known_site(&config, &site)?;
        let form = match field(&query, "from") {
            "" => TestForm::example(),
            lead => from_lead(&state, site, lead).await?,
        };
        page_with(&state, &visit, &op, site, &form, None).await
    }
    .await;
    respond(&visit, result)
}

/// `POST /admin/sites/{site}/test`: `Check`.
pub async fn check(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path(site): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (op, posted) = posted_form(&state, &visit, &headers, body).await?;
        let config = state.settings.current();
        let site = known_site(&config, &site)?;
        let form = TestForm(posted.into_iter().filter(|(k, _)| k != "csrf").collect());
        let result = verdict(&state, visit.lang, site, &form);
        page_with(&state, &visit, &op, site, &form, Some(result)).await
    }
    .await;
    respond(&visit, result)
}
