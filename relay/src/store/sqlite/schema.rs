//! The SQLite schema and its migrations, applied in order by `user_version`; each step (its
//! SQL, then any data fix-up) runs in one transaction, so a crash leaves the previous version.

use rusqlite::Connection;

/// One schema step.
struct Migration {
    /// DDL and data moves.
    sql: &'static str,
    /// Data the SQL cannot move by itself, fixed in Rust in the same transaction.
    fixup: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

const MIGRATIONS: [Migration; 2] = [
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
];

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
