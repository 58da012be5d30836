//! Durable storage behind one trait, [`Store`]: embedded SQLite for one relay, PostgreSQL for
//! several relays sharing one database. The store loads facts and writes results; it decides nothing (the rules
//! are [`crate::decide`], the order of work is [`crate::pipeline`]). Every write resolves only
//! once it is committed: the HTTP layer acknowledges nothing that is not durable. Reads that a
//! decision, the lead API or `/metrics` needs never wait behind writes. [`sqlite`] is the
//! embedded implementation, [`postgres`] the shared one; the conformance suite (`conformance`,
//! tests only) is the bar every backend passes. [`rows`] moves whole tables between backends
//! (`migrate-storage`). What the operator's screen keeps (saved settings, sessions, the lead
//! log, live counters) is [`screen::ScreenStore`], which every `Store` implements too.

#[cfg(test)]
pub(crate) mod conformance;
pub mod postgres;
pub mod rows;
pub mod screen;
pub mod sqlite;

pub use screen::ScreenStore;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aidlink_protocol::Binding;
use serde::Serialize;

use crate::decide::{LeadFacts, StoredTouch, Verdict};
use crate::postback::Postback;
use crate::webhook::Lead;

/// A boxed future, so the trait stays object-safe (`Arc<dyn Store>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why storage could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or did not commit; nothing was acknowledged.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// `storage.url` names a backend this build does not have.
    #[error("storage.url: {0}")]
    Unsupported(String),
}

/// A lead's state, as the list API filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Stored, not decided yet.
    New,
    /// Waiting for the call to end.
    Waiting,
    /// Not sent (filter, switch, no id, misconfigured); see the reason.
    Filtered,
    /// Queued or being retried.
    Retrying,
    /// RTB House accepted the postback.
    Sent,
    /// Dead letter: refused (3xx, 4xx), retried past `retry_for`, or not sent because the site
    /// was switched off (or removed) before delivery; `replay` re-queues it.
    Dead,
}

impl LeadStatus {
    /// The stored / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Waiting => "waiting",
            LeadStatus::Filtered => "filtered",
            LeadStatus::Retrying => "retrying",
            LeadStatus::Sent => "sent",
            LeadStatus::Dead => "dead",
        }
    }

    /// Parses an API / stored name.
    pub fn parse(name: &str) -> Option<LeadStatus> {
        [
            Self::New,
            Self::Waiting,
            Self::Filtered,
            Self::Retrying,
            Self::Sent,
            Self::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A postback due for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Site id.
    pub site: String,
    /// Lead id (`call-…` / `request-…`).
    pub lead_id: String,
    /// What the postback carries; its URL is built at each attempt from the current settings.
    pub postback: Postback,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was first queued (or re-queued by `replay`), ms.
    pub first_at_ms: i64,
    /// Re-queued by `replay --force`: sent even past RTB House's 24 hours.
    pub forced: bool,
}

/// A dead-lettered postback, as `replay` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Lead id.
    pub lead_id: String,
    /// The postback's event time, ms.
    pub time_ms: i64,
}

/// One delivery attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When, ms.
    pub at_ms: i64,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// Network error, a snippet of the response, or why nothing was sent.
    pub error: Option<String>,
    /// The URL posted, PKEY masked; empty when nothing was sent.
    pub url: String,
}

/// Where a postback goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Accepted by RTB House: done for good (the lead is `sent`).
    Sent,
    /// Try again at this time, ms.
    RetryAt(i64),
    /// Dead letter.
    Dead,
}

/// A lead's decision trail for the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct Trail {
    /// Site id.
    pub site: String,
    /// Lead id.
    pub lead_id: String,
    /// Current status.
    pub status: LeadStatus,
    /// Latest decision reason, if decided.
    pub reason: Option<String>,
    /// For a lead that was queued: the source it was judged on under the site's attribution
    /// model (`utm_source`, else `source`, else `(direct)`).
    pub judged_source: Option<String>,
    /// For a lead that was queued: the `cd` sent with its postback.
    pub cd: Option<String>,
    /// Where its RTB House id came from (`binding of the session`, `attrs`, `attrs (a binding
    /// disagreed and was not used)`, …), when it has one.
    pub id_source: Option<String>,
    /// The stored lead (latest event; no personal data).
    pub lead: serde_json::Value,
    /// Every webhook event received, with the decision made on it.
    pub events: Vec<TrailEvent>,
    /// Every delivery attempt.
    pub attempts: Vec<TrailAttempt>,
}

