//! Decisions over real HTTP: what a lead is judged on when more arrives after it.
mod support;

use support::*;

#[tokio::test]
async fn a_visit_after_the_call_does_not_change_its_traffic_decision() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(
        &rtb,
        "attribution = \"last_click\"\n\
         traffic = [{ field = \"utm_source\", op = \"equals\", value = \"google\" }]",
    );
    relay.bind("708", None, AID).await; // a yandex visit before the call
    relay
        .webhook(&call("93", "calldisconnected", "708", ""))
        .await;
    assert_eq!(
        relay.wait_status("call-93", "filtered", 5).await["reason"],
        "filtered:traffic:utm_source"
    );
    // The next day the visitor comes back from google, same session.
    let later = serde_json::json!({
        "v": 1, "id": "b-708-later", "site": "38342", "session": "708", "aid": AID,
        "touch": { "utm_source": "google", "utm_medium": "cpc", "ts": 1732600000000u64 }
    });
    let r = client()
        .post(format!("{}/v1/bindings", relay.url))
        .header("content-type", "text/plain")
        .header("origin", ORIGIN)
        .body(later.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Calltouch redelivers the same call end.
    relay
        .webhook(&call("93", "calldisconnected", "708", ""))
        .await;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let t = loop {
        let t = relay.trail("call-93").await;
        let decided = t["events"]
            .as_array()
            .is_some_and(|e| e.len() == 2 && !e[1]["reason"].is_null());
        if decided || std::time::Instant::now() > until {
            break t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        t["events"][1]["reason"], "filtered:traffic:utm_source",
        "{t}"
    );
    assert_eq!(t["reason"], "filtered:traffic:utm_source");
    settle().await;
    assert!(rtb.postbacks().is_empty());
}
