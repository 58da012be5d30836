//! Embedded SQLite storage (rusqlite, bundled SQLite): WAL journal, schema migrations by
//! `user_version` (`schema`), every statement a constant (`sql`).
//!
//! Writes: one writer thread owns the writing connection and commits whatever requests are
//! waiting in one transaction (group commit); each request runs in its own savepoint so one
//! failure does not spoil its batch. A commit writes its pages to the WAL file, and a second
//! thread, the syncer, makes them durable (`fdatasync` of the WAL, what `synchronous=FULL`
//! would do inside the commit) while the writer goes on with the next batch: a request
//! resolves only after the sync that followed its commit, so nothing is acknowledged before
//! it is on the disk, and one sync covers every batch committed while the last one ran.
//!
//! Reads (a decision's facts, the lead API, `/metrics`) run on a few read-only connections
//! beside it: WAL lets them read the last commit while the writer works, so no read waits
//! behind a write and no write behind a read.

mod read;
mod rows;
mod schema;
mod screen;
mod sql;
mod write;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use aidlink_protocol::Binding;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::{
    Attempt, BoxFuture, ClaimPlan, DeadLetter, Delivery, LeadStatus, LeadSummary, Next,
    OutboxStats, Purged, RowCounts, Store, StoreError, TouchKeys, Trail,
};
use crate::decide::{LeadFacts, StoredTouch, Verdict};
use crate::webhook::Lead;

/// How a job's batch ended: durable or not, and how long its commit held the writer.
#[derive(Clone, Copy)]
struct Outcome {
    durable: bool,
    commit: Duration,
}

type Completion = Box<dyn FnOnce(Outcome) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// Largest number of requests committed together.
const MAX_BATCH: usize = 256;
/// Read-only connections beside the writer.
const READERS: usize = 4;

/// The SQLite store; cheap to share.
pub struct Sqlite {
    jobs: mpsc::Sender<Job>,
    /// Dropped with the store, which ends the checkpointer thread.
    _checkpoints: mpsc::Sender<()>,
    readers: Arc<Readers>,
    stats: Arc<GroupCommitStats>,
}

/// Counters showing group commit at work (benchmarks, tests).
#[derive(Debug, Default)]
pub struct GroupCommitStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Requests committed.
    pub requests: AtomicU64,
    /// Syncs of the WAL file (each covers every batch committed before it began).
    pub syncs: AtomicU64,
}

/// Makes everything committed so far durable; the default syncs the WAL file, tests stand in.
type SyncWal = Box<dyn FnMut() -> std::io::Result<()> + Send>;

/// The WAL file, held open for `fdatasync` beside SQLite's own handle to it (on Linux a sync
/// covers the file, whichever descriptor wrote it). SQLite keeps writing to the file it opened
/// for as long as the writer's connection lives; if the path stops naming that file (removed,
/// or replaced by another), what is written there is gone at the next start, so the sync says
/// so rather than vouch for it.
struct WalFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    id: (u64, u64),
}

impl WalFile {
    /// Opens the WAL of the database at `db` (it exists once a connection has read it).
    fn open(db: &str) -> std::io::Result<WalFile> {
        let path = std::path::absolute(format!("{db}-wal"))?;
        let file = std::fs::File::open(&path)?;
        let id = Self::id(&file.metadata()?);
        Ok(WalFile { path, file, id })
    }

