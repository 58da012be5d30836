//! Bad input over real HTTP gets the right status and stores nothing: a wrong token, a wrong
//! origin, an oversized or malformed body, an unknown site, a wrong content type, a client over
//! its rate limit.

use crate::support::*;

#[tokio::test]
async fn bad_requests_get_the_right_status_and_store_nothing() {
    let rtb = Receiver::start().await;
    let relay = Relay::start_with(rtb.endpoint(), "", "bindings_per_minute_per_ip = 12");
    let post = |body: String, ct: &'static str, origin: &'static str| {
        let url = format!("{}/v1/bindings", relay.url);
        async move {
            client()
                .post(url)
                .header("content-type", ct)
                .header("origin", origin)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let good = |session: &str| {
        format!("{{\"v\":1,\"id\":\"x-{session}\",\"site\":\"38342\",\"session\":\"{session}\",\"ct_client\":\"{CT_CLIENT}\",\"aid\":\"{AID}\"}}")
    };
    assert_eq!(
        post(good("900"), "text/plain", "https://evil.example")
            .await
            .status(),
        403
    );
    assert_eq!(post(good("901"), "text/plain", ORIGIN).await.status(), 204);
    let r = post("{not json".into(), "text/plain", ORIGIN).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        ORIGIN,
        "errors readable by the page"
    );
    assert_eq!(
        post(
            good("902").replace("\"aid\":\"", "\"aid\":\"a b"),
            "text/plain",
            ORIGIN
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        post(good("903"), "application/xml", ORIGIN).await.status(),
        415
    );
    assert_eq!(
        post(
            format!("{} {}", good("904"), " ".repeat(5000)),
            "text/plain",
            ORIGIN
        )
        .await
        .status(),
        413
    );
    assert_eq!(
        post(
            good("905").replace("38342", "1"),
            "application/json",
            ORIGIN
        )
        .await
        .status(),
        404
    );
    let wrong_token = call("70", "calldisconnected", "901", "");
    let response = relay
        .webhook_to("38342", "wrong-token-0123456789", &wrong_token)
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(relay.webhook("leadtype=call&id=null").await.status(), 400);
    let unknown = client()
        .get(format!(
            "{}/v1/calltouch/1?token={WEBHOOK_TOKEN}&leadtype=call&id=1",
            relay.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        401,
        "an unknown site answers as a wrong token does: site ids cannot be probed"
    );
    // Only the one good binding was stored: a call on each session shows which have an id
    // (the refused sessions' calls carry no Calltouch visitor id, so only a binding of their
    // own session could give them one).
    relay
        .webhook(&call("71", "calldisconnected", "901", ""))
        .await;
    relay
        .webhook(&call("72", "calldisconnected", "900", "").replace(CT_CLIENT, "null"))
        .await;
    relay
        .webhook(&call("73", "calldisconnected", "904", "").replace(CT_CLIENT, "null"))
        .await;
    assert_eq!(
        relay.wait_status("call-71", "sent", 5).await["status"],
        "sent"
    );
    assert_eq!(
        relay.wait_status("call-72", "filtered", 5).await["reason"],
        "no_rtb_id"
    );
    assert_eq!(
        relay.wait_status("call-73", "filtered", 5).await["reason"],
        "no_rtb_id"
    );
    // Marker: the later webhooks are decided, so the refused one would be stored by now.
    assert!(
        relay.trail("call-70").await.is_null(),
        "nothing stored for a refused webhook"
    );
    // Over the per-IP limit: 429 with Retry-After, the seconds until one more is allowed (the
    // bucket of 12 a minute gains one every 5 s).
    let mut limited = None;
    for n in 0..25 {
        let r = post(good(&format!("95{n}")), "text/plain", ORIGIN).await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("the per-IP limit refuses with 429");
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&wait), "Retry-After {wait}");
    // Admin API needs the token.
    let r = client()
        .get(format!("{}/v1/sites/38342/leads?status=sent", relay.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .get(format!("{}/v1/sites/38342/leads?status=bogus", relay.url))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
