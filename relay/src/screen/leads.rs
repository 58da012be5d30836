//! The lead log (`/admin/sites/{site}/leads`): newest change first, 50 a page by keyset,
//! filtered by `Status`, each row with its decision, status, attempts and last HTTP status; a
//! dead lead has `Retry`, which is `aidlink-relay replay --site S --lead L` (refused past RTB
//! House's 24 hours, saying why). Each lead opens its trail (`…/leads/{lead_id}`): the
//! decision with the rule that decided it, the source judged on, where its RTB House id came
//! from, every webhook event and every delivery attempt (URLs with the PKEY masked).

use std::fmt::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::html::{self, esc, options};
use super::i18n::{Lang, T};
use super::sites::{signed_page, tabs, Tab};
use super::{field, known_site, operator, posted_form, respond, ScreenError, Visit};
use crate::http::AppState;
use crate::outbox;
use crate::store::screen::LeadCursor;
use crate::store::LeadStatus;

/// Rows per page of the log.
const PAGE: u32 = 50;

/// A status in the page's language.
pub fn status_text(lang: Lang, status: LeadStatus) -> &'static str {
    lang.t(match status {
        LeadStatus::New => T::StatusNew,
        LeadStatus::Waiting => T::StatusWaiting,
        LeadStatus::Filtered => T::StatusFiltered,
        LeadStatus::Retrying => T::StatusRetrying,
        LeadStatus::Sent => T::StatusSent,
        LeadStatus::Dead => T::StatusDead,
    })
}

/// What a recorded reason means, naming the rule that decided it.
pub fn reason_text(lang: Lang, reason: &str) -> String {
    if let Some(key) = reason.strip_prefix("misconfigured:") {
        return lang.fill(T::ReasonMisconfigured, key);
    }
    if let Some(field) = reason.strip_prefix("filtered:traffic:") {
        return lang.fill(T::ReasonTraffic, field);
    }
    lang.t(match reason {
        "queued" => T::ReasonQueued,
        "switched_off" => T::ReasonSwitchedOff,
        "no_rtb_id" => T::ReasonNoRtbId,
        "waiting:call_end" => T::ReasonWaiting,
        "filtered:metric" => T::ReasonMetric,
        "filtered:tags" => T::ReasonTags,
        "already_queued" => T::ReasonAlreadyQueued,
        _ => return reason.to_string(),
    })
    .to_string()
}

