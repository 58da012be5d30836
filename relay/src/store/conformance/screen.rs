//! The conformance tests of [`crate::store::ScreenStore`]: saved settings with their audit,
//! the settings version, sessions, the lead log's pages, the live view's counters and recent
//! events. Times are given, never read from the clock.

use super::{attempt, binding, claim_one, queue, SITE};
use crate::store::screen::{kind, AdminSession, AuditEntry, LeadCursor, LiveEvent, SavedSite};
use crate::store::{LeadStatus, Next, Store};

fn saved(site: &str, settings: &str, at: i64) -> SavedSite {
    SavedSite {
        site: site.into(),
        settings: settings.into(),
        saved_ms: at,
    }
}

fn audit(site: &str, at: i64, changes: &str) -> AuditEntry {
    AuditEntry {
        site: site.into(),
        at_ms: at,
        who: "session 0a1b2c3d".into(),
        changes: changes.into(),
    }
}

pub async fn a_save_stores_the_settings_and_its_audit_and_moves_the_version(store: &dyn Store) {
    assert!(store.saved_sites().await.unwrap().is_empty());
    let v0 = store.settings_version().await.unwrap();
    let v1 = store
        .save_site(saved(SITE, "{\"a\":1}", 10), audit(SITE, 10, "[\"first\"]"))
        .await
        .unwrap();
    assert!(v1 > v0, "{v1} after {v0}");
    assert_eq!(store.settings_version().await.unwrap(), v1);
    let v2 = store
        .save_site(
            saved(SITE, "{\"a\":2}", 20),
            audit(SITE, 20, "[\"second\"]"),
        )
        .await
        .unwrap();
    store
        .save_site(
            saved("777", "{\"b\":1}", 30),
            audit("777", 30, "[\"other\"]"),
        )
        .await
        .unwrap();
    assert!(v2 > v1);
    let mut sites = store.saved_sites().await.unwrap();
    sites.sort_by(|a, b| a.site.cmp(&b.site));
    assert_eq!(
        sites,
        [saved(SITE, "{\"a\":2}", 20), saved("777", "{\"b\":1}", 30)],
        "a second save replaces the first"
    );
    let trail = store.audit_trail(SITE.into(), 10).await.unwrap();
    assert_eq!(
        trail,
        [
            audit(SITE, 20, "[\"second\"]"),
            audit(SITE, 10, "[\"first\"]")
        ],
        "newest first, this site's only"
    );
    assert_eq!(store.audit_trail(SITE.into(), 1).await.unwrap().len(), 1);
}

fn session(hash: &str, at: i64) -> AdminSession {
    AdminSession {
        id_hash: hash.into(),
        csrf: format!("csrf-{hash}"),
        created_ms: at,
        last_seen_ms: at,
    }
}

pub async fn sessions_are_kept_by_hash_touched_ended_and_dropped_when_idle(store: &dyn Store) {
    store.put_session(session("aa", 100), 0).await.unwrap();
    assert_eq!(
        store.session("aa".into()).await.unwrap(),
        Some(session("aa", 100))
    );
    assert_eq!(store.session("bb".into()).await.unwrap(), None);
    store.touch_session("aa".into(), 500).await.unwrap();
    let seen = store.session("aa".into()).await.unwrap().unwrap();
    assert_eq!((seen.created_ms, seen.last_seen_ms), (100, 500));
    // A sign-in drops the sessions idle since before its cutoff, not the others.
    store.put_session(session("bb", 600), 400).await.unwrap();
    assert!(store.session("aa".into()).await.unwrap().is_some());
    store.put_session(session("cc", 700), 550).await.unwrap();
    assert!(store.session("aa".into()).await.unwrap().is_none(), "idle");
    assert!(store.session("bb".into()).await.unwrap().is_some());
    store.end_session("bb".into()).await.unwrap();
    assert!(
        store.session("bb".into()).await.unwrap().is_none(),
        "signed out"
    );
    assert!(store.session("cc".into()).await.unwrap().is_some());
}

pub async fn the_lead_log_pages_newest_first_with_attempts_and_last_status(store: &dyn Store) {
    // call-1 retried then sent, call-2 dead at once, call-3 only stored (new).
    queue(store, SITE, "1", "Aid1", 10).await;
    let d = claim_one(store, 100).await;
    store
        .record_attempt(d, attempt(110, Some(503)), Next::RetryAt(200))
        .await
        .unwrap();
    let d = claim_one(store, 200).await;
    store
        .record_attempt(d, attempt(210, Some(200)), Next::Sent)
        .await
        .unwrap();
    queue(store, SITE, "2", "Aid2", 300).await;
    let d = claim_one(store, 300).await;
    store
        .record_attempt(d, attempt(310, None), Next::Dead)
        .await
        .unwrap();
    store
        .put_lead_event(SITE.into(), super::call("3", "callconnected", "S"), 400)
        .await
        .unwrap();
    store
        .put_lead_event("777".into(), super::call("9", "callconnected", "S"), 500)
        .await
        .unwrap();

    let page = store.lead_log(SITE.into(), None, None, 2).await.unwrap();
    let rows: Vec<(&str, LeadStatus, u32, Option<u16>)> = page
        .iter()
        .map(|r| (r.lead_id.as_str(), r.status, r.attempts, r.last_http))
        .collect();
    assert_eq!(
        rows,
        [
            ("call-3", LeadStatus::New, 0, None),
            ("call-2", LeadStatus::Dead, 1, None)
        ],
        "newest first; the last attempt had no HTTP status"
    );
    let last = page.last().unwrap();
    let after = LeadCursor {
        updated_ms: last.updated_ms,
        lead_id: last.lead_id.clone(),
    };
    let next = store
        .lead_log(SITE.into(), None, Some(after), 2)
        .await
        .unwrap();
    let rows: Vec<(&str, u32, Option<u16>)> = next
        .iter()
        .map(|r| (r.lead_id.as_str(), r.attempts, r.last_http))
        .collect();
    assert_eq!(
        rows,
        [("call-1", 2, Some(200))],
        "the next page, and the end"
    );
    assert_eq!(next[0].reason.as_deref(), Some("queued"));
    let dead = store
        .lead_log(SITE.into(), Some(LeadStatus::Dead), None, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].lead_id, "call-2");
    // Rows changed in the same millisecond are told apart by their lead id.
    for id in ["a", "b", "c"] {
        store
            .put_lead_event("555".into(), super::call(id, "callconnected", "S"), 900)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .lead_log("555".into(), None, after.clone(), 1)
            .await
            .unwrap();
        let Some(row) = page.first() else { break };
        seen.push(row.lead_id.clone());
        after = Some(LeadCursor {
            updated_ms: row.updated_ms,
            lead_id: row.lead_id.clone(),
        });
    }
    assert_eq!(seen, ["call-c", "call-b", "call-a"]);
}

