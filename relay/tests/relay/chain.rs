//! The chain over real HTTP (real binary, real SQLite file, a fake RTB House on loopback): a
//! binding and a webhook become one postback, whatever the redeliveries, the receiver failures,
//! the switch and the filters waiting for the call end.

use crate::support::*;

#[tokio::test]
async fn binding_then_call_end_posts_once_with_that_aid() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "metrics = [\"target_calls\"]");
    assert_eq!(
        relay.bind("261374990", Some(CT_CLIENT), AID).await.status(),
        204
    );
    assert_eq!(
        relay
            .webhook(&call("5512001", "callconnected", "261374990", ""))
            .await
            .status(),
        200
    );
    let t = relay.wait_status("call-5512001", "waiting", 5).await;
    assert_eq!(t["reason"], "waiting:call_end");
    assert_eq!(
        relay
            .webhook(&call("5512001", "calldisconnected", "261374990", ""))
            .await
            .status(),
        200
    );
    let t = relay.wait_status("call-5512001", "sent", 5).await;
    assert_eq!(t["status"], "sent", "{t}");
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0],
        format!("/omni/postbacks?pkey={PKEY}&aid={AID}&time={}000&tag=pr_{HASH}_conversion_action_call__ct-call-5512001_&cd=default", call_timestamp())
    );
    assert!(
        !posts[0].contains("79161234567") && !posts[0].contains("261374990"),
        "no personal data, no session id"
    );
    let attempts = t["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], 200);
    assert!(
        attempts[0]["url"].as_str().unwrap().contains("pkey=pk***&"),
        "PKEY masked: {}",
        attempts[0]["url"]
    );
    assert_eq!(t["events"].as_array().unwrap().len(), 2);
    assert_eq!(relay.list("sent").await, ["call-5512001"]);
}

#[tokio::test]
async fn redelivered_webhook_posts_once() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    relay.bind("700", Some(CT_CLIENT), AID).await;
    for _ in 0..3 {
        assert_eq!(
            relay
                .webhook(&call("42", "calldisconnected", "700", ""))
                .await
                .status(),
            200
        );
    }
    relay.wait_status("call-42", "sent", 5).await;
    // The three deliveries are judged, then one more comes after the postback went out.
    relay.wait_decided("call-42", 3, 5).await;
    relay
        .webhook(&call("42", "calldisconnected", "700", ""))
        .await;
    // Marker: the fourth is judged too, and nothing is queued or in flight.
    let t = relay.wait_decided("call-42", 4, 5).await;
    relay.wait_outbox_empty().await;
    assert_eq!(rtb.postbacks().len(), 1);
    assert_eq!(t["events"].as_array().unwrap().len(), 4);
    assert_eq!(t["events"][3]["reason"], "already_queued");
}

#[tokio::test]
async fn binding_found_by_calltouch_visitor_id_and_attrs_fallback() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    relay
        .bind("800", Some("2200000000000000001"), "ByClientId012345678")
        .await;
    let by_client = call("43", "calldisconnected", "999", "")
        .replace("2200000000464647719", "2200000000000000001");
    relay.webhook(&by_client).await;
    relay.wait_status("call-43", "sent", 5).await;
    let attrs = "&attrs=%7B%22__r_aid_v__%22%3A%22FromAttrs0123456789%22%7D";
    relay
        .webhook(&call("44", "calldisconnected", "998", attrs).replace("2200000000464647719", "1"))
        .await;
    relay.wait_status("call-44", "sent", 5).await;
    let posts = rtb.postbacks();
    assert!(
        posts.iter().any(|p| p.contains("aid=ByClientId012345678&")),
        "{posts:?}"
    );
    assert!(
        posts.iter().any(|p| p.contains("aid=FromAttrs0123456789&")),
        "{posts:?}"
    );
    relay
        .webhook(&call("45", "calldisconnected", "997", "").replace("2200000000464647719", "2"))
        .await;
    assert_eq!(
        relay.wait_status("call-45", "filtered", 5).await["reason"],
        "no_rtb_id"
    );
}

