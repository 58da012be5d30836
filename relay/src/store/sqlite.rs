//! Embedded SQLite storage (rusqlite, bundled SQLite): WAL journal, `synchronous=FULL`,
//! schema migrations by `user_version` (`schema`), decisions in the writer's transaction
//! (`decide`). One writer thread owns the connection and commits whatever requests are
//! waiting in one transaction (group commit), so concurrent ingest costs one fsync per batch,
//! not per request; each request runs in its own savepoint so one failure does not spoil its
//! batch. A request's future resolves only after its batch has committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use aidlink_protocol::Binding;
use rusqlite::{params, Connection, OptionalExtension};

use super::{
    Attempt, BoxFuture, Decided, Delivery, LeadStatus, LeadSummary, Next, OutboxStats, Store,
    StoreError, Trail, TrailAttempt, TrailEvent,
};
use crate::config::Site;
use crate::postback::{self, Cd, Postback};
use crate::webhook::{CallPhase, Lead, LeadKind};

mod decide;
mod schema;

type Completion = Box<dyn FnOnce(bool) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// Largest number of requests committed together.
const MAX_BATCH: usize = 256;

/// The SQLite store; cheap to share.
pub struct Sqlite {
    jobs: mpsc::Sender<Job>,
    stats: Arc<GroupCommitStats>,
}

