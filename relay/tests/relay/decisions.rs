//! Decisions over real HTTP: what a lead is judged on when more arrives after it.

use crate::support::*;

#[tokio::test]
async fn a_visit_after_the_call_does_not_change_its_traffic_decision() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(
        &rtb,
        "attribution = \"last_click\"\n\
         traffic = [{ field = \"utm_source\", op = \"equals\", value = \"google\" }]",
    );
    relay.bind("708", Some(CT_CLIENT), AID).await; // a yandex visit before the call
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
    let t = relay.wait_decided("call-93", 2, 5).await;
    assert_eq!(
        t["events"][1]["reason"], "filtered:traffic:utm_source",
        "{t}"
    );
    assert_eq!(t["reason"], "filtered:traffic:utm_source");
    relay.wait_outbox_empty().await;
    assert!(rtb.postbacks().is_empty());
}

#[tokio::test]
async fn a_site_without_its_pkey_yet_records_misconfigured_and_sends_nothing() {
    let rtb = Receiver::start().await;
    let mut relay = Relay::start(&rtb, "enabled = true");
    // Restart it on the site without its PKEY: valid, with a warning.
    relay.kill();
    let text = std::fs::read_to_string(relay.config_path()).unwrap();
    let without = text.replace(&format!("pkey = \"{PKEY}\"\n"), "");
    assert_ne!(text, without);
    std::fs::write(relay.config_path(), without).unwrap();
    relay.spawn();
    let warning =
        "site[0].pkey: not set: this site's leads are recorded as misconfigured, nothing is sent";
    relay.wait_log(warning, 5).await;
    let config = relay.config_path();
    let check = relay.cli(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&check.stderr),
        format!("warning: {warning}\n")
    );

    assert_eq!(relay.bind("720", Some(CT_CLIENT), AID).await.status(), 204);
    let r = relay
        .webhook(&call("60", "calldisconnected", "720", ""))
        .await;
    assert_eq!(r.status(), 200);
    let t = relay.wait_status("call-60", "filtered", 5).await;
    assert_eq!(t["reason"], "misconfigured:pkey", "{t}");
    assert_eq!(t["events"][0]["reason"], "misconfigured:pkey", "{t}");
    assert_eq!(relay.list("filtered").await, ["call-60"]);
    relay.wait_outbox_empty().await;
    assert!(rtb.postbacks().is_empty(), "{:?}", rtb.postbacks());

    // The PKEY arrives: new leads go; the one recorded misconfigured stays so (not resent).
    relay
        .reload_with(|text| text.replace("[[site]]\n", &format!("[[site]]\npkey = \"{PKEY}\"\n")))
        .await;
    relay
        .webhook(&call("61", "calldisconnected", "720", ""))
        .await;
    assert_eq!(
        relay.wait_status("call-61", "sent", 5).await["status"],
        "sent"
    );
    relay.wait_outbox_empty().await;
    assert_eq!(relay.trail("call-60").await["reason"], "misconfigured:pkey");
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].contains("ct-call-61"), "{posts:?}");
}
