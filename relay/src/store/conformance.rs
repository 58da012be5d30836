//! The `Store` conformance suite: the same tests, any backend. Each is an async function over
//! a fresh, empty store; [`conformance_tests!`] turns the list into `#[tokio::test]`s for a
//! backend (see `sqlite/tests.rs`). Times are given, never read from the clock. The operator
//! screen's part ([`crate::store::ScreenStore`]) is in `conformance/screen.rs`.

mod screen;
pub use screen::*;

use aidlink_protocol::{Binding, Touch};

use super::{Attempt, ClaimPlan, Delivery, LeadStatus, Next, Store, TouchKeys};
use crate::decide::{Credit, Decision, IdSource, Verdict};
use crate::postback::{Cd, Postback};
use crate::webhook::test_lead;

pub const SITE: &str = "38342";

/// Tables that grow with traffic and time: a statement that scans one of them gets slower
/// every day. Each backend's plan test refuses such a scan on the hot path.
pub const GROWING: [&str; 7] = [
    "bindings",
    "leads",
    "lead_events",
    "outbox",
    "attempts",
    "counters",
    "audit",
];
const DAY: i64 = 86_400_000;

fn binding(session: &str, client: Option<&str>, aid: &str, utm: &str, ts: u64) -> Binding {
    Binding::new(
        SITE.into(),
        session.into(),
        client.map(str::to_string),
        aid.into(),
        Some(Touch {
            utm_source: utm.into(),
            ts,
            ..Touch::default()
        }),
    )
}

fn call(id: &str, phase: &str, session: &str) -> crate::webhook::Lead {
    test_lead(&format!(
        "leadtype=call&id={id}&callphase={phase}&sessionId={session}&ctClientId=C1"
    ))
}

/// The verdict "send `lead` to `aid`" with `cd`, judged on a visit from yandex.
fn send(lead: &crate::webhook::Lead, aid: &str, at: i64, cd: Cd) -> Verdict {
    Verdict::Decided {
        decision: Decision::Send {
            aid: aid.into(),
            credit: Credit {
                source: "yandex".into(),
                cd,
            },
        },
        status: LeadStatus::Retrying,
        postback: Some(Postback::for_lead(lead, aid, at, cd)),
        id_source: Some(IdSource::AttrsOverBinding),
    }
}

/// Stores a call's event and queues its postback to `aid`, as a decision would.
pub async fn queue(store: &dyn Store, site: &str, id: &str, aid: &str, at: i64) {
    queue_cd(store, site, id, aid, at, Cd::Default).await
}

/// Stores `lead`'s event at `at`; the lead's version, which a verdict on it names.
async fn record_event(store: &dyn Store, site: &str, lead: &crate::webhook::Lead, at: i64) -> i64 {
    store
        .put_lead_event(site.into(), lead.clone(), at)
        .await
        .unwrap();
    let facts = store.lead_facts(site.into(), lead.lead_id(), 50).await;
    facts.unwrap().unwrap().version
}

/// [`queue`] with the `cd` the decision gave.
async fn queue_cd(store: &dyn Store, site: &str, id: &str, aid: &str, at: i64, cd: Cd) {
    let lead = call(id, "calldisconnected", "S-q");
    let version = record_event(store, site, &lead, at).await;
    let verdict = send(&lead, aid, at, cd);
    let recorded = store
        .record_verdict(site.into(), lead.lead_id(), version, verdict, at)
        .await
        .unwrap();
    assert!(recorded);
}

fn everything(sites: &[&str], total: u32) -> ClaimPlan {
    ClaimPlan {
        per_site: sites.iter().map(|s| (s.to_string(), total)).collect(),
        others: 0,
        total,
    }
}

pub async fn a_binding_is_stored_once(store: &dyn Store) {
    let b = binding("S1", None, "Aid1", "yandex", 5);
    assert!(store.put_binding(b.clone(), 10).await.unwrap());
    assert!(
        !store.put_binding(b, 11).await.unwrap(),
        "same id: duplicate"
    );
    assert_eq!(store.row_counts().await.unwrap().bindings, 1);
}

