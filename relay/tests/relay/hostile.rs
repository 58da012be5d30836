//! Hostile clients over real sockets against the real binary: a webhook refused before its
//! body is read (wrong token, unknown site: the same 401), bodies over the cap or broken,
//! slowloris headers, a stalled body, an idle connection, more connections than
//! `server.max_connections`, SIGTERM with requests half sent, storage that cannot commit, the
//! per-IP token bucket, the bearer scheme in lower case, weak `If-None-Match`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aidlink_relay::config::Config;
use aidlink_relay::http::{app, AppState};
use aidlink_relay::metrics::Metrics;
use aidlink_relay::reload::Settings;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::support::*;

/// Upper bound for "it eventually happens"; never a measure of speed.
const DEADLINE: Duration = Duration::from_secs(10);

/// One raw HTTP/1.1 answer: status, head (lower-cased), body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// Reads one answer from `stream` (up to its `content-length`), or `None` when the
/// connection is closed first; panics past [`DEADLINE`].
async fn answer(stream: &mut TcpStream) -> Option<Answer> {
    tokio::time::timeout(DEADLINE, async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap_or(0));
        while buf.len() < end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[end..]).into_owned();
        Some(Answer { status, head, body })
    })
    .await
    .expect("an answer or a close within the deadline")
}

