//! Postback delivery over real HTTP against the fake RTB House: each attempt is built from
//! the site's settings at that moment, and what RTB House answers decides what comes next.

use std::time::Duration;

use crate::support::*;
use aidlink_relay::store::rows::{Table, Value};

#[tokio::test]
async fn replay_after_fixing_the_pkey_sends_the_new_pkey_once() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[400]); // RTB House refuses the PKEY
    let relay = Relay::start(&rtb, "");
    relay.bind("704", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("50", "calldisconnected", "704", ""))
        .await;
    relay.wait_status("call-50", "dead", 5).await;
    // The operator fixes the PKEY (and moves the site to another region) and replays.
    relay
        .reload_with(|text| {
            text.replace(PKEY, "fixed-pkey-0001")
                .replace("[[site]]\n", "[[site]]\nregion = \"us\"\n")
        })
        .await;
    assert!(relay.replay(Some("call-50")).contains("re-queued 1"));
    let t = relay.wait_status("call-50", "sent", 5).await;
    assert_eq!(t["status"], "sent", "{t}");
    relay.wait_outbox_empty().await;
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts[0].contains(&format!("pkey={PKEY}&")), "{posts:?}");
    assert_eq!(
        posts[1],
        format!("/us/postbacks?pkey=fixed-pkey-0001&aid={AID}&time={}000&tag=pr_{HASH}_conversion_action_call__ct-call-50_&cd=default", call_timestamp())
    );
    let urls: Vec<&str> = t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["url"].as_str().unwrap())
        .collect();
    assert!(
        urls[1].starts_with("http://") && urls[1].contains("/us/postbacks?pkey=fi***&"),
        "the attempt shows the URL it used, PKEY masked: {urls:?}"
    );
}

