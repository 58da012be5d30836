//! Files and operator endpoints: the capture bundle from `server.assets_dir` (`.wasm` as
//! `application/wasm`, ETag, a week of cache, its `.gz` made by the build to browsers that accept
//! gzip), other paths from `server.static_dir` when set,
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

/// Whether the request's `Accept-Encoding` takes gzip (RFC 9110 §12.5.3: `gzip` or `x-gzip`,
/// else `*`, with a weight above 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut star = None;
    for value in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => return weight > 0.0,
                "*" => star = Some(weight > 0.0),
                _ => {}
            }
        }
    }
    star.unwrap_or(false)
}

/// The gzip of `path` made beside it by the build (`NAME.gz`), when it is at least as new as
/// the file itself (a bundle replaced without its `.gz` is sent as it is).
async fn gzipped_beside(path: &Path) -> Option<Vec<u8>> {
    let mut name = path.file_name()?.to_os_string();
    name.push(".gz");
    let gz = path.with_file_name(name);
    let modified =
        |p: std::path::PathBuf| async move { tokio::fs::metadata(p).await.ok()?.modified().ok() };
    let (plain, packed) = (
        modified(path.to_path_buf()).await?,
        modified(gz.clone()).await?,
    );
    if packed < plain {
        return None;
    }
    tokio::fs::read(gz).await.ok()
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
        let path = Path::new(&config.server.assets_dir).join(name);
        let gzipped = if accepts_gzip(&headers) {
            gzipped_beside(&path).await
        } else {
            None
        };
        let found = match gzipped {
            Some(bytes) => Some((bytes, true)),
            None => tokio::fs::read(&path)
                .await
                .ok()
                .map(|bytes| (bytes, false)),
        };
        if let Some((bytes, gzip)) = found {
            let tag = etag(&bytes);
            if headers
                .get_all(header::IF_NONE_MATCH)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| none_match(v, &tag))
            {
                return (
                    StatusCode::NOT_MODIFIED,
                    [
                        (header::ETAG, tag),
                        (header::VARY, "accept-encoding".into()),
                    ],
                )
                    .into_response();
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
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            if gzip {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
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
    use super::{accepts_gzip, none_match};
    use axum::http::{header, HeaderMap, HeaderValue};

    #[test]
    fn accept_encoding_takes_gzip_by_name_or_star_with_a_weight() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br, zstd"), "Chromium's");
        assert!(with("br;q=1.0, GZip;q=0.5"));
        assert!(with("*"));
        assert!(with("x-gzip"));
        assert!(!with("gzip;q=0"));
        assert!(!with("gzip;q=0, *"), "refused by name, whatever * says");
        assert!(!with("br, deflate"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()), "no header: as it is");
    }

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
