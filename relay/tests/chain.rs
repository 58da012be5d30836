//! The relay over real HTTP: real binary, real SQLite file, a fake RTB House on loopback.
mod support;

use std::time::Duration;

use support::*;

#[tokio::test]
async fn binding_then_call_end_posts_once_with_that_aid() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "metrics = [\"target_calls\"]");
    assert_eq!(relay.bind("261374990", None, AID).await.status(), 204);
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
        format!("/omni/postbacks?pkey={PKEY}&aid={AID}&time=1732500100000&tag=pr_{HASH}_conversion_action_call__ct-call-5512001_&cd=default")
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
    relay.bind("700", Some("2200000000464647719"), AID).await;
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
    settle().await;
    relay
        .webhook(&call("42", "calldisconnected", "700", ""))
        .await;
    settle().await;
    assert_eq!(rtb.postbacks().len(), 1);
    let t = relay.trail("call-42").await;
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
    relay.bind("701", None, AID).await;
    relay.webhook(&call("46", "callconnected", "701", "")).await;
    let t = relay.wait_status("call-46", "waiting", 5).await;
    assert_eq!(t["reason"], "waiting:call_end");
    settle().await;
    assert!(rtb.postbacks().is_empty());
    assert_eq!(relay.list("waiting").await, ["call-46"]);
}

