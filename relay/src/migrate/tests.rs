//! `migrate-storage`'s copy: everything arrives (a lead's trail reads the same in the target),
//! a second run adds nothing, a non-empty target is refused without `resume`, and counts that
//! differ fail the copy. SQLite to PostgreSQL and back when a test server is configured
//! (`AIDLINK_TEST_POSTGRES`); SQLite to SQLite always.

use super::{copy, MigrateError, Options};
use crate::store::postgres::tests::Scratch;
use crate::store::postgres::{Options as PgOptions, Postgres};
use crate::store::rows::{Table, Tables};
use crate::store::screen::{AuditEntry, SavedSite};
use crate::store::sqlite::Sqlite;
use crate::store::{Attempt, ClaimPlan, Next, Store};

const SITE: &str = crate::store::conformance::SITE;

/// A store with `n` bindings and `n` leads, every lead queued and attempted once (503, retry).
async fn filled(store: &dyn Store, n: usize) {
    for i in 0..n {
        let binding = aidlink_protocol::Binding::new(
            SITE.into(),
            format!("S{i}"),
            Some("C1".into()),
            format!("Aid{i}"),
            None,
        );
        assert!(store.put_binding(binding, 1_000 + i as i64).await.unwrap());
        crate::store::conformance::queue(store, SITE, &format!("m{i}"), "Aid", 2_000).await;
    }
    let plan = ClaimPlan {
        per_site: vec![(SITE.into(), n as u32)],
        others: 0,
        total: n as u32,
    };
    // Two saves on the operator's screen: the saved site and both audit entries travel too.
    for (at, changes) in [
        (500, r#"{"enabled":[false,true]}"#),
        (600, r#"{"region":["eu","us"]}"#),
    ] {
        let saved = SavedSite {
            site: SITE.into(),
            settings: format!(r#"{{"id":"{SITE}","saved_at":{at}}}"#),
            saved_ms: at,
        };
        let audit = AuditEntry {
            site: SITE.into(),
            at_ms: at,
            who: "session 1a2b".into(),
            changes: changes.into(),
        };
        store.save_site(saved, audit).await.unwrap();
    }
    for d in store.claim_due(3_000, 1, plan).await.unwrap() {
        let attempt = Attempt {
            at_ms: 3_000,
            status: Some(503),
            error: Some("busy".into()),
            url: "https://x/p?pkey=secret&aid=A".into(),
        };
        store
            .record_attempt(d, attempt, Next::RetryAt(9_000))
            .await
            .unwrap();
    }
}

fn sqlite(dir: &tempfile::TempDir, name: &str) -> Sqlite {
    Sqlite::open(dir.path().join(name).to_str().unwrap()).unwrap()
}

const OPTIONS: Options = Options {
    resume: false,
    batch: 7,
};

/// Copies `from` into `to` (both fresh), then checks what a user would look at.
async fn round<A, B>(from: &A, to: &B)
where
    A: Store + Tables,
    B: Store + Tables,
{
    filled(from, 20).await;
    let mut batches = 0;
    let report = copy(from, to, OPTIONS, &mut |_| batches += 1)
        .await
        .unwrap();
    assert!(
        batches >= 5 * 3,
        "batches of 7 rows, progress after each: {batches}"
    );
    for t in &report.tables {
        assert_eq!(
            (t.source, t.target, t.new),
            (t.target, t.source, t.source),
            "{t:?}"
        );
    }
    let counts = to.row_counts().await.unwrap();
    assert_eq!(
        (
            counts.bindings,
            counts.leads,
            counts.lead_events,
            counts.outbox,
            counts.attempts
        ),
        (20, 20, 20, 20, 20),
        "the target's own row counters follow the copied rows"
    );
    let (a, b) = (
        from.trail(SITE.into(), "call-m7".into())
            .await
            .unwrap()
            .unwrap(),
        to.trail(SITE.into(), "call-m7".into())
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&b).unwrap(),
        "the trail reads the same in the target"
    );
    assert_eq!(
        to.saved_sites().await.unwrap(),
        from.saved_sites().await.unwrap(),
        "the sites saved on the operator's screen"
    );
    let trail = to.audit_trail(SITE.into(), 10).await.unwrap();
    assert_eq!(trail, from.audit_trail(SITE.into(), 10).await.unwrap());
    assert_eq!(trail.len(), 2, "{trail:?}");
    // The copied postbacks are due at the same time, with their attempts counted.
    let plan = ClaimPlan {
        per_site: vec![(SITE.into(), 50)],
        others: 0,
        total: 50,
    };
    let due = to.claim_due(9_000, 1, plan).await.unwrap();
    assert_eq!(due.len(), 20);
    assert!(due.iter().all(|d| d.attempts == 1));
    // A second run: refused as not empty, and with `resume` it adds nothing.
    match copy(from, to, OPTIONS, &mut |_| {}).await {
        Err(MigrateError::NotEmpty(held)) => assert!(held.contains("bindings 20"), "{held}"),
        other => panic!("a non-empty target must be refused: {other:?}"),
    }
    let resume = Options {
        resume: true,
        ..OPTIONS
    };
    let again = copy(from, to, resume, &mut |_| {}).await.unwrap();
    assert!(again.tables.iter().all(|t| t.new == 0), "{again:?}");
    // New events after the copy sort after the copied ones.
    let lead = crate::webhook::test_lead("leadtype=call&id=m7&callphase=calldisconnected");
    to.put_lead_event(SITE.into(), lead, 10_000).await.unwrap();
    let trail = to
        .trail(SITE.into(), "call-m7".into())
        .await
        .unwrap()
        .unwrap();
    let times: Vec<i64> = trail.events.iter().map(|e| e.received_ms).collect();
    assert_eq!(times, [2_000, 10_000]);
    // The source moved on (a relay still running): counts differ, the copy says so.
    from.put_binding(
        aidlink_protocol::Binding::new(SITE.into(), "late".into(), None, "AidL".into(), None),
        20_000,
    )
    .await
    .unwrap();
    to.put_binding(
        aidlink_protocol::Binding::new(SITE.into(), "other".into(), None, "AidO".into(), None),
        20_000,
    )
    .await
    .unwrap();
    from.put_binding(
        aidlink_protocol::Binding::new(SITE.into(), "late2".into(), None, "AidL".into(), None),
        20_000,
    )
    .await
    .unwrap();
    match copy(from, to, resume, &mut |_| {}).await {
        Err(MigrateError::Mismatch(why)) => {
            assert!(why.contains("bindings source 22 target 23"), "{why}")
        }
        other => panic!("differing counts must fail the copy: {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_to_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    round(&sqlite(&dir, "a.db"), &sqlite(&dir, "b.db")).await;
}

#[tokio::test]
async fn sqlite_to_postgres() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = Postgres::open(&scratch.url, &PgOptions::default())
        .await
        .unwrap();
    round(&sqlite(&dir, "a.db"), &target).await;
}

#[tokio::test]
async fn postgres_to_sqlite() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = Postgres::open(&scratch.url, &PgOptions::default())
        .await
        .unwrap();
    round(&source, &sqlite(&dir, "b.db")).await;
}

#[test]
fn tables_are_read_after_their_key_in_key_order() {
    let mark = |i: usize| format!("${i}");
    assert_eq!(
        Table::Leads.select_sql(true, mark),
        "SELECT site, lead_id, lead, status, reason, decided, created_ms, updated_ms, version, \
         judged_source, cd, id_source FROM leads WHERE (site, lead_id) > ($1, $2) \
         ORDER BY site, lead_id LIMIT $3"
    );
    assert_eq!(
        Table::Attempts.select_sql(false, mark),
        "SELECT seq, site, lead_id, at_ms, status, error, url FROM attempts ORDER BY seq LIMIT $1"
    );
}
