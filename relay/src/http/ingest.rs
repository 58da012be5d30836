//! Ingest: bindings from browsers (and site backends) and Calltouch webhooks. Both answer only
//! after storage has committed; the webhook's decision runs after the response
//! ([`crate::pipeline`]), and its sweep decides any lead a failed decision left undecided.

use std::sync::Arc;
use std::time::Duration;

use aidlink_protocol::binding::MAX_BODY_BYTES;
use aidlink_protocol::cookie::read_aid_value;
use aidlink_protocol::Binding;
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::metrics::Received;

use super::{same_secret, ApiError, AppState, ClientIp};
use crate::clock::now_ms;
use crate::config::Config;
use crate::webhook::parse_lead;

/// `OPTIONS /v1/bindings`: preflight for pages that send `application/json`.
pub async fn binding_preflight(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let config = state.settings.current();
    match origin(&headers).filter(|o| config.allows_origin(o)) {
        Some(o) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            cors(&mut response, &o);
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
            response
        }
        None => ApiError::Forbidden("origin not allowed").into_response(),
    }
}

fn origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn cors(response: &mut Response, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
    }
}

/// The request's media type, lowercased, without parameters (`text/plain;charset=UTF-8` →
/// `text/plain`); `None` without a `Content-Type`.
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"))
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}

/// A request's body, at most `limit` bytes, within `timeout`: 413 when its declared length
/// is over the limit (nothing read) or once it passes it; 408 when it does not arrive in time;
/// 400 when it is not a valid HTTP body (a malformed chunk).
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge(limit));
    }
    match tokio::time::timeout(timeout, to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::Timeout),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if over_limit(&e) => Err(ApiError::TooLarge(limit)),
        Ok(Err(e)) => Err(ApiError::Malformed(format!("body: {e}"))),
    }
}

/// Whether an `aid` is the current RTB House tags' JSON form, plain or percent-encoded.
fn json_form(aid: &str) -> bool {
    let aid = aid.trim_start();
    aid.starts_with('{') || aid.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("%7b"))
}

/// Whether a body error is the length limit (anything else is a broken body).
fn over_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// `POST /v1/bindings`: 204 once the binding and its touchpoint are committed.
pub async fn binding(
    State(state): State<Arc<AppState>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let config = state.settings.current();
    let origin = origin(&headers);
    // CORS headers go on errors too, so the page's module can read the status (and not retry a
    // refusal as if it were a network error) whenever its origin belongs to a configured site.
    let mut allow_origin = origin.clone().filter(|o| config.allows_origin(o));
    let result = accept_binding(
        &state,
        &config,
        ip,
        origin.as_deref(),
        &headers,
        body,
        &mut allow_origin,
    )
    .await;
    let mut response = match result {
        Ok(new) => {
            state.metrics.binding(if new {
                Received::Accepted
            } else {
                Received::Duplicate
            });
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            state.metrics.binding(Received::Refused(e.label()));
            tracing::debug!(
                reason = Received::Refused(e.label()).as_str(),
                "binding refused"
            );
            e.into_response()
        }
    };
    if let Some(o) = allow_origin {
        cors(&mut response, &o);
    }
    response
}

async fn accept_binding(
    state: &AppState,
    config: &Config,
    ip: std::net::IpAddr,
    origin: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    allow_origin: &mut Option<String>,
) -> Result<bool, ApiError> {
    state
        .allow(ip, config.server.bindings_per_minute_per_ip)
        .map_err(ApiError::RateLimited)?;
    if !matches!(
        media_type(headers).as_deref(),
        Some("text/plain" | "application/json")
    ) {
        return Err(ApiError::UnsupportedType(
            "content type must be text/plain or application/json",
        ));
    }
    let bytes = read_body(
        headers,
        body,
        MAX_BODY_BYTES,
        config.server.body_read_timeout(),
    )
    .await?;
    let mut binding: Binding =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Malformed(format!("body: {e}")))?;
    let now = now_ms();
    // A site's backend may send the RTB House cookie's value as it is: the current tags' JSON
    // form reads as its id, by the reader the capture module and `attrs` use.
    match read_aid_value(&binding.aid, u64::try_from(now).unwrap_or_default()) {
        Some(id) => binding.aid = id,
        None if json_form(&binding.aid) => {
            return Err(ApiError::Malformed(
                "aid: the cookie's JSON holds no current id (expired, \"unknown\" or another eventType)".into(),
            ))
        }
        None => {}
    }
    binding
        .validate()
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    let site = config
        .site(&binding.site)
        .ok_or(ApiError::NotFound("unknown site"))?;
    if let Some(o) = origin {
        if !site.allows_origin(o) {
            *allow_origin = None;
            return Err(ApiError::Forbidden("origin not allowed for this site"));
        }
    }
    binding.touch = binding
        .touch
        .map(|t| t.with_sane_time(u64::try_from(now).unwrap_or_default()));
    Ok(state.store.put_binding(binding, now).await?)
}

/// `GET|POST /v1/calltouch/{site}?token=…`: 200 once the lead is stored; decided after. The
/// site, token and source address are checked before any of the body is read, and an unknown
/// site answers exactly as a wrong token does (site ids cannot be probed); the body is then read
/// up to `server.webhook_max_bytes` within `server.body_read_timeout_ms`.
pub async fn calltouch(
    State(state): State<Arc<AppState>>,
    Path(site_id): Path<String>,
    ClientIp(ip): ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<&'static str, ApiError> {
    let result = accept_webhook(&state, site_id, ip, query, &headers, body).await;
    state.metrics.webhook(match &result {
        Ok(_) => Received::Accepted,
        Err(e) => Received::Refused(e.label()),
    });
    result
}

async fn accept_webhook(
    state: &AppState,
    site_id: String,
    ip: std::net::IpAddr,
    query: Option<String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<&'static str, ApiError> {
    let config = state.settings.current();
    let mut fields: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let token = fields
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let Some(site) = config
        .site(&site_id)
        .filter(|site| same_secret(&token, &site.webhook_token))
    else {
        return Err(ApiError::Unauthorized);
    };
    if !site.webhook_ip_allow.is_empty() && !site.webhook_ip_allow.iter().any(|n| n.contains(&ip)) {
        return Err(ApiError::Forbidden("source address not allowed"));
    }
    fields.retain(|(k, _)| k != "token");
    let body = read_body(
        headers,
        body,
        config.server.webhook_max_bytes,
        config.server.body_read_timeout(),
    )
    .await?;
    // A form body, declared or not (media types are case-insensitive); an empty body of any
    // type leaves the fields to the query.
    if !body.is_empty() {
        match media_type(headers).as_deref() {
            None | Some("application/x-www-form-urlencoded") => {
                fields.extend(form_urlencoded::parse(&body).into_owned())
            }
            Some(_) => {
                return Err(ApiError::UnsupportedType(
                    "webhook body must be application/x-www-form-urlencoded (or send the fields in the query)",
                ))
            }
        }
    }
    let lead = parse_lead(&fields).map_err(|e| ApiError::Malformed(e.to_string()))?;
    let lead_id = lead.lead_id();
    state
        .store
        .put_lead_event(site.id.clone(), lead, now_ms())
        .await?;
    tracing::info!(site = %site.id, lead = %lead_id, "webhook stored");
    let pipeline = state.pipeline.clone();
    let site_id = site.id.clone();
    tokio::spawn(async move { pipeline.decide_logged(&site_id, &lead_id).await });
    Ok("OK")
}