/// A lead id as the log links it (`call-…`, `request-…`: letters, digits, `-_.`).
fn plain(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `GET /admin/sites/{site}/leads[?status=…][&after_ms=…&after_id=…]`.
pub async fn log(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path(site): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let op = operator(&state, &visit).await?;
        known_site(&state.settings.current(), &site)?;
        let lang = visit.lang;
        let wanted = field(&query, "status");
        let status = match wanted {
            "" => None,
            name => Some(
                LeadStatus::parse(name).ok_or_else(|| ScreenError::BadRequest("status".into()))?,
            ),
        };
        let after = match (field(&query, "after_ms").parse::<i64>(), field(&query, "after_id")) {
            (Ok(updated_ms), lead_id) if plain(lead_id) => Some(LeadCursor {
                updated_ms,
                lead_id: lead_id.to_string(),
            }),
            _ => None,
        };
        let first_page = after.is_none();
        let mut rows = state
            .store
            .lead_log(site.clone(), status, after, PAGE + 1)
            .await?;
        let more = rows.len() > PAGE as usize;
        rows.truncate(PAGE as usize);

        let mut body = tabs(lang, &site, Tab::Leads);
        let _ = write!(body, "<h1>{}</h1>", esc(lang.t(T::LeadLog)));
        let lead = field(&query, "lead");
        let notice = match field(&query, "notice") {
            "requeued" => Some(("ok", T::Requeued)),
            "too_old" => Some(("error", T::RetryTooOld)),
            "not_dead" => Some(("error", T::RetryNotDead)),
            _ => None,
        };
        if let Some((kind, text)) = notice.filter(|_| plain(lead)) {
            body.push_str(&html::notice(kind, &lang.fill(text, lead)));
        }
        let mut choices: Vec<(&str, &str)> = vec![("", lang.t(T::AllStatuses))];
        for s in [
            LeadStatus::Sent,
            LeadStatus::Retrying,
            LeadStatus::Dead,
            LeadStatus::Filtered,
            LeadStatus::Waiting,
            LeadStatus::New,
        ] {
            choices.push((s.as_str(), status_text(lang, s)));
        }
        let _ = write!(
            body,
            "<form method=\"get\" class=\"filter\"><div class=\"field\"><label for=\"status\">{}</label>\
             <select id=\"status\" name=\"status\" data-autosubmit>{}</select></div>\
             <button type=\"submit\">{}</button></form>",
            esc(lang.t(T::Status)),
            options(&choices, wanted),
            esc(lang.t(T::Show)),
        );
        if rows.is_empty() {
            body.push_str(&html::notice("note", lang.t(T::NoLeads)));
        } else {
            let _ = write!(
                body,
                "<div class=\"scroll\"><table class=\"leads\"><thead><tr>{}</tr></thead><tbody>",
                [T::ColLead, T::Status, T::ColDecision, T::ColAttempts, T::ColLastHttp, T::ColChanged, T::ColAction]
                    .iter()
                    .map(|t| format!("<th scope=\"col\">{}</th>", esc(lang.t(*t))))
                    .collect::<String>()
            );
            for row in &rows {
                let id = esc(&row.lead_id);
                let retry = if row.status == LeadStatus::Dead {
                    retry_form(lang, &site, &row.lead_id, op.csrf(), "log")
                } else {
                    String::new()
                };
                let _ = write!(
                    body,
                    "<tr data-lead=\"{id}\"><td><a href=\"/admin/sites/{s}/leads/{id}\">{id}</a></td>\
                     <td data-status=\"{code}\">{status}</td><td><code>{reason}</code></td><td>{attempts}</td>\
                     <td>{http}</td><td>{changed}</td><td>{retry}</td></tr>",
                    s = esc(&site),
                    code = row.status.as_str(),
                    status = esc(status_text(lang, row.status)),
                    reason = esc(row.reason.as_deref().unwrap_or("")),
                    attempts = row.attempts,
                    http = row.last_http.map(|h| h.to_string()).unwrap_or_default(),
                    changed = esc(&html::time(row.updated_ms)),
                );
            }
            body.push_str("</tbody></table></div>");
        }
        let filter = if wanted.is_empty() {
            String::new()
        } else {
            format!("status={}&amp;", esc(wanted))
        };
        body.push_str("<nav class=\"pages\">");
        if !first_page {
            let _ = write!(
                body,
                "<a href=\"/admin/sites/{}/leads?{}\">{}</a>",
                esc(&site),
                filter.trim_end_matches("&amp;"),
                esc(lang.t(T::Newest))
            );
        }
        if let (true, Some(last)) = (more, rows.last()) {
            let _ = write!(
                body,
                "<a href=\"/admin/sites/{}/leads?{filter}after_ms={}&amp;after_id={}\" rel=\"next\">{}</a>",
                esc(&site),
                last.updated_ms,
                esc(&last.lead_id),
                esc(lang.t(T::Older))
            );
        }
        body.push_str("</nav>");
        Ok(signed_page(&visit, &op, lang.t(T::LeadLog), &body))
    }
    .await;
    respond(&visit, result)
}

/// The `Retry` button of a dead lead; `back` is where to return (`log` or `trail`).
fn retry_form(lang: Lang, site: &str, lead: &str, csrf: &str, back: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/admin/sites/{}/leads/{}/retry\" class=\"inline\">{}\
         <input type=\"hidden\" name=\"back\" value=\"{back}\"><button type=\"submit\">{}</button></form>",
        esc(site),
        esc(lead),
        html::csrf_field(csrf),
        esc(lang.t(T::Retry))
    )
}

/// `POST /admin/sites/{site}/leads/{lead_id}/retry`: re-queues a dead lead as `replay` does.
pub async fn retry(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path((site, lead)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (_, form) = posted_form(&state, &visit, &headers, body).await?;
        known_site(&state.settings.current(), &site)?;
        if !plain(&lead) {
            return Err(ScreenError::NotFound);
        }
        let letters = state
            .store
            .dead_letters(site.clone(), Some(lead.clone()))
            .await?;
        let notice = if letters.is_empty() {
            "not_dead"
        } else {
            let (requeue, refused) = outbox::replayable(letters, state.now(), false);
            if !refused.is_empty() {
                "too_old"
            } else {
                let n = state
                    .store
                    .requeue_dead(site.clone(), requeue, false, state.now())
                    .await?;
                state.wake.notify_one();
                tracing::info!(site = %site, lead = %lead, "operator screen: dead letter re-queued");
                if n == 1 {
                    "requeued"
                } else {
                    "not_dead"
                }
            }
        };
        let to = if field(&form, "back") == "trail" {
            format!("/admin/sites/{site}/leads/{lead}?notice={notice}")
        } else {
            format!("/admin/sites/{site}/leads?notice={notice}&lead={lead}")
        };
        Ok(Redirect::to(&to).into_response())
    }
    .await;
    respond(&visit, result)
}

