//! A stored lead judged from its loaded facts: which RTB House id it goes to ([`rtb_id`]),
//! which visits led to it (de-duplicated, in time order, the most recent [`TOUCH_LIMIT`]), and
//! the verdict the store records: the decision, the lead's status, where its id came from, and
//! the postback to queue, its time fixed here. Pure: the store loads the facts
//! ([`crate::store::Store::lead_facts`], [`crate::store::Store::touches`]) and writes the
//! verdict; [`crate::pipeline`] runs the steps.

use aidlink_protocol::Touch;

use aidlink_protocol::cookie::is_valid_aid;

use super::{decide, Decision};
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
        /// Where the lead's RTB House id came from, when it has one.
        id_source: Option<IdSource>,
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

/// Where a lead's RTB House id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// The newest binding of the lead's session (with the lead's Calltouch visitor id, when the
    /// webhook carries one).
    Session,
    /// The newest binding of the lead's Calltouch visitor id.
    Visitor,
    /// `attrs[attr_key]`, which the page handed to Calltouch and Calltouch delivered.
    Attrs,
    /// `attrs[attr_key]`, which disagreed with the bindings: Calltouch's own account wins.
    AttrsOverBinding,
}

impl IdSource {
    /// As recorded in the lead's trail.
    pub fn as_str(self) -> &'static str {
        match self {
            IdSource::Session => "binding of the session",
            IdSource::Visitor => "binding of the Calltouch visitor",
            IdSource::Attrs => "attrs",
            IdSource::AttrsOverBinding => "attrs (a binding disagreed and was not used)",
        }
    }
}

/// A lead's RTB House id, where it came from, and what disagreed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdChoice {
    /// The id, when the lead has one.
    pub aid: Option<String>,
    /// Where it came from.
    pub source: Option<IdSource>,
    /// Distinct ids among the bindings that count for the lead's session (more than one: the
    /// session was bound to several visitors — a rotated cookie, or a forged binding).
    pub session_ids: usize,
    /// Bindings of the session left out because their Calltouch visitor id is not the lead's.
    pub foreign: usize,
}