/// One received webhook event.
#[derive(Debug, Clone, Serialize)]
pub struct TrailEvent {
    /// Received at, ms.
    pub received_ms: i64,
    /// `connected` / `disconnected` for calls.
    pub phase: Option<String>,
    /// The decision made on it (none yet = not decided).
    pub reason: Option<String>,
}

/// One delivery attempt in the trail.
#[derive(Debug, Clone, Serialize)]
pub struct TrailAttempt {
    /// When, ms.
    pub at_ms: i64,
    /// HTTP status, if any.
    pub status: Option<u16>,
    /// Error or response snippet.
    pub error: Option<String>,
    /// The URL posted, PKEY masked; empty when nothing was sent (site switched off).
    pub url: String,
}

/// One row of the lead list.
#[derive(Debug, Clone, Serialize)]
pub struct LeadSummary {
    /// Lead id.
    pub lead_id: String,
    /// Status.
    pub status: LeadStatus,
    /// Latest reason.
    pub reason: Option<String>,
    /// Last change, ms.
    pub updated_ms: i64,
}

/// Outbox gauges for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Postbacks queued or retrying.
    pub depth: u64,
    /// When the oldest of them was queued, ms.
    pub oldest_ms: Option<i64>,
}

/// Rows stored per table, for `/metrics` (kept by the store as rows come and go, so reading
/// them costs the same with a million rows as with ten).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// `bindings`.
    pub bindings: u64,
    /// `leads`.
    pub leads: u64,
    /// `lead_events`.
    pub lead_events: u64,
    /// `outbox`.
    pub outbox: u64,
    /// `attempts`.
    pub attempts: u64,
}

/// Which ids a lead's touchpoints are looked up by (any of them matches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TouchKeys {
    /// The lead's Calltouch session id.
    pub session: Option<String>,
    /// The lead's Calltouch visitor id.
    pub ct_client: Option<String>,
    /// The RTB House id chosen for the lead.
    pub aid: Option<String>,
}

/// What to claim from the outbox, round-robin: one due postback of each listed site in turn
/// (a site at its `n` or with nothing due drops out) until `total` are claimed; then, up to the
/// same total, `others` of sites not listed (a site removed from the settings, whose postbacks
/// the outbox dead-letters rather than leaving them pending forever).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimPlan {
    /// `(site, at most how many)`, in the order they are served in each round.
    pub per_site: Vec<(String, u32)>,
    /// At most how many of sites not in `per_site`.
    pub others: u32,
    /// At most how many in all.
    pub total: u32,
}

/// How many rows one retention batch deleted, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Bindings deleted.
    pub bindings: u64,
    /// Leads deleted (with their events, attempts and outbox rows).
    pub leads: u64,
}

impl Purged {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.bindings + self.leads
    }
}

