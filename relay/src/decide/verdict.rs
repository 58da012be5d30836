//! A stored lead judged from its loaded facts: which RTB House id it goes to (binding by
//! session, then by Calltouch visitor id, then `attrs`), which visits led to it (de-duplicated,
//! in time order, the most recent [`TOUCH_LIMIT`]), and the verdict the store records: the
//! decision, the lead's status, and the postback to queue, its time fixed here. Pure: the
//! store loads the facts ([`crate::store::Store::lead_facts`], [`crate::store::Store::touches`])
//! and writes the verdict; [`crate::pipeline`] runs the steps.

use aidlink_protocol::Touch;

use super::{decide, pick_aid, Decision};
use crate::config::Site;
use crate::postback::Postback;
use crate::store::LeadStatus;
use crate::webhook::Lead;

/// Most touchpoints one lead is judged on (the most recent ones), and most bindings read per
/// id: a bot posting thousands of bindings for one visitor cannot make its leads slow.
pub const TOUCH_LIMIT: usize = 50;

/// A stored binding that may give a lead its RTB House id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The RTB House id it binds.
    pub aid: String,
    /// The Calltouch visitor id it was posted with, if any.
    pub ct_client: Option<String>,
    /// When the relay stored it, ms.
    pub created_ms: i64,
}

/// What the store knows of a lead when it is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadFacts {
    /// The lead's facts (the first call-end event, else the latest event).
    pub lead: Lead,
    /// Its status now.
    pub status: LeadStatus,
    /// True when its latest event has been decided already.
    pub decided: bool,
    /// When the relay first received the lead, ms.
    pub first_received_ms: i64,
    /// Changes with every stored event: a verdict is recorded only on the version it judged.
    pub version: i64,
    /// Bindings of the lead's session, newest first.
    pub by_session: Vec<Candidate>,
    /// Bindings of the lead's Calltouch visitor id, newest first.
    pub by_client: Vec<Candidate>,
}

/// A touchpoint as stored with its binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTouch {
    /// The visit.
    pub touch: Touch,
    /// Its time for ordering: the client's timestamp, else when the relay received it, ms.
    pub touch_ts: i64,
    /// When the relay stored it, ms.
    pub created_ms: i64,
}

/// What judging a lead came to, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The lead's postback is queued already: it is never decided (or posted) again; the new
    /// events are recorded as `already_queued`.
    AlreadyQueued,
    /// Decided.
    Decided {
        /// The decision (its reason is recorded).
        decision: Decision,
        /// The lead's new status: queued (`retrying`), `waiting` or `filtered`.
        status: LeadStatus,
        /// The postback to queue when the decision is to send.
        postback: Option<Postback>,
    },
}

impl Verdict {
    /// The reason recorded on the lead's undecided events.
    pub fn reason(&self) -> String {
        match self {
            Verdict::AlreadyQueued => "already_queued".into(),
            Verdict::Decided { decision, .. } => decision.reason(),
        }
    }
}

/// The RTB House id of a lead: the newest binding of its session, else of its Calltouch
/// visitor id, else `attrs[attr_key]`.
pub fn rtb_id(facts: &LeadFacts, attr_key: &str) -> Option<String> {
    fn newest(c: &[Candidate]) -> Option<&str> {
        c.first().map(|c| c.aid.as_str())
    }
    pick_aid(
        newest(&facts.by_session),
        newest(&facts.by_client),
        &facts.lead,
        attr_key,
    )
}

/// The visits a lead is judged on: each distinct touchpoint once, in time order (client time,
/// then arrival), the most recent [`TOUCH_LIMIT`].
pub fn visits(mut stored: Vec<StoredTouch>) -> Vec<Touch> {
    stored.sort_by_key(|t| (t.touch_ts, t.created_ms));
    let mut out: Vec<Touch> = Vec::with_capacity(stored.len().min(TOUCH_LIMIT));
    for t in stored.into_iter().rev() {
        if out.len() == TOUCH_LIMIT {
            break;
        }
        if !out.contains(&t.touch) {
            out.push(t.touch);
        }
    }
    out.reverse();
    out
}

