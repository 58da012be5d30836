//! Every statement the SQLite store runs on the ingest, decide, deliver and admin paths, as
//! constants: one place to read them, and the list [`HOT_PATH`] that the query-plan test runs
//! `EXPLAIN QUERY PLAN` on (each must be served by an index, never a full scan of a table that
//! grows). States are bound as parameters, never written into the SQL.

/// A binding, once per (site, id).
pub const INSERT_BINDING: &str =
    "INSERT INTO bindings (id, site, session, ct_client, aid, touch, touch_ts, created_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (site, id) DO NOTHING";

/// A lead's stored facts, to decide whether a new event replaces them.
pub const LEAD_FACTS_JSON: &str = "SELECT lead FROM leads WHERE site = ?1 AND lead_id = ?2";
/// A new lead.
pub const INSERT_LEAD: &str = "INSERT INTO leads (site, lead_id, lead, status, reason, decided, created_ms, updated_ms, version) \
     VALUES (?1, ?2, ?3, ?4, NULL, 0, ?5, ?5, 1)";
/// A new event of a lead whose stored facts stay (they are the call's end).
pub const TOUCH_LEAD: &str =
    "UPDATE leads SET decided = 0, version = version + 1 WHERE site = ?1 AND lead_id = ?2";
/// A new event of a lead that replaces its facts.
pub const REPLACE_LEAD: &str =
    "UPDATE leads SET lead = ?3, decided = 0, updated_ms = ?4, version = version + 1 \
     WHERE site = ?1 AND lead_id = ?2";
/// One webhook event.
pub const INSERT_EVENT: &str = "INSERT INTO lead_events (site, lead_id, received_ms, phase, reason) VALUES (?1, ?2, ?3, ?4, NULL)";

/// A lead as the decision needs it.
pub const LEAD_STATE: &str =
    "SELECT lead, status, decided, created_ms, version FROM leads WHERE site = ?1 AND lead_id = ?2";
/// Bindings of a session, newest first.
pub const BINDINGS_BY_SESSION: &str =
    "SELECT aid, ct_client, created_ms FROM bindings WHERE site = ?1 AND session = ?2 \
     ORDER BY created_ms DESC LIMIT ?3";
/// Bindings of a Calltouch visitor, newest first.
pub const BINDINGS_BY_CLIENT: &str =
    "SELECT aid, ct_client, created_ms FROM bindings WHERE site = ?1 AND ct_client = ?2 \
     ORDER BY created_ms DESC LIMIT ?3";
/// Touchpoints stored with a session's bindings up to a time, most recent first.
pub const TOUCHES_BY_SESSION: &str = "SELECT touch, touch_ts, created_ms FROM bindings \
     WHERE site = ?1 AND session = ?2 AND created_ms <= ?3 ORDER BY created_ms DESC LIMIT ?4";
/// The same by Calltouch visitor.
pub const TOUCHES_BY_CLIENT: &str = "SELECT touch, touch_ts, created_ms FROM bindings \
     WHERE site = ?1 AND ct_client = ?2 AND created_ms <= ?3 ORDER BY created_ms DESC LIMIT ?4";
/// The same by RTB House id.
pub const TOUCHES_BY_AID: &str = "SELECT touch, touch_ts, created_ms FROM bindings \
     WHERE site = ?1 AND aid = ?2 AND created_ms <= ?3 ORDER BY created_ms DESC LIMIT ?4";

/// A verdict, only on the version judged and only once.
pub const DECIDE_LEAD: &str =
    "UPDATE leads SET status = ?3, reason = ?4, decided = 1, updated_ms = ?5, id_source = ?7 \
     WHERE site = ?1 AND lead_id = ?2 AND version = ?6 AND decided = 0";
/// An already queued lead's new events: recorded, not decided.
pub const SETTLE_LEAD: &str =
    "UPDATE leads SET decided = 1 WHERE site = ?1 AND lead_id = ?2 AND version = ?3 AND decided = 0";
/// The reason on the events the verdict answers.
pub const EVENTS_REASON: &str =
    "UPDATE lead_events SET reason = ?3 WHERE site = ?1 AND lead_id = ?2 AND reason IS NULL";
