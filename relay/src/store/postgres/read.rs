//! The PostgreSQL store's reads: the facts a decision is made on, the lead API and the
//! `/metrics` gauges. Every statement is a prepared, cached constant of `sql`.

use aidlink_protocol::Touch;
use deadpool_postgres::{GenericClient, Object};
use tokio_postgres::{IsolationLevel, Row};

use super::{from_json, parse_status, sql, state_name, status_name, Failed, OutboxState};
use crate::decide::{Candidate, LeadFacts, StoredTouch};
use crate::store::{
    DeadLetter, LeadStatus, LeadSummary, OutboxStats, RowCounts, TouchKeys, Trail, TrailAttempt,
    TrailEvent,
};
use crate::webhook::Lead;

/// A prepared, cached statement's rows.
pub(super) async fn rows(
    c: &impl GenericClient,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Row>, Failed> {
    let statement = c.prepare_cached(statement).await?;
    Ok(c.query(&statement, params).await?)
}

async fn candidates(
    c: &Object,
    statement: &str,
    site: &str,
    key: Option<&str>,
    limit: u32,
) -> Result<Vec<Candidate>, Failed> {
    let Some(key) = key else {
        return Ok(Vec::new());
    };
    let limit = i64::from(limit);
    Ok(rows(c, statement, &[&site, &key, &limit])
        .await?
        .iter()
        .map(|r| Candidate {
            aid: r.get(0),
            ct_client: r.get(1),
            created_ms: r.get(2),
        })
        .collect())
}

pub(super) async fn lead_facts(
    c: &Object,
    site: &str,
    lead_id: &str,
    limit: u32,
) -> Result<Option<LeadFacts>, Failed> {
    let found = rows(c, sql::LEAD_STATE, &[&site, &lead_id]).await?;
    let Some(row) = found.first() else {
        return Ok(None);
    };
    let lead: Lead = from_json(row.get(0))?;
    let status = parse_status(row.get(1))?;
    let by_session = candidates(
        c,
        sql::BINDINGS_BY_SESSION,
        site,
        lead.session_id.as_deref(),
        limit,
    )
    .await?;
    let by_client = candidates(
        c,
        sql::BINDINGS_BY_CLIENT,
        site,
        lead.ct_client_id.as_deref(),
        limit,
    )
    .await?;
    Ok(Some(LeadFacts {
        lead,
        status,
        decided: row.get(2),
        first_received_ms: row.get(3),
        version: row.get(4),
        by_session,
        by_client,
    }))
}

pub(super) async fn touches(
    c: &Object,
    site: &str,
    keys: &TouchKeys,
    until_ms: i64,
    limit: u32,
) -> Result<Vec<StoredTouch>, Failed> {
    let limit = i64::from(limit);
    let mut out = Vec::new();
    let lookups = [
        (sql::TOUCHES_BY_SESSION, &keys.session),
        (sql::TOUCHES_BY_CLIENT, &keys.ct_client),
        (sql::TOUCHES_BY_AID, &keys.aid),
    ];
    for (statement, key) in lookups {
        let Some(key) = key else { continue };
        for row in rows(c, statement, &[&site, key, &until_ms, &limit]).await? {
            let touch: Option<String> = row.get(0);
            // A touchpoint that no longer parses (a newer version's, say) is left out.
            if let Some(touch) = touch.and_then(|t| serde_json::from_str::<Touch>(&t).ok()) {
                out.push(StoredTouch {
                    touch,
                    touch_ts: row.get(1),
                    created_ms: row.get(2),
                });
            }
        }
    }
    Ok(out)
}

pub(super) async fn dead_letters(
    c: &Object,
    site: &str,
    lead_id: Option<&str>,
) -> Result<Vec<DeadLetter>, Failed> {
    let dead = state_name(OutboxState::Dead);
    let found = match lead_id {
        Some(id) => rows(c, sql::DEAD_ONE, &[&site, &id, &dead]).await?,
        None => rows(c, sql::DEAD_OF_SITE, &[&site, &dead]).await?,
    };
    Ok(found
        .iter()
        .map(|r| DeadLetter {
            lead_id: r.get(0),
            time_ms: r.get(1),
        })
        .collect())
}

pub(super) async fn undecided(c: &Object, limit: u32) -> Result<Vec<(String, String)>, Failed> {
    let limit = i64::from(limit);
    Ok(rows(c, sql::UNDECIDED, &[&limit])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// A lead's trail, read from one snapshot: its row, events and attempts as one commit left
/// them, never a decision's event beside the lead row from before it.
pub(super) async fn trail(
    c: &mut Object,
    site: String,
    lead_id: String,
) -> Result<Option<Trail>, Failed> {
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let c = &tx;
    let found = rows(c, sql::TRAIL_LEAD, &[&site, &lead_id]).await?;
    let Some(row) = found.first() else {
        return Ok(None);
    };
    let events = rows(c, sql::TRAIL_EVENTS, &[&site, &lead_id])
        .await?
        .iter()
        .map(|r| TrailEvent {
            received_ms: r.get(0),
            phase: r.get(1),
            reason: r.get(2),
        })
        .collect();
    let attempts = rows(c, sql::TRAIL_ATTEMPTS, &[&site, &lead_id])
        .await?
        .iter()
        .map(|r| TrailAttempt {
            at_ms: r.get(0),
            status: r
                .get::<_, Option<i32>>(1)
                .and_then(|s| u16::try_from(s).ok()),
            error: r.get(2),
            url: r.get(3),
        })
        .collect();
    let trail = Trail {
        status: parse_status(row.get(1))?,
        reason: row.get(2),
        judged_source: row.get(3),
        cd: row.get(4),
        id_source: row.get(5),
        lead: from_json(row.get(0))?,
        site,
        lead_id,
        events,
        attempts,
    };
    tx.commit().await?;
    Ok(Some(trail))
}

pub(super) async fn list(
    c: &Object,
    site: &str,
    status: LeadStatus,
    limit: u32,
) -> Result<Vec<LeadSummary>, Failed> {
    let (name, limit) = (status_name(status), i64::from(limit));
    Ok(rows(c, sql::LIST, &[&site, &name, &limit])
        .await?
        .iter()
        .map(|r| LeadSummary {
            lead_id: r.get(0),
            status,
            reason: r.get(1),
            updated_ms: r.get(2),
        })
        .collect())
}

pub(super) async fn outbox_stats(c: &Object) -> Result<OutboxStats, Failed> {
    let retrying = state_name(OutboxState::Retrying);
    let found = rows(c, sql::OUTBOX_STATS, &[&retrying]).await?;
    let row = found
        .first()
        .ok_or_else(|| Failed::Data("no outbox gauges".into()))?;
    Ok(OutboxStats {
        depth: row.get::<_, i64>(0).max(0) as u64,
        oldest_ms: row.get(1),
    })
}

pub(super) async fn row_counts(c: &Object) -> Result<RowCounts, Failed> {
    let mut counts = RowCounts::default();
    for row in rows(c, sql::ROW_COUNTS, &[]).await? {
        let table: String = row.get(0);
        let n = row.get::<_, i64>(1).max(0) as u64;
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
