//! The relay's HTTP surface (docs/contract.md routes), built by [`app`] so router tests can call it
//! with `tower::ServiceExt::oneshot`. One error type, [`ApiError`], decides every status code.

mod admin;
mod assets;
mod ingest;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::reload::Settings;
use crate::store::{Store, StoreError};

/// What every handler shares.
pub struct AppState {
    /// Current settings (reloadable).
    pub settings: Settings,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Wakes the outbox when a postback is queued.
    pub wake: Arc<Notify>,
    /// Decides a stored lead.
    pub pipeline: Pipeline,
    /// Per-IP binding counts in the current minute.
    limiter: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

impl AppState {
    /// State for `app`.
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Arc<AppState> {
        let pipeline = Pipeline {
            settings: settings.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            wake: wake.clone(),
        };
        Arc::new(AppState {
            settings,
            store,
            metrics,
            wake,
            pipeline,
            limiter: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one binding request from `ip`; false when it is over the per-minute limit.
    fn allow(&self, ip: IpAddr, per_minute: u32) -> bool {
        let minute = now_ms() as u64 / 60_000;
        let Ok(mut counts) = self.limiter.lock() else {
            return true;
        };
        if counts.len() > 100_000 {
            counts.retain(|_, (m, _)| *m == minute);
        }
        let entry = counts.entry(ip).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 <= per_minute
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The router.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/v1/bindings",
            post(ingest::binding).options(ingest::binding_preflight),
        )
        .route(
            "/v1/calltouch/{site}",
            get(ingest::calltouch).post(ingest::calltouch),
        )
        .route("/v1/sites/{site}/leads", get(admin::list))
        .route("/v1/sites/{site}/leads/{lead_id}", get(admin::trail))
        .route("/healthz", get(assets::healthz))
        .route("/readyz", get(assets::readyz))
        .route("/metrics", get(assets::metrics))
        .fallback(assets::file)
        .with_state(state)
}

/// Every way a request can fail, and its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or fields are malformed.
    #[error("{0}")]
    Malformed(String),
    /// 401: missing or wrong token.
    #[error("missing or wrong token")]
    Unauthorized,
    /// 403: origin or source address not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404.
    #[error("{0}")]
    NotFound(&'static str),
    /// 413: body over 4 KB.
    #[error("body larger than 4096 bytes")]
    TooLarge,
    /// 415: wrong content type; says which types the route takes.
    #[error("{0}")]
    UnsupportedType(&'static str),
    /// 429: over the per-IP rate limit.
    #[error("too many requests")]
    RateLimited,
    /// 503: storage unavailable; nothing was stored.
    #[error("storage unavailable")]
    Unavailable(#[from] StoreError),
}

impl ApiError {
    /// The metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge => "too_large",
            ApiError::UnsupportedType(_) => "unsupported_type",
            ApiError::RateLimited => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if let ApiError::Unavailable(e) = &self {
            tracing::error!(error = %e, "request refused: storage unavailable");
        }
        let mut response = (
            status,
            axum::Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if matches!(self, ApiError::RateLimited | ApiError::Unavailable(_)) {
            let wait = if matches!(self, ApiError::RateLimited) {
                "60"
            } else {
                "5"
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(wait));
        }
        response
    }
}

/// The client's address, IPv4-mapped IPv6 addresses read as IPv4 (an IPv4 client of a
/// dual-stack `[::]` listener is `::ffff:a.b.c.d`). When the peer is one of
/// `server.trusted_proxies`, the client is the right-most `X-Forwarded-For` address (every
/// header line, in order) that is not itself a trusted proxy: a proxy appends what it saw, so
/// anything left of that may be forged. Without connection info (router tests) it is 127.0.0.1.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<Arc<AppState>> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip())
            .to_canonical();
        let config = state.settings.current();
        let trusted = |ip: &IpAddr| config.server.trusted_proxies.iter().any(|n| n.contains(ip));
        if !trusted(&peer) {
            return Ok(ClientIp(peer));
        }
        let hops: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|line| line.to_str().unwrap_or("?").split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An unreadable hop ends the walk: nothing left of it can be trusted.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !trusted(&ip) {
                break;
            }
        }
        Ok(ClientIp(client))
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port (`[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Compares secrets without an early exit on the first differing byte.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
