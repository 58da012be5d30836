//! The operator's screen over `app(state)` with `oneshot` and a clock the test moves: sign-in
//! and its limit per address, the session cookie, expiry after inactivity, sign-out, CSRF on
//! every form post, the strict CSP, the test lead storing and sending nothing, and `Retry`
//! refusing what `replay` refuses.

use aidlink_relay::decide::{Credit, Decision, Verdict};
use aidlink_relay::postback::{Cd, Postback};
use aidlink_relay::store::{Attempt, ClaimPlan, LeadStatus, Next};
use aidlink_relay::webhook::parse_lead;
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
    let untrusted = Screen::open(tempfile::tempdir().unwrap().path(), "");
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
        assert_eq!(
            page.headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .is_empty(),
            false
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
    let unknown = screen.get("/admin/sites/99999", &cookie).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // ?lang=en is remembered.
    let en = screen.get("/admin?lang=en", &cookie).await;
    let lang = en.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(lang.starts_with("aidlink_lang=en; Path=/admin"), "{lang}");
    let remembered = screen
        .get("/admin", &format!("{cookie}; aidlink_lang=en"))
        .await;
    assert!(remembered.body.contains("<html lang=\"en\">") && remembered.body.contains("Add site"));
}

#[tokio::test]
async fn a_test_lead_shows_each_rule_and_the_url_and_stores_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, csrf) = screen.sign_in().await;
    let before = screen.store.row_counts().await.unwrap();
    let form = format!(
        "csrf={csrf}&leadtype=call&id=777&callphase=calldisconnected&status=successful&unique=on\
         &utm_source=yandex&aid=AidTest1&timestamp=1795564800"
    );
    let page = screen
        .post("/admin/sites/38342/test?lang=en", &cookie, &form)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for rule in [
        "Integration enabled",
        "PKEY and tagging hash set",
        "RTB House id known",
        "Call ended, when the filters need it",
        "A selected metric matches",
        "Tags match",
    ] {
        assert!(
            page.body
                .contains(&format!("<td>{rule}</td><td data-outcome=\"pass\">")),
            "{rule}"
        );
    }
    assert!(page.body.contains("<code id=\"decision\">queued</code>"));
    assert!(page.body.contains(
        "http://127.0.0.1:9/omni/postbacks?pkey=pk***&amp;aid=AidTest1&amp;time=1795564800000&amp;tag=pr_IYIhaCDSPfPoVd4FIEF1_conversion_action_call__ct-call-777_&amp;cd=default"
    ), "{}", page.body);
    assert!(!page.body.contains("pkey-SECRET"), "PKEY masked");
    let without_id = form.replace("aid=AidTest1", "aid=");
    let page = screen
        .post("/admin/sites/38342/test?lang=en", &cookie, &without_id)
        .await;
    assert!(page
        .body
        .contains("<td>RTB House id known</td><td data-outcome=\"fail\">"));
    assert!(page.body.contains("<code id=\"decision\">no_rtb_id</code>"));
    assert!(!page.body.contains("id=\"postback-url\""));
    assert_eq!(
        screen.store.row_counts().await.unwrap(),
        before,
        "nothing stored"
    );
    assert_eq!(
        screen.store.outbox_stats().await.unwrap().depth,
        0,
        "nothing queued"
    );
}

