//! The live view of a site (`/admin/sites/{site}/live`): bindings, leads by decision and
//! postbacks by outcome over the last hour and the last 24 hours (from the ten-minute counter
//! rows: at most 144 a key, whatever is stored), the outbox depth and its oldest pending age,
//! and the last 50 webhooks and postback attempts. The page is complete without script;
//! admin.js polls `live.json` every 3 seconds and redraws the same parts, so a test call shows
//! up without a reload.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::html::{self, esc};
use super::i18n::{Lang, T};
use super::sites::{signed_page, tabs, Tab};
use super::{known_site, operator, respond, ScreenError, Visit};
use crate::http::AppState;
use crate::store::screen::{kind, LiveEvent, COUNTER_BUCKET_MS};

/// Events shown.
const EVENTS: u32 = 50;
/// Buckets in an hour and in a day.
const HOUR: i64 = 3_600_000 / COUNTER_BUCKET_MS;
const DAY: i64 = 86_400_000 / COUNTER_BUCKET_MS;

/// What the page shows, in its language.
struct Snapshot {
    /// `(what, last hour, last 24 hours)`.
    rows: Vec<(String, u64, u64)>,
    /// Postbacks queued or retrying.
    depth: String,
    /// How long the oldest of them has waited.
    oldest: String,
    /// `(time, lead id, what happened)`, newest first.
    events: Vec<(String, String, String)>,
    /// When this was read.
    updated: String,
}

async fn snapshot(state: &AppState, site: &str, lang: Lang) -> Result<Snapshot, ScreenError> {
    let now = state.now();
    let current = now.div_euclid(COUNTER_BUCKET_MS) * COUNTER_BUCKET_MS;
    let hour_from = current - (HOUR - 1) * COUNTER_BUCKET_MS;
    let day_from = current - (DAY - 1) * COUNTER_BUCKET_MS;
    let counters = state.store.counters(site.into(), day_from).await?;
    // (kind order, key) → (hour, day)
    let mut sums: BTreeMap<(u8, String), (u64, u64)> = BTreeMap::new();
    sums.insert((0, String::new()), (0, 0));
    for c in counters {
        let order = match c.kind.as_str() {
            kind::BINDING => 0,
            kind::DECISION => 1,
            kind::POSTBACK => 2,
            _ => continue,
        };
        let sum = sums.entry((order, c.key)).or_default();
        sum.1 += c.n;
        if c.bucket_ms >= hour_from {
            sum.0 += c.n;
        }
    }
    let rows = sums
        .into_iter()
        .map(|((order, key), (hour, day))| {
            let label = match order {
                0 => lang.t(T::Bindings).to_string(),
                1 => lang.fill(T::LeadsByDecision, &key),
                _ => lang.fill(T::PostbacksByOutcome, &key),
            };
            (label, hour, day)
        })
        .collect();
    let outbox = state.store.site_outbox(site.into()).await?;
    let oldest = match outbox.oldest_ms {
        Some(at) => lang.fill(T::Seconds, &((now - at).max(0) / 1000).to_string()),
        None => lang.t(T::Nothing).to_string(),
    };
    let events = state
        .store
        .recent_events(site.into(), EVENTS)
        .await?
        .into_iter()
        .map(|e| describe(lang, &e))
        .collect();
    Ok(Snapshot {
        rows,
        depth: outbox.depth.to_string(),
        oldest,
        events,
        updated: lang.fill(T::UpdatedAt, &html::time(now)),
    })
}

fn describe(lang: Lang, event: &LiveEvent) -> (String, String, String) {
    match event {
        LiveEvent::Webhook {
            at_ms,
            lead_id,
            phase,
            reason,
        } => {
            let phase = phase
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            let reason = reason.as_deref().unwrap_or(lang.t(T::NotDecided));
            let text = format!("{}{phase} → {reason}", lang.t(T::EventWebhook));
            (html::time(*at_ms), lead_id.clone(), text)
        }
        LiveEvent::Attempt {
            at_ms,
            lead_id,
            status,
            error,
        } => {
            let mut text = lang.t(T::EventAttempt).to_string();
            if let Some(s) = status {
                let _ = write!(text, " {s}");
            }
            if let Some(e) = error {
                let _ = write!(text, " — {e}");
            }
            (html::time(*at_ms), lead_id.clone(), text)
        }
    }
}

/// `GET /admin/sites/{site}/live`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path(site): Path<String>,
) -> Response {
    let result = async {
        let op = operator(&state, &visit).await?;
        known_site(&state.settings.current(), &site)?;
        let lang = visit.lang;
        let s = snapshot(&state, &site, lang).await?;
        let mut body = tabs(lang, &site, Tab::Live);
        let _ = write!(
            body,
            "<h1>{}</h1><div class=\"live\" data-live=\"/admin/sites/{}/live.json\">{}\
             <p id=\"updated\" class=\"hint\">{}</p>",
            esc(lang.t(T::LiveView)),
            esc(&site),
            html::notice("note", lang.t(T::LiveNote)),
            esc(&s.updated)
        );
        let _ = write!(
            body,
            "<h2>{}</h2><table class=\"counts\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             <th scope=\"col\">{}</th></tr></thead><tbody id=\"counts\">",
            esc(lang.t(T::Counts)),
            esc(lang.t(T::Count)),
            esc(lang.t(T::LastHour)),
            esc(lang.t(T::LastDay))
        );
        for (label, hour, day) in &s.rows {
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}</th><td>{hour}</td><td>{day}</td></tr>",
                esc(label)
            );
        }
        let _ = write!(
            body,
            "</tbody></table><dl class=\"facts\"><dt>{}</dt><dd id=\"outbox-depth\">{}</dd>\
             <dt>{}</dt><dd id=\"outbox-oldest\">{}</dd></dl><h2>{}</h2>\
             <p id=\"no-events\" class=\"hint\"{}>{}</p><ol id=\"events\" class=\"events\">",
            esc(lang.t(T::OutboxDepth)),
            esc(&s.depth),
            esc(lang.t(T::OldestPending)),
            esc(&s.oldest),
            esc(lang.t(T::RecentEvents)),
            if s.events.is_empty() { "" } else { " hidden" },
            esc(lang.t(T::NoEvents)),
        );
        for (at, lead, text) in &s.events {
            let _ = write!(
                body,
                "<li><time>{}</time> <a href=\"/admin/sites/{}/leads/{}\">{}</a> {}</li>",
                esc(at),
                esc(&site),
                esc(lead),
                esc(lead),
                esc(text)
            );
        }
        body.push_str("</ol></div>");
        Ok(signed_page(&visit, &op, lang.t(T::LiveView), &body))
    }
    .await;
    respond(&visit, result)
}

/// `GET /admin/sites/{site}/live.json`: the same, as data for admin.js (401 when signed out).
pub async fn json(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    Path(site): Path<String>,
) -> Response {
    let result = async {
        operator(&state, &visit).await?;
        known_site(&state.settings.current(), &site)?;
        snapshot(&state, &site, visit.lang).await
    }
    .await;
    match result {
        Ok(s) => Json(serde_json::json!({
            "rows": s.rows,
            "depth": s.depth,
            "oldest": s.oldest,
            "events": s.events.iter().map(|(at, lead, text)| serde_json::json!({
                "at": at,
                "lead": lead,
                "href": format!("/admin/sites/{site}/leads/{lead}"),
                "text": text,
            })).collect::<Vec<_>>(),
            "updated": s.updated,
        }))
        .into_response(),
        Err(ScreenError::SignIn) => StatusCode::UNAUTHORIZED.into_response(),
        Err(ScreenError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
