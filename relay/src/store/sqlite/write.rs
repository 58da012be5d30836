//! What runs on the writer connection, each inside its own savepoint of a group-committed
//! transaction. Every statement is a prepared, cached constant of `sql`.

use aidlink_protocol::Binding;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::sql;
use super::{from_json, screen, to_json, OutboxState};
use crate::decide::{Decision, Verdict};
use crate::postback::{self, Cd, Postback};
use crate::store::screen::kind;
use crate::store::{Attempt, ClaimPlan, Delivery, LeadStatus, Next, Purged};
use crate::webhook::{CallPhase, Lead, LeadKind};

pub(super) fn put_binding(conn: &Connection, b: &Binding, now_ms: i64) -> rusqlite::Result<bool> {
    let touch = b.touch.as_ref().map(to_json).transpose()?;
    // The client's clock orders visits; a timestamp that is not a positive i64 is replaced by
    // the time of arrival rather than stored as a negative number.
    let touch_ts = b
        .touch
        .as_ref()
        .and_then(|t| i64::try_from(t.ts).ok())
        .filter(|ts| *ts > 0)
        .unwrap_or(now_ms);
    let inserted = conn.prepare_cached(sql::INSERT_BINDING)?.execute(params![
        b.id,
        b.site,
        b.session,
        b.ct_client,
        b.aid,
        touch,
        touch_ts,
        now_ms
    ])?;
    if inserted == 1 {
        screen::count(conn, &b.site, now_ms, kind::BINDING, "")?;
    }
    Ok(inserted == 1)
}

fn phase_name(lead: &Lead) -> Option<&'static str> {
    lead.phase.map(|p| match p {
        CallPhase::Connected => "connected",
        CallPhase::Disconnected => "disconnected",
    })
}

pub(super) fn put_lead_event(
    conn: &Connection,
    site: &str,
    lead: &Lead,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let lead_id = lead.lead_id();
    let existing: Option<String> = conn
        .prepare_cached(sql::LEAD_FACTS_JSON)?
        .query_row(params![site, lead_id], |r| r.get(0))
        .optional()?;
    // The first call-end event is what the call is judged on (a tag added after the call
    // ended does not count): later events, a late start or a redelivered end with newer tags,
    // are recorded and may re-run the decision (say the switch was turned on since), but do
    // not replace the facts of the end.
    let json = to_json(lead)?;
    match existing {
        None => {
            conn.prepare_cached(sql::INSERT_LEAD)?.execute(params![
                site,
                lead_id,
                json,
                LeadStatus::New,
                now_ms
            ])?;
        }
        Some(text) if from_json::<Lead>(&text)?.is_call_end() => {
            conn.prepare_cached(sql::TOUCH_LEAD)?
                .execute(params![site, lead_id])?;
        }
        Some(_) => {
            conn.prepare_cached(sql::REPLACE_LEAD)?
                .execute(params![site, lead_id, json, now_ms])?;
        }
    }
    conn.prepare_cached(sql::INSERT_EVENT)?.execute(params![
        site,
        lead_id,
        now_ms,
        phase_name(lead)
    ])?;
    Ok(())
}

pub(super) fn record_verdict(
    conn: &Connection,
    site: &str,
    lead_id: &str,
    version: i64,
    verdict: &Verdict,
    now_ms: i64,
) -> rusqlite::Result<bool> {
    let applied = match verdict {
        Verdict::AlreadyQueued => conn
            .prepare_cached(sql::SETTLE_LEAD)?
            .execute(params![site, lead_id, version])?,
        Verdict::Decided {
            decision,
            status,
            postback,
            id_source,
        } => {
            let applied = conn.prepare_cached(sql::DECIDE_LEAD)?.execute(params![
                site,
                lead_id,
                status,
                decision.reason(),
                now_ms,
                version,
                id_source.map(|s| s.as_str())
            ])?;
            if let (1, Some(p)) = (applied, postback) {
                conn.prepare_cached(sql::QUEUE_POSTBACK)?.execute(params![
                    site,
                    lead_id,
                    p.kind.as_str(),
                    p.source_id,
                    p.aid,
                    p.time_ms,
                    OutboxState::Retrying,
                    now_ms,
                    p.cd.as_str()
                ])?;
            }
            if applied == 1 {
                screen::count(conn, site, now_ms, kind::DECISION, &decision.reason())?;
            }
            if let (1, Decision::Send { credit, .. }) = (applied, decision) {
                conn.prepare_cached(sql::LEAD_CREDIT)?.execute(params![
                    site,
                    lead_id,
                    credit.source,
                    credit.cd.as_str()
                ])?;
            }
            applied
        }
    };
    if applied == 1 {
        conn.prepare_cached(sql::EVENTS_REASON)?.execute(params![
            site,
            lead_id,
            verdict.reason()
        ])?;
    }
    Ok(applied == 1)
}

fn delivery(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    let kind: String = r.get(2)?;
    let kind = LeadKind::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Text,
            format!("lead kind {kind:?}").into(),
        )
    })?;
    Ok(Delivery {
        site: r.get(0)?,
        lead_id: r.get(1)?,
        postback: Postback {
            kind,
            source_id: r.get(3)?,
            aid: r.get(4)?,
            time_ms: r.get(5)?,
            cd: {
                let cd: String = r.get(8)?;
                Cd::parse(&cd).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        8,
                        rusqlite::types::Type::Text,
                        format!("cd {cd:?}").into(),
                    )
                })?
            },
        },
        attempts: r.get(6)?,
        first_at_ms: r.get(7)?,
        forced: r.get(9)?,
    })
}

