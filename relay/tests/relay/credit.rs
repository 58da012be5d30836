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
    // Yandex, at a sane time.
    relay.bind("261374993", Some(CT_CLIENT), AID).await;
    // A later visit from elsewhere that claims to be from 1970: it must be ordered by when it
    // arrived, so it is the last visit and the lead is judged on it.
    let body = serde_json::json!({
        "v": 1, "id": "far-past", "site": "38342", "session": "261374993",
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

/// A binding as a site's own backend sends it: no Origin, the RTB House cookie's value as it is,
/// a visit from `utm_source`; the Calltouch visitor id is made from the session.
async fn backend_binding(relay: &Relay, session: &str, aid_cookie: &str, utm_source: &str) -> u16 {
    let body = serde_json::json!({
        "v": 1, "id": format!("backend-{session}"), "site": "38342", "session": session,
        "ct_client": format!("2200000000{session}"), "aid": aid_cookie,
        "touch": { "utm_source": utm_source, "path": "/landing" },
    });
    client()
        .post(format!("{}/v1/bindings", relay.url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_backend_may_send_the_current_tags_json_cookie_as_it_is() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    let uuid = "6dca811d-3ccc-11f1-989d-c722ed84714f";
    let cookie = format!(
        "%7B%22eventType%22%3A%22aid%22%2C%22id%22%3A%22{uuid}%22%2C%22expiryDate%22%3A%222099-04-20T15%3A22%3A01.591Z%22%7D"
    );
    assert_eq!(
        backend_binding(&relay, "261374995", &cookie, "yandex").await,
        204
    );
    let expired = cookie.replace("2099", "2001");
    assert_eq!(
        backend_binding(&relay, "261374996", &expired, "yandex").await,
        400,
        "an expired cookie holds no id"
    );
    let fields = format!(
        "leadtype=call&id=95&callphase=calldisconnected&timestamp={}&sessionId=261374995&ctClientId=2200000000261374995",
        call_timestamp()
    );
    relay.webhook(&fields).await;
    relay.wait_status("call-95", "sent", 5).await;
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].contains(&format!("aid={uuid}&")), "{posts:?}");
}

#[tokio::test]
async fn with_dedup_attribution_cd_says_whether_rtb_house_brought_the_visit() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "dedup = \"attribution\"");
    let ours = "OursAid0123456789ab";
    let theirs = "TheirsAid0123456789";
    assert_eq!(
        backend_binding(&relay, "261374997", ours, "RTB-House").await,
        204
    );
    assert_eq!(
        backend_binding(&relay, "261374998", theirs, "yandex").await,
        204
    );
    for (call_id, session) in [("97", "261374997"), ("98", "261374998")] {
        let fields = format!(
            "leadtype=call&id={call_id}&callphase=calldisconnected&timestamp={}&sessionId={session}&ctClientId=2200000000{session}",
            call_timestamp()
        );
        relay.webhook(&fields).await;
    }
    let ours = relay.wait_status("call-97", "sent", 5).await;
    let theirs = relay.wait_status("call-98", "sent", 5).await;
    assert_eq!(
        (&ours["judged_source"], &ours["cd"]),
        (&"RTB-House".into(), &"false".into())
    );
    assert_eq!(
        (&theirs["judged_source"], &theirs["cd"]),
        (&"yandex".into(), &"true".into())
    );
    let posts = rtb.postbacks();
    let cd_of = |id: &str| {
        posts
            .iter()
            .find(|p| p.contains(&format!("ct-call-{id}_")))
            .map(|p| p.rsplit("&cd=").next().unwrap().to_string())
    };
    assert_eq!(
        (cd_of("97").as_deref(), cd_of("98").as_deref()),
        (Some("false"), Some("true"))
    );
}

#[tokio::test]
async fn a_rotated_cookie_credits_the_visitors_newest_id_and_is_counted() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    let rotated = "Rotated0123456789ab";
    relay.bind("261374999", Some(CT_CLIENT), AID).await;
    relay.bind("261374999", Some(CT_CLIENT), rotated).await;
    relay
        .webhook(&call("99", "calldisconnected", "261374999", ""))
        .await;
    relay.wait_status("call-99", "sent", 5).await;
    let posts = rtb.postbacks();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].contains(&format!("aid={rotated}&")), "{posts:?}");
    let counted = "aidlink_id_conflicts_total{kind=\"session_ids\"} 1\n";
    assert!(relay.metrics().await.contains(counted), "{counted}");
}
