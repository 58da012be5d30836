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

/// Counters of the live view: one more in a site's ten minutes, per kind and key (in the
/// transaction that writes what is counted).
pub const COUNT: &str =
    "INSERT INTO counters (site, bucket, kind, key, n) VALUES (?1, ?2, ?3, ?4, 1) \
     ON CONFLICT (site, bucket, kind, key) DO UPDATE SET n = n + 1";
/// Retention: counter rows older than the cutoff.
pub const PURGE_COUNTERS: &str = "DELETE FROM counters WHERE rowid IN \
     (SELECT rowid FROM counters WHERE bucket < ?1 LIMIT ?2)";

/// The operator's screen: every saved site.
pub const SAVED_SITES: &str = "SELECT site, settings, saved_ms FROM saved_sites";
/// A site's saved settings, replacing any before.
pub const SAVE_SITE: &str =
    "INSERT INTO saved_sites (site, settings, saved_ms) VALUES (?1, ?2, ?3) \
     ON CONFLICT (site) DO UPDATE SET settings = excluded.settings, saved_ms = excluded.saved_ms";
/// Its audit entry.
pub const INSERT_AUDIT: &str =
    "INSERT INTO audit (site, at_ms, who, changes) VALUES (?1, ?2, ?3, ?4)";
/// The settings version moves on with every save.
pub const BUMP_SETTINGS_VERSION: &str =
    "UPDATE settings_version SET v = v + 1 WHERE id = 1 RETURNING v";
/// The settings version (polled by every instance).
pub const SETTINGS_VERSION: &str = "SELECT v FROM settings_version WHERE id = 1";
/// A site's audit trail, newest first.
pub const AUDIT_TRAIL: &str =
    "SELECT site, at_ms, who, changes FROM audit WHERE site = ?1 ORDER BY seq DESC LIMIT ?2";
/// A new session.
pub const INSERT_SESSION: &str =
    "INSERT INTO admin_sessions (id_hash, csrf, created_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?4)";
/// Sessions idle past their expiry.
pub const PURGE_SESSIONS: &str = "DELETE FROM admin_sessions WHERE last_seen_ms < ?1";
/// One session.
pub const SESSION: &str =
    "SELECT id_hash, csrf, created_ms, last_seen_ms FROM admin_sessions WHERE id_hash = ?1";
/// A session seen.
pub const TOUCH_SESSION: &str = "UPDATE admin_sessions SET last_seen_ms = ?2 WHERE id_hash = ?1";
/// A session ended.
pub const END_SESSION: &str = "DELETE FROM admin_sessions WHERE id_hash = ?1";
/// A page of a site's lead log, every status, after a (updated_ms, lead_id) position.
pub const LEAD_LOG: &str = "SELECT l.lead_id, l.status, l.reason, l.updated_ms, o.attempts, \
     (SELECT a.status FROM attempts a WHERE a.site = l.site AND a.lead_id = l.lead_id ORDER BY a.seq DESC LIMIT 1) \
     FROM leads l LEFT JOIN outbox o ON o.site = l.site AND o.lead_id = l.lead_id \
     WHERE l.site = ?1 AND (l.updated_ms, l.lead_id) < (?2, ?3) \
     ORDER BY l.updated_ms DESC, l.lead_id DESC LIMIT ?4";
/// The same in one status.
pub const LEAD_LOG_STATUS: &str = "SELECT l.lead_id, l.status, l.reason, l.updated_ms, o.attempts, \
     (SELECT a.status FROM attempts a WHERE a.site = l.site AND a.lead_id = l.lead_id ORDER BY a.seq DESC LIMIT 1) \
     FROM leads l LEFT JOIN outbox o ON o.site = l.site AND o.lead_id = l.lead_id \
     WHERE l.site = ?1 AND l.status = ?5 AND (l.updated_ms, l.lead_id) < (?2, ?3) \
     ORDER BY l.updated_ms DESC, l.lead_id DESC LIMIT ?4";
/// A site's counters since a bucket.
pub const COUNTERS: &str =
    "SELECT bucket, kind, key, n FROM counters WHERE site = ?1 AND bucket >= ?2";
/// A site's outbox depth and oldest pending.
pub const SITE_OUTBOX: &str =
    "SELECT COUNT(*), MIN(first_at_ms) FROM outbox WHERE site = ?1 AND state = ?2";
/// A site's latest webhook events, newest first.
pub const RECENT_EVENTS: &str = "SELECT received_ms, lead_id, phase, reason FROM lead_events \
     WHERE site = ?1 ORDER BY seq DESC LIMIT ?2";
/// A site's latest postback attempts, newest first.
pub const RECENT_ATTEMPTS: &str = "SELECT at_ms, lead_id, status, error FROM attempts \
     WHERE site = ?1 ORDER BY seq DESC LIMIT ?2";

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
    ("COUNT", COUNT),
    ("SAVED_SITES", SAVED_SITES),
    ("PURGE_COUNTERS", PURGE_COUNTERS),
    ("SAVE_SITE", SAVE_SITE),
    ("INSERT_AUDIT", INSERT_AUDIT),
    ("BUMP_SETTINGS_VERSION", BUMP_SETTINGS_VERSION),
    ("SETTINGS_VERSION", SETTINGS_VERSION),
    ("AUDIT_TRAIL", AUDIT_TRAIL),
    ("INSERT_SESSION", INSERT_SESSION),
    ("PURGE_SESSIONS", PURGE_SESSIONS),
    ("SESSION", SESSION),
    ("TOUCH_SESSION", TOUCH_SESSION),
    ("END_SESSION", END_SESSION),
    ("LEAD_LOG", LEAD_LOG),
    ("LEAD_LOG_STATUS", LEAD_LOG_STATUS),
    ("COUNTERS", COUNTERS),
    ("SITE_OUTBOX", SITE_OUTBOX),
    ("RECENT_EVENTS", RECENT_EVENTS),
    ("RECENT_ATTEMPTS", RECENT_ATTEMPTS),
];