pub async fn counters_count_bindings_decisions_and_postbacks_per_ten_minutes(store: &dyn Store) {
    const TEN_MIN: i64 = 600_000;
    let t0 = 1_000 * TEN_MIN;
    let b = binding("S1", None, "Aid1", "", 1);
    store.put_binding(b.clone(), t0 + 5).await.unwrap();
    store.put_binding(b, t0 + 6).await.unwrap(); // a duplicate is not counted
    store
        .put_binding(binding("S2", None, "Aid2", "", 1), t0 + TEN_MIN + 1)
        .await
        .unwrap();
    queue(store, SITE, "1", "Aid1", t0 + 10).await;
    let d = claim_one(store, t0 + 20).await;
    store
        .record_attempt(d, attempt(t0 + 30, Some(503)), Next::RetryAt(t0 + 40))
        .await
        .unwrap();
    let d = claim_one(store, t0 + TEN_MIN).await;
    store
        .record_attempt(d, attempt(t0 + TEN_MIN + 2, Some(200)), Next::Sent)
        .await
        .unwrap();
    queue(store, "777", "x", "AidX", t0).await;

    let mut counters = store.counters(SITE.into(), t0).await.unwrap();
    counters.sort_by(|a, b| (a.bucket_ms, &a.kind, &a.key).cmp(&(b.bucket_ms, &b.kind, &b.key)));
    let rows: Vec<(i64, &str, &str, u64)> = counters
        .iter()
        .map(|c| (c.bucket_ms - t0, c.kind.as_str(), c.key.as_str(), c.n))
        .collect();
    assert_eq!(
        rows,
        [
            (0, kind::BINDING, "", 1),
            (0, kind::DECISION, "queued", 1),
            (0, kind::POSTBACK, "retry", 1),
            (TEN_MIN, kind::BINDING, "", 1),
            (TEN_MIN, kind::POSTBACK, "sent", 1),
        ]
    );
    let later = store.counters(SITE.into(), t0 + TEN_MIN).await.unwrap();
    assert_eq!(later.len(), 2, "only buckets from the one asked");
    // Retention drops counter rows with the rest.
    crate::pipeline::purge_before(store, t0 + TEN_MIN, 100)
        .await
        .unwrap();
    let kept = store.counters(SITE.into(), 0).await.unwrap();
    assert!(kept.iter().all(|c| c.bucket_ms == t0 + TEN_MIN), "{kept:?}");
}

pub async fn recent_events_and_the_outbox_of_one_site(store: &dyn Store) {
    queue(store, SITE, "1", "Aid1", 10).await;
    queue(store, SITE, "2", "Aid2", 20).await;
    let d = claim_one(store, 30).await;
    store
        .record_attempt(d, attempt(40, Some(200)), Next::Sent)
        .await
        .unwrap();
    queue(store, "777", "x", "AidX", 50).await;
    let events = store.recent_events(SITE.into(), 10).await.unwrap();
    let seen: Vec<(i64, &str, bool)> = events
        .iter()
        .map(|e| match e {
            LiveEvent::Webhook { at_ms, lead_id, .. } => (*at_ms, lead_id.as_str(), false),
            LiveEvent::Attempt { at_ms, lead_id, .. } => (*at_ms, lead_id.as_str(), true),
        })
        .collect();
    assert_eq!(
        seen,
        [
            (40, "call-1", true),
            (20, "call-2", false),
            (10, "call-1", false)
        ],
        "newest first, webhooks and attempts, this site only"
    );
    assert!(matches!(
        &events[1],
        LiveEvent::Webhook { reason: Some(r), phase: Some(p), .. } if r == "queued" && p == "disconnected"
    ));
    assert_eq!(store.recent_events(SITE.into(), 2).await.unwrap().len(), 2);
    let outbox = store.site_outbox(SITE.into()).await.unwrap();
    assert_eq!((outbox.depth, outbox.oldest_ms), (1, Some(20)));
    assert_eq!(store.site_outbox("777".into()).await.unwrap().depth, 1);
    assert_eq!(store.site_outbox("1".into()).await.unwrap().depth, 0);
}