pub async fn facts_hold_the_bindings_of_session_and_visitor_newest_first(store: &dyn Store) {
    for (i, aid) in ["Old1", "Mid1", "New1"].iter().enumerate() {
        let b = binding("S1", None, aid, "", 1);
        store.put_binding(b, 100 + i as i64).await.unwrap();
    }
    store
        .put_binding(binding("S9", Some("C1"), "ByClient1", "", 1), 50)
        .await
        .unwrap();
    let lead = call("1", "calldisconnected", "S1");
    store.put_lead_event(SITE.into(), lead, 200).await.unwrap();
    let facts = store
        .lead_facts(SITE.into(), "call-1".into(), 2)
        .await
        .unwrap()
        .unwrap();
    let aids: Vec<&str> = facts.by_session.iter().map(|c| c.aid.as_str()).collect();
    assert_eq!(aids, ["New1", "Mid1"], "newest first, at most the limit");
    assert_eq!(facts.by_client.len(), 1);
    assert_eq!(facts.by_client[0].ct_client.as_deref(), Some("C1"));
    assert_eq!(
        (facts.first_received_ms, facts.status, facts.decided),
        (200, LeadStatus::New, false)
    );
    assert!(store
        .lead_facts(SITE.into(), "call-2".into(), 2)
        .await
        .unwrap()
        .is_none());
}

pub async fn touches_are_bounded_and_never_later_than_asked(store: &dyn Store) {
    for i in 0..120 {
        let b = binding(
            "S1",
            None,
            &format!("Aid{i}"),
            &format!("u{i}"),
            i as u64 + 1,
        );
        store.put_binding(b, 1_000 + i).await.unwrap();
    }
    store
        .put_binding(binding("S2", None, "AidZ", "by-aid", 1), 1_000)
        .await
        .unwrap();
    let keys = TouchKeys {
        session: Some("S1".into()),
        ct_client: None,
        aid: Some("AidZ".into()),
    };
    let touches = store.touches(SITE.into(), keys, 1_099, 50).await.unwrap();
    let by_session = touches
        .iter()
        .filter(|t| t.touch.utm_source.starts_with('u'))
        .count();
    assert_eq!(by_session, 50, "at most the limit per key");
    assert!(
        touches.iter().all(|t| t.created_ms <= 1_099),
        "none later than asked"
    );
    assert!(
        touches.iter().any(|t| t.touch.utm_source == "by-aid"),
        "by RTB House id too"
    );
}

pub async fn a_verdict_is_recorded_once_and_only_on_the_version_judged(store: &dyn Store) {
    let lead = call("5", "callconnected", "S1");
    store
        .put_lead_event(SITE.into(), lead.clone(), 10)
        .await
        .unwrap();
    let judged = store
        .lead_facts(SITE.into(), "call-5".into(), 50)
        .await
        .unwrap()
        .unwrap();
    // The call ends while the start is being judged: that verdict is stale.
    store
        .put_lead_event(SITE.into(), call("5", "calldisconnected", "S1"), 20)
        .await
        .unwrap();
    let send = |aid: &str| self::send(&lead, aid, 10, Cd::False);
    let stale = store
        .record_verdict(
            SITE.into(),
            "call-5".into(),
            judged.version,
            send("Aid1"),
            30,
        )
        .await
        .unwrap();
    assert!(!stale, "a verdict on an older version is not recorded");
    let current = store
        .lead_facts(SITE.into(), "call-5".into(), 50)
        .await
        .unwrap()
        .unwrap();
    assert!(current.lead.is_call_end());
    assert!(store
        .record_verdict(
            SITE.into(),
            "call-5".into(),
            current.version,
            send("Aid1"),
            40
        )
        .await
        .unwrap());
    assert!(
        !store
            .record_verdict(
                SITE.into(),
                "call-5".into(),
                current.version,
                send("Aid2"),
                50
            )
            .await
            .unwrap(),
        "decided already"
    );
    let due = store
        .claim_due(1_000, 1_000, everything(&[SITE], 10))
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "one postback per lead");
    assert_eq!(due[0].postback.aid, "Aid1");
    let trail = store
        .trail(SITE.into(), "call-5".into())
        .await
        .unwrap()
        .unwrap();
    let reasons: Vec<Option<&str>> = trail.events.iter().map(|e| e.reason.as_deref()).collect();
    assert_eq!(reasons, [Some("queued"), Some("queued")]);
}

pub async fn the_first_call_end_stays_the_facts(store: &dyn Store) {
    store
        .put_lead_event(SITE.into(), call("6", "calldisconnected", "S-end"), 10)
        .await
        .unwrap();
    store
        .put_lead_event(SITE.into(), call("6", "callconnected", "S-late"), 20)
        .await
        .unwrap();
    let facts = store
        .lead_facts(SITE.into(), "call-6".into(), 50)
        .await
        .unwrap()
        .unwrap();
    assert!(facts.lead.is_call_end());
    assert_eq!(facts.lead.session_id.as_deref(), Some("S-end"));
    assert_eq!(
        store.undecided(10).await.unwrap(),
        [(SITE.to_string(), "call-6".to_string())]
    );
}

