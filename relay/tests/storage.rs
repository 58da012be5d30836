//! The SQLite store as the relay depends on it: concurrent writes share transactions (group
//! commit), and a lead stored just before a crash, with no decision yet, is decided and sent
//! when the relay starts again.
use std::sync::atomic::Ordering;
use std::sync::Arc;

use aidlink_protocol::Binding;
use aidlink_relay::store::sqlite::Sqlite;
use aidlink_relay::store::Store;
use aidlink_relay::webhook::parse_lead;

mod support;
use support::*;

#[tokio::test]
async fn concurrent_bindings_share_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.db");
    let store = Arc::new(Sqlite::open(path.to_str().unwrap()).unwrap());
    const WRITERS: u64 = 64;
    let mut writes = tokio::task::JoinSet::new();
    for n in 0..WRITERS {
        let store = store.clone();
        writes.spawn(async move {
            let binding = Binding::new(
                "38342".into(),
                format!("5{n}"),
                None,
                format!("GroupCommit{n:08}"),
                None,
            );
            store.put_binding(binding, 1_732_500_000_000).await
        });
    }
    while let Some(stored) = writes.join_next().await {
        assert!(
            stored.unwrap().unwrap(),
            "every binding acknowledged as new"
        );
    }
    let stats = store.stats();
    let (requests, commits) = (
        stats.requests.load(Ordering::Relaxed),
        stats.commits.load(Ordering::Relaxed),
    );
    assert_eq!(requests, WRITERS);
    assert!(
        commits * 4 <= requests,
        "{requests} concurrent writes took {commits} transactions: not one fsync each"
    );
    drop(store);
    // Everything acknowledged is there for the next open.
    let reopened = Sqlite::open(path.to_str().unwrap()).unwrap();
    let again = Binding::new(
        "38342".into(),
        "50".into(),
        None,
        "GroupCommit00000000".into(),
        None,
    );
    assert!(
        !reopened
            .put_binding(again, 1_732_500_000_000)
            .await
            .unwrap(),
        "already stored"
    );
}

#[tokio::test]
async fn a_lead_stored_but_not_decided_before_a_crash_is_sent_at_start() {
    let rtb = Receiver::start().await;
    let mut relay = Relay::start(&rtb, "");
    relay.bind("72001", None, AID).await;
    relay.kill();
    // The state a crash leaves between "webhook stored, 200 answered" and "decided": the
    // lead's event is in the database, undecided.
    {
        let store = Sqlite::open(relay.dir.path().join("aidlink.db").to_str().unwrap()).unwrap();
        let fields: Vec<(String, String)> =
            form_urlencoded::parse(call("7201", "calldisconnected", "72001", "").as_bytes())
                .into_owned()
                .collect();
        let lead = parse_lead(&fields).unwrap();
        store
            .put_lead_event("38342".into(), lead, 1_732_500_100_000)
            .await
            .unwrap();
        assert_eq!(
            store.undecided().await.unwrap(),
            [("38342".to_string(), "call-7201".to_string())]
        );
    }
    relay.spawn();
    let trail = relay.wait_status("call-7201", "sent", 15).await;
    assert_eq!(trail["reason"], "sent", "{trail}");
    settle().await;
    let postbacks = rtb.postbacks();
    assert_eq!(postbacks.len(), 1, "{postbacks:?}");
    assert!(
        postbacks[0].contains(&format!("aid={AID}")),
        "{postbacks:?}"
    );
    assert!(postbacks[0].contains("ct-call-7201_"), "{postbacks:?}");
}
