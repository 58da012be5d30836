//! Several relays on one PostgreSQL database (run with `AIDLINK_TEST_STORAGE=postgres://…`;
//! on SQLite these say so and pass): work spread over three instances while one is killed and
//! restarted is posted once per lead, with the right id; a database that goes away makes the
//! relay answer 503 with Retry-After and not ready, and it recovers by itself.

use std::time::Duration;

use crate::support::proxy::Proxy;
use crate::support::*;

/// The PostgreSQL server of the run, or `None` (said on stderr) on SQLite.
fn shared_server() -> Option<String> {
    let url = storage::postgres();
    if url.is_none() {
        eprintln!("not a PostgreSQL run (AIDLINK_TEST_STORAGE): several-instance test skipped");
    }
    url
}

fn aid(i: usize) -> String {
    format!("Inst{i:04}Aid0123456789")
}

/// Sends with `send` to the relay `first` picks, or to the next one up when it cannot be
/// reached (what a load balancer does while an instance is down).
async fn spread<F, Fut>(relays: &[Relay], first: usize, send: F) -> u16
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    for k in 0..relays.len() * 20 {
        let relay = &relays[(first + k) % relays.len()];
        if relay.url.is_empty() {
            continue;
        }
        match send(relay.url.clone()).await {
            Ok(r) if r.status().is_success() => return r.status().as_u16(),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("no relay took the request");
}

async fn bind_at(relays: &[Relay], first: usize, i: usize) -> u16 {
    spread(relays, first, |url| {
        let body = serde_json::json!({
            "v": 1, "id": format!("inst-{i}"), "site": "38342", "session": format!("9{i:05}"),
            "ct_client": CT_CLIENT, "aid": aid(i),
            "touch": { "utm_source": "yandex", "ts": 1732500000000u64 }
        });
        client()
            .post(format!("{url}/v1/bindings"))
            .header("content-type", "text/plain")
            .header("origin", ORIGIN)
            .body(body.to_string())
            .send()
    })
    .await
}

async fn hook_at(relays: &[Relay], first: usize, i: usize, phase: &str) -> u16 {
    let fields = call(&format!("8{i:05}"), phase, &format!("9{i:05}"), "");
    spread(relays, first, |url| {
        client()
            .post(format!("{url}/v1/calltouch/38342?token={WEBHOOK_TOKEN}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(fields.clone())
            .send()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_one_killed_post_every_lead_once_with_its_id() {
    let Some(_) = shared_server() else { return };
    let rtb = Receiver::start().await;
    let first = tempfile::tempdir().unwrap();
    let shared = storage::url_for(first.path());
    let start = |dir| Relay::start_on(dir, shared.clone(), rtb.endpoint(), "", "", &[]);
    let mut relays = vec![
        start(first),
        start(tempfile::tempdir().unwrap()),
        start(tempfile::tempdir().unwrap()),
    ];
    const VISITORS: usize = 30;
    for i in 0..VISITORS {
        if i == VISITORS / 2 {
            relays[1].kill(); // SIGKILL, whatever it was doing
            relays[1].url.clear();
        }
        if i == VISITORS / 2 + 5 {
            relays[1].spawn();
        }
        assert_eq!(bind_at(&relays, i, i).await, 204);
        // The start and the end of the call reach two other instances at the same moment.
        let (start, end) = tokio::join!(
            hook_at(&relays, i + 1, i, "callconnected"),
            hook_at(&relays, i + 2, i, "calldisconnected")
        );
        assert_eq!((start, end), (200, 200));
    }
    for i in 0..VISITORS {
        let lead = format!("call-8{i:05}");
        let t = relays[i % 3].wait_status(&lead, "sent", 30).await;
        assert_eq!(t["status"], "sent", "{t}");
    }
    for relay in &relays {
        relay.wait_outbox_empty().await;
    }
    rtb.quiesce().await;
    let posts = rtb.postbacks();
    let mut repeated = 0;
    for i in 0..VISITORS {
        let id = format!("ct-call-8{i:05}_");
        let mine: Vec<&String> = posts.iter().filter(|p| p.contains(&id)).collect();
        assert!(!mine.is_empty(), "{id} never posted: {posts:?}");
        assert!(
            mine.iter().all(|p| p.contains(&format!("aid={}", aid(i)))),
            "{id} posted with another visitor's id: {mine:?}"
        );
        repeated += mine.len() - 1;
    }
    // The one window that may repeat a postback is an instance killed after RTB House accepted
    // it and before recording that: at most the one kill's postbacks in flight.
    assert!(
        repeated <= 1,
        "{repeated} repeated postbacks with one kill: {posts:?}"
    );
    assert_eq!(posts.len(), VISITORS + repeated);
}

/// `url` with its `host:port` replaced by `addr`.
fn via(url: &str, addr: &str) -> String {
    let at = url.find('@').unwrap() + 1;
    let slash = at + url[at..].find('/').unwrap();
    format!("{}{addr}{}", &url[..at], &url[slash..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_means_503_then_recovery_without_restart() {
    let Some(_) = shared_server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let direct = storage::url_for(dir.path());
    let at = direct.find('@').unwrap() + 1;
    let server = direct[at..at + direct[at..].find('/').unwrap()].to_string();
    let proxy = Proxy::start(server).await;
    let rtb = Receiver::start().await;
    let relay = Relay::start_on(dir, via(&direct, &proxy.addr), rtb.endpoint(), "", "", &[]);
    relay.bind("77001", Some(CT_CLIENT), AID).await;

    proxy.cut();
    let refused = relay
        .webhook(&call("7701", "calldisconnected", "77001", ""))
        .await;
    assert_eq!(
        refused.status(),
        503,
        "nothing stored, nothing acknowledged"
    );
    assert_eq!(refused.headers()["retry-after"], "5");
    assert_eq!(relay.bind("77002", None, AID).await.status(), 503);
    wait_until("/readyz 503", Duration::from_secs(10), || async {
        let r = client()
            .get(format!("{}/readyz", relay.url))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            503 => Ok(()),
            s => Err(s),
        }
    })
    .await;

    proxy.restore();
    wait_until(
        "webhooks accepted again",
        Duration::from_secs(15),
        || async {
            let r = relay
                .webhook(&call("7701", "calldisconnected", "77001", ""))
                .await;
            match r.status().as_u16() {
                200 => Ok(()),
                s => Err(s),
            }
        },
    )
    .await;
    let t = relay.wait_status("call-7701", "sent", 15).await;
    assert_eq!(t["status"], "sent", "{t}");
    let r = client()
        .get(format!("{}/readyz", relay.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "ready again, same process");
}