#[tokio::test]
async fn call_start_only_waits_and_sends_nothing() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "metrics = [\"target_calls\"]");
    relay.bind("701", Some(CT_CLIENT), AID).await;
    relay.webhook(&call("46", "callconnected", "701", "")).await;
    let t = relay.wait_status("call-46", "waiting", 5).await;
    assert_eq!(t["reason"], "waiting:call_end");
    // Marker: the decision is recorded (waiting) and nothing is queued or in flight.
    relay.wait_outbox_empty().await;
    assert!(rtb.postbacks().is_empty());
    assert_eq!(relay.list("waiting").await, ["call-46"]);
}

#[tokio::test]
async fn switch_off_then_on_without_restart() {
    let rtb = Receiver::start().await;
    let mut relay = Relay::start(&rtb, "enabled = false");
    relay.bind("702", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("47", "calldisconnected", "702", ""))
        .await;
    assert_eq!(
        relay.wait_status("call-47", "filtered", 5).await["reason"],
        "switched_off"
    );
    // A broken file is refused and the old settings stay.
    std::fs::write(relay.config_path(), "[server]\nlisten = 'x'\n").unwrap();
    relay.signal("-HUP");
    relay.wait_log("configuration reload refused", 5).await;
    relay
        .webhook(&call("48", "calldisconnected", "702", ""))
        .await;
    assert_eq!(
        relay.wait_status("call-48", "filtered", 5).await["reason"],
        "switched_off"
    );
    // The switch flipped on in the file: picked up by the file watch, no signal, no restart.
    relay.write_config("enabled = true");
    relay.wait_log("configuration reloaded", 6).await;
    relay
        .webhook(&call("47", "calldisconnected", "702", ""))
        .await;
    relay.wait_status("call-47", "sent", 5).await;
    assert_eq!(rtb.postbacks().len(), 1);
}

#[tokio::test]
async fn receiver_failing_twice_then_accepting_gets_one_postback() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[503, 503]);
    let relay = Relay::start(&rtb, "");
    relay.bind("703", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("49", "calldisconnected", "703", ""))
        .await;
    let t = relay.wait_status("call-49", "sent", 10).await;
    assert_eq!(t["status"], "sent", "{t}");
    let statuses: Vec<_> = t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].clone())
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
    relay.wait_outbox_empty().await;
    assert_eq!(
        rtb.postbacks().len(),
        3,
        "two refused attempts and one accepted"
    );
}

#[tokio::test]
async fn refused_postback_is_dead_lettered_then_replayed_once() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[400]);
    let relay = Relay::start(&rtb, "");
    relay.bind("704", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("50", "calldisconnected", "704", ""))
        .await;
    let t = relay.wait_status("call-50", "dead", 5).await;
    assert_eq!(t["attempts"][0]["status"], 400);
    assert_eq!(t["attempts"][0]["error"], "no");
    assert_eq!(relay.list("dead").await, ["call-50"]);
    relay.wait_outbox_empty().await;
    assert_eq!(rtb.postbacks().len(), 1, "a 4xx is not retried");
    let config = relay.config_path();
    let out = relay.cli(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--site",
        "38342",
        "--lead",
        "call-50",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-queued 1"));
    relay.wait_status("call-50", "sent", 5).await;
    relay.wait_outbox_empty().await;
    assert_eq!(rtb.postbacks().len(), 2);
    let again = relay.cli(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--site",
        "38342",
    ]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("re-queued 0"),
        "nothing dead any more"
    );
}

#[tokio::test]
async fn tags_count_as_of_the_call_end_only() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "tags = { names = [\"VIP\"] }");
    relay.bind("707", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("91", "calldisconnected", "707", ""))
        .await;
    assert_eq!(
        relay.wait_status("call-91", "filtered", 5).await["reason"],
        "filtered:tags"
    );
    // Calltouch redelivers the end later with a tag added after the call ended: it does not count.
    relay
        .webhook(&call("91", "calldisconnected", "707", "&tags_api=VIP"))
        .await;
    // Marker: the redelivery is judged, and nothing is queued or in flight.
    let t = relay.wait_decided("call-91", 2, 5).await;
    relay.wait_outbox_empty().await;
    assert_eq!(t["reason"], "filtered:tags", "{t}");
    assert_eq!(t["events"][1]["reason"], "filtered:tags");
    assert!(rtb.postbacks().is_empty());
    // Tagged at the end itself: sent.
    relay
        .webhook(&call("92", "calldisconnected", "707", "&tags_manual=vip"))
        .await;
    relay.wait_status("call-92", "sent", 5).await;
}
