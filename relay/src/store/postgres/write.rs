//! The PostgreSQL store's writes, each one transaction (committed before it resolves), every
//! statement a prepared, cached constant of `sql`.

use aidlink_protocol::Binding;
use deadpool_postgres::{GenericClient, Object};
use tokio_postgres::Row;

use super::{
    from_json, parse_cd, screen, sql, state_name, status_name, to_json, Failed, OutboxState,
};
use crate::decide::{Decision, Verdict};
use crate::postback::{self, Postback};
use crate::store::screen::{kind, COUNTER_BUCKET_MS};
use crate::store::{Attempt, ClaimPlan, Delivery, LeadStatus, Next, Purged};
use crate::webhook::{CallPhase, Lead, LeadKind};

/// A prepared, cached statement run; the rows it changed.
pub(super) async fn run(
    c: &impl GenericClient,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, Failed> {
    let statement = c.prepare_cached(statement).await?;
    Ok(c.execute(&statement, params).await?)
}

pub(super) async fn put_binding(c: &Object, b: &Binding, now_ms: i64) -> Result<bool, Failed> {
    let touch = b.touch.as_ref().map(to_json).transpose()?;
    // The client's clock orders visits; a timestamp that is not a positive i64 is replaced by
    // the time of arrival rather than stored as a negative number.
    let touch_ts = b
        .touch
        .as_ref()
        .and_then(|t| i64::try_from(t.ts).ok())
        .filter(|ts| *ts > 0)
        .unwrap_or(now_ms);
    let bucket = now_ms.div_euclid(COUNTER_BUCKET_MS) * COUNTER_BUCKET_MS;
    let statement = c.prepare_cached(sql::INSERT_BINDING).await?;
    let stored = c
        .query(
            &statement,
            &[
                &b.site,
                &b.id,
                &b.session,
                &b.ct_client,
                &b.aid,
                &touch,
                &touch_ts,
                &now_ms,
                &bucket,
                &kind::BINDING,
            ],
        )
        .await?;
    Ok(stored.len() == 1)
}

fn phase_name(lead: &Lead) -> Option<&'static str> {
    lead.phase.map(|p| match p {
        CallPhase::Connected => "connected",
        CallPhase::Disconnected => "disconnected",
    })
}

pub(super) async fn put_lead_event(
    c: &mut Object,
    site: &str,
    lead: &Lead,
    now_ms: i64,
) -> Result<(), Failed> {
    let lead_id = lead.lead_id();
    let json = to_json(lead)?;
    let tx = c.transaction().await?;
    let locked = tx.prepare_cached(sql::LEAD_FOR_EVENT).await?;
    let mut existing = tx.query_opt(&locked, &[&site, &lead_id]).await?;
    if existing.is_none() {
        let status = status_name(LeadStatus::New);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&site, &lead_id, &json, &status, &now_ms];
        if run(&tx, sql::INSERT_LEAD, &params).await? == 0 {
            // Another instance stored this lead's first event a moment ago: this one is a later
            // event of a known lead after all.
            existing = tx.query_opt(&locked, &[&site, &lead_id]).await?;
        }
    }
    // The first call-end event is what the call is judged on (a tag added after the call
    // ended does not count): later events, a late start or a redelivered end with newer tags,
    // are recorded and may re-run the decision (say the switch was turned on since), but do
    // not replace the facts of the end.
    if let Some(row) = existing {
        let stored: String = row.get(0);
        if from_json::<Lead>(&stored)?.is_call_end() {
            run(&tx, sql::TOUCH_LEAD, &[&site, &lead_id]).await?;
        } else {
            run(&tx, sql::REPLACE_LEAD, &[&site, &lead_id, &json, &now_ms]).await?;
        }
    }
    let phase = phase_name(lead);
    run(&tx, sql::INSERT_EVENT, &[&site, &lead_id, &now_ms, &phase]).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn record_verdict(
    c: &mut Object,
    site: &str,
    lead_id: &str,
    version: i64,
    verdict: &Verdict,
    now_ms: i64,
) -> Result<bool, Failed> {
    let tx = c.transaction().await?;
    let applied = match verdict {
        Verdict::AlreadyQueued => run(&tx, sql::SETTLE_LEAD, &[&site, &lead_id, &version]).await?,
        Verdict::Decided {
            decision,
            status,
            postback,
            id_source,
        } => {
            let status = status_name(*status);
            let reason = decision.reason();
            let id_source = id_source.map(|s| s.as_str());
            let applied = run(
                &tx,
                sql::DECIDE_LEAD,
                &[
                    &site, &lead_id, &status, &reason, &now_ms, &version, &id_source,
                ],
            )
            .await?;
            if let (1, Some(p)) = (applied, postback) {
                let state = state_name(OutboxState::Retrying);
                run(
                    &tx,
                    sql::QUEUE_POSTBACK,
                    &[
                        &site,
                        &lead_id,
                        &p.kind.as_str(),
                        &p.source_id,
                        &p.aid,
                        &p.time_ms,
                        &state,
                        &now_ms,
                        &p.cd.as_str(),
                    ],
                )
                .await?;
            }
            if applied == 1 {
                screen::count(&tx, site, now_ms, kind::DECISION, &decision.reason()).await?;
            }
            if let (1, Decision::Send { credit, .. }) = (applied, decision) {
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                    [&site, &lead_id, &credit.source, &credit.cd.as_str()];
                run(&tx, sql::LEAD_CREDIT, &params).await?;
            }
            applied
        }
    };
    if applied == 1 {
        let reason = verdict.reason();
        run(&tx, sql::EVENTS_REASON, &[&site, &lead_id, &reason]).await?;
    }
    tx.commit().await?;
    Ok(applied == 1)
}

