//! The operator's screen over `app(state)` with `oneshot` and a clock the test moves: sign-in
//! and its limit per address, the session cookie, expiry after inactivity, sign-out, CSRF on
//! every form post, the strict CSP and the remembered language.

use axum::http::{header, StatusCode};

use crate::support::screen::{Screen, MINUTE, T0};
use crate::support::ADMIN;

#[tokio::test]
async fn a_session_cookie_is_strict_and_ends_after_its_idle_time() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "admin_session_idle = \"30m\"");
    let page = screen.try_sign_in(ADMIN).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/admin");
    let set = page.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.ends_with("; Path=/admin; HttpOnly; SameSite=Strict"),
        "no Secure over plain HTTP: {set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let id = cookie.split_once('=').unwrap().1;
    assert_eq!(id.len(), 64);

    // Used every 20 minutes, it lives on; the store keeps only the id's hash.
    for _ in 0..3 {
        screen.advance(20 * MINUTE);
        let sites = screen.get("/admin", &cookie).await;
        assert!(sites.body.contains("/admin/sites/38342"), "{}", sites.body);
    }
    let hash = aidlink_relay::screen::session::hash(id);
    let stored = screen.store.session(hash.clone()).await.unwrap().unwrap();
    assert_eq!(stored.last_seen_ms, T0 + 60 * MINUTE, "touched");
    assert!(screen
        .store
        .session(id.to_string())
        .await
        .unwrap()
        .is_none());

    // Idle for 30 minutes and a millisecond: ended, and deleted.
    screen.advance(30 * MINUTE + 1);
    let ended = screen.get("/admin", &cookie).await;
    assert_eq!(ended.status, StatusCode::OK);
    assert!(ended.body.contains("name=\"token\""), "the sign-in form");
    assert!(
        ended.body.contains("Сеанс завершён или истёк"),
        "{}",
        ended.body
    );
    assert!(screen.store.session(hash).await.unwrap().is_none());
    let form = screen.get("/admin/sites/38342", &cookie).await;
    assert_eq!(
        form.status,
        StatusCode::SEE_OTHER,
        "pages redirect to sign-in"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_when_a_trusted_proxy_says_https() {
    let dir = tempfile::tempdir().unwrap();
    // Router tests have no socket: the peer is 127.0.0.1.
    let screen = Screen::open(dir.path(), "trusted_proxies = [\"127.0.0.1/32\"]");
    let request = axum::http::Request::post("/admin/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .header(header::HOST, "relay.example")
        .body(axum::body::Body::from(format!("token={ADMIN}")))
        .unwrap();
    let page = screen.send(request).await;
    let set = page.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.ends_with("; Secure"), "{set}");
    // The webhook URL and script tag name the host and scheme the proxy was asked for.
    let cookie = set.split(';').next().unwrap();
    let request = axum::http::Request::get("/admin/sites/38342")
        .header(header::COOKIE, cookie)
        .header(header::HOST, "127.0.0.1:8080")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "relay.example")
        .body(axum::body::Body::empty())
        .unwrap();
    let site = screen.send(request).await;
    assert!(
        site.body
            .contains("https://relay.example/v1/calltouch/38342?token=hook-token-0123456789"),
        "{}",
        site.body
    );
    assert!(site
        .body
        .contains("src=&quot;https://relay.example/aidlink.js&quot;"));
    let untrusted_dir = tempfile::tempdir().unwrap();
    let untrusted = Screen::open(untrusted_dir.path(), "");
    let request = axum::http::Request::post("/admin/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(axum::body::Body::from(format!("token={ADMIN}")))
        .unwrap();
    let page = untrusted.send(request).await;
    let set = page.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(!set.contains("Secure"), "not from a trusted proxy: {set}");
}

#[tokio::test]
async fn wrong_tokens_are_refused_then_every_attempt_waits() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    for _ in 0..5 {
        let page = screen.try_sign_in("admin-token-wrong-000").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(page.body.contains("Неверный токен."));
        assert!(page.headers.get(header::SET_COOKIE).is_none());
    }
    let limited = screen.try_sign_in(ADMIN).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right one"
    );
    assert_eq!(limited.headers[header::RETRY_AFTER], "12");
    assert!(
        limited.body.contains("Повторите через 12 с."),
        "{}",
        limited.body
    );
    screen.advance(12_000);
    assert_eq!(
        screen.try_sign_in(ADMIN).await.status,
        StatusCode::SEE_OTHER
    );
    // The token is read from the form body only: never from a URL.
    let in_url = screen.get(&format!("/admin?token={ADMIN}"), "").await;
    assert!(in_url.body.contains("name=\"token\""), "not signed in");
    let get = screen
        .get(&format!("/admin/sign-in?token={ADMIN}"), "")
        .await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn every_form_post_needs_the_sessions_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, csrf) = screen.sign_in().await;
    let (other_cookie, other_csrf) = screen.sign_in().await;
    assert_ne!(csrf, other_csrf, "a token per session");
    let form = screen
        .site_form("38342", &cookie, &["enabled=", "csrf=x"])
        .await;
    for (body, why) in [
        (form.replace("csrf=x&", ""), "no token"),
        (form.clone(), "a wrong token"),
        (
            form.replace("csrf=x", &format!("csrf={other_csrf}")),
            "another session's",
        ),
    ] {
        let page = screen.post("/admin/sites/38342", &cookie, &body).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{why}");
        assert!(page.body.contains("CSRF"), "{why}");
    }
    assert!(screen
        .store
        .audit_trail("38342".into(), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(
        screen
            .state
            .settings
            .current()
            .site("38342")
            .unwrap()
            .enabled
    );
    for path in [
        "/admin/sign-out",
        "/admin/sites/new",
        "/admin/sites/38342/test",
        "/admin/sites/38342/leads/call-1/retry",
    ] {
        let page = screen.post(path, &cookie, "csrf=nope").await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    let good = form.replace("csrf=x", &format!("csrf={csrf}"));
    let saved = screen.post("/admin/sites/38342", &cookie, &good).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert!(
        !screen
            .state
            .settings
            .current()
            .site("38342")
            .unwrap()
            .enabled
    );
    // Signing out ends the session, in storage too.
    let out = screen
        .post(
            "/admin/sign-out",
            &other_cookie,
            &format!("csrf={other_csrf}"),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = screen.get("/admin/sites/38342", &other_cookie).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_answer_has_the_strict_csp_and_pages_have_no_inline_script() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, _) = screen.sign_in().await;
    for path in [
        "/admin",
        "/admin?lang=en",
        "/admin/sites/new",
        "/admin/sites/38342",
        "/admin/sites/38342/leads",
        "/admin/sites/38342/live",
        "/admin/sites/38342/test",
        "/admin/static/admin.js",
        "/admin/static/admin.css",
        "/admin/sites/99999",
    ] {
        let page = screen.get(path, &cookie).await;
        assert_eq!(
            page.headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
            "{path}"
        );
        let cache = page.headers[header::CACHE_CONTROL].to_str().unwrap();
        assert!(
            cache == "no-store" || cache == "no-cache",
            "{path}: {cache}"
        );
        if page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
        {
            let scripts = page.body.matches("<script").count();
            let external = page
                .body
                .matches("<script src=\"/admin/static/admin.js\" defer></script>")
                .count();
            // The script tag shown for copying is escaped text, not a script.
            assert_eq!(scripts, external, "{path}: only the external script");
            assert!(
                !page.body.contains(" style=") && !page.body.contains(" onclick="),
                "{path}"
            );
        }
    }
    // A site the settings do not hold is "not found" on every page of it.
    for path in [
        "/admin/sites/99999",
        "/admin/sites/99999/leads",
        "/admin/sites/99999/leads/call-1",
        "/admin/sites/99999/live",
        "/admin/sites/99999/live.json",
        "/admin/sites/99999/test",
    ] {
        let unknown = screen.get(path, &cookie).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{path}");
    }
    // ?lang=en is remembered.
    let en = screen.get("/admin?lang=en", &cookie).await;
    let lang = en.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(lang.starts_with("aidlink_lang=en; Path=/admin"), "{lang}");
    let remembered = screen
        .get("/admin", &format!("{cookie}; aidlink_lang=en"))
        .await;
    assert!(remembered.body.contains("<html lang=\"en\">") && remembered.body.contains("Add site"));
}