pub async fn claims_take_turns_between_sites_and_lease_what_they_take(store: &dyn Store) {
    for i in 0..5 {
        queue(store, "1", &format!("a{i}"), "AidA", 10 + i).await;
    }
    queue(store, "2", "b0", "AidB", 100).await;
    let plan = everything(&["1", "2"], 2);
    let due = store.claim_due(1_000, 60_000, plan.clone()).await.unwrap();
    let sites: Vec<&str> = due.iter().map(|d| d.site.as_str()).collect();
    assert_eq!(sites, ["1", "2"], "one of each before a second of either");
    let due = store.claim_due(1_000, 60_000, plan).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(
        due.iter().all(|d| d.site == "1"),
        "the leased ones are not claimed again"
    );
    let capped = ClaimPlan {
        per_site: vec![("1".into(), 1)],
        others: 0,
        total: 10,
    };
    assert_eq!(
        store.claim_due(1_000, 60_000, capped).await.unwrap().len(),
        1,
        "per-site cap"
    );
    let after_lease = store
        .claim_due(70_000, 1, everything(&["1", "2"], 10))
        .await
        .unwrap();
    assert_eq!(
        after_lease.len(),
        6,
        "a lease that ran out is claimable again"
    );
}

pub async fn postbacks_of_unlisted_sites_are_claimed_as_others(store: &dyn Store) {
    queue(store, "777", "z", "AidZ", 10).await;
    queue(store, "1", "a", "AidA", 10).await;
    let plan = ClaimPlan {
        per_site: vec![("1".into(), 0)],
        others: 5,
        total: 5,
    };
    let due = store.claim_due(1_000, 60_000, plan).await.unwrap();
    let sites: Vec<&str> = due.iter().map(|d| d.site.as_str()).collect();
    assert_eq!(sites, ["777"]);
}

fn attempt(at_ms: i64, status: Option<u16>) -> Attempt {
    Attempt {
        at_ms,
        status,
        error: None,
        url: "https://x/p?pkey=secret-pkey&aid=A".into(),
    }
}

async fn claim_one(store: &dyn Store, now: i64) -> Delivery {
    let mut due = store
        .claim_due(now, 1, everything(&[SITE], 1))
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    due.remove(0)
}

pub async fn attempts_move_the_lead_and_show_in_its_trail(store: &dyn Store) {
    queue_cd(store, SITE, "7", "Aid7", 10, Cd::False).await;
    let d = claim_one(store, 100).await;
    store
        .record_attempt(d, attempt(110, Some(503)), Next::RetryAt(200))
        .await
        .unwrap();
    assert!(
        store
            .claim_due(150, 1, everything(&[SITE], 1))
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    let d = claim_one(store, 200).await;
    assert_eq!(d.attempts, 1);
    store
        .record_attempt(d, attempt(210, Some(200)), Next::Sent)
        .await
        .unwrap();
    let trail = store
        .trail(SITE.into(), "call-7".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trail.status, LeadStatus::Sent);
    assert_eq!(
        (trail.judged_source.as_deref(), trail.cd.as_deref()),
        (Some("yandex"), Some("false")),
        "the source the lead was judged on and the cd it was sent with"
    );
    assert_eq!(
        trail.id_source.as_deref(),
        Some("attrs (a binding disagreed and was not used)")
    );
    let statuses: Vec<Option<u16>> = trail.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(503), Some(200)]);
    assert!(
        trail
            .attempts
            .iter()
            .all(|a| !a.url.contains("secret-pkey")),
        "PKEY masked"
    );
    let sent = store.list(SITE.into(), LeadStatus::Sent, 10).await.unwrap();
    assert_eq!(
        sent.iter().map(|l| l.lead_id.as_str()).collect::<Vec<_>>(),
        ["call-7"]
    );
    assert_eq!(store.outbox_stats().await.unwrap().depth, 0);
}