fn delivery(r: &Row) -> Result<Delivery, Failed> {
    let kind: String = r.get(2);
    let kind = LeadKind::parse(&kind).ok_or_else(|| Failed::Data(format!("lead kind {kind:?}")))?;
    let attempts: i32 = r.get(6);
    Ok(Delivery {
        site: r.get(0),
        lead_id: r.get(1),
        postback: Postback {
            kind,
            source_id: r.get(3),
            aid: r.get(4),
            time_ms: r.get(5),
            cd: parse_cd(r.get(8))?,
        },
        attempts: attempts.max(0) as u32,
        first_at_ms: r.get(7),
        forced: r.get(9),
    })
}

pub(super) async fn claim_due(
    c: &mut Object,
    now_ms: i64,
    lease_ms: i64,
    plan: &ClaimPlan,
) -> Result<Vec<Delivery>, Failed> {
    let total = plan.total as usize;
    let retrying = state_name(OutboxState::Retrying);
    let tx = c.transaction().await?;
    // Each site's due rows, locked for this transaction (rows another instance is claiming are
    // skipped), then taken one site at a time in turn, as many as the plan allows.
    let of_site = tx.prepare_cached(sql::DUE_OF_SITE).await?;
    let mut queues = Vec::with_capacity(plan.per_site.len());
    for (site, n) in &plan.per_site {
        let n = (*n as usize).min(total) as i64;
        let rows = if n == 0 {
            Vec::new()
        } else {
            tx.query(&of_site, &[site, &retrying, &now_ms, &n]).await?
        };
        let rows: Result<Vec<Delivery>, Failed> = rows.iter().map(delivery).collect();
        queues.push(rows?.into_iter());
    }
    let mut due: Vec<Delivery> = Vec::new();
    let mut progress = true;
    while progress && due.len() < total {
        progress = false;
        for queue in queues.iter_mut() {
            if due.len() >= total {
                break;
            }
            if let Some(d) = queue.next() {
                due.push(d);
                progress = true;
            }
        }
    }
    let others = (plan.others as usize).min(total.saturating_sub(due.len())) as i64;
    if others > 0 {
        let known: Vec<&str> = plan.per_site.iter().map(|(s, _)| s.as_str()).collect();
        let statement = tx.prepare_cached(sql::DUE_OF_OTHERS).await?;
        for row in tx
            .query(&statement, &[&retrying, &now_ms, &known, &others])
            .await?
        {
            due.push(delivery(&row)?);
        }
    }
    if !due.is_empty() {
        let sites: Vec<&str> = due.iter().map(|d| d.site.as_str()).collect();
        let leads: Vec<&str> = due.iter().map(|d| d.lead_id.as_str()).collect();
        let until = now_ms + lease_ms;
        run(&tx, sql::LEASE, &[&until, &sites, &leads]).await?;
    }
    tx.commit().await?;
    Ok(due)
}

