//! Test support: the real `aidlink-relay` binary on 127.0.0.1 with a generated config and its
//! storage (a SQLite file in a temp dir, or a PostgreSQL schema: `storage`), and a fake RTB House receiver (a real HTTP server on loopback
//! that records postbacks and answers with scripted statuses).

pub mod fault;
pub mod proxy;
pub mod screen;
pub mod storage;
mod wait;

pub use wait::wait_until;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const PKEY: &str = "pkey-SECRET-4242";
pub const ADMIN: &str = "admin-token-0123456789";
pub const WEBHOOK_TOKEN: &str = "hook-token-0123456789";
pub const ORIGIN: &str = "https://shop.example";
pub const HASH: &str = "IYIhaCDSPfPoVd4FIEF1";
pub const AID: &str = "AbCdEf0123456789xyz";
/// The Calltouch visitor id (`_ct`) of the test visitor: `call()` webhooks carry it as
/// `ctClientId`, and a binding counts for their session only when it carries it too.
pub const CT_CLIENT: &str = "2200000000464647719";

/// A fake RTB House: records each request's method, path and query, answers the scripted
/// replies (status and extra header lines, or silence) in order, then 200.
#[derive(Clone)]
pub struct Receiver {
    pub addr: String,
    pub seen: Arc<Mutex<Vec<String>>>,
    pub methods: Arc<Mutex<Vec<String>>>,
    pub script: Arc<Mutex<Vec<(u16, String)>>>,
    /// Requests whose path starts with this get no answer at all (a hung RTB House endpoint).
    pub hung: Arc<Mutex<Option<String>>>,
    /// Connections accepted and not yet done with.
    open: Arc<AtomicUsize>,
}

