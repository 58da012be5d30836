//! The operator screen's storage on SQLite ([`ScreenStore`]): saved settings with their audit
//! entry and the settings version in one transaction, sessions, the lead log by keyset pages,
//! and the live view's counters (bumped by `write` in the transactions that write what they
//! count) and recent events. Every statement is a constant of `sql`.

use rusqlite::{params, Connection, OptionalExtension};

use super::{sql, OutboxState, Sqlite};
use crate::store::screen::{
    AdminSession, AuditEntry, Counter, LeadCursor, LeadRow, LiveEvent, SavedSite, ScreenStore,
    COUNTER_BUCKET_MS,
};
use crate::store::{BoxFuture, LeadStatus, OutboxStats, StoreError};

/// One more in `site`'s counter of `kind` / `key` for the ten minutes holding `at_ms`.
pub(super) fn count(
    conn: &Connection,
    site: &str,
    at_ms: i64,
    kind: &str,
    key: &str,
) -> rusqlite::Result<()> {
    let bucket = at_ms.div_euclid(COUNTER_BUCKET_MS) * COUNTER_BUCKET_MS;
    conn.prepare_cached(sql::COUNT)?
        .execute(params![site, bucket, kind, key])
        .map(|_| ())
}

/// Retention: up to `batch` counter rows of buckets before `cutoff_ms`; how many.
pub(super) fn purge_counters(
    conn: &Connection,
    cutoff_ms: i64,
    batch: u32,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql::PURGE_COUNTERS)?
        .execute(params![cutoff_ms, batch])
}

fn save(conn: &Connection, saved: &SavedSite, audit: &AuditEntry) -> rusqlite::Result<i64> {
    conn.prepare_cached(sql::SAVE_SITE)?.execute(params![
        saved.site,
        saved.settings,
        saved.saved_ms
    ])?;
    conn.prepare_cached(sql::INSERT_AUDIT)?.execute(params![
        audit.site,
        audit.at_ms,
        audit.who,
        audit.changes
    ])?;
    conn.prepare_cached(sql::BUMP_SETTINGS_VERSION)?
        .query_row([], |r| r.get(0))
}

fn lead_log(
    conn: &Connection,
    site: &str,
    status: Option<LeadStatus>,
    after: Option<LeadCursor>,
    limit: u32,
) -> rusqlite::Result<Vec<LeadRow>> {
    let (updated_ms, lead_id) =
        after.map_or((i64::MAX, String::new()), |c| (c.updated_ms, c.lead_id));
    let row = |r: &rusqlite::Row<'_>| {
        Ok(LeadRow {
            lead_id: r.get(0)?,
            status: r.get(1)?,
            reason: r.get(2)?,
            updated_ms: r.get(3)?,
            attempts: r.get::<_, Option<u32>>(4)?.unwrap_or(0),
            last_http: r.get(5)?,
        })
    };
    match status {
        Some(status) => conn
            .prepare_cached(sql::LEAD_LOG_STATUS)?
            .query_map(params![site, updated_ms, lead_id, limit, status], row)?
            .collect(),
        None => conn
            .prepare_cached(sql::LEAD_LOG)?
            .query_map(params![site, updated_ms, lead_id, limit], row)?
            .collect(),
    }
}