#[tokio::test]
async fn switched_off_before_delivery_is_not_sent_until_switched_on_and_replayed() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[503; 10_000]); // RTB House is down for now
    let relay = Relay::start(&rtb, "");
    relay.bind("709", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("51", "calldisconnected", "709", ""))
        .await;
    relay.wait_status("call-51", "retrying", 5).await;
    relay
        .reload_with(|text| text.replace("[[site]]\n", "[[site]]\nenabled = false\n"))
        .await;
    let t = relay.wait_status("call-51", "dead", 5).await;
    assert_eq!(t["status"], "dead", "{t}");
    let last = t["attempts"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["error"], "switched off before delivery", "{t}");
    assert!(last["status"].is_null(), "nothing was sent: {last}");
    relay.wait_outbox_empty().await;
    let sent_while_on = rtb.postbacks().len();
    // Marker: a later call while off is judged, and still nothing is queued or in flight.
    relay
        .webhook(&call("5101", "calldisconnected", "709", ""))
        .await;
    assert_eq!(
        relay.wait_status("call-5101", "filtered", 5).await["reason"],
        "switched_off"
    );
    relay.wait_outbox_empty().await;
    assert_eq!(rtb.postbacks().len(), sent_while_on, "no attempt once off");
    // RTB House is back; the operator switches the site on and replays its dead letters.
    rtb.script.lock().unwrap().clear();
    relay
        .reload_with(|text| text.replace("enabled = false\n", ""))
        .await;
    assert!(relay.replay(None).contains("re-queued 1"));
    relay.wait_status("call-51", "sent", 5).await;
    relay.wait_outbox_empty().await;
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), sent_while_on + 1, "delivered once: {posts:?}");
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let rtb = Receiver::start().await;
    let in_an_hour = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    rtb.reply_next(
        503,
        &format!("retry-after: {}\r\n", httpdate::fmt_http_date(in_an_hour)),
    );
    let relay = Relay::start(&rtb, ""); // retries after 100–300 ms on its own
    relay.bind("710", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("52", "calldisconnected", "710", ""))
        .await;
    wait_until("an attempt for call-52", Duration::from_secs(5), || async {
        let t = relay.trail("call-52").await;
        match t["attempts"].as_array() {
            Some(a) if !a.is_empty() => Ok(()),
            _ => Err(t),
        }
    })
    .await;
    // Marker: a later postback refused three times without a Retry-After is retried on the
    // relay's own schedule (at least 50 + 100 + 150 ms) and delivered; by then call-52's own
    // schedule (at most retry_cap_ms = 300 ms) would have come due long ago.
    rtb.fail_next(&[503, 503, 503]);
    relay.bind("7102", None, AID).await;
    relay
        .webhook(&call("5201", "calldisconnected", "7102", ""))
        .await;
    let marker = relay.wait_status("call-5201", "sent", 10).await;
    assert_eq!(marker["attempts"].as_array().unwrap().len(), 4, "{marker}");
    let t = relay.trail("call-52").await;
    assert_eq!(t["status"], "retrying", "{t}");
    assert_eq!(t["attempts"].as_array().unwrap().len(), 1, "{t}");
    let posts = rtb.postbacks();
    assert_eq!(
        posts.iter().filter(|p| p.contains("ct-call-52_")).count(),
        1,
        "not retried before the date: {posts:?}"
    );
    let tables = aidlink_relay::store::rows::open(&relay.storage)
        .await
        .unwrap();
    let outbox = tables.read_rows(Table::Outbox, None, 100).await.unwrap();
    let row = outbox
        .iter()
        .find(|r| r[1] == Value::Text("call-52".into()))
        .expect("call-52 in the outbox");
    let Value::Int(next_at) = row[8] else {
        panic!("next_at_ms: {row:?}")
    };
    let attempted_at = t["attempts"][0]["at_ms"].as_i64().unwrap();
    assert!(
        next_at - attempted_at >= 3_590_000,
        "next attempt {} ms after the 503",
        next_at - attempted_at
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_dead_letters_the_postback() {
    let rtb = Receiver::start().await;
    rtb.reply_next(302, &format!("location: http://{}/elsewhere\r\n", rtb.addr));
    let relay = Relay::start(&rtb, "");
    relay.bind("711", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("53", "calldisconnected", "711", ""))
        .await;
    let t = relay.wait_status("call-53", "dead", 5).await;
    assert_eq!(t["status"], "dead", "{t}");
    assert_eq!(t["attempts"][0]["status"], 302);
    relay.wait_outbox_empty().await;
    assert_eq!(rtb.postbacks().len(), 1, "{:?}", rtb.postbacks());
    assert_eq!(*rtb.methods.lock().unwrap(), ["POST"]);
}

#[tokio::test]
async fn a_pkey_removed_before_delivery_is_never_sent_empty() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[503; 10_000]); // RTB House is down for now
    let relay = Relay::start(&rtb, "");
    relay.bind("711", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("52", "calldisconnected", "711", ""))
        .await;
    relay.wait_status("call-52", "retrying", 5).await;
    relay
        .reload_with(|text| text.replace(&format!("pkey = \"{PKEY}\"\n"), ""))
        .await;
    let t = relay.wait_status("call-52", "dead", 5).await;
    assert_eq!(t["status"], "dead", "{t}");
    let last = t["attempts"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["error"], "pkey not set before delivery", "{t}");
    assert!(last["status"].is_null(), "nothing was sent: {last}");
    relay.wait_outbox_empty().await;
    let posts = rtb.postbacks();
    assert!(
        posts.iter().all(|p| p.contains(&format!("pkey={PKEY}&"))),
        "{posts:?}"
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_is_retried_after_the_timeout() {
    let rtb = Receiver::start().await;
    rtb.hang_next(1);
    let relay = Relay::start(&rtb, ""); // rtbhouse.timeout_ms = 1000
    relay.bind("705", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("55", "calldisconnected", "705", ""))
        .await;
    let t = relay.wait_status("call-55", "sent", 10).await;
    let attempts: Vec<(serde_json::Value, serde_json::Value)> = t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["status"].clone(), a["error"].clone()))
        .collect();
    assert_eq!(
        attempts,
        [
            (serde_json::Value::Null, "timeout".into()),
            (200.into(), serde_json::Value::Null)
        ],
        "{t}"
    );
    relay.wait_outbox_empty().await;
    assert_eq!(
        rtb.postbacks().len(),
        2,
        "the silent attempt, then one accepted"
    );
}

