//! Durable storage behind one trait, [`Store`], so a PostgreSQL implementation can follow for
//! several instances. Every method resolves only once its writes are committed: the HTTP layer
//! acknowledges nothing that is not durable. [`sqlite`] is the embedded implementation.

pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aidlink_protocol::Binding;
use serde::Serialize;

use crate::config::Site;
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

/// What deciding a lead came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The recorded reason (`sent`, `filtered:tags`, …).
    pub reason: String,
    /// A postback was queued.
    pub queued: bool,
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
    /// Accepted: done for good.
    Delivered,
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

/// Durable storage. Every future resolves after commit.
pub trait Store: Send + Sync {
    /// Answers when the database does (readiness).
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Stores a binding and its touchpoint; false when its id was already stored for its site
    /// (ids are the client's, unique per site).
    fn put_binding(&self, binding: Binding, now_ms: i64)
        -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Stores a webhook event of a lead (marks the lead undecided).
    fn put_lead_event(
        &self,
        site: String,
        lead: Lead,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Decides an undecided lead with `site`'s settings, queueing its postback when it goes;
    /// `None` when there was nothing to decide.
    fn decide(
        &self,
        site: Site,
        lead_id: String,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<Option<Decided>, StoreError>>;
    /// `(site, lead_id)` of leads stored but not decided (crash between store and decide).
    fn undecided(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>>;
    /// Postbacks due now, leased for `lease_ms` so a crash mid-attempt retries them later.
    fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>>;
    /// Records an attempt and where the postback goes next.
    fn record_attempt(
        &self,
        delivery: Delivery,
        attempt: Attempt,
        next: Next,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Re-queues dead letters of `site` (one lead, or all); how many.
    fn requeue_dead(
        &self,
        site: String,
        lead_id: Option<String>,
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
}

/// Opens the store named by `storage.url`.
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match url.strip_prefix("sqlite://") {
        Some(path) => Ok(Arc::new(sqlite::Sqlite::open(path)?)),
        None => Err(StoreError::Unsupported(format!(
            "{url}: only sqlite://PATH is available in this build"
        ))),
    }
}