    fn id(meta: &std::fs::Metadata) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        let named = std::fs::metadata(&self.path).map(|m| Self::id(&m));
        if named.ok() != Some(self.id) {
            return Err(std::io::Error::other(format!(
                "{} was removed or replaced while the relay ran: what SQLite writes to it would be lost at the next start",
                self.path.display()
            )));
        }
        self.file.sync_data()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl Sqlite {
    /// Opens (creating and migrating) the database at `path` and starts its writer thread.
    pub fn open(path: &str) -> Result<Sqlite, StoreError> {
        Sqlite::open_with(path, None)
    }

    /// [`Sqlite::open`], with `sync` standing in for the WAL file's sync (tests).
    fn open_with(path: &str, sync: Option<SyncWal>) -> Result<Sqlite, StoreError> {
        let conn = Connection::open(path).map_err(unavailable)?;
        schema::prepare_new(&conn).map_err(unavailable)?;
        // `synchronous=NORMAL`: a commit writes the WAL without syncing it; the syncer thread
        // syncs it before any request of the batch is answered, so the guarantee is FULL's.
        // SQLite still syncs the WAL before each checkpoint copies it into the database, and
        // the database before the WAL is reused. The writer checkpoints only as a safety net
        // (a WAL of ~40 MB); the checkpointer thread does it every half second, beside the
        // writer, so no commit waits for one.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; \
             PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=67108864; \
             PRAGMA cache_size=-65536;",
        )
        .map_err(unavailable)?;
        schema::migrate(&conn).map_err(unavailable)?;
        // The migrations' own commits: on the disk before the relay serves anything.
        let mut sync = match sync {
            Some(sync) => sync,
            None => {
                let mut wal = WalFile::open(path).map_err(unavailable)?;
                Box::new(move || wal.sync())
            }
        };
        sync().map_err(unavailable)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let (committed, to_sync) = mpsc::channel::<(Vec<Completion>, Duration)>();
        let stats = Arc::new(GroupCommitStats::default());
        let counters = stats.clone();
        std::thread::Builder::new()
            .name("aidlink-store".into())
            .spawn(move || writer(conn, queue, &committed, &counters))
            .map_err(unavailable)?;
        let counters = stats.clone();
        std::thread::Builder::new()
            .name("aidlink-sync".into())
            .spawn(move || syncer(sync, &to_sync, &counters))
            .map_err(unavailable)?;
        let checkpoints = Connection::open(path).map_err(unavailable)?;
        checkpoints
            .execute_batch("PRAGMA busy_timeout=1000;")
            .map_err(unavailable)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("aidlink-checkpoint".into())
            .spawn(move || checkpointer(&checkpoints, &stopped))
            .map_err(unavailable)?;
        Ok(Sqlite {
            jobs,
            _checkpoints: stop,
            readers: Arc::new(Readers {
                path: path.to_string(),
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(READERS),
            }),
            stats,
        })
    }

    /// Group-commit counters.
    pub fn stats(&self) -> &GroupCommitStats {
        &self.stats
    }

    /// Runs `f` on the writer, in its own savepoint of the next group-committed transaction.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let timed = self.run_timed(f);
        Box::pin(async move { timed.await.map(|(value, _)| value) })
    }

    /// [`Sqlite::run`], with how long the write held the writer: its own statements plus
    /// the commit of its batch (not the sync, which runs beside the writer).
    fn run_timed<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<(T, Duration), StoreError>> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let started = Instant::now();
            let outcome = in_savepoint(conn, f);
            let ran = started.elapsed();
            Box::new(move |batch: Outcome| {
                let _ = done.send(match outcome {
                    Ok(value) if batch.durable => Ok((value, ran + batch.commit)),
                    Ok(_) => Err(unavailable("the write did not reach the disk")),
                    Err(e) => Err(unavailable(e)),
                });
            })
        });
        let queued = self.jobs.send(job);
        Box::pin(async move {
            queued.map_err(|_| unavailable("the storage thread has stopped"))?;
            result
                .await
                .map_err(|_| unavailable("the storage thread has stopped"))?
        })
    }

    /// [`Store::purge`], with how long the batch held the writer (its statements and its
    /// commit): what retention costs every other write (the retention benchmark).
    pub fn purge_timed(
        &self,
        cutoff_ms: i64,
        batch: u32,
    ) -> BoxFuture<'_, Result<(Purged, Duration), StoreError>> {
        self.run_timed(move |conn| write::purge(conn, cutoff_ms, batch))
    }

    /// Runs `f` on a read-only connection.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let readers = self.readers.clone();
        Box::pin(async move { readers.read(f).await })
    }
}

/// The read-only connections, opened as needed up to [`READERS`].
struct Readers {
    path: String,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA busy_timeout=5000; PRAGMA query_only=ON;")?;
        Ok(conn)
    }

    async fn read<T: Send + 'static>(
        self: Arc<Self>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self.permits.acquire().await.map_err(unavailable)?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().map_err(unavailable)?,
        };
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&conn);
            (conn, result)
        })
        .await
        .map_err(unavailable)?;
        if result.is_ok() {
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(conn);
            }
        }
        result.map_err(unavailable)
    }
}

