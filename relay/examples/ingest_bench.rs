//! Ingest benchmark for BENCHMARKS.md: stores N bindings through the SQLite store (WAL,
//! synced before each answer) from C concurrent tasks and reports throughput and how many transactions
//! group commit needed. `cargo run --release -p aidlink-relay --example ingest_bench -- 4000 64`
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use aidlink_protocol::Binding;
use aidlink_relay::store::sqlite::Sqlite;
use aidlink_relay::store::Store;

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(4000);
    let dir = std::env::temp_dir().join(format!("aidlink-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let concurrencies = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![1, 8, 64]
    };
    println!("bindings  concurrency  seconds  bindings/s  transactions  bindings/transaction");
    for concurrency in concurrencies {
        let path = dir.join(format!("bench-{concurrency}.db"));
        let store = Arc::new(Sqlite::open(path.to_str().expect("utf-8 path")).expect("open store"));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..concurrency {
            let store = store.clone();
            tasks.spawn(async move {
                for n in (worker..total).step_by(concurrency) {
                    let binding = Binding::new(
                        "38342".into(),
                        format!("{n}"),
                        None,
                        format!("Aid{n:016}"),
                        None,
                    );
                    store.put_binding(binding, 0).await.expect("stored");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let seconds = started.elapsed().as_secs_f64();
        let commits = store.stats().commits.load(Ordering::Relaxed);
        println!(
            "{total:>8}  {concurrency:>11}  {seconds:>7.2}  {:>10.0}  {commits:>12}  {:>20.1}",
            total as f64 / seconds,
            total as f64 / commits.max(1) as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
