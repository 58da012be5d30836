//! Retention benchmark for BENCHMARKS.md (`npm run bench` runs it): simulates `DAYS` days of a
//! site's traffic through the SQLite store with given times (no waiting for real days): each day
//! `PER_DAY` bindings (64 concurrent writers, as browsers would) and one settled lead per 100
//! bindings, then the day's retention pass (`pipeline::purge_before`, as the relay runs it) with
//! the cutoff `RETENTION` days back. While each pass runs, one task keeps storing bindings and
//! times each commit: what a browser would wait during retention. Prints one JSON line:
//! the database's size at the end of every day, each retention batch's time on the writer (its
//! statements and its commit) and from the caller (with the queue before it and the WAL's sync
//! after), and ingest latency with and without retention running.
//!
//! `cargo run --release -p aidlink-relay --example retention_bench -- DAYS PER_DAY RETENTION DIR [BATCH]`
use std::sync::Arc;
use std::time::{Duration, Instant};

use aidlink_protocol::{Binding, Touch};
use aidlink_relay::decide::{Decision, Verdict};
use aidlink_relay::store::sqlite::Sqlite;
use aidlink_relay::store::{LeadStatus, Store};
use aidlink_relay::webhook::parse_lead;

const DAY: i64 = 86_400_000;
const SITE: &str = "38342";
const WRITERS: usize = 64;

fn binding(day: usize, n: usize) -> Binding {
    let k = day * 10_000_000 + n;
    Binding::new(
        SITE.into(),
        format!("{}", 300_000_000 + k),
        Some(format!("22{:017}", k * 7919 % 100_000_000_000_000_000)),
        format!("Aid{k:016}"),
        Some(Touch {
            utm_source: ["yandex", "google", "rtbhouse", ""][k % 4].into(),
            utm_medium: "cpc".into(),
            utm_campaign: "spring".into(),
            r#ref: "yandex.ru".into(),
            path: "/landing".into(),
            ts: 1_700_000_000_000,
            ..Touch::default()
        }),
    )
}

