//! A lead whose decision failed once (a storage error: SQLITE_BUSY while `replay` holds the
//! write lock, say) is decided again within seconds, not at the next start.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aidlink_protocol::Binding;
use aidlink_relay::config::{Config, Site};
use aidlink_relay::http::{app, sweep_undecided, AppState};
use aidlink_relay::metrics::Metrics;
use aidlink_relay::reload::Settings;
use aidlink_relay::store::sqlite::Sqlite;
use aidlink_relay::store::*;
use aidlink_relay::webhook::Lead;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

/// SQLite whose first decision fails as a busy database would.
struct FirstDecideFails {
    inner: Sqlite,
    failed: AtomicBool,
}

impl Store for FirstDecideFails {
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.ping()
    }
    fn put_binding(&self, b: Binding, now: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.inner.put_binding(b, now)
    }
    fn put_lead_event(
        &self,
        site: String,
        lead: Lead,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.put_lead_event(site, lead, now)
    }
    fn decide(
        &self,
        site: Site,
        lead_id: String,
        now: i64,
    ) -> BoxFuture<'_, Result<Option<Decided>, StoreError>> {
        if !self.failed.swap(true, Ordering::SeqCst) {
            return Box::pin(async { Err(StoreError::Unavailable("database is locked".into())) });
        }
        self.inner.decide(site, lead_id, now)
    }
    fn undecided(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>> {
        self.inner.undecided()
    }
    fn claim_due(
        &self,
        now: i64,
        lease: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>> {
        self.inner.claim_due(now, lease, limit)
    }
    fn record_attempt(
        &self,
        d: Delivery,
        a: Attempt,
        n: Next,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.record_attempt(d, a, n)
    }
    fn requeue_dead(
        &self,
        site: String,
        lead: Option<String>,
        now: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.requeue_dead(site, lead, now)
    }
    fn trail(
        &self,
        site: String,
        lead: String,
    ) -> BoxFuture<'_, Result<Option<Trail>, StoreError>> {
        self.inner.trail(site, lead)
    }
    fn list(
        &self,
        site: String,
        status: LeadStatus,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadSummary>, StoreError>> {
        self.inner.list(site, status, limit)
    }
    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        self.inner.outbox_stats()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lead_whose_decision_failed_is_decided_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("aidlink.db");
    let store = Arc::new(FirstDecideFails {
        inner: Sqlite::open(db.to_str().unwrap()).unwrap(),
        failed: AtomicBool::new(false),
    });
    let config = Config::parse(include_str!("../relay.example.toml")).unwrap();
    let state = AppState::new(
        Settings::new(config),
        store.clone(),
        Arc::new(Metrics::default()),
        Arc::new(tokio::sync::Notify::new()),
    );
    tokio::spawn(sweep_undecided(state.clone(), Duration::from_millis(200)));
    let attrs = "%7B%22__r_aid_v__%22%3A%22AbCdEf0123456789xyz%22%7D";
    let hook = Request::get(format!(
        "/v1/calltouch/38342?token=change-me-webhook-token&leadtype=call&id=1&callphase=calldisconnected&attrs={attrs}"
    ))
    .body(Body::empty())
    .unwrap();
    assert_eq!(app(state).oneshot(hook).await.unwrap().status(), 200);
    let until = Instant::now() + Duration::from_secs(5);
    let trail = loop {
        let trail = store
            .trail("38342".into(), "call-1".into())
            .await
            .unwrap()
            .unwrap();
        if trail.status != LeadStatus::New || Instant::now() > until {
            break trail;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        store.failed.load(Ordering::SeqCst),
        "the first decision failed"
    );
    assert_eq!(trail.status, LeadStatus::Retrying, "queued for RTB House");
    assert_eq!(trail.reason.as_deref(), Some("sent"));
}
