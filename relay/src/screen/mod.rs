//! The operator's screen at `/admin` (docs/contract.md, "The operator's screen"): sign-in with
//! the admin token, the sites and their settings (saved in storage, over the config file's),
//! the lead log with each lead's trail and `Retry`, the live view and the test lead. HTML is
//! written on the server by hand ([`html`], every outside value through one escaping helper),
//! in Russian or English ([`i18n`]); one external script and stylesheet; every answer carries
//! a strict Content-Security-Policy. Every form post of a signed-in page carries the session's
//! CSRF token.
//!
//! - [`session`]: session ids, expiry, cookies (pure).
//! - `sign_in`: `POST /admin/sign-in` (failed attempts limited per address), `/admin/sign-out`.
//! - `sites`: the list, `Add site`, a site's settings page and its save.
//! - `form`: the site form: posted fields ↔ a site, and its HTML.
//! - `leads`: the lead log, a lead's trail, `Retry`.
//! - `live`: the live view and the JSON it polls.
//! - `test_lead`: a lead judged by the pipeline's own rules, nothing stored or sent.

mod form;
pub mod html;
pub mod i18n;
mod leads;
mod live;
pub mod session;
mod sign_in;
mod sites;
mod test_lead;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use self::html::Frame;
use self::i18n::{Lang, T};
use crate::config::{Config, Site};
use crate::http::{ApiError, AppState, ClientIp};
use crate::store::screen::AdminSession;
use crate::store::StoreError;

/// The Content-Security-Policy of every `/admin` answer: nothing but the relay's own script
/// and stylesheet, no framing, forms only to the relay.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                       frame-ancestors 'none'; form-action 'self'";

/// Largest form the screen reads (a site form is a few KB).
const FORM_MAX_BYTES: usize = 64 * 1024;

/// The screen's routes (merged into [`crate::http::app`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(sites::list))
        .route("/admin/sign-in", post(sign_in::sign_in))
        .route("/admin/sign-out", post(sign_in::sign_out))
        .route("/admin/sites/new", get(sites::new_site).post(sites::create))
        .route("/admin/sites/{site}", get(sites::show).post(sites::save))
        .route("/admin/sites/{site}/leads", get(leads::log))
        .route("/admin/sites/{site}/leads/{lead_id}", get(leads::trail))
        .route(
            "/admin/sites/{site}/leads/{lead_id}/retry",
            post(leads::retry),
        )
        .route("/admin/sites/{site}/live", get(live::page))
        .route("/admin/sites/{site}/live.json", get(live::json))
        .route(
            "/admin/sites/{site}/test",
            get(test_lead::page).post(test_lead::check),
        )
        .route("/admin/static/admin.js", get(script))
        .route("/admin/static/admin.css", get(style))
        .layer(middleware::from_fn(secure))
}

/// Every `/admin` answer: the CSP and its companions, never cached; a `?lang=` choice is
/// remembered in a cookie.
async fn secure(request: Request, next: Next) -> Response {
    let chosen = query_lang(request.uri().query());
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if let Some(lang) = chosen {
        let cookie = format!(
            "{}={}; Path=/admin; SameSite=Strict; Max-Age=31536000",
            session::LANG_COOKIE,
            lang.code()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, value);
        }
    }
    response
}

fn query_lang(query: Option<&str>) -> Option<Lang> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::parse(&v))
}

async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("static/admin.js"),
    )
}

async fn style() -> Response {
    static_file("text/css; charset=utf-8", include_str!("static/admin.css"))
}

fn static_file(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

/// What every screen request brings: the language, whether it came over HTTPS, the host it
/// was addressed to, the client's address and the session cookie.
pub struct Visit {
    /// `?lang=`, else the language cookie, else Russian.
    pub lang: Lang,
    /// Over HTTPS: a trusted proxy said `X-Forwarded-Proto: https`.
    pub https: bool,
    /// The host the request was sent to (for the webhook URL and the script tag): a trusted
    /// proxy's `X-Forwarded-Host`, else `Host`.
    pub host: String,
    /// The client (as for every route: `server.trusted_proxies` decide `X-Forwarded-For`).
    pub ip: IpAddr,
    /// The session cookie's value.
    pub session: Option<String>,
    /// The request's path.
    pub path: String,
}

impl Visit {
    /// `http(s)://host`, where this relay was reached.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.host)
    }

    /// The page frame for `title`, signed in with `csrf` or not.
    pub fn frame<'a>(&'a self, title: &'a str, csrf: Option<&'a str>) -> Frame<'a> {
        Frame {
            lang: self.lang,
            title,
            path: &self.path,
            csrf,
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let cookies: Vec<&str> = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let cookie = |name: &str| {
            cookies
                .iter()
                .find_map(|line| session::cookie_value(line, name))
        };
        let lang = query_lang(parts.uri.query())
            .or_else(|| cookie(session::LANG_COOKIE).and_then(Lang::parse))
            .unwrap_or_default();
        let session = cookie(session::COOKIE).map(str::to_string);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip())
            .to_canonical();
        let config = state.settings.current();
        let from_proxy = config
            .server
            .trusted_proxies
            .iter()
            .any(|n| n.contains(&peer));
        let https = from_proxy
            && parts
                .headers
                .get_all("x-forwarded-proto")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        let plain = |h: &&str| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        };
        // Behind a trusted proxy that names the host it was asked for, that host.
        let forwarded = parts
            .headers
            .get_all("x-forwarded-host")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .map(str::trim)
            .filter(|h| from_proxy && plain(h));
        let host = forwarded
            .or_else(|| {
                let host = parts.headers.get(header::HOST)?.to_str().ok()?;
                Some(host).filter(plain)
            })
            .unwrap_or(&config.server.listen)
            .to_string();
        let ClientIp(ip) = match ClientIp::from_request_parts(parts, state).await {
            Ok(ip) => ip,
            Err(never) => match never {},
        };
        Ok(Visit {
            lang,
            https,
            host,
            ip,
            session,
            path: parts.uri.path().to_string(),
        })
    }
}

