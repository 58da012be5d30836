//! What the operator's screen (`/admin`) keeps in storage, behind [`ScreenStore`], which every
//! [`super::Store`] implements too: settings saved on the screen (with their audit trail and a
//! version that lets several relay instances notice a save), signed-in sessions (so any
//! instance accepts them), the lead log a page at a time, and the live view's counters and
//! recent events. Plain data in and out (settings and changes as JSON text), so every backend
//! implements it the same way; the conformance suite (`conformance/screen.rs`) is the bar.
//! Nothing here grows with stored data when read: the log is a keyset page, the counters are
//! ten-minute rows ([`COUNTER_BUCKET_MS`]), the events a newest-first read of a bounded count.

use super::{BoxFuture, LeadStatus, OutboxStats, StoreError};

/// The width of one counter row: counts are kept per site, per ten minutes, per kind and key,
/// updated in the same transaction as the row they count.
pub const COUNTER_BUCKET_MS: i64 = 600_000;

/// The counter kinds: a binding stored; a lead decided (key: the reason); a postback attempt
/// (key: its outcome, `sent` / `retry` / `dead`).
pub mod kind {
    /// A binding stored (key `""`).
    pub const BINDING: &str = "binding";
    /// A lead decided (key: the reason recorded).
    pub const DECISION: &str = "decision";
    /// A postback attempt (key: `sent`, `retry` or `dead`).
    pub const POSTBACK: &str = "postback";
}

/// A site's settings saved on the screen: they replace the config file's for that site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSite {
    /// Calltouch site id.
    pub site: String,
    /// The whole site (`config::Site`) as JSON, secrets included: read only by the relay.
    pub settings: String,
    /// When it was saved, ms.
    pub saved_ms: i64,
}

/// One save of a site's settings, as its audit trail shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Calltouch site id.
    pub site: String,
    /// When, ms.
    pub at_ms: i64,
    /// Who: the public label of the session that saved (never the session id).
    pub who: String,
    /// What changed, JSON written by the screen, secrets already masked.
    pub changes: String,
}

/// A signed-in session of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// SHA-256 of the session id (hex): the id itself, the cookie's value, is never stored.
    pub id_hash: String,
    /// The session's CSRF token, carried by every form it posts.
    pub csrf: String,
    /// When it signed in, ms.
    pub created_ms: i64,
    /// Its last request, ms (updated at most once a minute).
    pub last_seen_ms: i64,
}

/// One row of the lead log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadRow {
    /// Lead id.
    pub lead_id: String,
    /// Status.
    pub status: LeadStatus,
    /// The latest decision's reason, if decided.
    pub reason: Option<String>,
    /// Last change, ms: the log's order, newest first.
    pub updated_ms: i64,
    /// Postback attempts made (0 when nothing was queued).
    pub attempts: u32,
    /// The HTTP status of the last attempt, when it got one.
    pub last_http: Option<u16>,
}

/// Where a page of the lead log starts: after this row (keyset, so a page costs the same
/// however deep it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadCursor {
    /// The last row's `updated_ms`.
    pub updated_ms: i64,
    /// The last row's lead id.
    pub lead_id: String,
}

/// One counter row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// Start of its ten minutes, ms.
    pub bucket_ms: i64,
    /// One of [`kind`].
    pub kind: String,
    /// The reason or outcome counted (`""` for bindings).
    pub key: String,
    /// How many.
    pub n: u64,
}

/// One recent event of a site, for the live view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// A webhook received, and the decision made on it (none yet: not decided).
    Webhook {
        /// Received at, ms.
        at_ms: i64,
        /// Lead id.
        lead_id: String,
        /// `connected` / `disconnected` for calls.
        phase: Option<String>,
        /// The decision's reason.
        reason: Option<String>,
    },
    /// A postback attempt.
    Attempt {
        /// When, ms.
        at_ms: i64,
        /// Lead id.
        lead_id: String,
        /// HTTP status, if any.
        status: Option<u16>,
        /// Error, refusal snippet, or why nothing was sent.
        error: Option<String>,
    },
}

impl LiveEvent {
    /// When it happened, ms.
    pub fn at_ms(&self) -> i64 {
        match self {
            LiveEvent::Webhook { at_ms, .. } | LiveEvent::Attempt { at_ms, .. } => *at_ms,
        }
    }
}

/// The operator screen's storage. Writes resolve after commit, like every store write.
pub trait ScreenStore: Send + Sync {
    /// Every site saved on the screen.
    fn saved_sites(&self) -> BoxFuture<'_, Result<Vec<SavedSite>, StoreError>>;
    /// Saves a site's settings (replacing any saved before) and its audit entry in one
    /// transaction, and moves the settings version on; the new version.
    fn save_site(
        &self,
        saved: SavedSite,
        audit: AuditEntry,
    ) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// The settings version: it changes with every save (one indexed read, for the poll that
    /// lets every instance pick a save up).
    fn settings_version(&self) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// A site's audit trail, newest first, at most `limit`.
    fn audit_trail(
        &self,
        site: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<AuditEntry>, StoreError>>;
    /// Stores a new session, and deletes sessions last seen before `idle_before_ms` (expired).
    fn put_session(
        &self,
        session: AdminSession,
        idle_before_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The session with this id hash, if stored.
    fn session(&self, id_hash: String) -> BoxFuture<'_, Result<Option<AdminSession>, StoreError>>;
    /// Marks a session seen at `now_ms`.
    fn touch_session(&self, id_hash: String, now_ms: i64) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Ends a session (sign-out, or found expired).
    fn end_session(&self, id_hash: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// A page of `site`'s leads (in `status`, or all), newest change first, starting after
    /// `after`, at most `limit`.
    fn lead_log(
        &self,
        site: String,
        status: Option<LeadStatus>,
        after: Option<LeadCursor>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadRow>, StoreError>>;
    /// `site`'s counter rows of buckets starting at or after `since_ms`.
    fn counters(
        &self,
        site: String,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<Counter>, StoreError>>;
    /// `site`'s postbacks queued or retrying, and when the oldest was queued.
    fn site_outbox(&self, site: String) -> BoxFuture<'_, Result<OutboxStats, StoreError>>;
    /// `site`'s most recent webhooks and postback attempts, newest first, at most `limit`.
    fn recent_events(
        &self,
        site: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LiveEvent>, StoreError>>;
}
