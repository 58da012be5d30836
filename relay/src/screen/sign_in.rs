//! Signing in with the admin token (`POST /admin/sign-in`, the token in the form body, never in
//! a URL; compared in constant time) and out (`POST /admin/sign-out`). Failed attempts are
//! limited per client address ([`crate::http::SIGN_IN_FAILURES_PER_MINUTE`]): past them every
//! attempt is refused with 429 and `Retry-After` until one is back. The sign-in form is the one
//! form posted without a session; it is refused when its `Origin` is another site's.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::html::{self, esc, Input};
use super::i18n::T;
use super::{field, posted_form, read_form, respond, session, ScreenError, Visit};
use crate::http::AppState;

/// The sign-in page with `status` and, when given, a message (an error).
pub fn page(visit: &Visit, status: StatusCode, error: Option<String>) -> Response {
    let lang = visit.lang;
    let input = Input {
        name: "token",
        label: lang.t(T::AdminToken),
        value: "",
        kind: "password",
        hint: Some(lang.t(T::SignInHint)),
        error,
        extra: "autocomplete=\"current-password\" required autofocus",
    };
    let body = format!(
        "<h1>{title}</h1><form method=\"post\" action=\"/admin/sign-in\" class=\"sign-in\">{input}\
         <button type=\"submit\">{button}</button></form>",
        title = esc(lang.t(T::SignIn)),
        input = input.html(),
        button = esc(lang.t(T::SignIn)),
    );
    let html = html::page(&visit.frame(lang.t(T::SignIn), None), &body);
    super::html_page(status, html)
}

/// `POST /admin/sign-in`: a session and its cookie, then the sites; or the page again.
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = attempt(&state, &visit, &headers, body).await;
    respond(&visit, result)
}

async fn attempt(
    state: &AppState,
    visit: &Visit,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ScreenError> {
    if let Some(wait) = state.sign_in_blocked(visit.ip) {
        return Ok(too_many(visit, wait));
    }
    let foreign = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o.split_once("://").map(|(_, host)| host) != Some(visit.host.as_str()));
    if foreign {
        return Err(ScreenError::Csrf);
    }
    let form = read_form(state, headers, body).await?;
    let expected = state.settings.current().server.admin_token.clone();
    if !session::same_secret(field(&form, "token"), &expected) {
        state.sign_in_failed(visit.ip);
        tracing::warn!(client = %visit.ip, "operator screen: failed sign-in");
        return Ok(page(
            visit,
            StatusCode::UNAUTHORIZED,
            Some(visit.lang.t(T::WrongToken).to_string()),
        ));
    }
    let now = state.now();
    let idle = state
        .settings
        .current()
        .server
        .admin_session_idle()
        .as_millis() as i64;
    let (id, session) = session::start(now)?;
    let label = session::label(&session);
    state.store.put_session(session, now - idle).await?;
    tracing::info!(client = %visit.ip, session = %label, "operator screen: signed in");
    Ok(with_cookie(
        Redirect::to("/admin").into_response(),
        &session::cookie(&id, visit.https),
    ))
}

fn too_many(visit: &Visit, wait: u64) -> Response {
    let message = visit.lang.fill(T::TooManySignIns, &wait.to_string());
    let mut response = page(visit, StatusCode::TOO_MANY_REQUESTS, Some(message));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `POST /admin/sign-out`: the session ends (deleted from storage) and its cookie goes.
pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    visit: Visit,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (operator, _) = posted_form(&state, &visit, &headers, body).await?;
        let label = session::label(&operator.session);
        state.store.end_session(operator.session.id_hash).await?;
        tracing::info!(session = %label, "operator screen: signed out");
        Ok(with_cookie(
            Redirect::to("/admin").into_response(),
            &session::cookie_removed(visit.https),
        ))
    }
    .await;
    respond(&visit, result)
}
