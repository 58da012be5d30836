//! The one fake `Store` of the relay's tests: the suite's backend, or nothing at all, with
//! faults injected per method: `Faulty::down()` fails every call, as a store whose disk is
//! gone; a `fail` rule picks which calls fail (the first decision, say).

use std::sync::atomic::{AtomicUsize, Ordering};

use aidlink_protocol::Binding;
use aidlink_relay::decide::{LeadFacts, StoredTouch, Verdict};
use aidlink_relay::store::screen::*;
use std::sync::Arc;

use aidlink_relay::store::*;
use aidlink_relay::webhook::Lead;

/// Which call fails: the method's name and how many calls of any method came before it.
pub type Rule = Box<dyn Fn(&'static str, usize) -> bool + Send + Sync>;

pub struct Faulty {
    inner: Option<Arc<dyn Store>>,
    fail: Rule,
    calls: AtomicUsize,
    /// Calls that failed, by method name.
    pub failed: std::sync::Mutex<Vec<&'static str>>,
}

impl Faulty {
    /// Every call fails.
    pub fn down() -> Faulty {
        Faulty {
            inner: None,
            fail: Box::new(|_, _| true),
            calls: AtomicUsize::new(0),
            failed: Default::default(),
        }
    }

    /// A fresh store of the suite's backend (files in `dir`), with the calls `fail` picks
    /// failing.
    pub async fn fresh(dir: &std::path::Path, fail: Rule) -> Faulty {
        Faulty {
            inner: Some(super::storage::fresh(dir).await),
            fail,
            calls: AtomicUsize::new(0),
            failed: Default::default(),
        }
    }

    fn pass<T: Send + 'static>(
        &self,
        method: &'static str,
        call: impl FnOnce(&dyn Store) -> BoxFuture<'_, Result<T, StoreError>>,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.inner {
            Some(inner) if !(self.fail)(method, n) => call(&**inner),
            _ => {
                self.failed.lock().unwrap().push(method);
                Box::pin(async { Err(StoreError::Unavailable("disk I/O error".into())) })
            }
        }
    }
}

impl Store for Faulty {
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pass("ping", |s| s.ping())
    }
    fn probe_write(&self, now: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pass("probe_write", |s| s.probe_write(now))
    }
    fn put_binding(&self, b: Binding, now: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.pass("put_binding", |s| s.put_binding(b, now))
    }
    fn put_lead_event(
        &self,
        site: String,
        lead: Lead,
        now: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pass("put_lead_event", |s| s.put_lead_event(site, lead, now))
    }
    fn lead_facts(
        &self,
        site: String,
        lead: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Option<LeadFacts>, StoreError>> {
        self.pass("lead_facts", |s| s.lead_facts(site, lead, limit))
    }
    fn touches(
        &self,
        site: String,
        keys: TouchKeys,
        until: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<StoredTouch>, StoreError>> {
        self.pass("touches", |s| s.touches(site, keys, until, limit))
    }
    fn record_verdict(
        &self,
        site: String,
        lead: String,
        version: i64,
        verdict: Verdict,
        now: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.pass("record_verdict", |s| {
            s.record_verdict(site, lead, version, verdict, now)
        })
    }
    fn undecided(&self, limit: u32) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>> {
        self.pass("undecided", |s| s.undecided(limit))
    }
    fn claim_due(
        &self,
        now: i64,
        lease: i64,
        plan: ClaimPlan,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>> {
        self.pass("claim_due", |s| s.claim_due(now, lease, plan))
    }
    fn record_attempt(
        &self,
        d: Delivery,
        a: Attempt,
        n: Next,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pass("record_attempt", |s| s.record_attempt(d, a, n))
    }
    fn dead_letters(
        &self,
        site: String,
        lead: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        self.pass("dead_letters", |s| s.dead_letters(site, lead))
    }
    fn requeue_dead(
        &self,
        site: String,
        leads: Vec<String>,
        forced: bool,
        now: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.pass("requeue_dead", |s| s.requeue_dead(site, leads, forced, now))
    }
    fn trail(
        &self,
        site: String,
        lead: String,
    ) -> BoxFuture<'_, Result<Option<Trail>, StoreError>> {
        self.pass("trail", |s| s.trail(site, lead))
    }
    fn list(
        &self,
        site: String,
        status: LeadStatus,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadSummary>, StoreError>> {
        self.pass("list", |s| s.list(site, status, limit))
    }
    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        self.pass("outbox_stats", |s| s.outbox_stats())
    }
    fn row_counts(&self) -> BoxFuture<'_, Result<RowCounts, StoreError>> {
        self.pass("row_counts", |s| s.row_counts())
    }
    fn purge(&self, cutoff: i64, batch: u32) -> BoxFuture<'_, Result<Purged, StoreError>> {
        self.pass("purge", |s| s.purge(cutoff, batch))
    }
    fn reclaim(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.pass("reclaim", |s| s.reclaim())
    }
}

impl ScreenStore for Faulty {
    fn saved_sites(&self) -> BoxFuture<'_, Result<Vec<SavedSite>, StoreError>> {
        self.pass("saved_sites", |s| s.saved_sites())
    }
    fn save_site(
        &self,
        saved: SavedSite,
        audit: AuditEntry,
    ) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.pass("save_site", |s| s.save_site(saved, audit))
    }
    fn settings_version(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.pass("settings_version", |s| s.settings_version())
    }
    fn audit_trail(
        &self,
        site: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<AuditEntry>, StoreError>> {
        self.pass("audit_trail", |s| s.audit_trail(site, limit))
    }
    fn put_session(
        &self,
        session: AdminSession,
        idle_before: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pass("put_session", |s| s.put_session(session, idle_before))
    }
    fn session(&self, id_hash: String) -> BoxFuture<'_, Result<Option<AdminSession>, StoreError>> {
        self.pass("session", |s| s.session(id_hash))
    }
    fn touch_session(&self, id_hash: String, now: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pass("touch_session", |s| s.touch_session(id_hash, now))
    }
    fn end_session(&self, id_hash: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pass("end_session", |s| s.end_session(id_hash))
    }
    fn lead_log(
        &self,
        site: String,
        status: Option<LeadStatus>,
        after: Option<LeadCursor>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadRow>, StoreError>> {
        self.pass("lead_log", |s| s.lead_log(site, status, after, limit))
    }
    fn counters(
        &self,
        site: String,
        since: i64,
    ) -> BoxFuture<'_, Result<Vec<Counter>, StoreError>> {
        self.pass("counters", |s| s.counters(site, since))
    }
    fn site_outbox(&self, site: String) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        self.pass("site_outbox", |s| s.site_outbox(site))
    }
    fn recent_events(
        &self,
        site: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LiveEvent>, StoreError>> {
        self.pass("recent_events", |s| s.recent_events(site, limit))
    }
}