/// Durable storage. Writes resolve after commit; reads see committed data. The operator
/// screen's part is its supertrait, [`ScreenStore`].
pub trait Store: ScreenStore + Send + Sync {
    /// Answers when the database does (readiness).
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Commits a write to a scratch row (readiness, and the start-up check): fails when storage
    /// answers reads but cannot commit (a read-only file or directory, a full disk).
    fn probe_write(&self, now_ms: i64) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Stores a binding and its touchpoint; false when its id was already stored for its site
    /// (ids are the client's, unique per site).
    fn put_binding(&self, binding: Binding, now_ms: i64)
        -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Stores a webhook event of a lead and marks the lead undecided. The first call-end event
    /// is what a call is judged on: a later event is recorded but does not replace its facts.
    fn put_lead_event(
        &self,
        site: String,
        lead: Lead,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The stored facts of a lead (its latest facts, state, and the bindings of its session
    /// and of its Calltouch visitor, newest first, at most `limit` of each); `None` when the
    /// lead is unknown.
    fn lead_facts(
        &self,
        site: String,
        lead_id: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Option<LeadFacts>, StoreError>>;
    /// The touchpoints stored with bindings matching any of `keys`, received no later than
    /// `until_ms`: the most recent `limit` for each key.
    fn touches(
        &self,
        site: String,
        keys: TouchKeys,
        until_ms: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<StoredTouch>, StoreError>>;
    /// Records a verdict on the lead as it was at `version` (queueing its postback, if any);
    /// false, writing nothing, when the lead has changed since (a new event: load and judge
    /// again) or was decided meanwhile.
    fn record_verdict(
        &self,
        site: String,
        lead_id: String,
        version: i64,
        verdict: Verdict,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// `(site, lead_id)` of up to `limit` leads stored but not decided (crash between store and
    /// decide, or a decision that failed), oldest first.
    fn undecided(&self, limit: u32) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>>;
    /// Due postbacks per `plan`, leased for `lease_ms` (another claim skips them until then, so
    /// a crash mid-attempt retries them after the lease).
    fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        plan: ClaimPlan,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>>;
    /// Records an attempt and where the postback goes next.
    fn record_attempt(
        &self,
        delivery: Delivery,
        attempt: Attempt,
        next: Next,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The dead-lettered postbacks of `site` (one lead, or all).
    fn dead_letters(
        &self,
        site: String,
        lead_id: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>>;
    /// Re-queues these dead letters of `site` (`forced`: to be sent even past RTB House's 24
    /// hours); how many were dead letters and are queued now.
    fn requeue_dead(
        &self,
        site: String,
        lead_ids: Vec<String>,
        forced: bool,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// A lead's trail.
    fn trail(
        &self,
        site: String,
        lead_id: String,
    ) -> BoxFuture<'_, Result<Option<Trail>, StoreError>>;
    /// Leads of `site` in `status`, newest first.
    fn list(
        &self,
        site: String,
        status: LeadStatus,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadSummary>, StoreError>>;
    /// Outbox gauges.
    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>>;
    /// Rows stored per table.
    fn row_counts(&self) -> BoxFuture<'_, Result<RowCounts, StoreError>>;
    /// One retention batch: deletes up to `batch` bindings and up to `batch` settled leads
    /// (filtered, sent or dead; with their events, attempts and outbox rows) last changed
    /// before `cutoff_ms`. A lead still new, waiting or retrying is never deleted.
    fn purge(&self, cutoff_ms: i64, batch: u32) -> BoxFuture<'_, Result<Purged, StoreError>>;
    /// Gives some of the space freed by deleted rows back to the file system (incremental
    /// vacuum, up to 256 pages per call); how many free pages are left.
    fn reclaim(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// This instance's turn at a periodic job (`"sweep"`, `"retention"`) that must not run on
    /// several instances sharing the storage at once: `None` while another holds it; the turn
    /// lasts until the guard is dropped. A store only one process uses always gives it.
    fn exclusive(&self, job: &'static str) -> BoxFuture<'_, Result<Option<Turn>, StoreError>> {
        let _ = job;
        Box::pin(async { Ok(Some(Turn::default())) })
    }
}

/// An instance's turn at a periodic job ([`Store::exclusive`]); dropping it ends the turn.
#[derive(Default)]
pub struct Turn {
    _held: Option<Box<dyn Send + Sync>>,
}

impl Turn {
    /// A turn that ends when `held` is dropped.
    pub fn holding(held: impl Send + Sync + 'static) -> Turn {
        Turn {
            _held: Some(Box::new(held)),
        }
    }
}

/// Opens (creating or migrating) the store named by `storage.url`, with the pool settings of
/// `[storage]` for PostgreSQL.
pub async fn open(storage: &crate::config::Storage) -> Result<Arc<dyn Store>, StoreError> {
    let url = storage.url.as_str();
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Arc::new(sqlite::Sqlite::open(path)?));
    }
    if postgres::is_postgres(url) {
        let options = postgres::Options::from_config(storage);
        return Ok(Arc::new(postgres::Postgres::open(url, &options).await?));
    }
    Err(StoreError::Unsupported(format!(
        "{url}: not sqlite://PATH or postgres://…"
    )))
}

/// Whether `storage.url` names a backend this build has, and is well-formed; why not.
pub fn check_url(url: &str) -> Result<(), String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return if path.is_empty() {
            Err("sqlite:// needs a file path (sqlite://aidlink.db)".into())
        } else {
            Ok(())
        };
    }
    if postgres::is_postgres(url) {
        return postgres::check_url(url);
    }
    Err("must be sqlite://PATH or postgres://user:password@host:port/database".into())
}