/// Less free space than this on the database's file system, and the relay is not ready: a
/// batch of writes, or the WAL growing, would fail.
const MIN_FREE_BYTES: u64 = 4 * 1024 * 1024;

/// Whether `free` bytes (as [`free_bytes`] read them; `None`: unknown, not held against the
/// relay) leave room for the writes to come.
fn enough_room(free: Option<u64>) -> Result<(), StoreError> {
    match free {
        Some(free) if free < MIN_FREE_BYTES => Err(unavailable(format!(
            "the disk holding the database is full ({free} bytes free)"
        ))),
        _ => Ok(()),
    }
}

/// Free bytes for unprivileged writers on the file system holding `path` (`statvfs`); `None`
/// when it cannot be read.
fn free_bytes(path: &str) -> Option<u64> {
    let dir = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let dir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `dir` is a valid NUL-terminated string and `stats` a writable statvfs; the
    // result is read only when the call succeeded.
    let stats = unsafe {
        if libc::statvfs(dir.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    #[allow(clippy::unnecessary_cast)]
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Copies committed WAL frames into the database (a passive checkpoint: it never blocks the
/// writer or a reader, and does what it can), every [`CHECKPOINT_EVERY`], until the store is
/// dropped. Done here rather than in a commit, where it would hold up every request of that
/// batch for as long as it takes (tens of milliseconds on a large database).
fn checkpointer(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "checkpoint not done; tried again shortly");
        }
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let result = f(conn);
    if result.is_err() {
        conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
    }
    conn.prepare_cached("RELEASE job")?.execute([])?;
    result
}

fn writer(
    conn: Connection,
    queue: mpsc::Receiver<Job>,
    committed: &mpsc::Sender<(Vec<Completion>, Duration)>,
    stats: &GroupCommitStats,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
            batch.into_iter().for_each(|job| drop(job));
            continue;
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(&conn)).collect();
        let commit_started = Instant::now();
        if conn.execute_batch("COMMIT").is_err() {
            let _ = conn.execute_batch("ROLLBACK");
            let failed = Outcome {
                durable: false,
                commit: commit_started.elapsed(),
            };
            completions
                .into_iter()
                .for_each(|complete| complete(failed));
            continue;
        }
        let commit = commit_started.elapsed();
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats
            .requests
            .fetch_add(completions.len() as u64, Ordering::Relaxed);
        // Answered by the syncer once the batch is on the disk; the writer goes on meanwhile.
        if let Err(mpsc::SendError((completions, commit))) = committed.send((completions, commit)) {
            let lost = Outcome {
                durable: false,
                commit,
            };
            completions.into_iter().for_each(|complete| complete(lost));
        }
    }
}