/// Stores `count` bindings of `day` at `at_ms` from [`WRITERS`] tasks.
async fn store_day(store: &Arc<Sqlite>, day: usize, count: usize, at_ms: i64) {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(async move {
            for n in (w..count).step_by(WRITERS) {
                store
                    .put_binding(binding(day, n), at_ms)
                    .await
                    .expect("stored");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Stores `count` call leads of `day` and records each as decided (no RTB House id): settled,
/// so retention takes them with their events.
async fn leads_day(store: &Arc<Sqlite>, day: usize, count: usize, at_ms: i64) {
    for n in 0..count {
        let form = format!(
            "leadtype=call&id={}&callphase=calldisconnected&sessionId={}",
            day * 1_000_000 + n,
            300_000_000 + n
        );
        let fields: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        let lead = parse_lead(&fields).expect("a call");
        let id = lead.lead_id();
        store
            .put_lead_event(SITE.into(), lead, at_ms)
            .await
            .expect("stored");
        let facts = store
            .lead_facts(SITE.into(), id.clone(), 1)
            .await
            .expect("read")
            .expect("the lead");
        let verdict = Verdict::Decided {
            decision: Decision::NoRtbId,
            status: LeadStatus::Filtered,
            postback: None,
            id_source: None,
        };
        store
            .record_verdict(SITE.into(), id, facts.version, verdict, at_ms)
            .await
            .expect("recorded");
    }
}

/// Stores bindings one after another until `stop` and returns each commit's latency, µs. The
/// bindings are new ones of `series` (one per day and probe), stored at `at_ms`: they age and
/// are deleted like the day's others, so the store's size reaches a steady state.
async fn probe_ingest(
    store: Arc<Sqlite>,
    series: usize,
    at_ms: i64,
    stop: Arc<tokio::sync::Notify>,
) -> Vec<u64> {
    let mut latencies = Vec::new();
    let stopped = stop.notified();
    tokio::pin!(stopped);
    let mut n = 0;
    loop {
        let started = Instant::now();
        let write = store.put_binding(binding(series, n), at_ms);
        tokio::select! {
            _ = &mut stopped => break,
            stored = write => {
                stored.expect("stored");
                latencies.push(started.elapsed().as_micros() as u64);
            }
        }
        n += 1;
    }
    latencies
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The database file's size and its write-ahead log's.
fn file_bytes(path: &std::path::Path) -> (u64, u64) {
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    (size(path), size(&path.with_extension("db-wal")))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (days, per_day, retention) = (num(0, 20), num(1, 100_000), num(2, 10));
    // Rows per retention write: the relay's, unless given (to compare sizes side by side).
    let batch = num(4, aidlink_relay::pipeline::RETAIN_BATCH as usize) as u32;
    let dir = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    let path = dir.join("retention.db");
    for f in ["retention.db", "retention.db-wal", "retention.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let store = Arc::new(Sqlite::open(path.to_str().expect("utf-8 path")).expect("open store"));
    let t0 = 1_750_000_000_000_i64;
    let mut sizes = Vec::new();
    let mut batches_us: Vec<u64> = Vec::new();
    let mut held_us: Vec<u64> = Vec::new();
    let mut during: Vec<u64> = Vec::new();
    let mut quiet: Vec<u64> = Vec::new();
    let mut purged_rows = 0_u64;
    let started = Instant::now();
    for day in 0..days {
        let now = t0 + day as i64 * DAY;
        store_day(&store, day, per_day, now).await;
        leads_day(&store, day, per_day / 100, now).await;
        // Ingest with nothing else running, for the same length of time as below.
        let stop = Arc::new(tokio::sync::Notify::new());
        let probe = tokio::spawn(probe_ingest(store.clone(), 10_000 + day, now, stop.clone()));
        let cutoff = now - retention as i64 * DAY;
        let pass = Instant::now();
        loop {
            let one = Instant::now();
            let (purged, held) = store.purge_timed(cutoff, batch).await.expect("purged");
            batches_us.push(one.elapsed().as_micros() as u64);
            held_us.push(held.as_micros() as u64);
            purged_rows += purged.total();
            if purged.bindings < u64::from(batch) && purged.leads < u64::from(batch) {
                break;
            }
            tokio::task::yield_now().await;
        }
        while store.reclaim().await.expect("reclaimed") > 0 {}
        let pass = pass.elapsed();
        stop.notify_one();
        during.extend(probe.await.expect("probe"));
        let stop = Arc::new(tokio::sync::Notify::new());
        let probe = tokio::spawn(probe_ingest(store.clone(), 20_000 + day, now, stop.clone()));
        tokio::time::sleep(pass.max(Duration::from_millis(200))).await;
        stop.notify_one();
        quiet.extend(probe.await.expect("probe"));
        let stored = store.row_counts().await.expect("counts");
        let (db, wal) = file_bytes(&path);
        sizes.push(serde_json::json!({
            "day": day + 1,
            "db_bytes": db,
            "wal_bytes": wal,
            "bindings": stored.bindings,
            "leads": stored.leads,
            "retention_ms": pass.as_millis() as u64,
        }));
        eprintln!(
            "retention_bench: day {} stored {} bindings, {} leads, file {:.1} MB + wal {:.1} MB, retention pass {} ms",
            day + 1,
            stored.bindings,
            stored.leads,
            db as f64 / 1_048_576.0,
            wal as f64 / 1_048_576.0,
            pass.as_millis()
        );
    }
    batches_us.sort_unstable();
    held_us.sort_unstable();
    during.sort_unstable();
    quiet.sort_unstable();
    let out = serde_json::json!({
        "days": days,
        "per_day": per_day,
        "retention_days": retention,
        "batch": batch,
        "seconds": started.elapsed().as_secs_f64(),
        "purged_rows": purged_rows,
        "sizes": sizes,
        "batch_us": { "count": batches_us.len(), "p50": percentile(&batches_us, 0.5),
                      "p99": percentile(&batches_us, 0.99), "max": batches_us.last().copied().unwrap_or(0) },
        "held_us": { "count": held_us.len(), "p50": percentile(&held_us, 0.5),
                     "p99": percentile(&held_us, 0.99), "max": held_us.last().copied().unwrap_or(0) },
        "ingest_during_us": { "count": during.len(), "p50": percentile(&during, 0.5),
                              "p99": percentile(&during, 0.99), "max": during.last().copied().unwrap_or(0) },
        "ingest_quiet_us": { "count": quiet.len(), "p50": percentile(&quiet, 0.5),
                             "p99": percentile(&quiet, 0.99), "max": quiet.last().copied().unwrap_or(0) },
    });
    println!("{out}");
    drop(store);
    for f in ["retention.db", "retention.db-wal", "retention.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}