pub(super) fn claim_due(
    conn: &Connection,
    now_ms: i64,
    lease_ms: i64,
    plan: &ClaimPlan,
) -> rusqlite::Result<Vec<Delivery>> {
    let total = plan.total as usize;
    let mut due: Vec<Delivery> = Vec::new();
    let mut lease = conn.prepare_cached(sql::LEASE)?;
    {
        // Round-robin: one row per site per round, leased at once so the next round's look-up
        // of the same site finds the next row.
        let mut of_site = conn.prepare_cached(sql::DUE_OF_SITE)?;
        let mut left: Vec<u32> = plan.per_site.iter().map(|(_, n)| *n).collect();
        let mut progress = true;
        while progress && due.len() < total {
            progress = false;
            for ((site, _), left) in plan.per_site.iter().zip(left.iter_mut()) {
                if due.len() >= total || *left == 0 {
                    continue;
                }
                let next = of_site
                    .query_row(params![site, OutboxState::Retrying, now_ms, 1], delivery)
                    .optional()?;
                match next {
                    Some(d) => {
                        lease.execute(params![d.site, d.lead_id, now_ms + lease_ms])?;
                        due.push(d);
                        *left -= 1;
                        progress = true;
                    }
                    None => *left = 0,
                }
            }
        }
    }
    let others = (plan.others as usize).min(total.saturating_sub(due.len()));
    if others > 0 {
        let known: Vec<&str> = plan.per_site.iter().map(|(s, _)| s.as_str()).collect();
        let known = to_json(&known)?;
        let rows: Vec<Delivery> = conn
            .prepare_cached(sql::DUE_OF_OTHERS)?
            .query_map(
                params![OutboxState::Retrying, now_ms, known, others as i64],
                delivery,
            )?
            .collect::<rusqlite::Result<_>>()?;
        for d in rows {
            lease.execute(params![d.site, d.lead_id, now_ms + lease_ms])?;
            due.push(d);
        }
    }
    Ok(due)
}

pub(super) fn record_attempt(
    conn: &Connection,
    delivery: &Delivery,
    attempt: &Attempt,
    next: Next,
) -> rusqlite::Result<()> {
    let (state, next_at, status, outcome) = match next {
        Next::Sent => (OutboxState::Sent, attempt.at_ms, LeadStatus::Sent, "sent"),
        Next::RetryAt(at) => (OutboxState::Retrying, at, LeadStatus::Retrying, "retry"),
        Next::Dead => (OutboxState::Dead, attempt.at_ms, LeadStatus::Dead, "dead"),
    };
    let (site, lead_id) = (&delivery.site, &delivery.lead_id);
    screen::count(conn, site, attempt.at_ms, kind::POSTBACK, outcome)?;
    conn.prepare_cached(sql::INSERT_ATTEMPT)?.execute(params![
        site,
        lead_id,
        attempt.at_ms,
        attempt.status,
        attempt.error,
        postback::mask_pkey(&attempt.url)
    ])?;
    conn.prepare_cached(sql::OUTBOX_NEXT)?
        .execute(params![site, lead_id, state, next_at])?;
    conn.prepare_cached(sql::LEAD_STATUS)?.execute(params![
        site,
        lead_id,
        status,
        attempt.at_ms
    ])?;
    Ok(())
}

pub(super) fn requeue_dead(
    conn: &Connection,
    site: &str,
    lead_ids: &[String],
    forced: bool,
    now_ms: i64,
) -> rusqlite::Result<u64> {
    let mut n = 0;
    for lead in lead_ids {
        let requeued = conn.prepare_cached(sql::REQUEUE_ONE)?.execute(params![
            site,
            lead,
            OutboxState::Retrying,
            now_ms,
            OutboxState::Dead,
            forced
        ])?;
        if requeued == 1 {
            conn.prepare_cached(sql::LEAD_STATUS)?.execute(params![
                site,
                lead,
                LeadStatus::Retrying,
                now_ms
            ])?;
            n += 1;
        }
    }
    Ok(n)
}

pub(super) fn purge(conn: &Connection, cutoff_ms: i64, batch: u32) -> rusqlite::Result<Purged> {
    let bindings = conn
        .prepare_cached(sql::PURGE_BINDINGS)?
        .execute(params![cutoff_ms, batch])? as u64;
    let old: Vec<(String, String)> = conn
        .prepare_cached(sql::OLD_LEADS)?
        .query_map(
            params![
                cutoff_ms,
                LeadStatus::Filtered,
                LeadStatus::Sent,
                LeadStatus::Dead,
                batch
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    for (site, lead_id) in &old {
        for statement in [
            sql::PURGE_EVENTS,
            sql::PURGE_ATTEMPTS,
            sql::PURGE_OUTBOX,
            sql::PURGE_LEAD,
        ] {
            conn.prepare_cached(statement)?
                .execute(params![site, lead_id])?;
        }
    }
    screen::purge_counters(conn, cutoff_ms, batch)?;
    Ok(Purged {
        bindings,
        leads: old.len() as u64,
    })
}