/// `GET /admin/sites/{site}/leads/{lead_id}`: the lead's trail.
pub async fn trail(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path((site, lead)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let op = operator(&state, &visit).await?;
        known_site(&state.settings.current(), &site)?;
        let trail = state
            .store
            .trail(site.clone(), lead.clone())
            .await?
            .ok_or(ScreenError::NotFound)?;
        let lang = visit.lang;
        let title = lang.fill(T::LeadTitle, &trail.lead_id);
        let mut body = tabs(lang, &site, Tab::Leads);
        let _ = write!(body, "<h1>{}</h1>", esc(&title));
        let notice = match field(&query, "notice") {
            "requeued" => Some(("ok", T::Requeued)),
            "too_old" => Some(("error", T::RetryTooOld)),
            "not_dead" => Some(("error", T::RetryNotDead)),
            _ => None,
        };
        if let Some((kind, text)) = notice {
            body.push_str(&html::notice(kind, &lang.fill(text, &trail.lead_id)));
        }
        let decision = trail
            .reason
            .as_deref()
            .map_or_else(|| lang.t(T::NotDecided).to_string(), |r| reason_text(lang, r));
        let _ = write!(
            body,
            "<dl class=\"facts\"><dt>{}</dt><dd data-status=\"{}\">{}</dd><dt>{}</dt><dd><code>{}</code> — {}</dd>",
            esc(lang.t(T::Status)),
            trail.status.as_str(),
            esc(status_text(lang, trail.status)),
            esc(lang.t(T::Decision)),
            esc(trail.reason.as_deref().unwrap_or("—")),
            esc(&decision),
        );
        for (label, value) in [
            (T::JudgedSource, &trail.judged_source),
            (T::CdSent, &trail.cd),
            (T::IdSource, &trail.id_source),
        ] {
            if let Some(value) = value {
                let _ = write!(body, "<dt>{}</dt><dd>{}</dd>", esc(lang.t(label)), esc(value));
            }
        }
        body.push_str("</dl>");
        if trail.status == LeadStatus::Dead {
            body.push_str(&retry_form(lang, &site, &trail.lead_id, op.csrf(), "trail"));
        }
        let _ = write!(
            body,
            "<h2>{}</h2><div class=\"scroll\"><table class=\"events\"><thead><tr><th scope=\"col\">{}</th>\
             <th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            esc(lang.t(T::Events)),
            esc(lang.t(T::Received)),
            esc(lang.t(T::Phase)),
            esc(lang.t(T::ColDecision)),
        );
        for e in &trail.events {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&html::time(e.received_ms)),
                esc(e.phase.as_deref().unwrap_or("—")),
                esc(e.reason.as_deref().unwrap_or(lang.t(T::NotDecided))),
            );
        }
        body.push_str("</tbody></table></div>");
        let _ = write!(body, "<h2>{}</h2>", esc(lang.t(T::DeliveryAttempts)));
        if trail.attempts.is_empty() {
            body.push_str(&html::notice("note", lang.t(T::NoAttempts)));
        } else {
            let _ = write!(
                body,
                "<div class=\"scroll\"><table class=\"attempts\"><thead><tr>{}</tr></thead><tbody>",
                [T::Time, T::HttpStatus, T::ErrorOrResponse, T::MaskedUrl]
                    .iter()
                    .map(|t| format!("<th scope=\"col\">{}</th>", esc(lang.t(*t))))
                    .collect::<String>()
            );
            for a in &trail.attempts {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"url\"><code>{}</code></td></tr>",
                    esc(&html::time(a.at_ms)),
                    a.status.map(|s| s.to_string()).unwrap_or_default(),
                    esc(a.error.as_deref().unwrap_or("")),
                    esc(&a.url),
                );
            }
            body.push_str("</tbody></table></div>");
        }
        let facts = serde_json::to_string_pretty(&trail.lead).unwrap_or_default();
        let _ = write!(
            body,
            "<h2>{}</h2><pre class=\"lead\">{}</pre>",
            esc(lang.t(T::LeadFacts)),
            esc(&facts)
        );
        Ok(signed_page(&visit, &op, &title, &body))
    }
    .await;
    respond(&visit, result)
}
