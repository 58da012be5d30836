//! Ingest over real HTTP: webhooks by GET query or POST body, which client address a webhook
//! comes from (the IP allow-list, dual-stack listeners, trusted proxies), which bodies it may
//! carry, and what a binding sent twice stores.

use crate::support::*;

/// A Calltouch webhook sent with these extra headers; the status it got.
async fn hook_with(relay: &Relay, id: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = client()
        .post(format!(
            "{}/v1/calltouch/38342?token={WEBHOOK_TOKEN}",
            relay.url
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(call(id, "calldisconnected", "1", ""));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn ipv4_client_of_a_dual_stack_listener_matches_an_ipv4_allow_list() {
    let rtb = Receiver::start().await;
    // On `[::]` an IPv4 peer shows as ::ffff:127.0.0.1; it is the IPv4 client 127.0.0.1.
    let relay = Relay::start_with(
        rtb.endpoint(),
        "webhook_ip_allow = [\"127.0.0.0/8\"]",
        "listen = \"[::]:0\"",
    );
    assert_eq!(hook_with(&relay, "101", &[]).await, 200);
    let outside = Relay::start_with(
        rtb.endpoint(),
        "webhook_ip_allow = [\"92.118.66.0/23\"]",
        "listen = \"[::]:0\"",
    );
    // The 403 is the marker: a webhook is stored before it is answered.
    assert_eq!(hook_with(&outside, "102", &[]).await, 403);
    assert!(outside.trail("call-102").await.is_null(), "nothing stored");
    // Likewise an IPv4-mapped address forwarded by a trusted proxy.
    let proxied = Relay::start_with(
        rtb.endpoint(),
        "webhook_ip_allow = [\"92.118.66.0/23\"]",
        "trusted_proxies = [\"127.0.0.1/32\"]",
    );
    let xff = ("x-forwarded-for", "::ffff:92.118.66.10");
    assert_eq!(hook_with(&proxied, "103", &[xff]).await, 200);
}

#[tokio::test]
async fn forwarded_for_takes_the_right_most_address_no_trusted_proxy_added() {
    let rtb = Receiver::start().await;
    // The relay sits behind a proxy on 127.0.0.1 (and one on 10.0.0.0/8 in front of it).
    let relay = Relay::start_with(
        rtb.endpoint(),
        "webhook_ip_allow = [\"92.118.66.0/23\"]",
        "trusted_proxies = [\"127.0.0.1/32\", \"10.0.0.0/8\"]",
    );
    let xff = "x-forwarded-for";
    assert_eq!(
        hook_with(&relay, "111", &[(xff, "92.118.66.10")]).await,
        200,
        "Calltouch through the proxy"
    );
    assert_eq!(
        hook_with(&relay, "112", &[(xff, "92.118.66.10, 10.1.2.3")]).await,
        200,
        "through two trusted proxies"
    );
    assert_eq!(
        hook_with(&relay, "114", &[(xff, "92.118.66.10, 203.0.113.7")]).await,
        403,
        "a client's forged value left of the address the proxy saw"
    );
    assert_eq!(
        hook_with(
            &relay,
            "115",
            &[(xff, "92.118.66.10"), (xff, "203.0.113.7")]
        )
        .await,
        403,
        "the proxy appended its own header line: the last line counts"
    );
    let untrusted = Relay::start_with(
        rtb.endpoint(),
        "webhook_ip_allow = [\"92.118.66.0/23\"]",
        "",
    );
    assert_eq!(
        hook_with(&untrusted, "116", &[(xff, "92.118.66.10")]).await,
        403,
        "without a trusted proxy the header is ignored"
    );
}

#[tokio::test]
async fn webhook_form_body_whatever_the_case_of_its_type_or_with_none() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    let url = format!("{}/v1/calltouch/38342?token={WEBHOOK_TOKEN}", relay.url);
    let sent = |body: String, content_type: Option<&'static str>| {
        let mut request = client().post(&url).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        async move { request.send().await.unwrap() }
    };
    let r = sent(
        call("121", "calldisconnected", "1", ""),
        Some("Application/X-WWW-Form-Urlencoded; Charset=UTF-8"),
    )
    .await;
    assert_eq!(r.status(), 200, "media types are case-insensitive");
    let r = sent(call("122", "calldisconnected", "1", ""), None).await;
    assert_eq!(
        r.status(),
        200,
        "no content type: a form body is read as a form"
    );
    for lead in ["call-121", "call-122"] {
        assert_eq!(
            relay.wait_status(lead, "filtered", 5).await["reason"],
            "no_rtb_id",
            "{lead} stored and decided"
        );
    }
    let r = sent(
        "{\"leadtype\":\"call\",\"id\":\"123\"}".into(),
        Some("application/json"),
    )
    .await;
    assert_eq!(r.status(), 415);
    let error: serde_json::Value = r.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("application/x-www-form-urlencoded"),
        "{error}"
    );
    // Fields in the query with an empty body of any declared type are fine.
    let r = client()
        .post(format!(
            "{url}&{}",
            call("124", "calldisconnected", "1", "")
        ))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(relay.trail("call-123").await.is_null(), "nothing stored");
}