/// A dead-lettered postback of a call whose event was `age_ms` before T0.
async fn dead_letter(screen: &Screen, id: &str, age_ms: i64) {
    let at = T0 - age_ms;
    let fields: Vec<(String, String)> = [
        ("leadtype", "call"),
        ("id", id),
        ("callphase", "calldisconnected"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let lead = parse_lead(&fields).unwrap();
    let store = &screen.store;
    store
        .put_lead_event("38342".into(), lead.clone(), at)
        .await
        .unwrap();
    let facts = store
        .lead_facts("38342".into(), lead.lead_id(), 1)
        .await
        .unwrap()
        .unwrap();
    let verdict = Verdict::Decided {
        decision: Decision::Send {
            aid: "Aid1".into(),
            credit: Credit {
                source: "yandex".into(),
                cd: Cd::Default,
            },
        },
        status: LeadStatus::Retrying,
        postback: Some(Postback::for_lead(&lead, "Aid1", at, Cd::Default)),
        id_source: None,
    };
    assert!(store
        .record_verdict("38342".into(), lead.lead_id(), facts.version, verdict, at)
        .await
        .unwrap());
    let plan = ClaimPlan {
        per_site: vec![("38342".into(), 1)],
        others: 0,
        total: 1,
    };
    let due = store.claim_due(at, 1, plan).await.unwrap().remove(0);
    let attempt = Attempt {
        at_ms: at,
        status: Some(400),
        error: None,
        url: String::new(),
    };
    store
        .record_attempt(due, attempt, Next::Dead)
        .await
        .unwrap();
}

#[tokio::test]
async fn retry_requeues_a_dead_lead_as_replay_does_and_refuses_one_past_24_hours() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, csrf) = screen.sign_in().await;
    dead_letter(&screen, "1", 60 * MINUTE).await;
    dead_letter(&screen, "2", 25 * 60 * MINUTE).await;
    let log = screen
        .get("/admin/sites/38342/leads?status=dead&lang=en", &cookie)
        .await;
    assert_eq!(
        log.body.matches(">Retry</button>").count(),
        2,
        "{}",
        log.body
    );

    let page = screen
        .post(
            "/admin/sites/38342/leads/call-1/retry",
            &cookie,
            &format!("csrf={csrf}&back=log"),
        )
        .await;
    assert_eq!(
        page.location(),
        "/admin/sites/38342/leads?notice=requeued&lead=call-1"
    );
    let trail = screen
        .store
        .trail("38342".into(), "call-1".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trail.status, LeadStatus::Retrying);
    assert_eq!(screen.store.outbox_stats().await.unwrap().depth, 1);

    let old = screen
        .post(
            "/admin/sites/38342/leads/call-2/retry",
            &cookie,
            &format!("csrf={csrf}&back=trail"),
        )
        .await;
    assert_eq!(
        old.location(),
        "/admin/sites/38342/leads/call-2?notice=too_old"
    );
    let shown = screen
        .get(old.location(), &format!("{cookie}; aidlink_lang=en"))
        .await;
    assert!(
        shown.body.contains("more than 24 hours old"),
        "{}",
        shown.body
    );
    let trail = screen
        .store
        .trail("38342".into(), "call-2".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trail.status, LeadStatus::Dead, "not re-queued");
    let again = screen
        .post(
            "/admin/sites/38342/leads/call-1/retry",
            &cookie,
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(
        again.location(),
        "/admin/sites/38342/leads?notice=not_dead&lead=call-1"
    );
}

#[tokio::test]
async fn without_script_condition_rows_are_added_and_removed_by_posting_back_nothing_saved() {
    let dir = tempfile::tempdir().unwrap();
    let screen = Screen::open(dir.path(), "");
    let (cookie, csrf) = screen.sign_in().await;
    let form = screen
        .site_form(
            "38342",
            &cookie,
            &[
                &format!("csrf={csrf}"),
                "pkey=typed-not-saved-1",
                "cond_field=utm_source",
                "cond_value=yandex",
                "action=add_condition",
            ],
        )
        .await;
    let added = screen.post("/admin/sites/38342", &cookie, &form).await;
    assert_eq!(added.status, StatusCode::OK);
    assert!(
        added
            .body
            .contains("id=\"cond-field-1\" name=\"cond_field\" autofocus"),
        "a new row, focused"
    );
    assert!(
        added
            .body
            .contains("id=\"cond-value-0\" name=\"cond_value\" value=\"yandex\""),
        "kept as typed"
    );
    assert!(
        added.body.contains("value=\"typed-not-saved-1\""),
        "the PKEY just typed comes back"
    );
    assert!(
        screen.store.saved_sites().await.unwrap().is_empty(),
        "nothing saved"
    );
    let removed = form.replace("action=add_condition", "action=remove%3A0");
    let page = screen.post("/admin/sites/38342", &cookie, &removed).await;
    assert!(!page.body.contains("value=\"yandex\""), "row 0 gone");
    assert!(page
        .body
        .contains("value=\"add_condition\" class=\"secondary\" autofocus"));
    assert!(screen.store.saved_sites().await.unwrap().is_empty());
    // The stored PKEY itself never comes back.
    let shown = screen.get("/admin/sites/38342", &cookie).await;
    assert!(!shown.body.contains(crate::support::PKEY));
}
