//! `migrate-storage`: copies everything one store holds into another (SQLite to PostgreSQL, or
//! back), table by table in key order, a batch at a time, through [`crate::store::rows`].
//! The target must be empty unless the copy is resumed; a row whose key the target already
//! holds is skipped, so running the copy twice adds nothing. At the end every table's count in
//! the target must equal the source's, or the copy is reported as failed.

use crate::store::rows::{Table, Tables};
use crate::store::StoreError;

/// How to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Continue into a target that already holds rows.
    pub resume: bool,
    /// Rows per batch.
    pub batch: u32,
}

/// Progress after one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The table being copied.
    pub table: Table,
    /// Rows of it read from the source so far.
    pub read: u64,
    /// Rows it has in the source.
    pub of: u64,
    /// Rows new in the target so far.
    pub new: u64,
}

/// One table's counts after the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The table.
    pub table: Table,
    /// Rows in the source.
    pub source: u64,
    /// Rows in the target.
    pub target: u64,
    /// Rows this run added to the target.
    pub new: u64,
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every table, in copy order.
    pub tables: Vec<Counted>,
}

/// Why a copy did not complete.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Reading or writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target holds rows and `--resume` was not given.
    #[error(
        "the target is not empty ({0}); give --resume to continue an interrupted copy into it"
    )]
    NotEmpty(String),
    /// Counts differ after the copy (the source changed meanwhile, or the target held other
    /// rows).
    #[error("counts differ after the copy: {0}; stop every relay using the source, then run again with --resume")]
    Mismatch(String),
}

/// Copies every table of `from` into `to`, reporting each batch to `progress`.
pub async fn copy(
    from: &dyn Tables,
    to: &dyn Tables,
    options: Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, MigrateError> {
    if !options.resume {
        let mut held = Vec::new();
        for table in Table::ALL {
            let n = to.count(table).await?;
            if n > 0 {
                held.push(format!("{} {n}", table.name()));
            }
        }
        if !held.is_empty() {
            return Err(MigrateError::NotEmpty(held.join(", ")));
        }
    }
    let mut tables = Vec::new();
    for table in Table::ALL {
        let of = from.count(table).await?;
        let (mut read, mut new) = (0, 0);
        let mut after = None;
        loop {
            let rows = from.read_rows(table, after.take(), options.batch).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last[..table.key_len()].to_vec());
            let n = rows.len() as u64;
            read += n;
            new += to.write_rows(table, rows).await?;
            progress(Progress {
                table,
                read,
                of: of.max(read),
                new,
            });
            if n < u64::from(options.batch) {
                break;
            }
        }
        tables.push(Counted {
            table,
            source: 0,
            target: 0,
            new,
        });
    }
    let mut differ = Vec::new();
    for counted in tables.iter_mut() {
        counted.source = from.count(counted.table).await?;
        counted.target = to.count(counted.table).await?;
        if counted.source != counted.target {
            differ.push(format!(
                "{} source {} target {}",
                counted.table.name(),
                counted.source,
                counted.target
            ));
        }
    }
    if differ.is_empty() {
        Ok(Report { tables })
    } else {
        Err(MigrateError::Mismatch(differ.join(", ")))
    }
}

#[cfg(test)]
mod tests;