/// A trail read while its lead's verdict commits shows the lead either undecided with its events
/// unanswered, or decided with every event's reason: never the decision's events beside the lead
/// row from before it (the operator would read "new" for a lead already judged). A race, so it
/// is run over many leads with two readers each.
pub async fn a_trail_is_read_from_one_snapshot(store: &dyn Store) {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    for i in 0..150 {
        let lead = call(&format!("snap-{i}"), "calldisconnected", "S-snap");
        let version = record_event(store, SITE, &lead, 10).await;
        let decided = AtomicBool::new(false);
        let write = async {
            let verdict = send(&lead, "AidSnap", 10, Cd::Default);
            store
                .record_verdict(SITE.into(), lead.lead_id(), version, verdict, 10)
                .await
                .unwrap();
            decided.store(true, Relaxed);
        };
        let read = || async {
            loop {
                let done = decided.load(Relaxed);
                let t = store
                    .trail(SITE.into(), lead.lead_id())
                    .await
                    .unwrap()
                    .unwrap();
                let answered = t.events.iter().filter(|e| e.reason.is_some()).count();
                let whole = if t.status == LeadStatus::New {
                    answered == 0
                } else {
                    answered == t.events.len()
                };
                assert!(whole, "a torn trail: {t:?}");
                if done {
                    break;
                }
            }
        };
        tokio::join!(write, read(), read());
    }
}

pub async fn dead_letters_are_requeued_by_replay(store: &dyn Store) {
    queue(store, SITE, "8", "Aid8", 10).await;
    queue(store, SITE, "9", "Aid9", 10).await;
    for _ in 0..2 {
        let d = claim_one(store, 100).await;
        store
            .record_attempt(d, attempt(110, Some(400)), Next::Dead)
            .await
            .unwrap();
    }
    let dead = store.list(SITE.into(), LeadStatus::Dead, 10).await.unwrap();
    assert_eq!(dead.len(), 2);
    let one = store
        .dead_letters(SITE.into(), Some("call-8".into()))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].lead_id.as_str(), one[0].time_ms), ("call-8", 10));
    let requeue = |ids: &[&str], forced: bool, at: i64| {
        store.requeue_dead(
            SITE.into(),
            ids.iter().map(|s| s.to_string()).collect(),
            forced,
            at,
        )
    };
    assert_eq!(requeue(&["call-8"], false, 500).await.unwrap(), 1);
    assert_eq!(requeue(&["call-8"], false, 500).await.unwrap(), 0, "once");
    let all = store.dead_letters(SITE.into(), None).await.unwrap();
    assert_eq!(all.len(), 1, "call-8 is queued again, not dead");
    assert_eq!(requeue(&["call-9"], true, 600).await.unwrap(), 1);
    let stats = store.outbox_stats().await.unwrap();
    assert_eq!((stats.depth, stats.oldest_ms), (2, Some(500)));
    let due = store
        .claim_due(600, 1, everything(&[SITE], 10))
        .await
        .unwrap();
    let forced: Vec<(&str, bool)> = due.iter().map(|d| (d.lead_id.as_str(), d.forced)).collect();
    assert_eq!(forced, [("call-8", false), ("call-9", true)]);
    let trail = store
        .trail(SITE.into(), "call-9".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trail.status, LeadStatus::Retrying);
}

