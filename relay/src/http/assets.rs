//! Files and operator endpoints: the capture bundle from `server.assets_dir` (`.wasm` as
//! `application/wasm`, ETag, a week of cache), other paths from `server.static_dir` when set,
//! and `/healthz`, `/readyz`, `/metrics`.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::{ApiError, AppState};
use crate::clock::now_ms;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: storage answers and can commit (a scratch-row write, its outcome cached for
/// two seconds); else 503 with the reason.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<&'static str, ApiError> {
    state.store.ping().await?;
    state.writable().await.map_err(ApiError::NotReady)?;
    Ok("ready")
}

/// Whether an `If-None-Match` value matches `tag` (RFC 9110 §13.1.2: `*`, or a list of
/// entity tags compared weakly, `W/"x"` matching `"x"`).
fn none_match(header: &str, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().strip_prefix("W/").unwrap_or(t.trim()).to_string();
    let ours = opaque(tag);
    header.trim() == "*" || header.split(',').any(|t| opaque(t) == ours)
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let outbox = state.store.outbox_stats().await?;
    let rows = state.store.row_counts().await?;
    let text = state.metrics.render(outbox, rows, now_ms());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("map" | "json") => "application/json",
        Some("d.ts" | "ts") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn etag(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}-{}\"", bytes.len())
}

/// Any other `GET`: a bundle file, else the static site, else 404.
pub async fn file(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return ApiError::NotFound("not found").into_response();
    }
    let config = state.settings.current();
    let name = request.uri().path().trim_start_matches('/');
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.');
    if plain {
        if let Ok(bytes) = tokio::fs::read(Path::new(&config.server.assets_dir).join(name)).await {
            let tag = etag(&bytes);
            if headers
                .get_all(header::IF_NONE_MATCH)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| none_match(v, &tag))
            {
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response();
            }
            let mut response = bytes.into_response();
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(name)),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=604800, stale-while-revalidate=86400"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            if let Ok(v) = HeaderValue::from_str(&tag) {
                h.insert(header::ETAG, v);
            }
            return response;
        }
    }
    match &config.server.static_dir {
        Some(dir) => match ServeDir::new(dir).oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        },
        None => ApiError::NotFound("not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::none_match;

    #[test]
    fn if_none_match_compares_weakly_lists_and_star() {
        let tag = "\"00ab-12\"";
        assert!(none_match("\"00ab-12\"", tag));
        assert!(none_match("W/\"00ab-12\"", tag));
        assert!(none_match("\"other\", W/\"00ab-12\"", tag));
        assert!(none_match(" * ", tag));
        assert!(!none_match("\"00ab-13\"", tag));
        assert!(!none_match("00ab-12", tag));
        assert!(!none_match("", tag));
    }
}