pub(super) async fn record_attempt(
    c: &mut Object,
    delivery: &Delivery,
    attempt: &Attempt,
    next: Next,
) -> Result<(), Failed> {
    let (state, next_at, status, outcome) = match next {
        Next::Sent => (OutboxState::Sent, attempt.at_ms, LeadStatus::Sent, "sent"),
        Next::RetryAt(at) => (OutboxState::Retrying, at, LeadStatus::Retrying, "retry"),
        Next::Dead => (OutboxState::Dead, attempt.at_ms, LeadStatus::Dead, "dead"),
    };
    let (site, lead_id) = (&delivery.site, &delivery.lead_id);
    let http_status = attempt.status.map(i32::from);
    let url = postback::mask_pkey(&attempt.url);
    let (state, status) = (state_name(state), status_name(status));
    let tx = c.transaction().await?;
    screen::count(&tx, site, attempt.at_ms, kind::POSTBACK, outcome).await?;
    run(
        &tx,
        sql::INSERT_ATTEMPT,
        &[
            site,
            lead_id,
            &attempt.at_ms,
            &http_status,
            &attempt.error,
            &url,
        ],
    )
    .await?;
    run(&tx, sql::OUTBOX_NEXT, &[site, lead_id, &state, &next_at]).await?;
    run(
        &tx,
        sql::LEAD_STATUS,
        &[site, lead_id, &status, &attempt.at_ms],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn requeue_dead(
    c: &mut Object,
    site: &str,
    lead_ids: &[String],
    forced: bool,
    now_ms: i64,
) -> Result<u64, Failed> {
    let retrying = state_name(OutboxState::Retrying);
    let dead = state_name(OutboxState::Dead);
    let status = status_name(LeadStatus::Retrying);
    let tx = c.transaction().await?;
    let mut n = 0;
    for lead in lead_ids {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&site, lead, &retrying, &now_ms, &dead, &forced];
        if run(&tx, sql::REQUEUE_ONE, &params).await? == 1 {
            run(&tx, sql::LEAD_STATUS, &[&site, lead, &status, &now_ms]).await?;
            n += 1;
        }
    }
    tx.commit().await?;
    Ok(n)
}

pub(super) async fn purge(c: &mut Object, cutoff_ms: i64, batch: u32) -> Result<Purged, Failed> {
    let batch = i64::from(batch);
    let tx = c.transaction().await?;
    let bindings = run(&tx, sql::PURGE_BINDINGS, &[&cutoff_ms, &batch]).await?;
    let settled = [LeadStatus::Filtered, LeadStatus::Sent, LeadStatus::Dead].map(status_name);
    let old = tx.prepare_cached(sql::OLD_LEADS).await?;
    let rows = tx
        .query(
            &old,
            &[&cutoff_ms, &settled[0], &settled[1], &settled[2], &batch],
        )
        .await?;
    let sites: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let leads: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    if !leads.is_empty() {
        for statement in [
            sql::PURGE_EVENTS,
            sql::PURGE_ATTEMPTS,
            sql::PURGE_OUTBOX,
            sql::PURGE_LEADS,
        ] {
            run(&tx, statement, &[&sites, &leads]).await?;
        }
    }
    screen::purge_counters(&tx, cutoff_ms, batch).await?;
    tx.commit().await?;
    Ok(Purged {
        bindings,
        leads: leads.len() as u64,
    })
}