/// Answers committed batches once they are durable: takes every batch committed so far, syncs
/// once, answers them all. After a failed sync the kernel may have dropped the pages it could
/// not write, so no later sync can vouch for them: every write from then on fails (and with
/// it `/readyz`) until the relay restarts and SQLite recovers from what the disk holds.
fn syncer(
    mut sync: SyncWal,
    batches: &mpsc::Receiver<(Vec<Completion>, Duration)>,
    stats: &GroupCommitStats,
) {
    let mut failed = false;
    while let Ok(first) = batches.recv() {
        let mut waiting = vec![first];
        while let Ok(more) = batches.try_recv() {
            waiting.push(more);
        }
        if !failed {
            if let Err(e) = sync() {
                tracing::error!(error = %e, "syncing the database's WAL file failed; storage refuses writes until the relay restarts");
                failed = true;
            }
            stats.syncs.fetch_add(1, Ordering::Relaxed);
        }
        for (completions, commit) in waiting {
            let outcome = Outcome {
                durable: !failed,
                commit,
            };
            completions
                .into_iter()
                .for_each(|complete| complete(outcome));
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Where a queued postback is, as stored in `outbox.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutboxState {
    /// Queued, or waiting to be retried.
    Retrying,
    /// Accepted by RTB House.
    Sent,
    /// Dead letter.
    Dead,
}

impl OutboxState {
    /// The stored name (both backends store the same words).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OutboxState::Retrying => "retrying",
            OutboxState::Sent => "sent",
            OutboxState::Dead => "dead",
        }
    }
}

impl ToSql for OutboxState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl ToSql for LeadStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for LeadStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        LeadStatus::parse(name)
            .ok_or_else(|| FromSqlError::Other(format!("lead status {name:?}").into()))
    }
}

impl Store for Sqlite {
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn probe_write(&self, now_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        // A one-row write can still fit in the space the WAL already holds when a batch of
        // bindings cannot: the file system's free space is checked too.
        let path = self.readers.path.clone();
        let written = self.run(move |conn| {
            conn.prepare_cached(sql::PROBE)?
                .execute([now_ms])
                .map(|_| ())
        });
        Box::pin(async move {
            written.await?;
            enough_room(free_bytes(&path))
        })
    }

    fn put_binding(
        &self,
        binding: Binding,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run(move |conn| write::put_binding(conn, &binding, now_ms))
    }

    fn put_lead_event(
        &self,
        site: String,
        lead: Lead,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| write::put_lead_event(conn, &site, &lead, now_ms))
    }

    fn lead_facts(
        &self,
        site: String,
        lead_id: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Option<LeadFacts>, StoreError>> {
        self.read(move |conn| read::lead_facts(conn, &site, &lead_id, limit))
    }

    fn touches(
        &self,
        site: String,
        keys: TouchKeys,
        until_ms: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<StoredTouch>, StoreError>> {
        self.read(move |conn| read::touches(conn, &site, &keys, until_ms, limit))
    }

    fn record_verdict(
        &self,
        site: String,
        lead_id: String,
        version: i64,
        verdict: Verdict,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run(move |conn| {
            write::record_verdict(conn, &site, &lead_id, version, &verdict, now_ms)
        })
    }

    fn undecided(&self, limit: u32) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>> {
        self.read(move |conn| read::undecided(conn, limit))
    }

    fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        plan: ClaimPlan,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>> {
        self.run(move |conn| write::claim_due(conn, now_ms, lease_ms, &plan))
    }

    fn record_attempt(
        &self,
        delivery: Delivery,
        attempt: Attempt,
        next: Next,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| write::record_attempt(conn, &delivery, &attempt, next))
    }

    fn dead_letters(
        &self,
        site: String,
        lead_id: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        self.read(move |conn| read::dead_letters(conn, &site, lead_id.as_deref()))
    }

    fn requeue_dead(
        &self,
        site: String,
        lead_ids: Vec<String>,
        forced: bool,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.run(move |conn| write::requeue_dead(conn, &site, &lead_ids, forced, now_ms))
    }

    fn trail(
        &self,
        site: String,
        lead_id: String,
    ) -> BoxFuture<'_, Result<Option<Trail>, StoreError>> {
        self.read(move |conn| read::trail(conn, site, lead_id))
    }

    fn list(
        &self,
        site: String,
        status: LeadStatus,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadSummary>, StoreError>> {
        self.read(move |conn| read::list(conn, &site, status, limit))
    }

    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        self.read(read::outbox_stats)
    }

    fn row_counts(&self) -> BoxFuture<'_, Result<RowCounts, StoreError>> {
        self.read(read::row_counts)
    }

    fn purge(&self, cutoff_ms: i64, batch: u32) -> BoxFuture<'_, Result<Purged, StoreError>> {
        let timed = self.purge_timed(cutoff_ms, batch);
        Box::pin(async move { timed.await.map(|(purged, _)| purged) })
    }

    fn reclaim(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        // A few hundred free pages at a time, so the writer is never held for long.
        self.run(|conn| {
            let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
            if mode == 2 {
                // Stepped to the end: each step of this pragma frees one page, and a single
                // step (as `execute_batch` does) would give back one page per call.
                let mut vacuum = conn.prepare(sql::RECLAIM)?;
                let mut steps = vacuum.query([])?;
                while steps.next()?.is_some() {}
                drop(steps);
                conn.query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0))
                    .map(|n| n.max(0) as u64)
            } else {
                Ok(0)
            }
        })
    }
}
