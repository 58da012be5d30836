//! The operator screen's storage on PostgreSQL ([`ScreenStore`]), the same as on SQLite: saved
//! settings with their audit entry and the settings version in one transaction (every instance
//! polls the version), sessions shared by every instance, the lead log by keyset pages, and the
//! live view's counters (bumped by `write` in the transactions that write what they count,
//! sharded as `row_counts` is) and recent events. Every statement is a constant of `sql`.

use deadpool_postgres::{GenericClient, Object};

use super::read::rows;
use super::write::run;
use super::{parse_status, sql, state_name, status_name, Failed, OutboxState, Postgres};
use crate::store::screen::{
    AdminSession, AuditEntry, Counter, LeadCursor, LeadRow, LiveEvent, SavedSite, ScreenStore,
    COUNTER_BUCKET_MS,
};
use crate::store::{BoxFuture, LeadStatus, OutboxStats, StoreError};

/// One more in `site`'s counter of `kind` / `key` for the ten minutes holding `at_ms`.
pub(super) async fn count(
    c: &impl GenericClient,
    site: &str,
    at_ms: i64,
    kind: &str,
    key: &str,
) -> Result<(), Failed> {
    let bucket = at_ms.div_euclid(COUNTER_BUCKET_MS) * COUNTER_BUCKET_MS;
    run(c, sql::COUNT, &[&site, &bucket, &kind, &key]).await?;
    Ok(())
}

/// Retention: up to `batch` counter rows of buckets before `cutoff_ms`; how many.
pub(super) async fn purge_counters(
    c: &impl GenericClient,
    cutoff_ms: i64,
    batch: i64,
) -> Result<u64, Failed> {
    run(c, sql::PURGE_COUNTERS, &[&cutoff_ms, &batch]).await
}

async fn save(c: &mut Object, saved: &SavedSite, audit: &AuditEntry) -> Result<i64, Failed> {
    let tx = c.transaction().await?;
    run(
        &tx,
        sql::SAVE_SITE,
        &[&saved.site, &saved.settings, &saved.saved_ms],
    )
    .await?;
    run(
        &tx,
        sql::INSERT_AUDIT,
        &[&audit.site, &audit.at_ms, &audit.who, &audit.changes],
    )
    .await?;
    let bump = tx.prepare_cached(sql::BUMP_SETTINGS_VERSION).await?;
    let version: i64 = tx.query_one(&bump, &[]).await?.get(0);
    tx.commit().await?;
    Ok(version)
}

async fn lead_log(
    c: &Object,
    site: &str,
    status: Option<LeadStatus>,
    after: Option<LeadCursor>,
    limit: u32,
) -> Result<Vec<LeadRow>, Failed> {
    let (updated_ms, lead_id) =
        after.map_or((i64::MAX, String::new()), |c| (c.updated_ms, c.lead_id));
    let limit = i64::from(limit);
    let found = match status {
        Some(status) => {
            let name = status_name(status);
            rows(
                c,
                sql::LEAD_LOG_STATUS,
                &[&site, &updated_ms, &lead_id, &limit, &name],
            )
            .await?
        }
        None => rows(c, sql::LEAD_LOG, &[&site, &updated_ms, &lead_id, &limit]).await?,
    };
    found
        .iter()
        .map(|r| {
            Ok(LeadRow {
                lead_id: r.get(0),
                status: parse_status(r.get(1))?,
                reason: r.get(2),
                updated_ms: r.get(3),
                attempts: r.get::<_, Option<i32>>(4).unwrap_or(0).max(0) as u32,
                last_http: r
                    .get::<_, Option<i32>>(5)
                    .and_then(|s| u16::try_from(s).ok()),
            })
        })
        .collect()
}

async fn recent_events(c: &Object, site: &str, limit: u32) -> Result<Vec<LiveEvent>, Failed> {
    let n = i64::from(limit);
    let mut events: Vec<LiveEvent> = rows(c, sql::RECENT_EVENTS, &[&site, &n])
        .await?
        .iter()
        .map(|r| LiveEvent::Webhook {
            at_ms: r.get(0),
            lead_id: r.get(1),
            phase: r.get(2),
            reason: r.get(3),
        })
        .collect();
    events.extend(
        rows(c, sql::RECENT_ATTEMPTS, &[&site, &n])
            .await?
            .iter()
            .map(|r| LiveEvent::Attempt {
                at_ms: r.get(0),
                lead_id: r.get(1),
                status: r
                    .get::<_, Option<i32>>(2)
                    .and_then(|s| u16::try_from(s).ok()),
                error: r.get(3),
            }),
    );
    // Newest first; at equal times the attempt (which follows its webhook) first.
    events.sort_by_key(|e| std::cmp::Reverse((e.at_ms(), matches!(e, LiveEvent::Attempt { .. }))));
    events.truncate(limit as usize);
    Ok(events)
}

