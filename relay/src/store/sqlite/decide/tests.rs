//! The postback's time: the webhook's `timestamp`, else when the relay first received the
//! lead; fixed at the decision, whatever arrives or happens after.
use super::*;
use crate::store::sqlite::Sqlite;
use crate::store::Store;
use crate::webhook::test_lead;

const AID: &str = "AbCdEf0123456789xyz";
/// A request as Calltouch sends it, with no `timestamp` (only the local `requestDate`) and the
/// RTB House id in `attrs`.
const REQUEST: &str = "leadtype=request&requestId=77&requestDate=2024-11-25+05%3A10%3A00\
    &attrs=%7B%22__r_aid_v__%22%3A%22AbCdEf0123456789xyz%22%7D";

fn store() -> (tempfile::TempDir, Sqlite) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Sqlite::open(path.to_str().unwrap()).unwrap();
    (dir, store)
}

fn site(extra: &str) -> Site {
    crate::config::test_site(&format!("metrics = [\"requests\"]\n{extra}"))
}

/// The time of the one postback queued, claimed far in the future.
async fn queued_time(store: &Sqlite) -> i64 {
    let due = store.claim_due(i64::MAX / 2, 1, 10).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].postback.aid, AID);
    due[0].postback.time_ms
}

#[tokio::test]
async fn without_timestamp_the_time_is_when_the_relay_received_the_webhook() {
    let (_dir, store) = store();
    let site = site("");
    let received = 1_732_500_600_123;
    store
        .put_lead_event(site.id.clone(), test_lead(REQUEST), received)
        .await
        .unwrap();
    // Decided later (a restart, say): the time is still the receipt, not the decision.
    let decided = store
        .decide(site.clone(), "request-77".into(), received + 3_600_000)
        .await
        .unwrap();
    assert_eq!(decided.map(|d| d.reason).as_deref(), Some("sent"));
    assert_eq!(queued_time(&store).await, received);
}

#[tokio::test]
async fn a_redelivery_does_not_move_the_time() {
    let (_dir, store) = store();
    let (off, on) = (site("enabled = false"), site(""));
    let first = 1_000_000;
    store
        .put_lead_event(on.id.clone(), test_lead(REQUEST), first)
        .await
        .unwrap();
    let decided = store.decide(off, "request-77".into(), first).await.unwrap();
    assert_eq!(decided.unwrap().reason, "switched_off");
    // Switched on; Calltouch redelivers the request an hour later: decided afresh, sent with
    // the time the request was first received.
    store
        .put_lead_event(on.id.clone(), test_lead(REQUEST), first + 3_600_000)
        .await
        .unwrap();
    let decided = store
        .decide(on.clone(), "request-77".into(), first + 3_600_000)
        .await
        .unwrap();
    assert_eq!(decided.unwrap().reason, "sent");
    assert_eq!(queued_time(&store).await, first);
    // Once queued, another redelivery is recorded only.
    store
        .put_lead_event(on.id.clone(), test_lead(REQUEST), first + 7_200_000)
        .await
        .unwrap();
    let again = store.decide(on, "request-77".into(), first + 7_200_000);
    assert_eq!(again.await.unwrap(), None);
}

#[tokio::test]
async fn a_timestamp_is_the_time() {
    let (_dir, store) = store();
    let site = site("");
    let lead = test_lead(&format!("{REQUEST}&timestamp=1732500100"));
    store
        .put_lead_event(site.id.clone(), lead, 1_900_000_000_000)
        .await
        .unwrap();
    store
        .decide(site, "request-77".into(), 1_900_000_000_000)
        .await
        .unwrap();
    assert_eq!(queued_time(&store).await, 1_732_500_100_000);
}