/// A queued postback: at most one per lead, whatever happens.
pub const QUEUE_POSTBACK: &str = "INSERT INTO outbox (site, lead_id, kind, source_id, aid, time_ms, state, attempts, next_at_ms, first_at_ms, cd) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8, ?9) ON CONFLICT DO NOTHING";
/// The source a queued lead was judged on and the cd sent, for its trail.
pub const LEAD_CREDIT: &str =
    "UPDATE leads SET judged_source = ?3, cd = ?4 WHERE site = ?1 AND lead_id = ?2";
/// Leads stored but not decided, oldest first.
pub const UNDECIDED: &str =
    "SELECT site, lead_id FROM leads WHERE decided = 0 ORDER BY updated_ms LIMIT ?1";

/// A site's due postbacks, oldest first.
pub const DUE_OF_SITE: &str =
    "SELECT site, lead_id, kind, source_id, aid, time_ms, attempts, first_at_ms, cd, forced FROM outbox \
     WHERE site = ?1 AND state = ?2 AND next_at_ms <= ?3 ORDER BY next_at_ms LIMIT ?4";
/// Due postbacks of sites not in the JSON array `?3`.
pub const DUE_OF_OTHERS: &str =
    "SELECT site, lead_id, kind, source_id, aid, time_ms, attempts, first_at_ms, cd, forced FROM outbox \
     WHERE state = ?1 AND next_at_ms <= ?2 AND site NOT IN (SELECT value FROM json_each(?3)) \
     ORDER BY next_at_ms LIMIT ?4";
/// A claim's lease.
pub const LEASE: &str = "UPDATE outbox SET next_at_ms = ?3 WHERE site = ?1 AND lead_id = ?2";
/// One attempt.
pub const INSERT_ATTEMPT: &str =
    "INSERT INTO attempts (site, lead_id, at_ms, status, error, url) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/// Where the postback goes next.
pub const OUTBOX_NEXT: &str =
    "UPDATE outbox SET state = ?3, attempts = attempts + 1, next_at_ms = ?4 \
     WHERE site = ?1 AND lead_id = ?2";
/// The lead's status after an attempt or a replay.
pub const LEAD_STATUS: &str =
    "UPDATE leads SET status = ?3, updated_ms = ?4 WHERE site = ?1 AND lead_id = ?2";
/// One dead letter back in the queue.
pub const REQUEUE_ONE: &str =
    "UPDATE outbox SET state = ?3, next_at_ms = ?4, first_at_ms = ?4, forced = ?6 \
     WHERE site = ?1 AND lead_id = ?2 AND state = ?5";
/// Every dead letter of a site.
pub const DEAD_OF_SITE: &str = "SELECT lead_id, time_ms FROM outbox WHERE site = ?1 AND state = ?2";
/// One dead letter.
pub const DEAD_ONE: &str =
    "SELECT lead_id, time_ms FROM outbox WHERE site = ?1 AND lead_id = ?2 AND state = ?3";

/// A lead for the trail.
pub const TRAIL_LEAD: &str =
    "SELECT lead, status, reason, judged_source, cd, id_source FROM leads WHERE site = ?1 AND lead_id = ?2";
/// Its events in order.
pub const TRAIL_EVENTS: &str = "SELECT received_ms, phase, reason FROM lead_events WHERE site = ?1 AND lead_id = ?2 ORDER BY seq";
/// Its attempts in order.
pub const TRAIL_ATTEMPTS: &str =
    "SELECT at_ms, status, error, url FROM attempts WHERE site = ?1 AND lead_id = ?2 ORDER BY seq";
/// A site's leads in one status, newest first.
pub const LIST: &str =
    "SELECT lead_id, reason, updated_ms FROM leads WHERE site = ?1 AND status = ?2 \
     ORDER BY updated_ms DESC LIMIT ?3";
/// Outbox depth and oldest pending.
pub const OUTBOX_STATS: &str = "SELECT COUNT(*), MIN(first_at_ms) FROM outbox WHERE state = ?1";
/// Stored rows per table (kept by triggers).
pub const ROW_COUNTS: &str = "SELECT tbl, n FROM row_counts";

