//! The operator's screen without a socket: `app(state)` called with `oneshot` over a real
//! SQLite store in a temp dir, on a clock the test moves. A browser's part (its cookie, the
//! CSRF token read from the page) is played by [`Screen::sign_in`] and [`Screen::post`].

use std::sync::Arc;

use aidlink_relay::clock::Clock;
use aidlink_relay::config::Config;
use aidlink_relay::http::{app, AppState};
use aidlink_relay::metrics::Metrics;
use aidlink_relay::reload::Settings;
use aidlink_relay::store::sqlite::Sqlite;
use aidlink_relay::store::Store;
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use tower::ServiceExt;

use super::{ADMIN, HASH, PKEY, WEBHOOK_TOKEN};

/// 2026-11-25 00:00:00 UTC, ms: the tests' "now" until they move it.
pub const T0: i64 = 1_795_564_800_000;
/// One minute, ms.
pub const MINUTE: i64 = 60_000;

/// A relay's screen on a temp database.
pub struct Screen {
    pub state: Arc<AppState>,
    pub store: Arc<dyn Store>,
    pub clock: Clock,
}

/// An answer: status, headers, body text.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The `Location` of a redirect.
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field: {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// The config of the screen's relay: site 38342 in the file, `extra_server` lines in
/// `[server]`.
pub fn config_text(db: &std::path::Path, extra_server: &str) -> String {
    format!(
        "[server]\nadmin_token = \"{ADMIN}\"\n{extra_server}\n[storage]\nurl = \"sqlite://{}\"\n\
         [rtbhouse]\nendpoint = \"http://127.0.0.1:9/{{region}}/postbacks\"\n\
         [[site]]\nid = \"38342\"\npkey = \"{PKEY}\"\ntagging_hash = \"{HASH}\"\n\
         webhook_token = \"{WEBHOOK_TOKEN}\"\nmetrics = [\"all_calls\"]\n",
        db.display()
    )
}

impl Screen {
    /// A screen over the database in `dir` (shared by two screens: two relay instances).
    pub fn open(dir: &std::path::Path, extra_server: &str) -> Screen {
        let db = dir.join("aidlink.db");
        let config = Config::parse(&config_text(&db, extra_server)).unwrap();
        let store: Arc<dyn Store> = Arc::new(Sqlite::open(db.to_str().unwrap()).unwrap());
        let clock = Clock::manual(T0);
        let state = AppState::with_clock(
            Settings::new(config),
            store.clone(),
            Arc::new(Metrics::default()),
            Arc::new(tokio::sync::Notify::new()),
            clock.clone(),
        );
        Screen {
            state,
            store,
            clock,
        }
    }

    /// Moves the clock on by `ms`.
    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// Sends `request` through the router.
    pub async fn send(&self, request: Request<Body>) -> Page {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// `GET path` with the session `cookie` (`""`: none).
    pub async fn get(&self, path: &str, cookie: &str) -> Page {
        let mut request = Request::get(path);
        if !cookie.is_empty() {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// `POST path` of a URL-encoded `form` with the session `cookie`.
    pub async fn post(&self, path: &str, cookie: &str, form: &str) -> Page {
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if !cookie.is_empty() {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(form.to_string())).unwrap())
            .await
    }

    /// Signs in with `token`: the answer.
    pub async fn try_sign_in(&self, token: &str) -> Page {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        self.post("/admin/sign-in", "", &form).await
    }

    /// Signs in with the admin token: the session cookie (`name=value`) and the CSRF token.
    pub async fn sign_in(&self) -> (String, String) {
        let page = self.try_sign_in(ADMIN).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let set = page.headers[header::SET_COOKIE].to_str().unwrap();
        let cookie = set.split(';').next().unwrap().to_string();
        let sites = self.get("/admin", &cookie).await;
        assert_eq!(sites.status, StatusCode::OK);
        (cookie, sites.csrf())
    }

    /// The site form's fields as the page shows them for `site`, with `edits` applied
    /// (`name=value` pairs replacing the field's value; `+name=value` adding one), as a body.
    pub async fn site_form(&self, site: &str, cookie: &str, edits: &[&str]) -> String {
        let page = self.get(&format!("/admin/sites/{site}"), cookie).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let mut fields = form_fields(&page.body);
        for edit in edits {
            let (add, edit) = match edit.strip_prefix('+') {
                Some(e) => (true, e),
                None => (false, *edit),
            };
            let (name, value) = edit.split_once('=').unwrap();
            if !add {
                fields.retain(|(k, _)| k != name);
            }
            fields.push((name.to_string(), value.to_string()));
        }
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
    }
}

/// The fields a browser would post from the first `site-form` on the page: inputs with their
/// values (checkboxes only when checked), selects with their selected option, textareas.
pub fn form_fields(html: &str) -> Vec<(String, String)> {
    let start = html.find("class=\"site-form\"").expect("a site form");
    let form = &html[start..html[start..].find("</form>").unwrap() + start];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let at = tag.find(&key)? + key.len();
        Some(unescape(&tag[at..at + tag[at..].find('"')?]))
    };
    let mut out = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        if tag.starts_with("<input") {
            let kind = attr(tag, "type").unwrap_or_default();
            if let Some(name) = attr(tag, "name") {
                if kind != "checkbox" || tag.contains(" checked") {
                    out.push((name, attr(tag, "value").unwrap_or_default()));
                }
            }
        } else if tag.starts_with("<select") {
            let name = attr(tag, "name").unwrap();
            let body = &rest[end..rest.find("</select>").unwrap()];
            let chosen = body
                .split("<option")
                .find(|o| o.contains(" selected"))
                .or_else(|| body.split("<option").nth(1))
                .and_then(|o| attr(o, "value"))
                .unwrap_or_default();
            out.push((name, chosen));
        } else if tag.starts_with("<textarea") {
            let name = attr(tag, "name").unwrap();
            let text = &rest[end + 1..rest.find("</textarea>").unwrap()];
            out.push((name, unescape(text)));
        }
        rest = &rest[end..];
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