fn recent_events(conn: &Connection, site: &str, limit: u32) -> rusqlite::Result<Vec<LiveEvent>> {
    let mut events: Vec<LiveEvent> = conn
        .prepare_cached(sql::RECENT_EVENTS)?
        .query_map(params![site, limit], |r| {
            Ok(LiveEvent::Webhook {
                at_ms: r.get(0)?,
                lead_id: r.get(1)?,
                phase: r.get(2)?,
                reason: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let attempts = conn
        .prepare_cached(sql::RECENT_ATTEMPTS)?
        .query_map(params![site, limit], |r| {
            Ok(LiveEvent::Attempt {
                at_ms: r.get(0)?,
                lead_id: r.get(1)?,
                status: r.get(2)?,
                error: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    events.extend(attempts);
    // Newest first; at equal times the attempt (which follows its webhook) first.
    events.sort_by_key(|e| std::cmp::Reverse((e.at_ms(), matches!(e, LiveEvent::Attempt { .. }))));
    events.truncate(limit as usize);
    Ok(events)
}

impl ScreenStore for Sqlite {
    fn saved_sites(&self) -> BoxFuture<'_, Result<Vec<SavedSite>, StoreError>> {
        self.read(|conn| {
            conn.prepare_cached(sql::SAVED_SITES)?
                .query_map([], |r| {
                    Ok(SavedSite {
                        site: r.get(0)?,
                        settings: r.get(1)?,
                        saved_ms: r.get(2)?,
                    })
                })?
                .collect()
        })
    }

    fn save_site(
        &self,
        saved: SavedSite,
        audit: AuditEntry,
    ) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.run(move |conn| save(conn, &saved, &audit))
    }

    fn settings_version(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.read(|conn| {
            conn.prepare_cached(sql::SETTINGS_VERSION)?
                .query_row([], |r| r.get(0))
        })
    }

    fn audit_trail(
        &self,
        site: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<AuditEntry>, StoreError>> {
        self.read(move |conn| {
            conn.prepare_cached(sql::AUDIT_TRAIL)?
                .query_map(params![site, limit], |r| {
                    Ok(AuditEntry {
                        site: r.get(0)?,
                        at_ms: r.get(1)?,
                        who: r.get(2)?,
                        changes: r.get(3)?,
                    })
                })?
                .collect()
        })
    }

    fn put_session(
        &self,
        session: AdminSession,
        idle_before_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| {
            conn.prepare_cached(sql::PURGE_SESSIONS)?
                .execute(params![idle_before_ms])?;
            conn.prepare_cached(sql::INSERT_SESSION)?.execute(params![
                session.id_hash,
                session.csrf,
                session.created_ms,
                session.last_seen_ms
            ])?;
            Ok(())
        })
    }

    fn session(&self, id_hash: String) -> BoxFuture<'_, Result<Option<AdminSession>, StoreError>> {
        self.read(move |conn| {
            conn.prepare_cached(sql::SESSION)?
                .query_row(params![id_hash], |r| {
                    Ok(AdminSession {
                        id_hash: r.get(0)?,
                        csrf: r.get(1)?,
                        created_ms: r.get(2)?,
                        last_seen_ms: r.get(3)?,
                    })
                })
                .optional()
        })
    }

    fn touch_session(&self, id_hash: String, now_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| {
            conn.prepare_cached(sql::TOUCH_SESSION)?
                .execute(params![id_hash, now_ms])
                .map(|_| ())
        })
    }

    fn end_session(&self, id_hash: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |conn| {
            conn.prepare_cached(sql::END_SESSION)?
                .execute(params![id_hash])
                .map(|_| ())
        })
    }

    fn lead_log(
        &self,
        site: String,
        status: Option<LeadStatus>,
        after: Option<LeadCursor>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadRow>, StoreError>> {
        self.read(move |conn| lead_log(conn, &site, status, after, limit))
    }

    fn counters(
        &self,
        site: String,
        since_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<Counter>, StoreError>> {
        self.read(move |conn| {
            conn.prepare_cached(sql::COUNTERS)?
                .query_map(params![site, since_ms], |r| {
                    Ok(Counter {
                        bucket_ms: r.get(0)?,
                        kind: r.get(1)?,
                        key: r.get(2)?,
                        n: r.get::<_, i64>(3)?.max(0) as u64,
                    })
                })?
                .collect()
        })
    }

    fn site_outbox(&self, site: String) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        self.read(move |conn| {
            conn.prepare_cached(sql::SITE_OUTBOX)?.query_row(
                params![site, OutboxState::Retrying],
                |r| {
                    Ok(OutboxStats {
                        depth: r.get::<_, i64>(0)?.max(0) as u64,
                        oldest_ms: r.get(1)?,
                    })
                },
            )
        })
    }

    fn recent_events(
        &self,
        site: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LiveEvent>, StoreError>> {
        self.read(move |conn| recent_events(conn, &site, limit))
    }
}
