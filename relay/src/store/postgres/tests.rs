//! The PostgreSQL store against a real server (scripts/postgres.sh starts a throwaway one and
//! exports `AIDLINK_TEST_POSTGRES`; without it these tests say so and pass, unless
//! `AIDLINK_REQUIRE_POSTGRES=1`, which `npm test` sets, makes that a failure). Each test gets
//! its own schema. The conformance suite; the plan of every hot-path statement; and what only
//! several instances sharing one database can get wrong.

use std::sync::Arc;
use std::time::Duration;

use super::{sql, Options, Postgres};
use crate::store::conformance::all_conformance_tests;
use crate::store::Store;

/// A schema of its own on the test server, dropped afterwards.
pub(crate) struct Scratch {
    /// The URL whose connections use the schema.
    pub url: String,
    base: String,
    schema: String,
}

impl Scratch {
    /// A new empty schema, or `None` (said on stderr) when no test server is configured.
    pub(crate) async fn new() -> Option<Scratch> {
        let base = match std::env::var("AIDLINK_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("AIDLINK_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
                panic!("AIDLINK_REQUIRE_POSTGRES=1 but AIDLINK_TEST_POSTGRES is not set (scripts/postgres.sh sets it)")
            }
            _ => {
                eprintln!("AIDLINK_TEST_POSTGRES not set: PostgreSQL test skipped (scripts/postgres.sh starts a server)");
                return None;
            }
        };
        let schema = format!("t_{:016x}", rand::random::<u64>());
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .expect("the test server answers");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        Some(Scratch { url, base, schema })
    }

    /// A store on this schema.
    pub(crate) async fn open(&self, options: &Options) -> Postgres {
        Postgres::open(&self.url, options).await.unwrap()
    }

    /// A plain connection on this schema.
    pub(crate) async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (base, schema) = (self.base.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&base, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

fn small() -> Options {
    Options {
        pool_size: 4,
        ..Options::default()
    }
}

/// A fresh store for the conformance suite; with no server, a SQLite one (the test then proves
/// nothing new, and said so).
async fn fresh() -> (Option<Scratch>, Arc<dyn Store>) {
    match Scratch::new().await {
        Some(scratch) => {
            let store = scratch.open(&small()).await;
            (Some(scratch), Arc::new(store))
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("stand-in.db");
            let store = crate::store::sqlite::Sqlite::open(path.to_str().unwrap()).unwrap();
            std::mem::forget(dir);
            (None, Arc::new(store))
        }
    }
}

all_conformance_tests!(fresh());

use crate::store::conformance::GROWING;

/// The sequential scans of growing tables in `statement`'s generic plan (parameters unknown,
/// as a prepared statement runs), with sequential scans priced out so any usable index is
/// taken: what is left has no index to use.
async fn seq_scans(client: &tokio_postgres::Client, statement: &str) -> Vec<String> {
    let prepared = client
        .prepare(statement)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    let nulls = prepared.params().len();
    let args = vec!["NULL"; nulls].join(", ");
    client.batch_execute("DEALLOCATE ALL").await.unwrap();
    client
        .batch_execute(&format!("PREPARE hot AS {statement}"))
        .await
        .unwrap();
    let explain = if nulls == 0 {
        "EXPLAIN (FORMAT JSON) EXECUTE hot".to_string()
    } else {
        format!("EXPLAIN (FORMAT JSON) EXECUTE hot({args})")
    };
    let messages = client.simple_query(&explain).await.unwrap();
    let plan = messages
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .expect("EXPLAIN answers one row");
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let mut found = Vec::new();
    scans_in(&plan, &mut found);
    found
}

fn scans_in(node: &serde_json::Value, found: &mut Vec<String>) {
    match node {
        serde_json::Value::Array(items) => items.iter().for_each(|i| scans_in(i, found)),
        serde_json::Value::Object(map) => {
            let table = map.get("Relation Name").and_then(|t| t.as_str());
            if map.get("Node Type").and_then(|t| t.as_str()) == Some("Seq Scan") {
                if let Some(table) = table.filter(|t| GROWING.contains(t)) {
                    found.push(format!("Seq Scan on {table}"));
                }
            }
            map.values().for_each(|v| scans_in(v, found));
        }
        _ => {}
    }
}

async fn plan_client(scratch: &Scratch) -> tokio_postgres::Client {
    drop(scratch.open(&small()).await);
    let client = scratch.client().await;
    client
        .batch_execute(
            "SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan; ANALYZE;",
        )
        .await
        .unwrap();
    client
}

#[tokio::test]
async fn every_hot_path_statement_is_served_by_an_index() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let client = plan_client(&scratch).await;
    let mut bad = Vec::new();
    for (name, statement) in sql::HOT_PATH {
        for scan in seq_scans(&client, statement).await {
            bad.push(format!("{name}: {scan}"));
        }
    }
    assert!(
        bad.is_empty(),
        "sequential scans of growing tables:\n{}",
        bad.join("\n")
    );
}

