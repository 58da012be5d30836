//! The PostgreSQL schema: versioned migrations (SQL files in `migrations/`, embedded in the
//! binary), recorded in `schema_migrations`. They are applied at start-up in one transaction
//! under a transaction-level advisory lock, so instances starting together do not race: the
//! first applies them, the others wait for its commit and find nothing left to do.
//!
//! Migrations only ever add (tables, columns with defaults, indexes), so an instance of the
//! previous version keeps working on a schema a newer instance has migrated: instances are
//! upgraded one at a time. A database migrated further than this build knows is used as it is.

use tokio_postgres::Client;

/// One schema step: its version (the file's number) and SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "schema",
        sql: include_str!("migrations/0001_schema.sql"),
    },
    Migration {
        version: 2,
        name: "screen",
        sql: include_str!("migrations/0002_screen.sql"),
    },
];

/// The advisory lock migrations hold, per schema (relays of two deployments may share a
/// database in separate schemas).
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':aidlink:migrate'))";

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Migrated {
    /// Versions applied now.
    pub applied: usize,
    /// The database's version afterwards.
    pub version: i32,
}

/// Brings the database to the latest schema this build knows.
pub(super) async fn migrate(client: &mut Client) -> Result<Migrated, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(LOCK).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    let mut applied = 0;
    for step in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.batch_execute(step.sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&step.version, &step.name],
        )
        .await?;
        applied += 1;
    }
    tx.commit().await?;
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    Ok(Migrated {
        applied,
        version: current.max(latest),
    })
}