#[tokio::test]
async fn switch_off_then_on_without_restart() {
    let rtb = Receiver::start().await;
    let mut relay = Relay::start(&rtb, "enabled = false");
    relay.bind("702", None, AID).await;
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        relay.logs().contains("configuration reload refused"),
        "{}",
        relay.logs()
    );
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
    relay.bind("703", None, AID).await;
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
    settle().await;
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
    relay.bind("704", None, AID).await;
    relay
        .webhook(&call("50", "calldisconnected", "704", ""))
        .await;
    let t = relay.wait_status("call-50", "dead", 5).await;
    assert_eq!(t["attempts"][0]["status"], 400);
    assert_eq!(t["attempts"][0]["error"], "no");
    assert_eq!(relay.list("dead").await, ["call-50"]);
    settle().await;
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
    settle().await;
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
async fn killed_with_pending_postbacks_and_restarted_delivers_each_once() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[503; 40]);
    let mut relay = Relay::start(&rtb, "");
    for n in 0..5 {
        let session = format!("71{n}");
        relay.bind(&session, None, AID).await;
        assert_eq!(
            relay
                .webhook(&call(&format!("6{n}"), "calldisconnected", &session, ""))
                .await
                .status(),
            200
        );
    }
    relay.wait_status("call-64", "retrying", 5).await;
    relay.kill(); // SIGKILL: no graceful anything
                  // Let any attempt already on the wire land (and be refused by the script) before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    rtb.script.lock().unwrap().clear();
    let before = rtb.postbacks().len();
    relay.spawn();
    for n in 0..5 {
        let t = relay.wait_status(&format!("call-6{n}"), "sent", 15).await;
        assert_eq!(t["status"], "sent", "{t}");
    }
    settle().await;
    let after: Vec<String> = rtb.postbacks()[before..].to_vec();
    for n in 0..5 {
        let id = format!("ct-call-6{n}_");
        assert_eq!(
            after.iter().filter(|p| p.contains(&id)).count(),
            1,
            "{id} delivered once after restart: {after:?}"
        );
    }
}

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
        format!("{{\"v\":1,\"id\":\"x-{session}\",\"site\":\"38342\",\"session\":\"{session}\",\"aid\":\"{AID}\"}}")
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
    assert_eq!(unknown.status(), 404);
    settle().await;
    assert!(
        relay.trail("call-70").await.is_null(),
        "nothing stored for a refused webhook"
    );
    // Only the one good binding was stored: a call on each session shows which have an id.
    relay
        .webhook(&call("71", "calldisconnected", "901", ""))
        .await;
    relay
        .webhook(&call("72", "calldisconnected", "900", ""))
        .await;
    relay
        .webhook(&call("73", "calldisconnected", "904", ""))
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
    // Over the per-IP limit: 429 with Retry-After. The limit counts per clock minute, so
    // allow for one minute rolling over during the loop (at most 2 × 12 posts then).
    let mut limited = None;
    for n in 0..25 {
        let r = post(good(&format!("95{n}")), "text/plain", ORIGIN).await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("the per-IP limit refuses with 429");
    assert_eq!(limited.headers()["retry-after"], "60");
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

#[tokio::test]
async fn cors_preflight_bundle_files_and_operator_endpoints() {
    let rtb = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("aidlink.js"), "console.log(1)").unwrap();
    std::fs::write(dir.path().join("aidlink_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let relay = Relay::start_with(
        rtb.endpoint(),
        "",
        &format!("assets_dir = \"{}\"", dir.path().display()),
    );
    let r = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/bindings", relay.url),
        )
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let r = client()
        .get(format!("{}/aidlink_bg.wasm", relay.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age=604800"));
    let etag = r.headers()["etag"].clone();
    let r = client()
        .get(format!("{}/aidlink_bg.wasm", relay.url))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = client()
        .get(format!("{}/aidlink.js", relay.url))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(
        client()
            .get(format!("{}/../relay.toml", relay.url))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client()
            .get(format!("{}/healthz", relay.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(format!("{}/readyz", relay.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    relay.bind("705", None, AID).await;
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("aidlink_bindings_total{result=\"accepted\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("aidlink_outbox_depth 0"));
}

#[tokio::test]
async fn logs_never_contain_secrets_or_personal_data() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[503]);
    let relay = Relay::start(&rtb, "");
    relay.bind("706", None, AID).await;
    relay
        .webhook(&call("90", "calldisconnected", "706", ""))
        .await;
    relay.wait_status("call-90", "sent", 5).await;
    client()
        .get(format!(
            "{}/v1/calltouch/38342?token=wrong-{WEBHOOK_TOKEN}",
            relay.url
        ))
        .send()
        .await
        .unwrap();
    // A reload refused for a PKEY of the wrong type: the refusal is logged, the value is not.
    let text = std::fs::read_to_string(relay.config_path()).unwrap();
    let typo = text.replace(&format!("pkey = \"{PKEY}\""), "pkey = 98765432123");
    assert_ne!(text, typo);
    std::fs::write(relay.config_path(), typo).unwrap();
    relay.signal("-HUP");
    relay.wait_log("configuration reload refused", 5).await;
    let logs = relay.logs();
    assert!(
        logs.contains("postback attempt"),
        "logs are written: {logs}"
    );
    assert!(logs.contains("site[0].pkey: invalid type"), "{logs}");
    assert!(
        logs.contains("pkey=pk***&aid=***&"),
        "URLs logged masked: {logs}"
    );
    // DOMAIN.md §6: the RTB House cookie id is personal data.
    for secret in [
        AID,
        "98765432123",
        PKEY,
        WEBHOOK_TOKEN,
        ADMIN,
        "79161234567",
        "Ivan",
        "95.31.18.119",
    ] {
        assert!(!logs.contains(secret), "{secret} in logs:\n{logs}");
    }
}

#[test]
fn check_config_names_each_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let check = |bad: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_aidlink-relay"))
            .args(["check-config", "--config"])
            .arg(bad)
            .output()
            .unwrap()
    };
    std::fs::write(&bad, "[server]\nadmin_token = \"short\"\n[[site]]\nid = \"38342\"\npkey = \"p\"\ntagging_hash = \"nope\"\nwebhook_token = \"0123456789abcdefgh\"\n").unwrap();
    let out = check(&bad);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.admin_token: required, at least 16 characters"),
        "{err}"
    );
    assert!(
        err.contains("site[0].tagging_hash: must be 20 letters or digits"),
        "{err}"
    );
    std::fs::write(&bad, "[server]\nadmin_token = \"0123456789abcdefgh\"\n[[site]]\nid = \"38342\"\npkey = 98765432123\ntagging_hash = \"IYIhaCDSPfPoVd4FIEF1\"\nwebhook_token = \"0123456789abcdefgh\"\n").unwrap();
    let out = check(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "site[0].pkey: invalid type: integer (value hidden), expected a string (line 5)\n",
        "the key path and line, never the PKEY's value"
    );
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/relay.example.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aidlink-relay"))
        .args(["check-config", "--config", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for sub in ["serve", "check-config", "replay"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aidlink-relay"))
            .args([sub, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("--config"));
    }
}

#[tokio::test]
async fn bindings_acknowledged_before_a_kill_survive_it() {
    let rtb = Receiver::start().await;
    let mut relay = Relay::start_with(rtb.endpoint(), "", "bindings_per_minute_per_ip = 100000");
    let (first_ack, acked_once) = tokio::sync::oneshot::channel::<()>();
    let first_ack = std::sync::Arc::new(std::sync::Mutex::new(Some(first_ack)));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..400 {
        let url = format!("{}/v1/bindings", relay.url);
        let first_ack = first_ack.clone();
        tasks.spawn(async move {
            let body = format!("{{\"v\":1,\"id\":\"crash-{n}\",\"site\":\"38342\",\"session\":\"{n}\",\"aid\":\"{AID}\"}}");
            let status = client().post(url).header("content-type", "text/plain").body(body).send().await.map(|r| r.status().as_u16()).ok();
            if status == Some(204) {
                if let Some(tx) = first_ack.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
            (n, status)
        });
    }
    acked_once.await.unwrap();
    relay.kill(); // between writes and acks of the requests still under way
    let mut acked = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let (n, Some(204)) = result.unwrap() {
            acked.push(n);
        }
    }
    assert!(!acked.is_empty());
    relay.spawn(); // recovery (WAL replay) happens on open
    let db = rusqlite::Connection::open(relay.dir.path().join("aidlink.db")).unwrap();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM bindings", [], |r| r.get(0))
        .unwrap();
    for n in &acked {
        let found: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM bindings WHERE id = ?1",
                [format!("crash-{n}")],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            found, 1,
            "binding crash-{n} was acknowledged but is gone after the kill"
        );
    }
    assert!(
        stored as usize >= acked.len(),
        "{stored} stored, {} acknowledged",
        acked.len()
    );
}

#[tokio::test]
async fn tags_count_as_of_the_call_end_only() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "tags = { names = [\"VIP\"] }");
    relay.bind("707", None, AID).await;
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
    settle().await;
    let t = relay.trail("call-91").await;
    assert_eq!(t["reason"], "filtered:tags", "{t}");
    assert_eq!(t["events"][1]["reason"], "filtered:tags");
    assert!(rtb.postbacks().is_empty());
    // Tagged at the end itself: sent.
    relay
        .webhook(&call("92", "calldisconnected", "707", "&tags_manual=vip"))
        .await;
    relay.wait_status("call-92", "sent", 5).await;
}
