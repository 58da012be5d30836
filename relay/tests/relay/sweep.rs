//! A lead whose decision failed once (a storage error: SQLITE_BUSY while `replay` holds the
//! write lock, say) is decided again within seconds, not at the next start.
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aidlink_relay::config::Config;
use aidlink_relay::http::{app, AppState};
use aidlink_relay::metrics::Metrics;
use aidlink_relay::reload::Settings;
use aidlink_relay::store::*;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use crate::support::fault::Faulty;
use crate::support::wait_until;

#[tokio::test(flavor = "multi_thread")]
async fn a_lead_whose_decision_failed_is_decided_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    // The first decision fails as a busy database would.
    let first = std::sync::atomic::AtomicBool::new(true);
    let store = Arc::new(
        Faulty::fresh(
            dir.path(),
            Box::new(move |method, _| {
                method == "lead_facts" && first.swap(false, Ordering::SeqCst)
            }),
        )
        .await,
    );
    let config = Config::parse(include_str!("../../relay.example.toml")).unwrap();
    let state = AppState::new(
        Settings::new(config),
        store.clone(),
        Arc::new(Metrics::default()),
        Arc::new(tokio::sync::Notify::new()),
    );
    tokio::spawn(state.pipeline.clone().sweep(Duration::from_millis(200)));
    let attrs = "%7B%22__r_aid_v__%22%3A%22AbCdEf0123456789xyz%22%7D";
    let hook = Request::get(format!(
        "/v1/calltouch/38342?token=change-me-webhook-token&leadtype=call&id=1&callphase=calldisconnected&attrs={attrs}"
    ))
    .body(Body::empty())
    .unwrap();
    assert_eq!(app(state).oneshot(hook).await.unwrap().status(), 200);
    let trail = wait_until("call-1 decided", Duration::from_secs(5), || async {
        let trail = store
            .trail("38342".into(), "call-1".into())
            .await
            .unwrap()
            .unwrap();
        if trail.status != LeadStatus::New {
            Ok(trail)
        } else {
            Err(format!("{trail:?}"))
        }
    })
    .await;
    assert_eq!(
        store.failed.lock().unwrap().as_slice(),
        ["lead_facts"],
        "the first decision failed"
    );
    assert_eq!(trail.status, LeadStatus::Retrying, "queued for RTB House");
    assert_eq!(trail.reason.as_deref(), Some("queued"));
}
