//! What an operator meets, over real HTTP and the real binary: CORS preflight, the capture
//! bundle files, `/healthz` `/readyz` `/metrics`, logs with no secret or personal data (text and
//! `--log-format json`, one JSON object per line), `check-config` naming each problem.

use crate::support::*;

#[tokio::test]
async fn json_logs_are_one_object_per_line_without_secrets() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[503]);
    let relay = Relay::start_with_args(rtb.endpoint(), "", "", &["--log-format", "json"]);
    relay.bind("740", Some(CT_CLIENT), AID).await;
    relay
        .webhook(&call("7401", "calldisconnected", "740", ""))
        .await;
    relay.wait_status("call-7401", "sent", 5).await;
    relay.wait_log("postback attempt", 5).await;
    let logs = relay.logs();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(lines.len() >= 3, "{logs}");
    for line in &lines {
        assert!(line["level"].is_string(), "a level: {line}");
        assert!(line["fields"]["message"].is_string(), "a message: {line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" || l["level"] == "INFO"),
        "{logs}"
    );
    for secret in [
        AID,
        PKEY,
        WEBHOOK_TOKEN,
        ADMIN,
        "79161234567",
        "95.31.18.119",
    ] {
        assert!(!logs.contains(secret), "{secret} in logs:\n{logs}");
    }
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
    relay.bind("705", Some(CT_CLIENT), AID).await;
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
    relay.bind("706", Some(CT_CLIENT), AID).await;
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
    // docs/domain.md §6: the RTB House cookie id is personal data.
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