/// The RTB House id of a lead. Only what agrees with what Calltouch itself reports counts, so
/// a third party who knows a session id cannot redirect the credit by posting a binding:
/// - when the webhook carries `ctClientId`, only bindings with that Calltouch visitor id count
///   for its session;
/// - the newest such binding of the session, else the newest binding of the visitor id;
/// - `attrs[attr_key]` (set by the page through `ct('set_attrs')`, delivered by Calltouch;
///   a plain id or the RTB House tag's JSON form, read as the browser reads the cookie) is
///   used when there is no binding, and wins when it disagrees with one.
pub fn rtb_id(facts: &LeadFacts, attr_key: &str, now_ms: i64) -> IdChoice {
    let client = facts.lead.ct_client_id.as_deref();
    let counts = |c: &&Candidate| client.is_none() || c.ct_client.as_deref() == client;
    let session: Vec<&Candidate> = facts.by_session.iter().filter(counts).collect();
    let mut distinct: Vec<&str> = session.iter().map(|c| c.aid.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let bound = session
        .first()
        .map(|c| (c.aid.as_str(), IdSource::Session))
        .or_else(|| {
            facts
                .by_client
                .first()
                .map(|c| (c.aid.as_str(), IdSource::Visitor))
        })
        .filter(|(aid, _)| is_valid_aid(aid));
    let attrs =
        facts.lead.attrs.get(attr_key).and_then(|value| {
            aidlink_protocol::cookie::read_aid_value(value, now_ms.max(0) as u64)
        });
    let (aid, source) = match (bound, attrs) {
        (Some((bound, _)), Some(attrs)) if bound != attrs => {
            (Some(attrs), Some(IdSource::AttrsOverBinding))
        }
        (Some((bound, source)), _) => (Some(bound.to_string()), Some(source)),
        (None, Some(attrs)) => (Some(attrs), Some(IdSource::Attrs)),
        (None, None) => (None, None),
    };
    IdChoice {
        aid,
        source,
        session_ids: distinct.len(),
        foreign: facts.by_session.len() - session.len(),
    }
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
pub fn judge(site: &Site, facts: &LeadFacts, id: &IdChoice, visits: &[Touch]) -> Option<Verdict> {
    if facts.decided {
        return None;
    }
    if matches!(
        facts.status,
        LeadStatus::Retrying | LeadStatus::Sent | LeadStatus::Dead
    ) {
        return Some(Verdict::AlreadyQueued);
    }
    let decision = decide(site, &facts.lead, id.aid.as_deref(), visits);
    let postback = match &decision {
        Decision::Send { aid, credit } => Some(Postback::for_lead(
            &facts.lead,
            aid,
            facts.first_received_ms,
            credit.cd,
        )),
        _ => None,
    };
    Some(Verdict::Decided {
        status: decision.status(),
        decision,
        postback,
        id_source: id.source,
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

    fn candidate(aid: &str, client: Option<&str>, created_ms: i64) -> Candidate {
        Candidate {
            aid: aid.into(),
            ct_client: client.map(str::to_string),
            created_ms,
        }
    }

    const ATTRS: &str = "attrs=%7B%22__r_aid_v__%22%3A%22FromAttrs1%22%7D";

    fn id(facts: &LeadFacts) -> (Option<String>, Option<IdSource>) {
        // 2026-12-01: a cookie's expiryDate is judged against the time of the decision.
        let choice = rtb_id(facts, "__r_aid_v__", 1_796_083_200_000);
        (choice.aid, choice.source)
    }

    #[test]
    fn the_id_is_the_session_binding_then_the_visitor_binding_then_attrs() {
        let mut f = facts("leadtype=call&id=1&ctClientId=C1");
        assert_eq!(id(&f), (None, None));
        f.by_client = vec![candidate("FromClient1", Some("C1"), 5)];
        assert_eq!(
            id(&f),
            (Some("FromClient1".into()), Some(IdSource::Visitor))
        );
        f.by_session = vec![
            candidate("Newest1", Some("C1"), 9),
            candidate("Older1", Some("C1"), 3),
        ];
        assert_eq!(id(&f), (Some("Newest1".into()), Some(IdSource::Session)));
        let mut only_attrs = facts(&format!("leadtype=call&id=1&{ATTRS}"));
        assert_eq!(
            id(&only_attrs),
            (Some("FromAttrs1".into()), Some(IdSource::Attrs))
        );
        only_attrs
            .lead
            .attrs
            .insert("__r_aid_v__".into(), "a b".into());
        assert_eq!(
            id(&only_attrs),
            (None, None),
            "an invalid attrs value is no id"
        );
    }

    #[test]
    fn a_binding_from_another_calltouch_visitor_does_not_count_for_the_session() {
        // The webhook says the call came from visitor C1; someone who learned the session id
        // posted a later binding with another visitor id, or with none.
        let mut f = facts("leadtype=call&id=1&sessionId=S1&ctClientId=C1");
        f.by_session = vec![
            candidate("Forged1", Some("C666"), 30),
            candidate("Forged2", None, 20),
            candidate("Visitor1", Some("C1"), 10),
        ];
        let choice = rtb_id(&f, "__r_aid_v__", 0);
        assert_eq!(choice.aid.as_deref(), Some("Visitor1"));
        assert_eq!((choice.foreign, choice.session_ids), (2, 1));
        // Without a ctClientId in the webhook every binding of the session counts.
        f.lead.ct_client_id = None;
        let choice = rtb_id(&f, "__r_aid_v__", 0);
        assert_eq!(choice.aid.as_deref(), Some("Forged1"));
        assert_eq!((choice.foreign, choice.session_ids), (0, 3));
    }

    #[test]
    fn attrs_win_over_a_binding_that_disagrees() {
        let mut f = facts(&format!("leadtype=call&id=1&sessionId=S1&{ATTRS}"));
        f.by_session = vec![candidate("Forged1", None, 30)];
        assert_eq!(
            id(&f),
            (Some("FromAttrs1".into()), Some(IdSource::AttrsOverBinding))
        );
        f.by_session = vec![candidate("FromAttrs1", None, 30)];
        assert_eq!(
            id(&f),
            (Some("FromAttrs1".into()), Some(IdSource::Session)),
            "agreeing"
        );
    }

    #[test]
    fn attrs_may_carry_the_rtb_house_tags_json_form() {
        let json = "%7B%22__r_aid_v__%22%3A%22%7B%5C%22eventType%5C%22%3A%5C%22aid%5C%22%2C%5C%22id%5C%22%3A%5C%226dca811d-3ccc-11f1-989d-c722ed84714f%5C%22%7D%22%7D";
        let f = facts(&format!("leadtype=call&id=1&attrs={json}"));
        assert_eq!(
            id(&f),
            (
                Some("6dca811d-3ccc-11f1-989d-c722ed84714f".into()),
                Some(IdSource::Attrs)
            )
        );
    }

    #[test]
    fn attrs_in_the_json_form_count_only_with_a_current_id() {
        let uuid = "6dca811d-3ccc-11f1-989d-c722ed84714f";
        let attrs = |value: &str| {
            let json = serde_json::json!({ "__r_aid_v__": value }).to_string();
            let encoded: String = form_urlencoded::byte_serialize(json.as_bytes()).collect();
            facts(&format!("leadtype=call&id=1&attrs={encoded}"))
        };
        let cookie = |body: &str| -> String {
            percent_encoding::utf8_percent_encode(body, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        };
        let current = format!(
            r#"{{"eventType":"aid","id":"{uuid}","expiryDate":"2099-04-20T15:22:01.591Z"}}"#
        );
        let found = (Some(uuid.to_string()), Some(IdSource::Attrs));
        assert_eq!(id(&attrs(&current)), found, "as JSON");
        assert_eq!(
            id(&attrs(&cookie(&current))),
            found,
            "percent-encoded, as in the cookie"
        );
        for absent in [
            current.replace("2099", "2001"),
            r#"{"eventType":"aid","id":"unknown"}"#.to_string(),
            format!(r#"{{"eventType":"uid","id":"{uuid}"}}"#),
            r#"{"eventType":"aid","id":"#.to_string(),
        ] {
            assert_eq!(id(&attrs(&absent)), (None, None), "{absent}");
            assert_eq!(id(&attrs(&cookie(&absent))), (None, None), "{absent}");
        }
    }

    fn known(aid: &str) -> IdChoice {
        IdChoice {
            aid: Some(aid.into()),
            source: Some(IdSource::Session),
            ..IdChoice::default()
        }
    }

    #[test]
    fn the_postback_time_is_the_timestamp_else_the_first_receipt() {
        let site = crate::config::test_site("metrics = [\"requests\"]");
        let without = facts("leadtype=request&requestId=77");
        let Some(Verdict::Decided {
            postback: Some(p),
            status,
            ..
        }) = judge(&site, &without, &known("Aid1"), &[])
        else {
            panic!("sent");
        };
        assert_eq!((p.time_ms, status), (1_000, LeadStatus::Retrying));
        let with = facts("leadtype=request&requestId=77&timestamp=1732500100");
        let Some(Verdict::Decided {
            postback: Some(p), ..
        }) = judge(&site, &with, &known("Aid1"), &[])
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
            judge(&site, &f, &known("A1"), &[]),
            Some(Verdict::AlreadyQueued)
        );
        f.decided = true;
        assert_eq!(judge(&site, &f, &known("A1"), &[]), None);
        let mut waiting = facts("leadtype=call&id=1&callphase=callconnected");
        let target = crate::config::test_site("metrics = [\"target_calls\"]");
        waiting.status = LeadStatus::Waiting;
        let verdict = judge(&target, &waiting, &known("A1"), &[]).unwrap();
        assert_eq!(verdict.reason(), "waiting:call_end");
        let filtered = judge(
            &crate::config::test_site("enabled = false"),
            &facts("leadtype=call&id=1"),
            &IdChoice::default(),
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