/// Retention: old bindings.
pub const PURGE_BINDINGS: &str = "DELETE FROM bindings WHERE rowid IN \
     (SELECT rowid FROM bindings WHERE created_ms < ?1 LIMIT ?2)";
/// Retention: settled leads last changed before the cutoff.
pub const OLD_LEADS: &str =
    "SELECT site, lead_id FROM leads WHERE updated_ms < ?1 AND decided = 1 \
     AND status IN (?2, ?3, ?4) LIMIT ?5";
/// Retention: a lead's events.
pub const PURGE_EVENTS: &str = "DELETE FROM lead_events WHERE site = ?1 AND lead_id = ?2";
/// Retention: a lead's attempts.
pub const PURGE_ATTEMPTS: &str = "DELETE FROM attempts WHERE site = ?1 AND lead_id = ?2";
/// Retention: a lead's outbox row (delivered or dead: the lead is settled).
pub const PURGE_OUTBOX: &str = "DELETE FROM outbox WHERE site = ?1 AND lead_id = ?2";
/// Retention: the lead.
pub const PURGE_LEAD: &str = "DELETE FROM leads WHERE site = ?1 AND lead_id = ?2";
/// Readiness: a write to the one scratch row.
pub const PROBE: &str = "INSERT INTO probe (id, at_ms) VALUES (1, ?1) \
                         ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms";
/// Retention: up to 256 free pages given back to the file system (stepped to its end).
pub const RECLAIM: &str = "PRAGMA incremental_vacuum(256)";

/// Every statement above, named, for the query-plan test.
#[cfg(test)]
pub const HOT_PATH: &[(&str, &str)] = &[
    ("INSERT_BINDING", INSERT_BINDING),
    ("LEAD_FACTS_JSON", LEAD_FACTS_JSON),
    ("INSERT_LEAD", INSERT_LEAD),
    ("TOUCH_LEAD", TOUCH_LEAD),
    ("REPLACE_LEAD", REPLACE_LEAD),
    ("INSERT_EVENT", INSERT_EVENT),
    ("LEAD_STATE", LEAD_STATE),
    ("BINDINGS_BY_SESSION", BINDINGS_BY_SESSION),
    ("BINDINGS_BY_CLIENT", BINDINGS_BY_CLIENT),
    ("TOUCHES_BY_SESSION", TOUCHES_BY_SESSION),
    ("TOUCHES_BY_CLIENT", TOUCHES_BY_CLIENT),
    ("TOUCHES_BY_AID", TOUCHES_BY_AID),
    ("DECIDE_LEAD", DECIDE_LEAD),
    ("SETTLE_LEAD", SETTLE_LEAD),
    ("EVENTS_REASON", EVENTS_REASON),
    ("QUEUE_POSTBACK", QUEUE_POSTBACK),
    ("LEAD_CREDIT", LEAD_CREDIT),
    ("UNDECIDED", UNDECIDED),
    ("DUE_OF_SITE", DUE_OF_SITE),
    ("DUE_OF_OTHERS", DUE_OF_OTHERS),
    ("LEASE", LEASE),
    ("INSERT_ATTEMPT", INSERT_ATTEMPT),
    ("OUTBOX_NEXT", OUTBOX_NEXT),
    ("LEAD_STATUS", LEAD_STATUS),
    ("REQUEUE_ONE", REQUEUE_ONE),
    ("DEAD_OF_SITE", DEAD_OF_SITE),
    ("DEAD_ONE", DEAD_ONE),
    ("TRAIL_LEAD", TRAIL_LEAD),
    ("TRAIL_EVENTS", TRAIL_EVENTS),
    ("TRAIL_ATTEMPTS", TRAIL_ATTEMPTS),
    ("LIST", LIST),
    ("OUTBOX_STATS", OUTBOX_STATS),
    ("ROW_COUNTS", ROW_COUNTS),
    ("PURGE_BINDINGS", PURGE_BINDINGS),
    ("OLD_LEADS", OLD_LEADS),
    ("PURGE_EVENTS", PURGE_EVENTS),
    ("PURGE_ATTEMPTS", PURGE_ATTEMPTS),
    ("PURGE_OUTBOX", PURGE_OUTBOX),
    ("PURGE_LEAD", PURGE_LEAD),
    ("PROBE", PROBE),
];
