//! The decision log API, behind the admin bearer token: a lead's trail, and leads by status.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::Json;

use super::{same_secret, ApiError, AppState};
use crate::store::{LeadStatus, LeadSummary, Trail};

/// The token of an `Authorization: Bearer <token>` header; the scheme in any case (RFC 9110
/// §11.1: auth schemes are case-insensitive).
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim())
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = bearer(headers);
    if same_secret(given, &state.settings.current().server.admin_token) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// `GET /v1/sites/{site}/leads/{lead_id}`.
pub async fn trail(
    State(state): State<Arc<AppState>>,
    Path((site, lead_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Trail>, ApiError> {
    authorize(&state, &headers)?;
    state
        .store
        .trail(site, lead_id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("no such lead"))
}

/// `GET /v1/sites/{site}/leads?status=sent|filtered|waiting|retrying|dead[&limit=N]`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(site): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&state, &headers)?;
    let status = query
        .get("status")
        .and_then(|s| LeadStatus::parse(s))
        .filter(|s| *s != LeadStatus::New)
        .ok_or_else(|| {
            ApiError::Malformed("status: one of sent, filtered, waiting, retrying, dead".into())
        })?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100u32)
        .min(1000);
    let leads: Vec<LeadSummary> = state.store.list(site, status, limit).await?;
    Ok(Json(
        serde_json::json!({ "status": status, "leads": leads }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for (value, token) in [
            ("Bearer abc", "abc"),
            ("bearer abc", "abc"),
            ("BEARER  abc ", "abc"),
            ("Basic abc", ""),
            ("Bearerabc", ""),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(bearer(&headers), token, "{value}");
        }
        assert_eq!(bearer(&HeaderMap::new()), "");
    }
}