/// A signed-in operator.
pub struct Operator {
    /// Their session as stored.
    pub session: AdminSession,
}

impl Operator {
    /// The session's CSRF token.
    pub fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

/// The signed-in operator of this visit: a stored session, not idle past
/// `server.admin_session_idle` (an ended one is deleted); its last-seen time is written at
/// most once a minute.
pub async fn operator(state: &AppState, visit: &Visit) -> Result<Operator, ScreenError> {
    let id = visit.session.as_deref().ok_or(ScreenError::SignIn)?;
    let hash = session::hash(id);
    let stored = state
        .store
        .session(hash.clone())
        .await?
        .ok_or(ScreenError::SignIn)?;
    let now = state.now();
    let idle = state
        .settings
        .current()
        .server
        .admin_session_idle()
        .as_millis() as i64;
    match session::alive(&stored, now, idle) {
        session::Alive::Expired => {
            state.store.end_session(hash).await?;
            Err(ScreenError::SignIn)
        }
        session::Alive::Touch => {
            state.store.touch_session(hash, now).await?;
            Ok(Operator { session: stored })
        }
        session::Alive::Yes => Ok(Operator { session: stored }),
    }
}

/// The running settings' site `id`, or the screen's "not found".
pub fn known_site<'a>(config: &'a Config, id: &str) -> Result<&'a Site, ScreenError> {
    config.site(id).ok_or(ScreenError::NotFound)
}

/// A posted form's fields, in order; the body read as the webhook's is (size cap, time
/// limit).
pub async fn read_form(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<(String, String)>, ScreenError> {
    let timeout = state.settings.current().server.body_read_timeout();
    let bytes = crate::http::ingest::read_body(headers, body, FORM_MAX_BYTES, timeout)
        .await
        .map_err(ScreenError::Body)?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// The first value of `name` in a posted form, or `""`.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A form posted by the signed-in operator: the session checked ([`operator`]), the body read
/// ([`read_form`]) and its CSRF token checked ([`check_csrf`]), in that order.
pub async fn posted_form(
    state: &AppState,
    visit: &Visit,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Operator, Vec<(String, String)>), ScreenError> {
    let op = operator(state, visit).await?;
    let form = read_form(state, headers, body).await?;
    check_csrf(&op, &form)?;
    Ok((op, form))
}

/// Refuses a posted form that does not carry the session's CSRF token.
pub fn check_csrf(operator: &Operator, form: &[(String, String)]) -> Result<(), ScreenError> {
    let given = field(form, "csrf");
    if !given.is_empty() && session::same_secret(given, operator.csrf()) {
        Ok(())
    } else {
        Err(ScreenError::Csrf)
    }
}

/// Why a screen request failed.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    /// No session, or it has ended: back to the sign-in page.
    #[error("sign in first")]
    SignIn,
    /// A form post without the session's CSRF token.
    #[error("the form did not carry the session's CSRF token")]
    Csrf,
    /// No such site or lead.
    #[error("not found")]
    NotFound,
    /// Something in the request that cannot be read.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The body: too large, too slow or broken.
    #[error(transparent)]
    Body(ApiError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No randomness for a session id.
    #[error(transparent)]
    Random(#[from] session::NoRandom),
}

/// An HTML page with `status`.
pub fn html_page(status: StatusCode, html: String) -> Response {
    (status, Html(html)).into_response()
}

/// The answer of a screen handler: its page, or the page of its error in the visit's
/// language.
pub fn respond(visit: &Visit, result: Result<Response, ScreenError>) -> Response {
    let error = match result {
        Ok(response) => return response,
        Err(e) => e,
    };
    let lang = visit.lang;
    let (status, text) = match error {
        ScreenError::SignIn => return Redirect::to("/admin").into_response(),
        ScreenError::Body(e) => return e.into_response(),
        ScreenError::Csrf => (StatusCode::FORBIDDEN, lang.t(T::ErrCsrf).to_string()),
        ScreenError::NotFound => (StatusCode::NOT_FOUND, lang.t(T::ErrNotFound).to_string()),
        ScreenError::BadRequest(what) => {
            (StatusCode::BAD_REQUEST, lang.fill(T::ErrBadRequest, &what))
        }
        ScreenError::Store(e) => {
            tracing::error!(error = %e, "operator screen: storage unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                lang.t(T::ErrStorage).to_string(),
            )
        }
        ScreenError::Random(e) => {
            tracing::error!(error = %e, "operator screen: no session id");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                lang.t(T::ErrStorage).to_string(),
            )
        }
    };
    let body = format!(
        "<h1>{}</h1>{}<p><a href=\"/admin\">{}</a></p>",
        html::esc(&status.to_string()),
        html::notice("error", &text),
        html::esc(lang.t(T::AllSites))
    );
    html_page(status, html::page(&visit.frame(&text, None), &body))
}
