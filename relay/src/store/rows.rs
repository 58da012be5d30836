//! Whole tables as rows, the same on every backend, so `migrate-storage` can copy a store into
//! another one ([`crate::migrate`]): each backend reads a table in key order a batch at a time
//! and writes batches, skipping rows whose key it already holds (a copy run twice adds
//! nothing). The columns are the stored ones, so nothing is lost or re-decided on the way.

use std::sync::Arc;

use super::{BoxFuture, StoreError};

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (times, counts, and booleans as 0 / 1).
    Int(i64),
    /// Text.
    Text(String),
}

/// One row: its values in [`Table::columns`] order.
pub type Row = Vec<Value>;

/// How a column is typed where the backend cares (PostgreSQL's booleans and 32-bit integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    Text,
    /// A 64-bit integer.
    Int,
    /// A 32-bit integer.
    Int32,
    /// A boolean (0 / 1 in SQLite).
    Bool,
}

/// A table that `migrate-storage` copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `bindings`.
    Bindings,
    /// `leads`.
    Leads,
    /// `lead_events`.
    LeadEvents,
    /// `outbox`.
    Outbox,
    /// `attempts`.
    Attempts,
    /// `saved_sites`: sites saved on the operator's screen.
    SavedSites,
    /// `audit`: the screen's audit trail.
    Audit,
}

use Kind::{Bool, Int, Int32, Text};

impl Table {
    /// Every table, in the order they are copied.
    pub const ALL: [Table; 7] = [
        Table::Bindings,
        Table::Leads,
        Table::LeadEvents,
        Table::Outbox,
        Table::Attempts,
        Table::SavedSites,
        Table::Audit,
    ];

    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Bindings => "bindings",
            Table::Leads => "leads",
            Table::LeadEvents => "lead_events",
            Table::Outbox => "outbox",
            Table::Attempts => "attempts",
            Table::SavedSites => "saved_sites",
            Table::Audit => "audit",
        }
    }

    /// Its columns, the key's first.
    pub fn columns(self) -> &'static [(&'static str, Kind)] {
        match self {
            Table::Bindings => &[
                ("site", Text),
                ("id", Text),
                ("session", Text),
                ("ct_client", Text),
                ("aid", Text),
                ("touch", Text),
                ("touch_ts", Int),
                ("created_ms", Int),
            ],
            Table::Leads => &[
                ("site", Text),
                ("lead_id", Text),
                ("lead", Text),
                ("status", Text),
                ("reason", Text),
                ("decided", Bool),
                ("created_ms", Int),
                ("updated_ms", Int),
                ("version", Int),
                ("judged_source", Text),
                ("cd", Text),
                ("id_source", Text),
            ],
            Table::LeadEvents => &[
                ("seq", Int),
                ("site", Text),
                ("lead_id", Text),
                ("received_ms", Int),
                ("phase", Text),
                ("reason", Text),
            ],
            Table::Outbox => &[
                ("site", Text),
                ("lead_id", Text),
                ("kind", Text),
                ("source_id", Text),
                ("aid", Text),
                ("time_ms", Int),
                ("state", Text),
                ("attempts", Int32),
                ("next_at_ms", Int),
                ("first_at_ms", Int),
                ("cd", Text),
                ("forced", Bool),
            ],
            Table::Attempts => &[
                ("seq", Int),
                ("site", Text),
                ("lead_id", Text),
                ("at_ms", Int),
                ("status", Int32),
                ("error", Text),
                ("url", Text),
            ],
            Table::SavedSites => &[("site", Text), ("settings", Text), ("saved_ms", Int)],
            Table::Audit => &[
                ("seq", Int),
                ("site", Text),
                ("at_ms", Int),
                ("who", Text),
                ("changes", Text),
            ],
        }
    }

    /// How many leading columns are the key.
    pub fn key_len(self) -> usize {
        match self {
            Table::LeadEvents | Table::Attempts | Table::SavedSites | Table::Audit => 1,
            _ => 2,
        }
    }

    /// `SELECT` of up to `limit` rows in key order, after the key given in the first
    /// parameters when `after`; `mark(i)` writes parameter `i` (1-based) as the backend does.
    pub fn select_sql(self, after: bool, mark: fn(usize) -> String) -> String {
        let columns = self.column_list();
        let key: Vec<&str> = self.columns()[..self.key_len()]
            .iter()
            .map(|(c, _)| *c)
            .collect();
        let key_list = key.join(", ");
        let limit = mark(if after { key.len() + 1 } else { 1 });
        let filter = if after {
            let marks: Vec<String> = (1..=key.len()).map(mark).collect();
            format!("WHERE ({key_list}) > ({}) ", marks.join(", "))
        } else {
            String::new()
        };
        format!(
            "SELECT {columns} FROM {} {filter}ORDER BY {key_list} LIMIT {limit}",
            self.name()
        )
    }

    /// `INSERT` of `rows` rows that skips those whose key is already stored.
    pub fn insert_sql(self, rows: usize, mark: fn(usize) -> String) -> String {
        let width = self.columns().len();
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let marks: Vec<String> = (1..=width).map(|c| mark(r * width + c)).collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING",
            self.name(),
            self.column_list(),
            values.join(", ")
        )
    }

    fn column_list(self) -> String {
        let names: Vec<&str> = self.columns().iter().map(|(c, _)| *c).collect();
        names.join(", ")
    }
}

/// A store's tables, read and written whole.
pub trait Tables: Send + Sync {
    /// Rows in `table` (an exact count).
    fn count(&self, table: Table) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Up to `limit` rows of `table` in key order, after the row whose key is `after` (its
    /// first [`Table::key_len`] values).
    fn read_rows(
        &self,
        table: Table,
        after: Option<Row>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Row>, StoreError>>;
    /// Stores `rows` in one transaction, skipping those whose key is already there; how many
    /// were new.
    fn write_rows(&self, table: Table, rows: Vec<Row>) -> BoxFuture<'_, Result<u64, StoreError>>;
}

/// Opens (creating or migrating) the storage at `url` for copying, with default pool settings.
pub async fn open(url: &str) -> Result<Arc<dyn Tables>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        super::check_url(url).map_err(StoreError::Unsupported)?;
        return Ok(Arc::new(super::sqlite::Sqlite::open(path)?));
    }
    if super::postgres::is_postgres(url) {
        let options = super::postgres::Options::default();
        return Ok(Arc::new(
            super::postgres::Postgres::open(url, &options).await?,
        ));
    }
    Err(StoreError::Unsupported(format!(
        "{url}: not sqlite://PATH or postgres://…"
    )))
}
