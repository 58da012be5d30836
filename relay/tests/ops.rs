//! What an operator's log pipeline gets from `serve --log-format json`: one JSON object per
//! line, with a level and a message, and still no secret or personal data in any of them.
mod support;

use support::*;

#[tokio::test]
async fn json_logs_are_one_object_per_line_without_secrets() {
    let rtb = Receiver::start().await;
    rtb.fail_next(&[503]);
    let relay = Relay::start_with_args(rtb.endpoint(), "", "", &["--log-format", "json"]);
    relay.bind("740", None, AID).await;
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