/// Counts a connection as open until dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The path of [`Receiver::quiesce`]'s probe (answered, not recorded).
const PROBE: &str = "/__probe";

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let methods = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(Vec::new()));
        let hung: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let open = Arc::new(AtomicUsize::new(0));
        let (s, m, q, h) = (seen.clone(), methods.clone(), script.clone(), hung.clone());
        let o = open.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                o.fetch_add(1, Ordering::SeqCst);
                let guard = Open(o.clone());
                let (s, m, q, h) = (s.clone(), m.clone(), q.clone(), h.clone());
                tokio::spawn(async move {
                    let _open = guard;
                    let mut buf = vec![0u8; 8192];
                    let mut len = 0;
                    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf[len..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => len += n,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..len]).to_string();
                    let mut words = head.split_whitespace();
                    let method = words.next().unwrap_or_default().to_string();
                    let target = words.next().unwrap_or_default().to_string();
                    if target == PROBE {
                        let reply = "HTTP/1.1 204 X\r\nconnection: close\r\n\r\n";
                        let _ = socket.write_all(reply.as_bytes()).await;
                        return;
                    }
                    let hang = h
                        .lock()
                        .unwrap()
                        .as_deref()
                        .is_some_and(|prefix| target.starts_with(prefix));
                    if hang {
                        s.lock().unwrap().push(target);
                        m.lock().unwrap().push(method);
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let (status, headers) = {
                        let mut q = q.lock().unwrap();
                        if q.is_empty() {
                            (200, String::new())
                        } else {
                            q.remove(0)
                        }
                    };
                    s.lock().unwrap().push(target);
                    m.lock().unwrap().push(method);
                    if status == 0 {
                        // Scripted silence: hold the connection past any client timeout.
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        return;
                    }
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\n{headers}content-length: 2\r\nconnection: close\r\n\r\nno"
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Receiver {
            addr,
            seen,
            methods,
            script,
            hung,
            open,
        }
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        let replies = statuses.iter().map(|s| (*s, String::new()));
        self.script.lock().unwrap().extend(replies);
    }

    /// The next reply: `status` with these header lines (`"name: value\r\n"` each).
    pub fn reply_next(&self, status: u16, headers: &str) {
        self.script
            .lock()
            .unwrap()
            .push((status, headers.to_string()));
    }

    /// The next `count` requests get no answer at all (the connection stays silent for 5 s).
    pub fn hang_next(&self, count: usize) {
        let silences = std::iter::repeat_n((0, String::new()), count);
        self.script.lock().unwrap().extend(silences);
    }

    /// Every request whose path starts with `prefix` hangs from now on.
    pub fn hang_path(&self, prefix: &str) {
        *self.hung.lock().unwrap() = Some(prefix.to_string());
    }

    pub fn postbacks(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits up to `secs` until the postbacks received satisfy `done` (named `what`); them.
    pub async fn wait_for(
        &self,
        what: &str,
        secs: u64,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        wait_until(what, Duration::from_secs(secs), || async {
            let posts = self.postbacks();
            if done(&posts) {
                Ok(posts)
            } else {
                Err(format!("{posts:?}"))
            }
        })
        .await
    }

    /// Waits until every connection made to the receiver before this call has been read and
    /// answered (or closed): a probe connection made now is answered (connections are
    /// accepted in order), then none is left open. For requests a killed relay had already
    /// written: once this returns, [`Receiver::postbacks`] holds all of them.
    pub async fn quiesce(&self) {
        let mut probe = tokio::net::TcpStream::connect(&self.addr).await.unwrap();
        let request = format!("GET {PROBE} HTTP/1.1\r\nhost: x\r\n\r\n");
        probe.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        probe.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 204"), "probe answered");
        wait_until(
            "no connection left open at the fake RTB House",
            Duration::from_secs(10),
            || async {
                match self.open.load(Ordering::SeqCst) {
                    0 => Ok(()),
                    n => Err(format!("{n} open")),
                }
            },
        )
        .await
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/{{region}}/postbacks", self.addr)
    }
}

/// The relay under test.
pub struct Relay {
    pub dir: tempfile::TempDir,
    pub url: String,
    /// `storage.url`: SQLite in `dir`, or a schema of its own on the test PostgreSQL server.
    pub storage: String,
    child: Option<Child>,
    site_extra: String,
    endpoint: String,
    server_extra: String,
    /// Extra `serve` arguments (`--log-format json`).
    pub serve_args: Vec<String>,
}

impl Relay {
    pub fn config_text(
        endpoint: &str,
        site_extra: &str,
        server_extra: &str,
        storage: &str,
    ) -> String {
        // `server_extra` may set its own `listen` (a dual-stack `[::]:0`, say). The outbox lease
        // is the shortest the 1 s postback timeout allows (timeout + 5 s), so a test that kills
        // a relay mid-claim waits 6 s for the claim to lapse, not the default 15 s.
        let listen = if server_extra.contains("listen =") {
            ""
        } else {
            "listen = \"127.0.0.1:0\"\n"
        };
        format!(
            "[server]\n{listen}admin_token = \"{ADMIN}\"\n{server_extra}\n\
             [storage]\nurl = \"{storage}\"\npool_size = 4\noutbox_lease_ms = 6000\n\
             [rtbhouse]\nendpoint = \"{endpoint}\"\ntimeout_ms = 1000\nretry_base_ms = 100\nretry_cap_ms = 300\n\
             [[site]]\nid = \"38342\"\npkey = \"{PKEY}\"\ntagging_hash = \"{HASH}\"\n\
             webhook_token = \"{WEBHOOK_TOKEN}\"\nallowed_origins = [\"{ORIGIN}\"]\n{site_extra}\n"
        )
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("relay.toml")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("relay.log")
    }

    pub fn start(receiver: &Receiver, site_extra: &str) -> Relay {
        Relay::start_with(receiver.endpoint(), site_extra, "")
    }

    pub fn start_with(endpoint: String, site_extra: &str, server_extra: &str) -> Relay {
        Relay::start_with_args(endpoint, site_extra, server_extra, &[])
    }

    pub fn start_with_args(
        endpoint: String,
        site_extra: &str,
        server_extra: &str,
        serve_args: &[&str],
    ) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let storage = storage::url_for(dir.path());
        Relay::start_on(dir, storage, endpoint, site_extra, server_extra, serve_args)
    }

    /// A relay on the given storage (several relays may share one).
    pub fn start_on(
        dir: tempfile::TempDir,
        storage: String,
        endpoint: String,
        site_extra: &str,
        server_extra: &str,
        serve_args: &[&str],
    ) -> Relay {
        let mut relay = Relay {
            dir,
            url: String::new(),
            storage,
            child: None,
            site_extra: site_extra.into(),
            endpoint,
            server_extra: server_extra.into(),
            serve_args: serve_args.iter().map(|a| a.to_string()).collect(),
        };
        relay.write_config(site_extra);
        relay.spawn();
        relay
    }

    pub fn write_config(&mut self, site_extra: &str) {
        self.site_extra = site_extra.into();
        let text = Relay::config_text(
            &self.endpoint,
            site_extra,
            &self.server_extra,
            &self.storage,
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_aidlink-relay"))
            .args(["serve", "--config"])
            .arg(self.config_path())
            .args(&self.serve_args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().rsplit("http://").next().unwrap().to_string();
        assert!(!addr.is_empty(), "relay did not start: {line}");
        // Listening on every address (`[::]`): talk to it over IPv4 loopback.
        let addr = match addr.strip_prefix("[::]:") {
            Some(port) => format!("127.0.0.1:{port}"),
            None => addr,
        };
        self.url = format!("http://{addr}");
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        Command::new("kill").args([signal, &pid]).status().unwrap();
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Rewrites the config file with `edit`, sends SIGHUP and waits until it is reloaded.
    pub async fn reload_with(&self, edit: impl FnOnce(String) -> String) {
        let reloads = |logs: String| logs.matches("configuration reloaded").count();
        let before = reloads(self.logs());
        let text = std::fs::read_to_string(self.config_path()).unwrap();
        let edited = edit(text.clone());
        assert_ne!(text, edited, "the edit changes the file");
        std::fs::write(self.config_path(), edited).unwrap();
        self.signal("-HUP");
        wait_until("configuration reloaded", Duration::from_secs(5), || async {
            let logs = self.logs();
            if reloads(logs.clone()) > before {
                Ok(())
            } else {
                Err(logs)
            }
        })
        .await
    }

    /// `aidlink-relay replay` for site 38342 (one lead, or all); its stdout.
    pub fn replay(&self, lead: Option<&str>) -> String {
        let config = self.config_path();
        let mut args = vec![
            "replay",
            "--config",
            config.to_str().unwrap(),
            "--site",
            "38342",
        ];
        if let Some(lead) = lead {
            args.extend(["--lead", lead]);
        }
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_aidlink-relay"))
            .args(args)
            .output()
            .unwrap()
    }

    pub async fn bind(
        &self,
        session: &str,
        ct_client: Option<&str>,
        aid: &str,
    ) -> reqwest::Response {
        let mut body = serde_json::json!({
            "v": 1, "id": format!("b-{session}-{aid}"), "site": "38342", "session": session, "aid": aid,
            "touch": { "utm_source": "yandex", "utm_medium": "cpc", "ref": "yandex.ru", "path": "/landing", "ts": 1732500000000u64 }
        });
        if let Some(c) = ct_client {
            body["ct_client"] = c.into();
        }
        client()
            .post(format!("{}/v1/bindings", self.url))
            .header("content-type", "text/plain;charset=UTF-8")
            .header("origin", ORIGIN)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn webhook(&self, fields: &str) -> reqwest::Response {
        self.webhook_to("38342", WEBHOOK_TOKEN, fields).await
    }

    /// A Calltouch webhook POSTed as a form to `site` with `token`.
    pub async fn webhook_to(&self, site: &str, token: &str, fields: &str) -> reqwest::Response {
        client()
            .post(format!("{}/v1/calltouch/{site}?token={token}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(fields.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Waits up to `secs` for `needle` to appear in the relay's log.
    pub async fn wait_log(&self, needle: &str, secs: u64) {
        let what = format!("{needle:?} in the log");
        wait_until(&what, Duration::from_secs(secs), || async {
            let logs = self.logs();
            if logs.contains(needle) {
                Ok(())
            } else {
                Err(logs)
            }
        })
        .await
    }

    /// `/metrics`, the Prometheus text.
    pub async fn metrics(&self) -> String {
        client()
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of the `/metrics` sample named `sample` (with its labels:
    /// `aidlink_postbacks_total{outcome="delivered"}`), if there is one.
    pub async fn metric(&self, sample: &str) -> Option<f64> {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    /// Waits until the outbox holds nothing queued, retrying or in flight
    /// (`aidlink_outbox_depth 0`): every postback queued so far has been delivered or
    /// dead-lettered, so the fake RTB House has seen every request it will get for them.
    pub async fn wait_outbox_empty(&self) {
        wait_until("an empty outbox", Duration::from_secs(10), || async {
            match self.metric("aidlink_outbox_depth").await {
                Some(0.0) => Ok(()),
                depth => Err(format!("aidlink_outbox_depth {depth:?}")),
            }
        })
        .await
    }

    pub async fn trail(&self, lead: &str) -> serde_json::Value {
        let r = client()
            .get(format!("{}/v1/sites/38342/leads/{lead}", self.url))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            return serde_json::Value::Null;
        }
        r.json().await.unwrap()
    }

    pub async fn list(&self, status: &str) -> Vec<String> {
        let r: serde_json::Value = client()
            .get(format!("{}/v1/sites/38342/leads?status={status}", self.url))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["leads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["lead_id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Waits up to `secs` until the lead's trail says `status`; the trail.
    pub async fn wait_status(&self, lead: &str, status: &str, secs: u64) -> serde_json::Value {
        let what = format!("{lead} {status}");
        wait_until(&what, Duration::from_secs(secs), || async {
            let t = self.trail(lead).await;
            if t["status"] == status {
                Ok(t)
            } else {
                Err(t)
            }
        })
        .await
    }

    /// Waits up to `secs` until the lead has `events` events, each decided (with a reason):
    /// the relay has judged every webhook of it received so far; the trail.
    pub async fn wait_decided(&self, lead: &str, events: usize, secs: u64) -> serde_json::Value {
        let what = format!("{lead}: {events} events, each with its reason");
        wait_until(&what, Duration::from_secs(secs), || async {
            let t = self.trail(lead).await;
            let decided = t["events"]
                .as_array()
                .is_some_and(|e| e.len() == events && e.iter().all(|e| !e["reason"].is_null()));
            if decided {
                Ok(t)
            } else {
                Err(t)
            }
        })
        .await
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The `timestamp` (seconds) of every [`call`] in this test run: when the run started, so that
/// its postbacks are within RTB House's 24 hours (older ones are dead-lettered unsent).
pub fn call_timestamp() -> i64 {
    static AT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *AT.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    })
}

/// A call webhook as Calltouch sends it (URL-encoded, `null` strings, personal data included).
pub fn call(id: &str, phase: &str, session: &str, extra: &str) -> String {
    let timestamp = call_timestamp();
    format!(
        "leadtype=call&id={id}&callphase={phase}&timestamp={timestamp}&status=successful&unique=true&\
         targetcall=target&uniqtargetcall=uniqtarget&callerphone=79161234567&fio=Ivan+Petrov&ip=95.31.18.119&\
         sessionId={session}&ctClientId={CT_CLIENT}&siteId=38342&utm_source=yandex&utm_content=null&\
         tags_manual=null&attrs=null{extra}"
    )
}

impl Relay {
    /// `host:port` of the relay, for raw sockets.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// Waits up to `within` for the process to exit (after a signal, say): its status, or
    /// `None` if it is still running then.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let exited = tokio::time::timeout(
            within,
            wait::wait_until("the relay to exit", within * 2, || {
                let status = child.try_wait().unwrap();
                async move { status.ok_or("running") }
            }),
        )
        .await
        .ok()?;
        self.child = None;
        Some(exited)
    }
}