#[tokio::test]
async fn the_plan_test_sees_a_sequential_scan() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let client = plan_client(&scratch).await;
    let unindexed = "SELECT touch FROM bindings WHERE touch_ts = $1";
    assert_eq!(
        seq_scans(&client, unindexed).await,
        ["Seq Scan on bindings"]
    );
    let served = "SELECT touch FROM bindings WHERE site = $1 AND aid = $2";
    assert!(seq_scans(&client, served).await.is_empty());
}

#[tokio::test]
async fn a_second_instance_starting_finds_the_schema_migrated() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let options = small();
    let (a, b) = tokio::join!(
        Postgres::open(&scratch.url, &options),
        Postgres::open(&scratch.url, &options)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let client = scratch.client().await;
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2], "each applied once, by one of the two");
    a.ping().await.unwrap();
    b.probe_write(1).await.unwrap();
}

#[tokio::test]
async fn a_periodic_job_runs_on_one_instance_at_a_time() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let a = scratch.open(&small()).await;
    let b = scratch.open(&small()).await;
    let turn = a.exclusive("sweep").await.unwrap();
    assert!(turn.is_some(), "the first instance gets the turn");
    assert!(
        b.exclusive("sweep").await.unwrap().is_none(),
        "the second waits its turn"
    );
    assert!(
        b.exclusive("retention").await.unwrap().is_some(),
        "another job is not held up"
    );
    drop(turn);
    // The lock is given back by a task the guard spawns: wait for it, within a deadline.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while b.exclusive("sweep").await.unwrap().is_none() {
        assert!(
            std::time::Instant::now() < until,
            "the turn is released when dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn sslrootcert_is_taken_out_of_the_url_and_read_only_with_require() {
    assert_eq!(
        super::split_root_cert("postgres://a@h/d?sslmode=require&sslrootcert=%2Fetc%2Fca.pem&x=1"),
        (
            "postgres://a@h/d?sslmode=require&x=1".to_string(),
            Some("/etc/ca.pem".to_string())
        )
    );
    assert_eq!(
        super::split_root_cert("postgres://a@h/d?sslrootcert=ca.pem"),
        ("postgres://a@h/d".to_string(), Some("ca.pem".to_string()))
    );
    assert_eq!(
        super::split_root_cert("postgres://a@h/d"),
        ("postgres://a@h/d".to_string(), None)
    );
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let why = super::check_url(&format!(
        "postgres://a@h/d?sslmode=require&sslrootcert={}",
        empty.display()
    ))
    .unwrap_err();
    assert!(why.contains("no PEM certificate"), "{why}");
    let why = super::check_url("postgres://a@h/d?sslrootcert=/etc/ca.pem").unwrap_err();
    assert!(why.contains("only with sslmode=require"), "{why}");
}

/// The CA of the test server's certificate (scripts/postgres.sh), or `None` when there is none
/// (a failure where PostgreSQL is required).
fn test_ca() -> Option<String> {
    match std::env::var("AIDLINK_TEST_POSTGRES_CA") {
        Ok(path) if !path.is_empty() => Some(path),
        _ if std::env::var("AIDLINK_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!("AIDLINK_TEST_POSTGRES_CA is not set: scripts/postgres.sh gives its server a certificate (is openssl installed?)")
        }
        _ => None,
    }
}

/// Whether the store's own connection to the server is encrypted.
async fn encrypted(store: &Postgres) -> bool {
    store
        .with(Box::new(|c| {
            Box::pin(async move {
                let row = c
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await?;
                Ok(row.get::<_, bool>(0))
            })
        }))
        .await
        .unwrap()
}

#[tokio::test]
async fn sslmode_require_encrypts_and_verifies_the_servers_certificate() {
    let Some(scratch) = Scratch::new().await else {
        return;
    };
    let Some(ca) = test_ca() else {
        eprintln!("no test CA: TLS test skipped");
        return;
    };
    let plain = scratch.open(&small()).await;
    assert!(
        !encrypted(&plain).await,
        "no sslmode: in the clear, as before"
    );
    let tls_url = format!("{}&sslmode=require&sslrootcert={ca}", scratch.url);
    let store = Postgres::open(&tls_url, &small()).await.unwrap();
    assert!(encrypted(&store).await, "sslmode=require: TLS");
    store.probe_write(1).await.unwrap();
    // The server's certificate is signed by a CA of its own: without that CA it is refused.
    let unverified = format!("{}&sslmode=require", scratch.url);
    let refused = Postgres::open(&unverified, &small()).await.err();
    let why = refused
        .expect("a certificate no known root signed")
        .to_string();
    assert!(why.contains("invalid peer certificate"), "{why}");
}