/// Sends `bytes` on a new connection and reads the answer.
async fn raw(relay: &Relay, bytes: &[u8]) -> (TcpStream, Option<Answer>) {
    let mut stream = TcpStream::connect(relay.addr()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let answer = answer(&mut stream).await;
    (stream, answer)
}

/// Waits until the server closes `stream` (EOF or reset), whatever it sends before.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    tokio::time::timeout(within, async {
        let mut chunk = [0u8; 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

fn hook_head(site: &str, token: &str, extra: &str) -> String {
    format!(
        "POST /v1/calltouch/{site}?token={token} HTTP/1.1\r\nhost: relay\r\n\
         content-type: application/x-www-form-urlencoded\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn a_webhook_with_a_wrong_token_or_unknown_site_is_refused_before_its_body_is_read() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    // 100 MB declared, 30 bytes sent: the answer comes without the rest.
    let wrong = format!(
        "{}leadtype=call&id=1&callphase=x",
        hook_head(
            "38342",
            "wrong-token-0123456789",
            "content-length: 100000000\r\n"
        )
    );
    let (_s1, wrong) = raw(&relay, wrong.as_bytes()).await;
    let wrong = wrong.expect("answered before the body is complete");
    assert_eq!(wrong.status, 401);
    let unknown = format!(
        "{}leadtype=call&id=1&callphase=x",
        hook_head("1", WEBHOOK_TOKEN, "content-length: 100000000\r\n")
    );
    let (_s2, unknown) = raw(&relay, unknown.as_bytes()).await;
    let unknown = unknown.expect("answered before the body is complete");
    assert_eq!(
        unknown.status, 401,
        "an unknown site answers as a wrong token"
    );
    assert_eq!(unknown.body, wrong.body, "site ids cannot be told apart");
    assert!(
        wrong.body.contains("missing or wrong token"),
        "{}",
        wrong.body
    );
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("aidlink_webhooks_total{result=\"unauthorized\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_request_head_over_64_kib_is_refused_and_a_long_query_is_not() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: relay\r\nx-big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let (_s, a) = raw(&relay, big.as_bytes()).await;
    // 431, or closed before the answer could be read: never served.
    assert!(
        a.as_ref().is_none_or(|a| a.status == 431),
        "{:?}",
        a.map(|a| a.status)
    );
    // A webhook in a query of a few KB is fine.
    let fields = call(
        "8811",
        "calldisconnected",
        "881",
        &format!("&pad={}", "p".repeat(4000)),
    );
    let url = format!(
        "{}/v1/calltouch/38342?token={WEBHOOK_TOKEN}&{fields}",
        relay.url
    );
    assert_eq!(client().get(url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_webhook_body_over_the_cap_is_413_and_a_broken_chunk_is_400() {
    let rtb = Receiver::start().await;
    let relay = Relay::start_with(rtb.endpoint(), "", "webhook_max_bytes = 2048");
    // Declared over the cap: refused unread.
    let declared = hook_head("38342", WEBHOOK_TOKEN, "content-length: 5000\r\n");
    let (_s, a) = raw(&relay, declared.as_bytes()).await;
    assert_eq!(a.expect("answered").status, 413);
    // Chunked, no length declared: refused once it passes the cap.
    let chunked = format!(
        "{}bb8\r\n{}\r\n0\r\n\r\n",
        hook_head("38342", WEBHOOK_TOKEN, "transfer-encoding: chunked\r\n"),
        "a".repeat(3000)
    );
    let (_s, a) = raw(&relay, chunked.as_bytes()).await;
    let a = a.expect("answered");
    assert_eq!(a.status, 413);
    assert!(a.body.contains("2048"), "the limit is named: {}", a.body);
    // A malformed chunk is a bad request, not a large one.
    let broken = format!(
        "{}zz\r\nxx\r\n0\r\n\r\n",
        hook_head("38342", WEBHOOK_TOKEN, "transfer-encoding: chunked\r\n")
    );
    let (_s, a) = raw(&relay, broken.as_bytes()).await;
    assert_eq!(a.expect("answered").status, 400);
    // Under the cap it is taken as before.
    let fine = call("8801", "calldisconnected", "880", "");
    assert_eq!(relay.webhook(&fine).await.status(), 200);
    let metrics = relay.metrics().await;
    assert!(
        metrics.contains("aidlink_webhooks_total{result=\"too_large\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aidlink_webhooks_total{result=\"malformed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aidlink_webhooks_total{result=\"accepted\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn slowloris_headers_and_a_stalled_body_are_cut_off() {
    let rtb = Receiver::start().await;
    let relay = Relay::start_with(
        rtb.endpoint(),
        "",
        "header_read_timeout_ms = 1000\nbody_read_timeout_ms = 1000",
    );
    // One header byte per 200 ms: 100 bytes would take 20 s; the server closes long before.
    let stream = TcpStream::connect(relay.addr()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let head = format!(
            "GET /healthz HTTP/1.1\r\nhost: relay\r\nx-slow: {}\r\n\r\n",
            "a".repeat(60)
        );
        for byte in head.bytes() {
            if write.write_all(&[byte]).await.is_err() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        true
    });
    let closed = tokio::time::timeout(DEADLINE, async {
        let mut chunk = [0u8; 256];
        loop {
            match read.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "slowloris connection still open after {:?}",
        started.elapsed()
    );
    trickle.abort();

    // A body that stalls after 10 of its 1000 bytes: 408 (or closed), never held open.
    let stalled = format!(
        "{}leadtype=c",
        hook_head("38342", WEBHOOK_TOKEN, "content-length: 1000\r\n")
    );
    let mut stream = TcpStream::connect(relay.addr()).await.unwrap();
    stream.write_all(stalled.as_bytes()).await.unwrap();
    let a = answer(&mut stream).await.expect("408, not silence");
    assert_eq!(a.status, 408, "{}", a.body);
    assert!(a.head.contains("connection: close"), "{}", a.head);
    assert!(
        closed_within(&mut stream, DEADLINE).await,
        "left open after 408"
    );
    // The relay still serves everyone else.
    let r = client().get(format!("{}/healthz", relay.url)).send().await;
    assert_eq!(r.unwrap().status(), 200);
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let rtb = Receiver::start().await;
    let relay = Relay::start_with(
        rtb.endpoint(),
        "",
        "header_read_timeout_ms = 60000\nidle_timeout_ms = 1000",
    );
    // A request, then silence: the keep-alive connection does not stay open for the header
    // timeout (60 s) but goes with the idle one.
    let (mut stream, a) = raw(&relay, b"GET /healthz HTTP/1.1\r\nhost: relay\r\n\r\n").await;
    assert_eq!(a.expect("answered").status, 200);
    assert!(
        closed_within(&mut stream, DEADLINE).await,
        "idle connection still open"
    );
    // A connection that never says anything goes too.
    let mut silent = TcpStream::connect(relay.addr()).await.unwrap();
    assert!(
        closed_within(&mut silent, DEADLINE).await,
        "silent connection still open"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_logged_and_service_returns_when_they_go() {
    let rtb = Receiver::start().await;
    let relay = Relay::start_with(
        rtb.endpoint(),
        "",
        "max_connections = 8\nheader_read_timeout_ms = 60000\nidle_timeout_ms = 60000",
    );
    // Eight keep-alive connections, each proven accepted by an answer, hold every slot.
    let mut held = Vec::new();
    for _ in 0..8 {
        let (stream, a) = raw(&relay, b"GET /healthz HTTP/1.1\r\nhost: relay\r\n\r\n").await;
        assert_eq!(a.expect("answered").status, 200);
        held.push(stream);
    }
    // The ninth is closed without an answer.
    let (_extra, a) = raw(&relay, b"GET /healthz HTTP/1.1\r\nhost: relay\r\n\r\n").await;
    assert!(a.is_none(), "a ninth connection was served");
    relay.wait_log("connection limit reached", 5).await;
    // Once they go, /healthz answers again.
    drop(held);
    wait_until("/healthz served again", DEADLINE, || async {
        let (_s, a) = raw(&relay, b"GET /healthz HTTP/1.1\r\nhost: relay\r\n\r\n").await;
        match a {
            Some(a) if a.status == 200 => Ok(()),
            other => Err(format!("{:?}", other.map(|a| a.status))),
        }
    })
    .await;
}

/// Opens a connection to `relay` from `from` (a loopback address of 127.0.0.0/8) and sends
/// `bytes`; the answer, if any.
async fn raw_from(relay: &Relay, from: &str, bytes: &[u8]) -> (TcpStream, Option<Answer>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(relay.addr().parse().unwrap()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let answer = answer(&mut stream).await;
    (stream, answer)
}

#[tokio::test]
async fn one_address_cannot_take_every_connection_from_the_others() {
    let rtb = Receiver::start().await;
    let relay = Relay::start_with(
        rtb.endpoint(),
        "",
        "max_connections = 16\nmax_connections_per_ip = 4\nheader_read_timeout_ms = 60000\nidle_timeout_ms = 60000",
    );
    let health = b"GET /healthz HTTP/1.1\r\nhost: relay\r\n\r\n";
    // 127.0.0.2 holds its four, each proven accepted by an answer; its fifth is closed.
    let mut held = Vec::new();
    for _ in 0..4 {
        let (stream, a) = raw_from(&relay, "127.0.0.2", health).await;
        assert_eq!(a.expect("answered").status, 200);
        held.push(stream);
    }
    let (_fifth, a) = raw_from(&relay, "127.0.0.2", health).await;
    assert!(
        a.is_none(),
        "a fifth connection from one address was served"
    );
    relay
        .wait_log("connection limit of one client address reached", 5)
        .await;
    // Another address is served meanwhile, and the first is again once one of its own closes.
    let (_other, a) = raw_from(&relay, "127.0.0.3", health).await;
    assert_eq!(a.expect("another address is served").status, 200);
    held.pop();
    wait_until("127.0.0.2 served again", DEADLINE, || async {
        match raw_from(&relay, "127.0.0.2", health).await.1 {
            Some(a) if a.status == 200 => Ok(()),
            other => Err(format!("{:?}", other.map(|a| a.status))),
        }
    })
    .await;
}

#[tokio::test]
async fn sigterm_with_requests_half_sent_exits_within_the_grace() {
    let rtb = Receiver::start().await;
    let mut relay = Relay::start_with(rtb.endpoint(), "", "shutdown_grace_ms = 1000");
    // Half a request line, and a webhook whose body stops half-way (its handler is waiting).
    let mut half_head = TcpStream::connect(relay.addr()).await.unwrap();
    half_head.write_all(b"GET /heal").await.unwrap();
    let mut half_body = TcpStream::connect(relay.addr()).await.unwrap();
    let head = hook_head("38342", WEBHOOK_TOKEN, "content-length: 1000\r\n");
    half_body
        .write_all(format!("{head}leadtype=call").as_bytes())
        .await
        .unwrap();
    // Proof both are accepted: a third connection is answered after them.
    let (_s, a) = raw(&relay, b"GET /healthz HTTP/1.1\r\nhost: relay\r\n\r\n").await;
    assert_eq!(a.expect("answered").status, 200);
    relay.signal("-TERM");
    let status = relay
        .wait_exit(Duration::from_millis(1000) + DEADLINE)
        .await
        .unwrap_or_else(|| panic!("still running after the grace: {}", relay.logs()));
    assert!(status.success(), "{status:?}: {}", relay.logs());
    let logs = relay.logs();
    assert!(logs.contains("shutting down"), "{logs}");
    // The stalled webhook outlived the grace: the drain was cut short, not waited out.
    assert!(logs.contains("shutdown grace over"), "{logs}");
    assert!(logs.contains("stopped"), "{logs}");
}

fn router(store: crate::support::fault::Faulty) -> axum::Router {
    let config = Config::parse(include_str!("../../relay.example.toml")).unwrap();
    app(AppState::new(
        Settings::new(config),
        Arc::new(store),
        Arc::new(Metrics::default()),
        Arc::new(tokio::sync::Notify::new()),
    ))
}

#[tokio::test]
async fn readyz_is_503_with_the_reason_when_storage_reads_but_cannot_commit() {
    let dir = tempfile::tempdir().unwrap();
    // Reads work (ping answers); every write fails, as on a full disk or read-only file.
    let store = crate::support::fault::Faulty::fresh(
        dir.path(),
        Box::new(|method, _| method == "probe_write"),
    )
    .await;
    let ready = Request::get("/readyz").body(Body::empty()).unwrap();
    let response = router(store).oneshot(ready).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("storage cannot commit: "), "{error}");
    assert!(error.contains("disk I/O error"), "{error}");

    let other = tempfile::tempdir().unwrap();
    let store = crate::support::fault::Faulty::fresh(other.path(), Box::new(|_, _| false)).await;
    let ready = Request::get("/readyz").body(Body::empty()).unwrap();
    let response = router(store).oneshot(ready).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// `serve` on `url`: its exit status and stderr (it must exit by itself).
async fn serve_on(url: &str) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = Relay::config_text("http://127.0.0.1:9/{region}", "", "", url);
    let path = dir.path().join("relay.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aidlink-relay"))
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_until(&format!("serve on {url} to exit"), DEADLINE, || {
        let exited = child.try_wait().unwrap();
        async move { exited.ok_or("still running") }
    })
    .await;
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    (status, err)
}

#[tokio::test]
async fn serve_refuses_to_start_on_storage_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that is a file: nothing can be created there.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let url = format!("sqlite://{}/aidlink.db", file.display());
    let (status, err) = serve_on(&url).await;
    assert!(!status.success());
    assert!(
        err.contains("storage.url") && err.contains("cannot"),
        "{err}"
    );

    // A read-only database file (root writes through file modes: then this part proves nothing
    // and is skipped).
    let db = dir.path().join("ro.db");
    drop(aidlink_relay::store::sqlite::Sqlite::open(db.to_str().unwrap()).unwrap());
    for file in [
        db.clone(),
        dir.path().join("ro.db-wal"),
        dir.path().join("ro.db-shm"),
    ] {
        if file.exists() {
            let mut perms = std::fs::metadata(&file).unwrap().permissions();
            perms.set_readonly(true);
            std::fs::set_permissions(&file, perms).unwrap();
        }
    }
    if std::fs::OpenOptions::new().write(true).open(&db).is_ok() {
        eprintln!("running as root: the read-only file case is skipped");
        return;
    }
    let (status, err) = serve_on(&format!("sqlite://{}", db.display())).await;
    assert!(!status.success());
    assert!(
        err.contains("storage.url") && err.contains("cannot"),
        "{err}"
    );
}

#[tokio::test]
async fn the_binding_limit_refills_and_says_when_to_come_back() {
    let rtb = Receiver::start().await;
    let relay = Relay::start_with(rtb.endpoint(), "", "bindings_per_minute_per_ip = 6");
    // Six at once pass; then one more waits for one refill (6 per minute: one every 10 s).
    let mut limited = None;
    for n in 0..20 {
        let r = relay.bind(&format!("77{n}"), None, AID).await;
        if r.status() == 429 {
            limited = Some((n, r));
            break;
        }
        assert_eq!(r.status(), 204);
    }
    let (n, r) = limited.expect("the per-IP limit refuses with 429");
    assert!(n >= 6, "refused after {n}");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait), "Retry-After {wait}");
}

#[tokio::test]
async fn the_admin_api_takes_the_bearer_scheme_in_any_case() {
    let rtb = Receiver::start().await;
    let relay = Relay::start(&rtb, "");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = client()
            .get(format!("{}/v1/sites/38342/leads?status=sent", relay.url))
            .header("authorization", format!("{scheme} {ADMIN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
    let r = client()
        .get(format!("{}/v1/sites/38342/leads?status=sent", relay.url))
        .header("authorization", format!("Basic {ADMIN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn weak_lists_and_star_if_none_match_get_304() {
    let rtb = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("aidlink.js"), "console.log(1)").unwrap();
    let relay = Relay::start_with(
        rtb.endpoint(),
        "",
        &format!("assets_dir = \"{}\"", dir.path().display()),
    );
    let url = format!("{}/aidlink.js", relay.url);
    let r = client().get(&url).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    for value in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", W/{etag}"),
        "*".to_string(),
    ] {
        let r = client()
            .get(&url)
            .header("if-none-match", &value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "If-None-Match: {value}");
    }
    let r = client()
        .get(&url)
        .header("if-none-match", "\"nope\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