#[tokio::test]
async fn a_postback_past_24_hours_is_not_sent_and_replay_refuses_it_unless_forced() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    relay.bind("705", Some(CT_CLIENT), AID).await;
    // A call that ended 25 hours ago (its webhook arrives late, or the relay was down).
    let then = call_timestamp() - 25 * 3600;
    let late = call("51", "calldisconnected", "705", "").replace(
        &format!("timestamp={}", call_timestamp()),
        &format!("timestamp={then}"),
    );
    relay.webhook(&late).await;
    let t = relay.wait_status("call-51", "dead", 5).await;
    assert_eq!(t["status"], "dead", "{t}");
    assert_eq!(
        t["attempts"][0]["error"], "too old for RTB House (25h)",
        "dead-lettered with the reason, nothing sent: {t}"
    );
    assert_eq!(t["attempts"][0]["url"], "");
    // replay refuses it and says why; the lead stays dead.
    let config = relay.config_path();
    let args = [
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--site",
        "38342",
        "--lead",
        "call-51",
    ];
    let refused = relay.cli(&args);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("call-51: not re-queued: too old for RTB House (25h)"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&refused.stdout).contains("re-queued 0"));
    assert_eq!(relay.trail("call-51").await["status"], "dead");
    // --force sends it once, whatever its age.
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = relay.cli(&forced);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-queued 1"));
    let t = relay.wait_status("call-51", "sent", 5).await;
    assert_eq!(t["status"], "sent", "{t}");
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].contains(&format!("&time={then}000&")), "{posts:?}");
}

/// A second site: region `us` (so its postbacks go to `/us/…` at the fake RTB House), with
/// the RTB House id in `attrs` (no binding needed).
const SECOND_SITE: &str = "region = \"omni\"\n[[site]]\nid = \"555\"\nregion = \"us\"\n\
    pkey = \"pkey-second-0001\"\ntagging_hash = \"IYIhaCDSPfPoVd4FIEF1\"\n\
    webhook_token = \"hook-token-second-01\"\n";

fn call_with_attrs(id: &str) -> String {
    call(id, "calldisconnected", "999", "").replace(
        "attrs=null",
        "attrs=%7B%22__r_aid_v__%22%3A%22SecondAid0123456789%22%7D",
    )
}

#[tokio::test]
async fn a_site_whose_rtb_house_hangs_does_not_hold_up_another_site() {
    let rtb = Receiver::start().await;
    rtb.hang_path("/omni/");
    // Long enough that the first site's first attempts are all still hanging when the second
    // site's postback must go out. Restarted on the edited file, not reloaded: a SIGHUP this
    // soon after start can arrive before the relay handles it, and kill it.
    let mut relay = Relay::start_with(rtb.endpoint(), SECOND_SITE, "");
    relay.kill();
    let text = std::fs::read_to_string(relay.config_path()).unwrap();
    let slow = text.replace("timeout_ms = 1000", "timeout_ms = 20000");
    assert_ne!(text, slow);
    std::fs::write(relay.config_path(), slow).unwrap();
    relay.spawn();
    for i in 0..30 {
        relay.bind(&format!("80{i}"), Some(CT_CLIENT), AID).await;
        let r = relay
            .webhook(&call(
                &format!("9{i}"),
                "calldisconnected",
                &format!("80{i}"),
                "",
            ))
            .await;
        assert_eq!(r.status(), 200);
    }
    // The first site now holds every slot it may (15 of 16), all hanging.
    rtb.wait_for("15 hanging attempts of the first site", 10, |posts| {
        posts.iter().filter(|p| p.starts_with("/omni/")).count() >= 15
    })
    .await;
    let r = relay
        .webhook_to("555", "hook-token-second-01", &call_with_attrs("77"))
        .await;
    assert_eq!(r.status(), 200);
    rtb.wait_for("the second site's postback", 10, |posts| {
        posts.iter().any(|p| p.starts_with("/us/"))
    })
    .await;
    let omni: Vec<String> = rtb
        .postbacks()
        .into_iter()
        .filter(|p| p.starts_with("/omni/"))
        .collect();
    let mut distinct = omni.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        (omni.len(), distinct.len()),
        (15, 15),
        "the second site's postback went out while the first site's first attempts still hung \
         (none of them retried yet), in the one slot the first site may not take"
    );
}
