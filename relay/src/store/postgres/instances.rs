//! What only several instances sharing one database can get wrong, tested with two stores on
//! one schema: both events of a call received at once, one lead judged twice at once, claims
//! made at once; and a server that is not there.

use std::sync::Arc;
use std::time::Duration;

use super::tests::Scratch;
use super::{Options, Postgres};
use crate::store::Store;

fn small() -> Options {
    Options {
        pool_size: 4,
        ..Options::default()
    }
}

fn call(id: &str, phase: &str) -> crate::webhook::Lead {
    crate::webhook::test_lead(&format!(
        "leadtype=call&id={id}&callphase={phase}&sessionId=S1&ctClientId=C1"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_end_of_a_call_on_two_instances_at_once_are_both_recorded() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let a = scratch.open(&small()).await;
    let b = scratch.open(&small()).await;
    for n in 0..20 {
        let id = format!("{n}");
        let (start, end) = tokio::join!(
            a.put_lead_event(
                crate::store::conformance::SITE.into(),
                call(&id, "callconnected"),
                10
            ),
            b.put_lead_event(
                crate::store::conformance::SITE.into(),
                call(&id, "calldisconnected"),
                10
            )
        );
        start.unwrap();
        end.unwrap();
        let facts = a
            .lead_facts(
                crate::store::conformance::SITE.into(),
                format!("call-{id}"),
                5,
            )
            .await
            .unwrap()
            .unwrap();
        assert!(
            facts.lead.is_call_end(),
            "the end's facts stay, whatever came first"
        );
        assert_eq!(facts.version, 2, "one lead, two events");
    }
    assert_eq!(a.row_counts().await.unwrap().leads, 20);
    assert_eq!(b.row_counts().await.unwrap().lead_events, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_judged_on_two_instances_at_once_is_decided_once() {
    use crate::decide::{Credit, Decision, IdSource, Verdict};
    use crate::postback::{Cd, Postback};
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let a = scratch.open(&small()).await;
    let b = scratch.open(&small()).await;
    let site = crate::store::conformance::SITE;
    let verdict = |lead: &crate::webhook::Lead, aid: &str| Verdict::Decided {
        decision: Decision::Send {
            aid: aid.into(),
            credit: Credit {
                source: "yandex".into(),
                cd: Cd::Default,
            },
        },
        status: crate::store::LeadStatus::Retrying,
        postback: Some(Postback::for_lead(lead, aid, 10, Cd::Default)),
        id_source: Some(IdSource::Session),
    };
    for n in 0..20 {
        let lead = call(&format!("d{n}"), "calldisconnected");
        a.put_lead_event(site.into(), lead.clone(), 10)
            .await
            .unwrap();
        let v = a
            .lead_facts(site.into(), lead.lead_id(), 5)
            .await
            .unwrap()
            .unwrap()
            .version;
        let (x, y) = tokio::join!(
            a.record_verdict(site.into(), lead.lead_id(), v, verdict(&lead, "AidA"), 20),
            b.record_verdict(site.into(), lead.lead_id(), v, verdict(&lead, "AidB"), 20)
        );
        assert!(x.unwrap() ^ y.unwrap(), "exactly one verdict recorded");
    }
    let plan = crate::store::ClaimPlan {
        per_site: vec![(site.into(), 100)],
        others: 0,
        total: 100,
    };
    assert_eq!(
        a.claim_due(100, 60_000, plan).await.unwrap().len(),
        20,
        "one postback a lead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_claiming_at_once_never_take_the_same_postback() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let a = Arc::new(scratch.open(&small()).await);
    let b = Arc::new(scratch.open(&small()).await);
    let site = crate::store::conformance::SITE;
    for n in 0..60 {
        crate::store::conformance::queue(&*a, site, &format!("q{n}"), "Aid", 10).await;
    }
    let plan = crate::store::ClaimPlan {
        per_site: vec![(site.into(), 4)],
        others: 0,
        total: 4,
    };
    let mut claimed = Vec::new();
    loop {
        let (x, y) = tokio::join!(
            a.claim_due(1_000, 60_000, plan.clone()),
            b.claim_due(1_000, 60_000, plan.clone())
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        if x.is_empty() && y.is_empty() {
            break;
        }
        claimed.extend(x.into_iter().chain(y).map(|d| d.lead_id));
    }
    let mut unique = claimed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(claimed.len(), 60, "every postback claimed");
    assert_eq!(unique.len(), 60, "none claimed twice: {claimed:?}");
    // A crashed instance's claims: taken again once the lease has passed, not before.
    assert!(b
        .claim_due(60_000, 1_000, plan.clone())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(b.claim_due(61_001, 1_000, plan).await.unwrap().len(), 4);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_a_bad_url_is_refused() {
    let options = Options {
        connect_timeout: Duration::from_millis(500),
        ..Options::default()
    };
    // A port nothing listens on: refused at once, reported as unavailable (503 upstream).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://aidlink@127.0.0.1:{closed}/aidlink");
    match Postgres::open(&url, &options).await {
        Err(crate::store::StoreError::Unavailable(e)) => assert!(e.contains("PostgreSQL"), "{e}"),
        other => panic!("expected unavailable, got {:?}", other.err()),
    }
    assert!(super::check_url("postgres://a@h/db?sslmode=require").is_ok());
    assert!(super::check_url("postgres://a@h/db?port=x").is_err());
    assert!(super::check_url("postgres://a:b@db.example:5432/aidlink").is_ok());
}
