//! Whom a lead is credited to cannot be changed by a third party who knows (or guesses) a
//! Calltouch session id: only what agrees with Calltouch's own report counts.

use crate::support::*;

const FORGED: &str = "Forged0123456789abc";

/// A binding posted with no Origin (a script, not a page), with another visitor id or none.
async fn forge(relay: &Relay, session: &str, ct_client: Option<&str>) {
    let mut body = serde_json::json!({
        "v": 1, "id": format!("forged-{session}-{ct_client:?}"), "site": "38342",
        "session": session, "aid": FORGED,
    });
    if let Some(c) = ct_client {
        body["ct_client"] = c.into();
    }
    let r = client()
        .post(format!("{}/v1/bindings", relay.url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        204,
        "stored: the relay cannot tell it from a site backend"
    );
}

/// One postback reached RTB House, carrying the real visitor's id, and the disagreement was
/// counted as `kind`.
async fn credited_to_the_visitor(rtb: &Receiver, relay: &Relay, kind: &str) {
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].contains(&format!("aid={AID}&")), "{posts:?}");
    let counted = format!("aidlink_id_conflicts_total{{kind=\"{kind}\"}} 1\n");
    assert!(relay.metrics().await.contains(&counted), "{counted}");
}

#[tokio::test]
async fn a_later_binding_from_another_visitor_does_not_take_the_lead() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    relay.bind("261374991", Some(CT_CLIENT), AID).await;
    forge(&relay, "261374991", Some("2200000000000000666")).await;
    forge(&relay, "261374991", None).await;
    relay
        .webhook(&call("90", "calldisconnected", "261374991", ""))
        .await;
    let t = relay.wait_status("call-90", "sent", 5).await;
    assert_eq!(t["status"], "sent", "{t}");
    assert_eq!(t["id_source"], "binding of the session");
    credited_to_the_visitor(&rtb, &relay, "other_visitor").await;
}

#[tokio::test]
async fn calltouch_attrs_win_over_a_binding_that_disagrees() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    // The webhook carries no visitor id, so every binding of the session would count; the
    // page handed its real id to Calltouch with set_attrs, and Calltouch delivers it.
    forge(&relay, "261374992", None).await;
    let attrs = format!("attrs=%7B%22__r_aid_v__%22%3A%22{AID}%22%7D");
    let hook = call("91", "calldisconnected", "261374992", "")
        .replace(&format!("ctClientId={CT_CLIENT}"), "ctClientId=null")
        .replace("attrs=null", &attrs);
    relay.webhook(&hook).await;
    let t = relay.wait_status("call-91", "sent", 5).await;
    assert_eq!(t["status"], "sent", "{t}");
    assert_eq!(
        t["id_source"], "attrs (a binding disagreed and was not used)",
        "the trail records the disagreement: {t}"
    );
    credited_to_the_visitor(&rtb, &relay, "attrs_disagree").await;
}

#[tokio::test]
async fn a_client_time_far_from_the_relays_clock_does_not_reorder_visits() {
    let rtb = Receiver::start().await;
    // Traffic rule: the last visit's source must be yandex.
    let relay = Relay::start(
        &rtb,
        "traffic = [{ field = \"utm_source\", op = \"equals\", value = \"yandex\" }]\n\
         attribution = \"last_click\"",
    );
    relay.bind("261374993", Some(CT_CLIENT), AID).await; // yandex, at a sane time
                                                         // A later visit from elsewhere that claims to be from the year 2554: it must be ordered by
                                                         // when it arrived, so it is the last visit and the lead is judged on it.
    let body = serde_json::json!({
        "v": 1, "id": "far-future", "site": "38342", "session": "261374993",
        "ct_client": CT_CLIENT, "aid": AID,
        "touch": { "utm_source": "spam", "ts": 1000 }
    });
    let r = client()
        .post(format!("{}/v1/bindings", relay.url))
        .header("content-type", "text/plain")
        .header("origin", ORIGIN)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    relay
        .webhook(&call("92", "calldisconnected", "261374993", ""))
        .await;
    let t = relay.wait_status("call-92", "filtered", 5).await;
    assert_eq!(t["reason"], "filtered:traffic:utm_source", "{t}");
}
