//! Durability, with the real SQLite file: concurrent writes share transactions (group commit);
//! what was acknowledged survives a kill; postbacks pending at a kill, and a lead stored but
//! not yet decided, are delivered once after the restart.
use std::sync::atomic::Ordering;
use std::sync::Arc;

use aidlink_protocol::Binding;
use aidlink_relay::store::sqlite::Sqlite;
use aidlink_relay::store::Store;
use aidlink_relay::webhook::parse_lead;

use crate::support::*;
use aidlink_relay::store::rows::{self, Table, Value};

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
    relay.bind("72001", Some(CT_CLIENT), AID).await;
    relay.kill();
    // The state a crash leaves between "webhook stored, 200 answered" and "decided": the
    // lead's event is in the database, undecided.
    {
        let store = storage::open(&relay.storage).await;
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
            store.undecided(100).await.unwrap(),
            [("38342".to_string(), "call-7201".to_string())]
        );
    }
    relay.spawn();
    let trail = relay.wait_status("call-7201", "sent", 15).await;
    assert_eq!(trail["reason"], "queued", "{trail}");
    relay.wait_outbox_empty().await;
    let postbacks = rtb.postbacks();
    assert_eq!(postbacks.len(), 1, "{postbacks:?}");
    assert!(
        postbacks[0].contains(&format!("aid={AID}")),
        "{postbacks:?}"
    );
    assert!(postbacks[0].contains("ct-call-7201_"), "{postbacks:?}");
}

#[tokio::test]
async fn killed_with_pending_postbacks_and_restarted_delivers_each_once() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[503; 40]);
    let mut relay = Relay::start(&rtb, "");
    for n in 0..5 {
        let session = format!("71{n}");
        relay.bind(&session, Some(CT_CLIENT), AID).await;
        assert_eq!(
            relay
                .webhook(&call(&format!("6{n}"), "calldisconnected", &session, ""))
                .await
                .status(),
            200
        );
    }
    relay.wait_status("call-64", "retrying", 5).await;
    relay.kill(); // SIGKILL: no graceful anything
                  // Every attempt already on the wire lands (and is refused by the script) before counting.
    rtb.quiesce().await;
    rtb.script.lock().unwrap().clear();
    let before = rtb.postbacks().len();
    relay.spawn();
    // Postbacks the killed process had claimed wait out its lease (storage.outbox_lease_ms,
    // 6 s in this suite) before the new one claims them.
    for n in 0..5 {
        let t = relay.wait_status(&format!("call-6{n}"), "sent", 30).await;
        assert_eq!(t["status"], "sent", "{t}");
    }
    relay.wait_outbox_empty().await;
    let after: Vec<String> = rtb.postbacks()[before..].to_vec();
    for n in 0..5 {
        let id = format!("ct-call-6{n}_");
        assert_eq!(
            after.iter().filter(|p| p.contains(&id)).count(),
            1,
            "{id} delivered once after restart: {after:?}"
        );
    }
}

#[tokio::test]
async fn bindings_acknowledged_before_a_kill_survive_it() {
    let rtb = Receiver::start().await;
    let mut relay = Relay::start_with(rtb.endpoint(), "", "bindings_per_minute_per_ip = 100000");
    let (first_ack, acked_once) = tokio::sync::oneshot::channel::<()>();
    let first_ack = std::sync::Arc::new(std::sync::Mutex::new(Some(first_ack)));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..400 {
        let url = format!("{}/v1/bindings", relay.url);
        let first_ack = first_ack.clone();
        tasks.spawn(async move {
            let body = format!("{{\"v\":1,\"id\":\"crash-{n}\",\"site\":\"38342\",\"session\":\"{n}\",\"aid\":\"{AID}\"}}");
            let status = client().post(url).header("content-type", "text/plain").body(body).send().await.map(|r| r.status().as_u16()).ok();
            if status == Some(204) {
                if let Some(tx) = first_ack.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
            (n, status)
        });
    }
    acked_once.await.unwrap();
    relay.kill(); // between writes and acks of the requests still under way
    let mut acked = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let (n, Some(204)) = result.unwrap() {
            acked.push(n);
        }
    }
    assert!(!acked.is_empty());
    relay.spawn(); // recovery (WAL replay, on SQLite) happens on open
    let store = storage::open(&relay.storage).await;
    for n in &acked {
        let again: aidlink_protocol::Binding = serde_json::from_str(&format!(
            "{{\"v\":1,\"id\":\"crash-{n}\",\"site\":\"38342\",\"session\":\"{n}\",\"aid\":\"{AID}\"}}"
        ))
        .unwrap();
        assert!(
            !store.put_binding(again, 1).await.unwrap(),
            "binding crash-{n} was acknowledged but is gone after the kill"
        );
    }
    let tables = rows::open(&relay.storage).await.unwrap();
    let stored = tables.count(Table::Bindings).await.unwrap();
    assert!(
        stored as usize >= acked.len(),
        "{stored} stored, {} acknowledged",
        acked.len()
    );
    let first = tables.read_rows(Table::Bindings, None, 1).await.unwrap();
    assert!(matches!(first[0][0], Value::Text(ref site) if site == "38342"));
}