/// Counters showing group commit at work (benchmarks, tests).
#[derive(Debug, Default)]
pub struct GroupCommitStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Requests committed.
    pub requests: AtomicU64,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl Sqlite {
    /// Opens (creating and migrating) the database at `path` and starts its writer thread.
    pub fn open(path: &str) -> Result<Sqlite, StoreError> {
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
        )
        .map_err(unavailable)?;
        schema::migrate(&conn).map_err(unavailable)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let stats = Arc::new(GroupCommitStats::default());
        let counters = stats.clone();
        std::thread::Builder::new()
            .name("aidlink-store".into())
            .spawn(move || writer(conn, queue, &counters))
            .map_err(unavailable)?;
        Ok(Sqlite { jobs, stats })
    }

    /// Group-commit counters.
    pub fn stats(&self) -> &GroupCommitStats {
        &self.stats
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = in_savepoint(conn, f);
            Box::new(move |committed| {
                let _ = done.send(match outcome {
                    Ok(value) if committed => Ok(value),
                    Ok(_) => Err(unavailable("the transaction did not commit")),
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
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.execute_batch("SAVEPOINT job")?;
    let result = f(conn);
    let end = if result.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end)?;
    result
}

fn writer(conn: Connection, queue: mpsc::Receiver<Job>, stats: &GroupCommitStats) {
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
        let committed = conn.execute_batch("COMMIT").is_ok();
        if !committed {
            let _ = conn.execute_batch("ROLLBACK");
        } else {
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats
                .requests
                .fetch_add(completions.len() as u64, Ordering::Relaxed);
        }
        completions
            .into_iter()
            .for_each(|complete| complete(committed));
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

fn phase_name(lead: &Lead) -> Option<&'static str> {
    lead.phase.map(|p| match p {
        CallPhase::Connected => "connected",
        CallPhase::Disconnected => "disconnected",
    })
}

impl Store for Sqlite {
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn put_binding(
        &self,
        binding: Binding,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.run(move |conn| {
            let touch = binding.touch.as_ref().map(to_json).transpose()?;
            let touch_ts = binding.touch.as_ref().map_or(now_ms, |t| if t.ts > 0 { t.ts as i64 } else { now_ms });
            let inserted = conn.execute(
                "INSERT INTO bindings (id, site, session, ct_client, aid, touch, touch_ts, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (site, id) DO NOTHING",
                params![binding.id, binding.site, binding.session, binding.ct_client, binding.aid, touch, touch_ts, now_ms],
            )?;
            Ok(inserted == 1)
        })
    }

    fn put_lead_event(
        &self,
        site: String,
        lead: Lead,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| {
            let lead_id = lead.lead_id();
            let existing: Option<String> = conn
                .query_row("SELECT lead FROM leads WHERE site = ?1 AND lead_id = ?2", params![site, lead_id], |r| r.get(0))
                .optional()?;
            // The first call-end event is what the call is judged on (DOMAIN.md §1: a tag added
            // after the call ended does not count): later events, a late start or a redelivered
            // end with newer tags, are recorded and may re-run the decision (say the switch was
            // turned on since), but do not replace the facts of the end.
            let keep_existing = match &existing {
                Some(text) => from_json::<Lead>(text)?.is_call_end(),
                None => false,
            };
            let json = to_json(&lead)?;
            if existing.is_none() {
                conn.execute(
                    "INSERT INTO leads (site, lead_id, lead, status, reason, decided, created_ms, updated_ms) \
                     VALUES (?1, ?2, ?3, 'new', NULL, 0, ?4, ?4)",
                    params![site, lead_id, json, now_ms],
                )?;
            } else if keep_existing {
                conn.execute("UPDATE leads SET decided = 0 WHERE site = ?1 AND lead_id = ?2", params![site, lead_id])?;
            } else {
                conn.execute(
                    "UPDATE leads SET lead = ?3, decided = 0, updated_ms = ?4 WHERE site = ?1 AND lead_id = ?2",
                    params![site, lead_id, json, now_ms],
                )?;
            }
            conn.execute(
                "INSERT INTO lead_events (site, lead_id, received_ms, phase, reason) VALUES (?1, ?2, ?3, ?4, NULL)",
                params![site, lead_id, now_ms, phase_name(&lead)],
            )?;
            Ok(())
        })
    }

    fn decide(
        &self,
        site: Site,
        lead_id: String,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<Option<Decided>, StoreError>> {
        self.run(move |conn| decide::decide_in(conn, &site, &lead_id, now_ms))
    }

    fn undecided(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>> {
        self.run(|conn| {
            let mut stmt = conn
                .prepare("SELECT site, lead_id FROM leads WHERE decided = 0 ORDER BY updated_ms")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>> {
        self.run(move |conn| {
            let due: Vec<Delivery> = {
                let mut stmt = conn.prepare(
                    "SELECT site, lead_id, kind, source_id, aid, time_ms, attempts, first_at_ms FROM outbox \
                     WHERE state = 'retrying' AND next_at_ms <= ?1 ORDER BY next_at_ms LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![now_ms, limit], |r| {
                    let kind: String = r.get(2)?;
                    let kind = LeadKind::parse(&kind).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, format!("lead kind {kind:?}").into())
                    })?;
                    Ok(Delivery {
                        site: r.get(0)?,
                        lead_id: r.get(1)?,
                        // The outbox has no cd column yet: the decided cd is not kept, so a
                        // queued postback goes with cd=default whatever the site's dedup.
                        postback: Postback { kind, source_id: r.get(3)?, aid: r.get(4)?, time_ms: r.get(5)?, cd: Cd::Default },
                        attempts: r.get(6)?,
                        first_at_ms: r.get(7)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for d in &due {
                conn.execute(
                    "UPDATE outbox SET next_at_ms = ?3 WHERE site = ?1 AND lead_id = ?2",
                    params![d.site, d.lead_id, now_ms + lease_ms],
                )?;
            }
            Ok(due)
        })
    }

    fn record_attempt(
        &self,
        delivery: Delivery,
        attempt: Attempt,
        next: Next,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| {
            let (state, next_at, status) = match next {
                Next::Delivered => ("delivered", attempt.at_ms, LeadStatus::Sent),
                Next::RetryAt(at) => ("retrying", at, LeadStatus::Retrying),
                Next::Dead => ("dead", attempt.at_ms, LeadStatus::Dead),
            };
            conn.execute(
                "INSERT INTO attempts (site, lead_id, at_ms, status, error, url) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![delivery.site, delivery.lead_id, attempt.at_ms, attempt.status, attempt.error, postback::mask_pkey(&attempt.url)],
            )?;
            conn.execute(
                "UPDATE outbox SET state = ?3, attempts = attempts + 1, next_at_ms = ?4 WHERE site = ?1 AND lead_id = ?2",
                params![delivery.site, delivery.lead_id, state, next_at],
            )?;
            conn.execute(
                "UPDATE leads SET status = ?3, updated_ms = ?4 WHERE site = ?1 AND lead_id = ?2",
                params![delivery.site, delivery.lead_id, status.as_str(), attempt.at_ms],
            )?;
            Ok(())
        })
    }

    fn requeue_dead(
        &self,
        site: String,
        lead_id: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.run(move |conn| {
            let filter = "site = ?1 AND (?2 IS NULL OR lead_id = ?2)";
            conn.execute(
                &format!("UPDATE leads SET status = 'retrying', updated_ms = ?3 WHERE {filter} AND status = 'dead'"),
                params![site, lead_id, now_ms],
            )?;
            let n = conn.execute(
                &format!("UPDATE outbox SET state = 'retrying', next_at_ms = ?3, first_at_ms = ?3 WHERE {filter} AND state = 'dead'"),
                params![site, lead_id, now_ms],
            )?;
            Ok(n as u64)
        })
    }

    fn trail(
        &self,
        site: String,
        lead_id: String,
    ) -> BoxFuture<'_, Result<Option<Trail>, StoreError>> {
        self.run(move |conn| {
            let row: Option<(String, String, Option<String>)> = conn
                .query_row(
                    "SELECT lead, status, reason FROM leads WHERE site = ?1 AND lead_id = ?2",
                    params![site, lead_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((lead, status, reason)) = row else { return Ok(None) };
            let mut stmt = conn.prepare("SELECT received_ms, phase, reason FROM lead_events WHERE site = ?1 AND lead_id = ?2 ORDER BY seq")?;
            let events = stmt
                .query_map(params![site, lead_id], |r| Ok(TrailEvent { received_ms: r.get(0)?, phase: r.get(1)?, reason: r.get(2)? }))?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = conn.prepare("SELECT at_ms, status, error, url FROM attempts WHERE site = ?1 AND lead_id = ?2 ORDER BY seq")?;
            let attempts = stmt
                .query_map(params![site, lead_id], |r| Ok(TrailAttempt { at_ms: r.get(0)?, status: r.get(1)?, error: r.get(2)?, url: r.get(3)? }))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(Trail {
                status: LeadStatus::parse(&status).unwrap_or(LeadStatus::New),
                site,
                lead_id,
                reason,
                lead: from_json(&lead)?,
                events,
                attempts,
            }))
        })
    }

    fn list(
        &self,
        site: String,
        status: LeadStatus,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadSummary>, StoreError>> {
        self.run(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT lead_id, reason, updated_ms FROM leads WHERE site = ?1 AND status = ?2 ORDER BY updated_ms DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![site, status.as_str(), limit], |r| {
                Ok(LeadSummary { lead_id: r.get(0)?, status, reason: r.get(1)?, updated_ms: r.get(2)? })
            })?;
            rows.collect()
        })
    }

    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        self.run(|conn| {
            conn.query_row(
                "SELECT COUNT(*), MIN(first_at_ms) FROM outbox WHERE state = 'retrying'",
                [],
                |r| {
                    Ok(OutboxStats {
                        depth: r.get::<_, i64>(0)? as u64,
                        oldest_ms: r.get(1)?,
                    })
                },
            )
        })
    }
}