pub async fn retention_deletes_old_settled_data_and_keeps_what_is_pending(store: &dyn Store) {
    let old = 1_000;
    let now = old + 100 * DAY;
    store
        .put_binding(binding("S-old", None, "AidOld", "", 1), old)
        .await
        .unwrap();
    store
        .put_binding(binding("S-new", None, "AidNew", "", 1), now)
        .await
        .unwrap();
    // Settled long ago: sent, filtered, dead.
    queue(store, SITE, "sent", "A1", old).await;
    queue(store, SITE, "dead", "A2", old).await;
    for (i, (id, next)) in [("call-sent", Next::Sent), ("call-dead", Next::Dead)]
        .into_iter()
        .enumerate()
    {
        let at = old + 10 * i as i64;
        let mut due = store
            .claim_due(at, 1, everything(&[SITE], 10))
            .await
            .unwrap();
        let at = due.iter().position(|d| d.lead_id == id).unwrap();
        store
            .record_attempt(due.remove(at), attempt(old, Some(200)), next)
            .await
            .unwrap();
    }
    let filtered = call("filtered", "calldisconnected", "S");
    store
        .put_lead_event(SITE.into(), filtered.clone(), old)
        .await
        .unwrap();
    let v = store
        .lead_facts(SITE.into(), filtered.lead_id(), 1)
        .await
        .unwrap()
        .unwrap()
        .version;
    let verdict = Verdict::Decided {
        decision: Decision::NoRtbId,
        status: LeadStatus::Filtered,
        postback: None,
        id_source: None,
    };
    assert!(store
        .record_verdict(SITE.into(), filtered.lead_id(), v, verdict, old)
        .await
        .unwrap());
    // Pending since long ago: waiting for the call's end, retrying, undecided.
    let waiting = call("waiting", "callconnected", "S");
    store
        .put_lead_event(SITE.into(), waiting.clone(), old)
        .await
        .unwrap();
    let v = store
        .lead_facts(SITE.into(), waiting.lead_id(), 1)
        .await
        .unwrap()
        .unwrap()
        .version;
    let verdict = Verdict::Decided {
        decision: Decision::WaitingCallEnd,
        status: LeadStatus::Waiting,
        postback: None,
        id_source: Some(IdSource::Session),
    };
    assert!(store
        .record_verdict(SITE.into(), waiting.lead_id(), v, verdict, old)
        .await
        .unwrap());
    queue(store, SITE, "retrying", "A3", old).await;
    store
        .put_lead_event(SITE.into(), call("new", "calldisconnected", "S"), old)
        .await
        .unwrap();

    let before = store.row_counts().await.unwrap();
    let purged = crate::pipeline::purge_before(store, now - 90 * DAY, 1)
        .await
        .unwrap();
    assert_eq!(
        purged, 4,
        "one binding and three settled leads, one row at a time"
    );
    let after = store.row_counts().await.unwrap();
    assert_eq!(after.bindings, 1);
    assert_eq!(after.leads, before.leads - 3);
    assert_eq!(
        after.lead_events,
        before.lead_events - 3,
        "the settled leads' events"
    );
    assert_eq!(
        after.outbox,
        before.outbox - 2,
        "the delivered and the dead postback"
    );
    assert_eq!(after.attempts, 0);
    for gone in ["call-sent", "call-dead", "call-filtered"] {
        assert!(
            store
                .trail(SITE.into(), gone.into())
                .await
                .unwrap()
                .is_none(),
            "{gone}"
        );
    }
    for kept in ["call-waiting", "call-retrying", "call-new"] {
        assert!(
            store
                .trail(SITE.into(), kept.into())
                .await
                .unwrap()
                .is_some(),
            "{kept}"
        );
    }
    let keys = TouchKeys {
        session: Some("S-new".into()),
        ..TouchKeys::default()
    };
    assert_eq!(
        store
            .touches(SITE.into(), keys, now, 50)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        crate::pipeline::purge_before(store, now - 90 * DAY, 100)
            .await
            .unwrap(),
        0
    );
}

pub async fn storage_answers_pings_and_commits_write_probes(store: &dyn Store) {
    store.ping().await.unwrap();
    store.probe_write(1_000).await.unwrap();
    store.probe_write(2_000).await.unwrap();
    assert_eq!(
        store.row_counts().await.unwrap(),
        super::RowCounts::default(),
        "the probe is not data"
    );
    assert!(store.undecided(10).await.unwrap().is_empty());
}

/// One `#[tokio::test]` per conformance test, each on a fresh store from `$make` (an async
/// expression giving `(guard, Arc<dyn Store>)`; the guard lives as long as the test).
macro_rules! conformance_tests {
    ($make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_guard, store) = $make.await;
                crate::store::conformance::$name(&*store).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;

/// Every test of the suite, for [`conformance_tests!`].
macro_rules! all_conformance_tests {
    ($make:expr) => {
        crate::store::conformance::conformance_tests!($make;
            a_binding_is_stored_once,
            facts_hold_the_bindings_of_session_and_visitor_newest_first,
            touches_are_bounded_and_never_later_than_asked,
            a_verdict_is_recorded_once_and_only_on_the_version_judged,
            the_first_call_end_stays_the_facts,
            claims_take_turns_between_sites_and_lease_what_they_take,
            postbacks_of_unlisted_sites_are_claimed_as_others,
            attempts_move_the_lead_and_show_in_its_trail,
            a_trail_is_read_from_one_snapshot,
            dead_letters_are_requeued_by_replay,
            retention_deletes_old_settled_data_and_keeps_what_is_pending,
            storage_answers_pings_and_commits_write_probes,
            a_save_stores_the_settings_and_its_audit_and_moves_the_version,
            sessions_are_kept_by_hash_touched_ended_and_dropped_when_idle,
            the_lead_log_pages_newest_first_with_attempts_and_last_status,
            counters_count_bindings_decisions_and_postbacks_per_ten_minutes,
            recent_events_and_the_outbox_of_one_site,
        );
    };
}
pub(crate) use all_conformance_tests;
