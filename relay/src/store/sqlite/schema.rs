//! The SQLite schema and its migrations, applied in order by `user_version`; each step (its
//! SQL, then any data fix-up) runs in one transaction, so a crash leaves the previous version.

use rusqlite::{params, Connection};

/// One schema step.
struct Migration {
    /// DDL and data moves.
    sql: &'static str,
    /// Data the SQL cannot move by itself, fixed in Rust in the same transaction.
    fixup: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

const MIGRATIONS: [Migration; 8] = [
    Migration {
        sql: "
CREATE TABLE bindings (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, session TEXT NOT NULL, ct_client TEXT,
    aid TEXT NOT NULL, touch TEXT, touch_ts INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE INDEX bindings_session ON bindings(site, session);
CREATE INDEX bindings_client ON bindings(site, ct_client);
CREATE TABLE leads (
    site TEXT NOT NULL, lead_id TEXT NOT NULL, lead TEXT NOT NULL, status TEXT NOT NULL,
    reason TEXT, decided INTEGER NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    PRIMARY KEY (site, lead_id));
CREATE INDEX leads_status ON leads(site, status, updated_ms);
CREATE INDEX leads_undecided ON leads(decided);
CREATE TABLE lead_events (
    seq INTEGER PRIMARY KEY, site TEXT NOT NULL, lead_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL, phase TEXT, reason TEXT);
CREATE INDEX lead_events_lead ON lead_events(site, lead_id);
CREATE TABLE outbox (
    site TEXT NOT NULL, lead_id TEXT NOT NULL, url TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL, next_at_ms INTEGER NOT NULL, first_at_ms INTEGER NOT NULL,
    PRIMARY KEY (site, lead_id));
CREATE INDEX outbox_due ON outbox(state, next_at_ms);
CREATE TABLE attempts (
    seq INTEGER PRIMARY KEY, site TEXT NOT NULL, lead_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    status INTEGER, error TEXT, url TEXT NOT NULL);
CREATE INDEX attempts_lead ON attempts(site, lead_id);
",
        fixup: None,
    },
    // Binding ids are made by the client (or a site's backend): unique per site, not overall.
    Migration {
        sql: "
CREATE TABLE bindings_v2 (
    site TEXT NOT NULL, id TEXT NOT NULL, session TEXT NOT NULL, ct_client TEXT,
    aid TEXT NOT NULL, touch TEXT, touch_ts INTEGER NOT NULL, created_ms INTEGER NOT NULL,
    PRIMARY KEY (site, id));
INSERT INTO bindings_v2 (site, id, session, ct_client, aid, touch, touch_ts, created_ms)
    SELECT site, id, session, ct_client, aid, touch, touch_ts, created_ms FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_v2 RENAME TO bindings;
CREATE INDEX bindings_session ON bindings(site, session);
CREATE INDEX bindings_client ON bindings(site, ct_client);
",
        fixup: None,
    },
    // A queued postback keeps its lead's facts, not a URL: the URL is built at each attempt
    // from the site's current settings (a PKEY fixed before `replay` is the one sent).
    Migration {
        sql: "
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN source_id TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN aid TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN time_ms INTEGER NOT NULL DEFAULT 0;
",
        fixup: Some(outbox_facts_from_urls),
    },
    // Production volume: every look-up of the decide, deliver, admin and retention paths has
    // its index (the RTB House id's, time-ordered ones, the outbox per site); a lead carries a
    // version so a verdict judged on a read connection is recorded only if no event came
    // since; rows per table are counted as they come and go, so `/metrics` reads five rows.
    Migration {
        sql: "
DROP INDEX bindings_session;
DROP INDEX bindings_client;
CREATE INDEX bindings_session ON bindings(site, session, created_ms);
CREATE INDEX bindings_client ON bindings(site, ct_client, created_ms);
CREATE INDEX bindings_aid ON bindings(site, aid, created_ms);
CREATE INDEX bindings_age ON bindings(created_ms);
ALTER TABLE leads ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
DROP INDEX leads_undecided;
CREATE INDEX leads_undecided ON leads(decided, updated_ms);
CREATE INDEX leads_age ON leads(updated_ms);
CREATE INDEX outbox_site_due ON outbox(site, state, next_at_ms);
CREATE INDEX outbox_pending_age ON outbox(state, first_at_ms);
CREATE TABLE row_counts (tbl TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO row_counts SELECT 'bindings', COUNT(*) FROM bindings;
INSERT INTO row_counts SELECT 'leads', COUNT(*) FROM leads;
INSERT INTO row_counts SELECT 'lead_events', COUNT(*) FROM lead_events;
INSERT INTO row_counts SELECT 'outbox', COUNT(*) FROM outbox;
INSERT INTO row_counts SELECT 'attempts', COUNT(*) FROM attempts;
CREATE TRIGGER bindings_in AFTER INSERT ON bindings BEGIN UPDATE row_counts SET n = n + 1 WHERE tbl = 'bindings'; END;
CREATE TRIGGER bindings_out AFTER DELETE ON bindings BEGIN UPDATE row_counts SET n = n - 1 WHERE tbl = 'bindings'; END;
CREATE TRIGGER leads_in AFTER INSERT ON leads BEGIN UPDATE row_counts SET n = n + 1 WHERE tbl = 'leads'; END;
CREATE TRIGGER leads_out AFTER DELETE ON leads BEGIN UPDATE row_counts SET n = n - 1 WHERE tbl = 'leads'; END;
CREATE TRIGGER lead_events_in AFTER INSERT ON lead_events BEGIN UPDATE row_counts SET n = n + 1 WHERE tbl = 'lead_events'; END;
CREATE TRIGGER lead_events_out AFTER DELETE ON lead_events BEGIN UPDATE row_counts SET n = n - 1 WHERE tbl = 'lead_events'; END;
CREATE TRIGGER outbox_in AFTER INSERT ON outbox BEGIN UPDATE row_counts SET n = n + 1 WHERE tbl = 'outbox'; END;
CREATE TRIGGER outbox_out AFTER DELETE ON outbox BEGIN UPDATE row_counts SET n = n - 1 WHERE tbl = 'outbox'; END;
CREATE TRIGGER attempts_in AFTER INSERT ON attempts BEGIN UPDATE row_counts SET n = n + 1 WHERE tbl = 'attempts'; END;
CREATE TRIGGER attempts_out AFTER DELETE ON attempts BEGIN UPDATE row_counts SET n = n - 1 WHERE tbl = 'attempts'; END;
",
        fixup: None,
    },    // `cd` is an attribution flag decided with the lead (`dedup = "attribution"`): the outbox
    // keeps it with the postback's other facts, and the lead keeps the source it was judged
    // on and the cd sent, and where its RTB House id came from, for its trail. `forced`:
    // re-queued by `replay --force`.
    Migration {
        sql: "
ALTER TABLE outbox ADD COLUMN cd TEXT NOT NULL DEFAULT 'default';
ALTER TABLE outbox ADD COLUMN forced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN judged_source TEXT;
ALTER TABLE leads ADD COLUMN cd TEXT;
ALTER TABLE leads ADD COLUMN id_source TEXT;
",
        fixup: None,
    },
    // Readiness proves storage can commit: `/readyz` (and `serve` at start-up) rewrites this
    // one scratch row.
    Migration {
        sql: "CREATE TABLE probe (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL);",
        fixup: None,
    },
    // One word for "accepted by RTB House" everywhere: the lead's status `sent`, so the
    // outbox's state too (it was `delivered`).
    Migration {
        sql: "UPDATE outbox SET state = 'sent' WHERE state = 'delivered';",
        fixup: None,
    },
    // The operator's screen: settings saved on it (they replace the file's for their site)
    // with an audit entry each, and a version every instance polls to pick a save up;
    // signed-in sessions (by the hash of their id); ten-minute counters per site for the live
    // view, kept by the writes they count; newest-first indexes for its recent events and for
    // the lead log's pages (by last change, then lead id).
    Migration {
        sql: "
CREATE TABLE saved_sites (site TEXT PRIMARY KEY, settings TEXT NOT NULL, saved_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, site TEXT NOT NULL, at_ms INTEGER NOT NULL, who TEXT NOT NULL,
    changes TEXT NOT NULL);
CREATE INDEX audit_site ON audit(site, seq);
CREATE TABLE settings_version (id INTEGER PRIMARY KEY CHECK (id = 1), v INTEGER NOT NULL);
INSERT INTO settings_version (id, v) VALUES (1, 0);
CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY, csrf TEXT NOT NULL, created_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX admin_sessions_seen ON admin_sessions(last_seen_ms);
CREATE TABLE counters (
    site TEXT NOT NULL, bucket INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (site, bucket, kind, key));
CREATE INDEX counters_age ON counters(bucket);
CREATE INDEX lead_events_recent ON lead_events(site, seq);
CREATE INDEX attempts_recent ON attempts(site, seq);
DROP INDEX leads_status;
CREATE INDEX leads_status ON leads(site, status, updated_ms, lead_id);
CREATE INDEX leads_recent ON leads(site, updated_ms, lead_id);
",
        fixup: None,
    },
];

/// Schema 3: each queued postback's kind and id from its lead id (`call-…`), its visitor id
/// and time from the URL it was queued with; then the URL (and its PKEY) goes. A row whose
/// URL cannot be read is dead-lettered with the reason, not sent with a blank id.
fn outbox_facts_from_urls(conn: &Connection) -> rusqlite::Result<()> {
    let rows: Vec<(String, String, String, String)> = {
        let mut stmt = conn.prepare("SELECT site, lead_id, url, state FROM outbox")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (site, lead_id, url, state) in rows {
        let (kind, source_id) = lead_id.split_once('-').unwrap_or_default();
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let field = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let aid = field("aid").unwrap_or_default();
        let time_ms = field("time").and_then(|t| t.parse::<i64>().ok());
        conn.execute(
            "UPDATE outbox SET kind = ?3, source_id = ?4, aid = ?5, time_ms = ?6 \
             WHERE site = ?1 AND lead_id = ?2",
            params![site, lead_id, kind, source_id, aid, time_ms.unwrap_or(0)],
        )?;
        let readable = !aid.is_empty() && time_ms.is_some() && matches!(kind, "call" | "request");
        if !readable && state != "delivered" {
            let now = "CAST(strftime('%s', 'now') AS INTEGER) * 1000";
            conn.execute(
                "UPDATE outbox SET state = 'dead' WHERE site = ?1 AND lead_id = ?2",
                params![site, lead_id],
            )?;
            conn.execute(
                &format!("UPDATE leads SET status = 'dead', updated_ms = {now} WHERE site = ?1 AND lead_id = ?2"),
                params![site, lead_id],
            )?;
            conn.execute(
                &format!(
                    "INSERT INTO attempts (site, lead_id, at_ms, status, error, url) \
                     VALUES (?1, ?2, {now}, NULL, 'queued postback unreadable after the upgrade', '')"
                ),
                params![site, lead_id],
            )?;
        }
    }
    conn.execute_batch("ALTER TABLE outbox DROP COLUMN url;")
}

/// A new database gets incremental auto-vacuum, so the pages retention frees can be given
/// back a few at a time; it must be set before anything is written, journal mode included.
/// (In an older database freed pages are reused by new rows; `VACUUM` converts it.)
pub(super) fn prepare_new(conn: &Connection) -> rusqlite::Result<()> {
    let tables: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if tables == 0 {
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    }
    Ok(())
}

/// Brings the database to the latest schema.
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    migrate_to(conn, MIGRATIONS.len())
}

fn migrate_to(conn: &Connection, target: usize) -> rusqlite::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, step) in MIGRATIONS.iter().enumerate().take(target).skip(version) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let applied = (|| {
            conn.execute_batch(step.sql)?;
            if let Some(fixup) = step.fixup {
                fixup(conn)?;
            }
            conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
        })();
        match applied {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
