//! Recorded Calltouch webhooks (`relay/tests/fixtures/`, each as Calltouch sent it), sent to the
//! real relay the two ways Calltouch sends them: a form body (POST) and a query string (GET).

use crate::support::*;

/// The recorded webhook `name`, as its URL-encoded fields.
fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

async fn get(relay: &Relay, fields: &str) -> u16 {
    client()
        .get(format!(
            "{}/v1/calltouch/38342?token={WEBHOOK_TOKEN}&{fields}",
            relay.url
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_recorded_web_form_lead_by_get_is_posted_as_a_form_conversion_with_its_attrs_id() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "metrics = [\"requests\"]");
    assert_eq!(get(&relay, &fixture("request.txt")).await, 200);
    let t = relay.wait_status("request-9001234", "sent", 5).await;
    assert_eq!(t["id_source"], "attrs", "{t}");
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(
        posts[0].contains("aid=AttrId0123456789xyz&")
            && posts[0].contains("_conversion_action_form__ct-req-9001234_&"),
        "{posts:?}"
    );
    assert!(
        !posts[0].contains("79035550000") && !posts[0].contains("anna"),
        "no personal data: {posts:?}"
    );
}

#[tokio::test]
async fn a_recorded_call_start_and_end_are_judged_and_a_conversion_over_24_hours_old_is_not_sent() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "metrics = [\"target_calls\"]");
    let bound = relay.bind("261374990", Some(CT_CLIENT), AID).await;
    assert_eq!(bound.status(), 204);
    assert_eq!(get(&relay, &fixture("call_start.txt")).await, 200);
    relay.wait_status("call-5512001", "waiting", 5).await;
    let end = relay.webhook(&fixture("call_end_target.txt")).await;
    assert_eq!(end.status(), 200);
    // The recording's call happened in 2024: RTB House would refuse it, so it is dead-lettered
    // unsent, with the reason.
    let t = relay.wait_status("call-5512001", "dead", 5).await;
    let attempt = &t["attempts"][0];
    assert!(
        attempt["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("too old for RTB House (")),
        "{t}"
    );
    assert_eq!(attempt["url"], "", "nothing was sent");
    // A failed call recorded with `null` for every absent field: `null` reads as absent, so it
    // has no session and no attrs, and nothing to credit.
    assert_eq!(
        relay
            .webhook(&fixture("call_end_failed_nulls.txt"))
            .await
            .status(),
        200
    );
    let failed = relay.wait_decided("call-5512002", 1, 5).await;
    assert_eq!(failed["reason"], "no_rtb_id", "{failed}");
    assert!(failed["lead"]["session_id"].is_null(), "{failed}");
    relay.wait_outbox_empty().await;
    assert!(rtb.postbacks().is_empty(), "{:?}", rtb.postbacks());
}
