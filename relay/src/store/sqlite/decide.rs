//! Deciding a lead inside a storage transaction: read the lead, find its RTB House id
//! (binding by session, then by Calltouch visitor id, then `attrs`) and the visits received
//! before it, run the pure [`crate::decide::decide`], queue the postback when it goes, and
//! record the reason on the lead and its undecided events. The postback's time is the lead's
//! `timestamp`, else when the lead was first received.

use aidlink_protocol::Touch;
use rusqlite::{params, Connection, OptionalExtension};

use super::from_json;
use crate::config::Site;
use crate::decide::{self, Decision};
use crate::postback::Postback;
use crate::store::{Decided, LeadStatus};
use crate::webhook::Lead;

/// Decides an undecided lead; `None` when there was nothing to decide (unknown, already
/// decided, or already queued: a lead is posted at most once).
pub(super) fn decide_in(
    conn: &Connection,
    site: &Site,
    lead_id: &str,
    now_ms: i64,
) -> rusqlite::Result<Option<Decided>> {
    let row: Option<(String, String, i64, i64)> = conn
        .query_row(
            "SELECT lead, status, decided, created_ms FROM leads WHERE site = ?1 AND lead_id = ?2",
            params![site.id, lead_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((lead_json, status, decided, first_received_ms)) = row else {
        return Ok(None);
    };
    if decided != 0 {
        return Ok(None);
    }
    let settled = matches!(
        LeadStatus::parse(&status),
        Some(LeadStatus::Retrying | LeadStatus::Sent | LeadStatus::Dead)
    );
    if settled {
        // Once queued, a lead is never decided (or posted) again; later events are recorded only.
        conn.execute(
            "UPDATE lead_events SET reason = 'already_queued' WHERE site = ?1 AND lead_id = ?2 AND reason IS NULL",
            params![site.id, lead_id],
        )?;
        conn.execute(
            "UPDATE leads SET decided = 1 WHERE site = ?1 AND lead_id = ?2",
            params![site.id, lead_id],
        )?;
        return Ok(None);
    }
    let lead: Lead = from_json(&lead_json)?;
    let latest = |column: &str, value: &Option<String>| -> rusqlite::Result<Option<String>> {
        let Some(value) = value else { return Ok(None) };
        conn.query_row(
            &format!("SELECT aid FROM bindings WHERE site = ?1 AND {column} = ?2 ORDER BY created_ms DESC LIMIT 1"),
            params![site.id, value],
            |r| r.get(0),
        )
        .optional()
    };
    let by_session = latest("session", &lead.session_id)?;
    let by_client = latest("ct_client", &lead.ct_client_id)?;
    let aid = decide::pick_aid(
        by_session.as_deref(),
        by_client.as_deref(),
        &lead,
        &site.attr_key,
    );
    // The visits that led to the lead: those received no later than the lead itself was
    // first received (a visit after the call must not change how a redelivery is judged).
    let mut touches: Vec<Touch> = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT touch FROM bindings WHERE site = ?1 AND touch IS NOT NULL AND \
             (session = ?2 OR ct_client = ?3 OR aid = ?4) AND created_ms <= ?5 \
             ORDER BY touch_ts, created_ms",
        )?;
        let rows = stmt.query_map(
            params![
                site.id,
                lead.session_id,
                lead.ct_client_id,
                aid,
                first_received_ms
            ],
            |r| r.get::<_, String>(0),
        )?;
        for text in rows {
            if let Ok(touch) = serde_json::from_str::<Touch>(&text?) {
                if !touches.contains(&touch) {
                    touches.push(touch);
                }
            }
        }
    }
    let decision = decide::decide(site, &lead, aid.as_deref(), &touches);
    let reason = decision.reason();
    let (status, queued) = match &decision {
        Decision::Send { aid, credit } => {
            // Its time is fixed now, from the first receipt: a redelivery or a restart does
            // not move it (a queued lead is never decided again).
            let postback = Postback::for_lead(&lead, aid, first_received_ms, credit.cd);
            conn.execute(
                "INSERT INTO outbox (site, lead_id, kind, source_id, aid, time_ms, state, attempts, next_at_ms, first_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'retrying', 0, ?7, ?7) ON CONFLICT DO NOTHING",
                params![site.id, lead_id, postback.kind.as_str(), postback.source_id, postback.aid, postback.time_ms, now_ms],
            )?;
            (LeadStatus::Retrying, true)
        }
        Decision::WaitingCallEnd => (LeadStatus::Waiting, false),
        _ => (LeadStatus::Filtered, false),
    };
    conn.execute(
        "UPDATE leads SET status = ?3, reason = ?4, decided = 1, updated_ms = ?5 WHERE site = ?1 AND lead_id = ?2",
        params![site.id, lead_id, status.as_str(), reason, now_ms],
    )?;
    conn.execute(
        "UPDATE lead_events SET reason = ?3 WHERE site = ?1 AND lead_id = ?2 AND reason IS NULL",
        params![site.id, lead_id, reason],
    )?;
    Ok(Some(Decided { reason, queued }))
}

#[cfg(test)]
mod tests;
