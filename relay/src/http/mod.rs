//! The relay's HTTP surface (docs/contract.md routes), built by [`app`] so router tests can call it
//! with `tower::ServiceExt::oneshot`. One error type, [`ApiError`], decides every status code of
//! the API routes; the operator's screen (`/admin`, [`crate::screen`]) answers with pages.

mod admin;
mod assets;
pub(crate) mod ingest;
pub mod limiter;
pub mod serve;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;

use crate::clock::{now_ms, Clock};
use crate::metrics::{Metrics, Refusal};
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
    /// Per-IP token buckets for bindings.
    limiter: Mutex<limiter::Limiter>,
    /// The last write probe (`/readyz`): when, and its outcome.
    ready: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    /// Per-IP token buckets for failed sign-ins to the operator's screen.
    sign_ins: Mutex<limiter::Limiter>,
    /// The time (tests hold a manual one).
    clock: Clock,
}

/// Failed sign-ins allowed per client address per minute (a bucket of this many, refilled at
/// this rate); past them every sign-in from the address is refused with 429 until one is back.
pub const SIGN_IN_FAILURES_PER_MINUTE: u32 = 5;

/// How long a write probe's outcome answers `/readyz` before storage is probed again.
const READY_CACHE: Duration = Duration::from_secs(2);

impl AppState {
    /// State for `app`, on the system clock.
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Arc<AppState> {
        AppState::with_clock(settings, store, metrics, wake, Clock::system())
    }

    /// State for `app` on `clock` (the decisions, and the operator screen's sessions and sign-in
    /// limit, read it).
    pub fn with_clock(
        settings: Settings,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        clock: Clock,
    ) -> Arc<AppState> {
        let pipeline = Pipeline {
            settings: settings.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            wake: wake.clone(),
            clock: clock.clone(),
        };
        Arc::new(AppState {
            settings,
            store,
            metrics,
            wake,
            pipeline,
            limiter: Mutex::new(limiter::Limiter::default()),
            ready: tokio::sync::Mutex::new(None),
            sign_ins: Mutex::new(limiter::Limiter::default()),
            clock,
        })
    }

    /// Now, ms since the epoch, on this state's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// `Some(seconds)` while `ip` has no failed sign-in left (it must wait that long).
    pub fn sign_in_blocked(&self, ip: IpAddr) -> Option<u64> {
        let now = self.now();
        self.sign_ins
            .lock()
            .ok()
            .and_then(|l| l.blocked(ip, SIGN_IN_FAILURES_PER_MINUTE, now))
    }

    /// Counts a failed sign-in from `ip`.
    pub fn sign_in_failed(&self, ip: IpAddr) {
        let now = self.now();
        if let Ok(mut l) = self.sign_ins.lock() {
            let _ = l.take(ip, SIGN_IN_FAILURES_PER_MINUTE, now);
        }
    }

    /// Takes one binding request from `ip`; `Err(seconds)` until the next is allowed when it
    /// is over the per-minute limit.
    fn allow(&self, ip: IpAddr, per_minute: u32) -> Result<(), u64> {
        match self.limiter.lock() {
            Ok(mut limiter) => limiter.take(ip, per_minute, now_ms()),
            Err(_) => Ok(()),
        }
    }

    /// Whether storage can commit: a write to a scratch row, its outcome reused for
    /// [`READY_CACHE`] (so a flood of `/readyz` costs one write per 2 s). `Err` says why.
    pub async fn writable(&self) -> Result<(), String> {
        let mut last = self.ready.lock().await;
        if let Some((at, outcome)) = last.as_ref() {
            if at.elapsed() < READY_CACHE {
                return outcome.clone();
            }
        }
        let outcome = self
            .store
            .probe_write(now_ms())
            .await
            .map_err(|e| e.to_string());
        *last = Some((Instant::now(), outcome.clone()));
        outcome
    }
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
        .merge(crate::screen::routes())
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
    /// 408: the body did not arrive within `server.body_read_timeout_ms`.
    #[error("request body not received in time")]
    Timeout,
    /// 413: body over the route's limit (bytes).
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// 415: wrong content type; says which types the route takes.
    #[error("{0}")]
    UnsupportedType(&'static str),
    /// 429: over the per-IP rate limit; seconds until the next request is allowed.
    #[error("too many requests")]
    RateLimited(u64),
    /// 503: storage unavailable; nothing was stored.
    #[error("storage unavailable")]
    Unavailable(#[from] StoreError),
    /// 503 from `/readyz`: storage answers but cannot commit; why.
    #[error("storage cannot commit: {0}")]
    NotReady(String),
}

impl ApiError {
    /// The metrics label.
    pub fn label(&self) -> Refusal {
        match self {
            ApiError::Malformed(_) => Refusal::Malformed,
            ApiError::Unauthorized => Refusal::Unauthorized,
            ApiError::Forbidden(_) => Refusal::Forbidden,
            ApiError::NotFound(_) => Refusal::NotFound,
            ApiError::Timeout => Refusal::Timeout,
            ApiError::TooLarge(_) => Refusal::TooLarge,
            ApiError::UnsupportedType(_) => Refusal::UnsupportedType,
            ApiError::RateLimited(_) => Refusal::RateLimited,
            ApiError::Unavailable(_) | ApiError::NotReady(_) => Refusal::Unavailable,
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
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        match &self {
            ApiError::Unavailable(e) => {
                tracing::error!(error = %e, "request refused: storage unavailable")
            }
            ApiError::NotReady(e) => {
                tracing::error!(error = %e, "not ready: storage cannot commit")
            }
            _ => {}
        }
        let mut response = (
            status,
            axum::Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        let wait = match &self {
            ApiError::RateLimited(seconds) => Some(HeaderValue::from(*seconds)),
            ApiError::Unavailable(_) | ApiError::NotReady(_) => Some(HeaderValue::from_static("5")),
            _ => None,
        };
        if let Some(wait) = wait {
            response.headers_mut().insert(header::RETRY_AFTER, wait);
        }
        if matches!(self, ApiError::Timeout) {
            // The rest of the body may still come: do not read it as the next request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
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