/// Judges a lead; `None` when there is nothing to decide (its latest event is decided).
/// A postback's time is the lead's `timestamp`, else when the relay first received the lead,
/// fixed here once: the outbox keeps it, so a redelivery or a restart does not move it.
pub fn judge(
    site: &Site,
    facts: &LeadFacts,
    aid: Option<&str>,
    visits: &[Touch],
) -> Option<Verdict> {
    if facts.decided {
        return None;
    }
    if matches!(
        facts.status,
        LeadStatus::Retrying | LeadStatus::Sent | LeadStatus::Dead
    ) {
        return Some(Verdict::AlreadyQueued);
    }
    let decision = decide(site, &facts.lead, aid, visits);
    let (status, postback) = match &decision {
        Decision::Send { aid, credit } => (
            LeadStatus::Retrying,
            Some(Postback::for_lead(
                &facts.lead,
                aid,
                facts.first_received_ms,
                credit.cd,
            )),
        ),
        Decision::WaitingCallEnd => (LeadStatus::Waiting, None),
        _ => (LeadStatus::Filtered, None),
    };
    Some(Verdict::Decided {
        decision,
        status,
        postback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(utm_source: &str, touch_ts: i64, created_ms: i64) -> StoredTouch {
        StoredTouch {
            touch: Touch {
                utm_source: utm_source.into(),
                ts: touch_ts as u64,
                ..Touch::default()
            },
            touch_ts,
            created_ms,
        }
    }

    #[test]
    fn visits_are_in_time_order_each_once() {
        let stored = vec![
            at("b", 20, 1),
            at("a", 10, 2),
            at("b", 20, 3),
            at("c", 30, 0),
        ];
        let sources: Vec<String> = visits(stored).into_iter().map(|t| t.utm_source).collect();
        assert_eq!(sources, ["a", "b", "c"]);
    }

    #[test]
    fn only_the_most_recent_fifty_visits_count() {
        let stored: Vec<StoredTouch> = (0..500).map(|i| at(&format!("s{i}"), i, i)).collect();
        let kept = visits(stored);
        assert_eq!(kept.len(), TOUCH_LIMIT);
        assert_eq!(kept.first().unwrap().utm_source, "s450");
        assert_eq!(kept.last().unwrap().utm_source, "s499");
    }

    fn facts(query: &str) -> LeadFacts {
        LeadFacts {
            lead: crate::webhook::test_lead(query),
            status: LeadStatus::New,
            decided: false,
            first_received_ms: 1_000,
            version: 1,
            by_session: Vec::new(),
            by_client: Vec::new(),
        }
    }

    fn candidate(aid: &str, created_ms: i64) -> Candidate {
        Candidate {
            aid: aid.into(),
            ct_client: None,
            created_ms,
        }
    }

    #[test]
    fn the_id_is_the_session_binding_then_the_visitor_binding_then_attrs() {
        let mut f = facts("leadtype=call&id=1&attrs=%7B%22__r_aid_v__%22%3A%22FromAttrs1%22%7D");
        assert_eq!(rtb_id(&f, "__r_aid_v__").as_deref(), Some("FromAttrs1"));
        f.by_client = vec![candidate("FromClient1", 5)];
        assert_eq!(rtb_id(&f, "__r_aid_v__").as_deref(), Some("FromClient1"));
        f.by_session = vec![candidate("Newest1", 9), candidate("Older1", 3)];
        assert_eq!(rtb_id(&f, "__r_aid_v__").as_deref(), Some("Newest1"));
    }

    #[test]
    fn the_postback_time_is_the_timestamp_else_the_first_receipt() {
        let site = crate::config::test_site("metrics = [\"requests\"]");
        let without = facts("leadtype=request&requestId=77");
        let Some(Verdict::Decided {
            postback: Some(p),
            status,
            ..
        }) = judge(&site, &without, Some("Aid1"), &[])
        else {
            panic!("sent");
        };
        assert_eq!((p.time_ms, status), (1_000, LeadStatus::Retrying));
        let with = facts("leadtype=request&requestId=77&timestamp=1732500100");
        let Some(Verdict::Decided {
            postback: Some(p), ..
        }) = judge(&site, &with, Some("Aid1"), &[])
        else {
            panic!("sent");
        };
        assert_eq!(p.time_ms, 1_732_500_100_000);
    }

    #[test]
    fn a_queued_lead_is_never_judged_again_and_a_decided_one_is_left() {
        let site = crate::config::test_site("");
        let mut f = facts("leadtype=call&id=1");
        f.status = LeadStatus::Sent;
        assert_eq!(
            judge(&site, &f, Some("A1"), &[]),
            Some(Verdict::AlreadyQueued)
        );
        f.decided = true;
        assert_eq!(judge(&site, &f, Some("A1"), &[]), None);
        let mut waiting = facts("leadtype=call&id=1&callphase=callconnected");
        let target = crate::config::test_site("metrics = [\"target_calls\"]");
        waiting.status = LeadStatus::Waiting;
        let verdict = judge(&target, &waiting, Some("A1"), &[]).unwrap();
        assert_eq!(verdict.reason(), "waiting:call_end");
        let filtered = judge(
            &crate::config::test_site("enabled = false"),
            &facts("leadtype=call&id=1"),
            None,
            &[],
        )
        .unwrap();
        assert!(matches!(
            filtered,
            Verdict::Decided {
                status: LeadStatus::Filtered,
                postback: None,
                ..
            }
        ));
    }
}