#[tokio::test]
async fn the_same_binding_id_on_two_sites_is_two_bindings() {
    let rtb = Receiver::start().await;
    let second = format!(
        "\n[[site]]\nid = \"555\"\npkey = \"{PKEY}\"\ntagging_hash = \"{HASH}\"\n\
         webhook_token = \"{WEBHOOK_TOKEN}\"\nallowed_origins = [\"{ORIGIN}\"]\n"
    );
    let relay = Relay::start(&rtb, &second);
    // A site's backend makes its own ids (its order number, say): they collide across sites.
    let bind = |site: &str, session: &str, aid: &str| {
        let body = serde_json::json!({
            "v": 1, "id": "order-1", "site": site, "session": session, "aid": aid
        });
        let url = format!("{}/v1/bindings", relay.url);
        async move {
            client()
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(bind("38342", "1001", AID).await, 204);
    assert_eq!(bind("555", "2002", "OtherAid0123456789").await, 204);
    let hook = |id: &str, session: &str| {
        // Without a Calltouch visitor id, every binding of the session counts.
        call(id, "calldisconnected", session, "")
            .replace(&format!("ctClientId={CT_CLIENT}"), "ctClientId=null")
    };
    let response = relay
        .webhook_to("555", WEBHOOK_TOKEN, &hook("7", "2002"))
        .await;
    assert_eq!(response.status(), 200);
    let response = relay
        .webhook_to("38342", WEBHOOK_TOKEN, &hook("8", "1001"))
        .await;
    assert_eq!(response.status(), 200);
    let wait_sent = |site: &'static str, lead: &'static str| {
        let url = format!("{}/v1/sites/{site}/leads/{lead}", relay.url);
        async move {
            let what = format!("site {site}'s {lead} sent or filtered");
            wait_until(&what, std::time::Duration::from_secs(5), || async {
                let r = client().get(&url).bearer_auth(ADMIN).send().await.unwrap();
                if r.status() != 200 {
                    return Err(serde_json::Value::from(r.status().as_u16()));
                }
                let t: serde_json::Value = r.json().await.unwrap();
                if t["status"] == "sent" || t["status"] == "filtered" {
                    Ok(t)
                } else {
                    Err(t)
                }
            })
            .await
        }
    };
    assert_eq!(wait_sent("555", "call-7").await["reason"], "queued");
    assert_eq!(wait_sent("38342", "call-8").await["reason"], "queued");
    let posts = rtb.postbacks();
    assert!(
        posts.iter().any(|p| p.contains("aid=OtherAid0123456789&")),
        "{posts:?}"
    );
    assert!(
        posts.iter().any(|p| p.contains(&format!("aid={AID}&"))),
        "{posts:?}"
    );
}

#[tokio::test]
async fn the_same_binding_posted_twice_is_stored_once() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    // The module retries a POST whose answer it lost: the same `id` again.
    assert_eq!(relay.bind("730", Some(CT_CLIENT), AID).await.status(), 204);
    assert_eq!(relay.bind("730", Some(CT_CLIENT), AID).await.status(), 204);
    let metrics = relay.metrics().await;
    for line in [
        "aidlink_bindings_total{result=\"accepted\"} 1\n",
        "aidlink_bindings_total{result=\"duplicate\"} 1\n",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn webhook_by_get_query_and_ip_allow_list() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "webhook_ip_allow = [\"92.118.66.0/23\"]");
    let url = format!(
        "{}/v1/calltouch/38342?token={WEBHOOK_TOKEN}&{}",
        relay.url,
        call("80", "calldisconnected", "1", "")
    );
    assert_eq!(
        client().get(&url).send().await.unwrap().status(),
        403,
        "127.0.0.1 is outside 92.118.66.0/23"
    );
    let open = Relay::start(&rtb, "");
    let url = format!(
        "{}/v1/calltouch/38342?token={WEBHOOK_TOKEN}&{}",
        open.url,
        call("81", "calldisconnected", "1", "")
    );
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        open.wait_status("call-81", "filtered", 5).await["reason"],
        "no_rtb_id"
    );
}