impl ScreenStore for Postgres {
    fn saved_sites(&self) -> BoxFuture<'_, Result<Vec<SavedSite>, StoreError>> {
        self.with(op!(|c| {
            Ok(rows(c, sql::SAVED_SITES, &[])
                .await?
                .iter()
                .map(|r| SavedSite {
                    site: r.get(0),
                    settings: r.get(1),
                    saved_ms: r.get(2),
                })
                .collect())
        }))
    }

    fn save_site(
        &self,
        saved: SavedSite,
        audit: AuditEntry,
    ) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.with(op!(|c| save(c, &saved, &audit).await))
    }

    fn settings_version(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.with(op!(|c| {
            let found = rows(c, sql::SETTINGS_VERSION, &[]).await?;
            Ok(found.first().map_or(0, |r| r.get(0)))
        }))
    }

    fn audit_trail(
        &self,
        site: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<AuditEntry>, StoreError>> {
        self.with(op!(|c| {
            let limit = i64::from(limit);
            Ok(rows(c, sql::AUDIT_TRAIL, &[&site, &limit])
                .await?
                .iter()
                .map(|r| AuditEntry {
                    site: r.get(0),
                    at_ms: r.get(1),
                    who: r.get(2),
                    changes: r.get(3),
                })
                .collect())
        }))
    }

    fn put_session(
        &self,
        session: AdminSession,
        idle_before_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(op!(|c| {
            let tx = c.transaction().await?;
            run(&tx, sql::PURGE_SESSIONS, &[&idle_before_ms]).await?;
            run(
                &tx,
                sql::INSERT_SESSION,
                &[
                    &session.id_hash,
                    &session.csrf,
                    &session.created_ms,
                    &session.last_seen_ms,
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }))
    }

    fn session(&self, id_hash: String) -> BoxFuture<'_, Result<Option<AdminSession>, StoreError>> {
        self.with(op!(|c| {
            Ok(rows(c, sql::SESSION, &[&id_hash])
                .await?
                .first()
                .map(|r| AdminSession {
                    id_hash: r.get(0),
                    csrf: r.get(1),
                    created_ms: r.get(2),
                    last_seen_ms: r.get(3),
                }))
        }))
    }

    fn touch_session(&self, id_hash: String, now_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(op!(|c| {
            run(&*c, sql::TOUCH_SESSION, &[&id_hash, &now_ms]).await?;
            Ok(())
        }))
    }

    fn end_session(&self, id_hash: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(op!(|c| {
            run(&*c, sql::END_SESSION, &[&id_hash]).await?;
            Ok(())
        }))
    }

    fn lead_log(
        &self,
        site: String,
        status: Option<LeadStatus>,
        after: Option<LeadCursor>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadRow>, StoreError>> {
        self.with(op!(|c| lead_log(c, &site, status, after, limit).await))
    }

    fn counters(
        &self,
        site: String,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<Counter>, StoreError>> {
        self.with(op!(|c| {
            Ok(rows(c, sql::COUNTERS, &[&site, &since_ms])
                .await?
                .iter()
                .map(|r| Counter {
                    bucket_ms: r.get(0),
                    kind: r.get(1),
                    key: r.get(2),
                    n: r.get::<_, i64>(3).max(0) as u64,
                })
                .collect())
        }))
    }

    fn site_outbox(&self, site: String) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        self.with(op!(|c| {
            let retrying = state_name(OutboxState::Retrying);
            let found = rows(c, sql::SITE_OUTBOX, &[&site, &retrying]).await?;
            let row = found
                .first()
                .ok_or_else(|| Failed::Data("no outbox gauges".into()))?;
            Ok(OutboxStats {
                depth: row.get::<_, i64>(0).max(0) as u64,
                oldest_ms: row.get(1),
            })
        }))
    }

    fn recent_events(
        &self,
        site: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LiveEvent>, StoreError>> {
        self.with(op!(|c| recent_events(c, &site, limit).await))
    }
}
