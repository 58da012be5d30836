//! What runs on the read-only connections: the facts a decision is made on, the lead API and
//! the `/metrics` gauges. Every statement is a prepared, cached constant of `sql`.

use aidlink_protocol::Touch;
use rusqlite::{params, Connection, OptionalExtension};

use super::sql;
use super::{from_json, OutboxState};
use crate::decide::{Candidate, LeadFacts, StoredTouch};
use crate::store::{
    DeadLetter, LeadStatus, LeadSummary, OutboxStats, RowCounts, TouchKeys, Trail, TrailAttempt,
    TrailEvent,
};
use crate::webhook::Lead;

fn candidates(
    conn: &Connection,
    statement: &str,
    site: &str,
    key: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<Candidate>> {
    let Some(key) = key else {
        return Ok(Vec::new());
    };
    conn.prepare_cached(statement)?
        .query_map(params![site, key, limit], |r| {
            Ok(Candidate {
                aid: r.get(0)?,
                ct_client: r.get(1)?,
                created_ms: r.get(2)?,
            })
        })?
        .collect()
}

pub(super) fn lead_facts(
    conn: &Connection,
    site: &str,
    lead_id: &str,
    limit: u32,
) -> rusqlite::Result<Option<LeadFacts>> {
    let row: Option<(String, LeadStatus, bool, i64, i64)> = conn
        .prepare_cached(sql::LEAD_STATE)?
        .query_row(params![site, lead_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((json, status, decided, first_received_ms, version)) = row else {
        return Ok(None);
    };
    let lead: Lead = from_json(&json)?;
    let by_session = candidates(
        conn,
        sql::BINDINGS_BY_SESSION,
        site,
        lead.session_id.as_deref(),
        limit,
    )?;
    let by_client = candidates(
        conn,
        sql::BINDINGS_BY_CLIENT,
        site,
        lead.ct_client_id.as_deref(),
        limit,
    )?;
    Ok(Some(LeadFacts {
        lead,
        status,
        decided,
        first_received_ms,
        version,
        by_session,
        by_client,
    }))
}

pub(super) fn touches(
    conn: &Connection,
    site: &str,
    keys: &TouchKeys,
    until_ms: i64,
    limit: u32,
) -> rusqlite::Result<Vec<StoredTouch>> {
    let mut out = Vec::new();
    let lookups = [
        (sql::TOUCHES_BY_SESSION, &keys.session),
        (sql::TOUCHES_BY_CLIENT, &keys.ct_client),
        (sql::TOUCHES_BY_AID, &keys.aid),
    ];
    for (statement, key) in lookups {
        let Some(key) = key else { continue };
        let mut stmt = conn.prepare_cached(statement)?;
        let rows = stmt.query_map(params![site, key, until_ms, limit], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get(1)?, r.get(2)?))
        })?;
        for row in rows {
            let (touch, touch_ts, created_ms) = row?;
            // A touchpoint that no longer parses (a newer version's, say) is left out.
            if let Some(touch) = touch.and_then(|t| serde_json::from_str::<Touch>(&t).ok()) {
                out.push(StoredTouch {
                    touch,
                    touch_ts,
                    created_ms,
                });
            }
        }
    }
    Ok(out)
}

pub(super) fn dead_letters(
    conn: &Connection,
    site: &str,
    lead_id: Option<&str>,
) -> rusqlite::Result<Vec<DeadLetter>> {
    let row = |r: &rusqlite::Row<'_>| {
        Ok(DeadLetter {
            lead_id: r.get(0)?,
            time_ms: r.get(1)?,
        })
    };
    match lead_id {
        Some(id) => conn
            .prepare_cached(sql::DEAD_ONE)?
            .query_map(params![site, id, OutboxState::Dead], row)?
            .collect(),
        None => conn
            .prepare_cached(sql::DEAD_OF_SITE)?
            .query_map(params![site, OutboxState::Dead], row)?
            .collect(),
    }
}

pub(super) fn undecided(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<(String, String)>> {
    conn.prepare_cached(sql::UNDECIDED)?
        .query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// A lead's trail, read in one transaction so that its row, events and attempts come from one
/// snapshot of the WAL: never a decision's event beside the lead row from before it.
pub(super) fn trail(
    conn: &Connection,
    site: String,
    lead_id: String,
) -> rusqlite::Result<Option<Trail>> {
    let tx = conn.unchecked_transaction()?;
    let conn = &*tx;
    type Row = (
        String,
        LeadStatus,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = conn
        .prepare_cached(sql::TRAIL_LEAD)?
        .query_row(params![site, lead_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    let Some((lead, status, reason, judged_source, cd, id_source)) = row else {
        return Ok(None);
    };
    let events = conn
        .prepare_cached(sql::TRAIL_EVENTS)?
        .query_map(params![site, lead_id], |r| {
            Ok(TrailEvent {
                received_ms: r.get(0)?,
                phase: r.get(1)?,
                reason: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let attempts = conn
        .prepare_cached(sql::TRAIL_ATTEMPTS)?
        .query_map(params![site, lead_id], |r| {
            Ok(TrailAttempt {
                at_ms: r.get(0)?,
                status: r.get(1)?,
                error: r.get(2)?,
                url: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(Trail {
        status,
        site,
        lead_id,
        reason,
        judged_source,
        cd,
        id_source,
        lead: from_json(&lead)?,
        events,
        attempts,
    }))
}

pub(super) fn list(
    conn: &Connection,
    site: &str,
    status: LeadStatus,
    limit: u32,
) -> rusqlite::Result<Vec<LeadSummary>> {
    conn.prepare_cached(sql::LIST)?
        .query_map(params![site, status, limit], |r| {
            Ok(LeadSummary {
                lead_id: r.get(0)?,
                status,
                reason: r.get(1)?,
                updated_ms: r.get(2)?,
            })
        })?
        .collect()
}

pub(super) fn outbox_stats(conn: &Connection) -> rusqlite::Result<OutboxStats> {
    conn.prepare_cached(sql::OUTBOX_STATS)?
        .query_row(params![OutboxState::Retrying], |r| {
            Ok(OutboxStats {
                depth: r.get::<_, i64>(0)? as u64,
                oldest_ms: r.get(1)?,
            })
        })
}

pub(super) fn row_counts(conn: &Connection) -> rusqlite::Result<RowCounts> {
    let mut counts = RowCounts::default();
    let mut stmt = conn.prepare_cached(sql::ROW_COUNTS)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (table, n) = row?;
        let n = n.max(0) as u64;
        match table.as_str() {
            "bindings" => counts.bindings = n,
            "leads" => counts.leads = n,
            "lead_events" => counts.lead_events = n,
            "outbox" => counts.outbox = n,
            "attempts" => counts.attempts = n,
            _ => {}
        }
    }
    Ok(counts)
}
