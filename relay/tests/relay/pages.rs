//! The operator screen's working pages over `app(state)`: the test lead storing and sending
//! nothing, `Retry` doing what `replay` does (and refusing what it refuses), and condition rows
//! added and removed by posting the form back when there is no script.

use aidlink_relay::decide::{Credit, Decision, Verdict};
use aidlink_relay::postback::{Cd, Postback};
use aidlink_relay::store::{Attempt, ClaimPlan, LeadStatus, Next};
use aidlink_relay::webhook::parse_lead;
use axum::http::StatusCode;

use crate::support::screen::{Screen, MINUTE, T0};

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
