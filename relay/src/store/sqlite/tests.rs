//! The SQLite store: the conformance suite, the query plan of every hot-path statement, and
//! what only SQLite has (auto-vacuum, read connections beside the writer).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::Connection;

use super::{sql, Sqlite};
use crate::store::conformance::all_conformance_tests;
use crate::store::Store;

async fn fresh() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conformance.db");
    let store = Sqlite::open(path.to_str().unwrap()).unwrap();
    (dir, Arc::new(store))
}

all_conformance_tests!(fresh());

use crate::store::conformance::GROWING;

/// The plan's reads of a growing table that get slower as it grows: a `SCAN` of it (every
/// row or every index entry), or a `SEARCH` whose only constraint is the site (every row of
/// the site: a scan, for a relay that serves one site) — unless the statement reads the site's
/// rows in the index's own order up to a `LIMIT` (no temporary B-tree sorts them), as the
/// newest-first reads of the operator's screen do: those stop after the limit.
fn full_scans(conn: &Connection, statement: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {statement}"))
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    let params = stmt.parameter_count();
    let nulls: Vec<rusqlite::types::Null> = vec![rusqlite::types::Null; params];
    let details: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let limited_in_index_order =
        statement.contains(" LIMIT ") && !details.iter().any(|d| d.contains("TEMP B-TREE"));
    details
        .into_iter()
        .filter(|d| {
            let words: Vec<&str> = d.split_whitespace().collect();
            let growing = |w: &[&str]| GROWING.contains(&w[1]);
            let scan = words.windows(2).any(|w| w[0] == "SCAN" && growing(w));
            let site_only = words.windows(2).any(|w| w[0] == "SEARCH" && growing(w))
                && d.ends_with("(site=?)")
                && !limited_in_index_order;
            scan || site_only
        })
        .collect()
}

#[test]
fn every_hot_path_statement_is_served_by_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.db");
    drop(Sqlite::open(path.to_str().unwrap()).unwrap());
    let conn = Connection::open(&path).unwrap();
    // Statistics as a busy database would have them, so the planner chooses as in production.
    conn.execute_batch("ANALYZE;").unwrap();
    let mut bad = Vec::new();
    for (name, statement) in sql::HOT_PATH {
        for scan in full_scans(&conn, statement) {
            bad.push(format!("{name}: {scan}"));
        }
    }
    assert!(
        bad.is_empty(),
        "full scans of growing tables:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_plan_test_sees_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.db");
    drop(Sqlite::open(path.to_str().unwrap()).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("ANALYZE;").unwrap();
    let unindexed = "SELECT touch FROM bindings WHERE touch_ts = ?1";
    assert_eq!(full_scans(&conn, unindexed).len(), 1, "a SCAN");
    let whole_site = "SELECT touch FROM bindings WHERE site = ?1 AND touch_ts = ?2";
    assert_eq!(
        full_scans(&conn, whole_site).len(),
        1,
        "a search of the whole site"
    );
    let served = "SELECT touch FROM bindings WHERE site = ?1 AND aid = ?2";
    assert!(full_scans(&conn, served).is_empty());
    let newest = "SELECT reason FROM lead_events WHERE site = ?1 ORDER BY seq DESC LIMIT ?2";
    assert!(
        full_scans(&conn, newest).is_empty(),
        "the newest of a site, read in index order up to a limit"
    );
    let sorted =
        "SELECT reason FROM lead_events WHERE site = ?1 ORDER BY received_ms DESC LIMIT ?2";
    assert_eq!(
        full_scans(&conn, sorted).len(),
        1,
        "every row of the site sorted before the limit applies"
    );
}

#[test]
fn a_new_database_gives_freed_pages_back_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vacuum.db");
    drop(Sqlite::open(path.to_str().unwrap()).unwrap());
    let conn = Connection::open(&path).unwrap();
    let mode: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 2, "incremental");
}

#[tokio::test]
async fn one_reclaim_gives_back_hundreds_of_pages_not_one() {
    let (dir, store) = fresh().await;
    const N: usize = 12_000;
    // Written 200 at a time, so they share commits.
    for chunk in (0..N).collect::<Vec<_>>().chunks(200) {
        let writes: Vec<_> = chunk
            .iter()
            .map(|i| {
                let store = store.clone();
                let b = aidlink_protocol::Binding::new(
                    "38342".into(),
                    format!("S{i}"),
                    None,
                    format!("Aid{i:0>20}"),
                    None,
                );
                tokio::spawn(async move { store.put_binding(b, 1_000).await.unwrap() })
            })
            .collect();
        for w in writes {
            assert!(w.await.unwrap());
        }
    }
    let purged = store.purge(2_000, N as u32).await.unwrap();
    assert_eq!(purged.bindings, N as u64);
    let path = dir.path().join("conformance.db");
    let free = |conn: &Connection| -> i64 {
        conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap()
    };
    let before = free(&Connection::open(&path).unwrap());
    assert!(before > 300, "the purge freed pages: {before}");
    let left = store.reclaim().await.unwrap() as i64;
    assert_eq!(left, free(&Connection::open(&path).unwrap()));
    assert!(
        before - left >= 200,
        "one reclaim gave back {} of {before} free pages",
        before - left
    );
}

#[tokio::test]
async fn reads_do_not_wait_behind_a_long_write() {
    let (_dir, store) = fresh().await;
    let sqlite_path = _dir.path().join("conformance.db");
    // Another process holds the write lock (as `replay` may): reads still answer.
    let other = Connection::open(&sqlite_path).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO row_counts VALUES ('x', 1);")
        .unwrap();
    let within = std::time::Duration::from_secs(2);
    let counts = tokio::time::timeout(within, store.row_counts())
        .await
        .expect("a read answers while the write lock is held")
        .unwrap();
    assert_eq!(counts.bindings, 0);
    let keys = crate::store::TouchKeys {
        session: Some("S".into()),
        ..Default::default()
    };
    let reads = async {
        let facts = store.lead_facts("38342".into(), "call-1".into(), 50).await;
        let touches = store.touches("38342".into(), keys, 1, 50).await;
        let list = store
            .list("38342".into(), crate::store::LeadStatus::Sent, 10)
            .await;
        let trail = store.trail("38342".into(), "call-1".into()).await;
        (facts, touches, list, trail)
    };
    let (facts, touches, list, trail) = tokio::time::timeout(within, reads)
        .await
        .expect("a decision's reads and the lead API answer while the write lock is held");
    assert!(facts.unwrap().is_none() && touches.unwrap().is_empty());
    assert!(list.unwrap().is_empty() && trail.unwrap().is_none());
    other.execute_batch("ROLLBACK;").unwrap();
}

#[test]
fn under_4_mib_free_the_store_is_not_ready_and_says_the_disk_is_full() {
    let full = super::enough_room(Some(4 * 1024 * 1024 - 1)).unwrap_err();
    assert_eq!(
        full.to_string(),
        "storage unavailable: the disk holding the database is full (4194303 bytes free)"
    );
    assert!(super::enough_room(Some(4 * 1024 * 1024)).is_ok());
    assert!(
        super::enough_room(None).is_ok(),
        "unknown is not held against it"
    );
}

#[test]
fn the_free_space_of_the_databases_file_system_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aidlink.db");
    let free = super::free_bytes(path.to_str().unwrap()).expect("statvfs answers");
    assert!(free > 0);
    assert!(super::free_bytes("/nonexistent-dir/aidlink.db").is_none());
}

fn binding(i: usize) -> aidlink_protocol::Binding {
    aidlink_protocol::Binding::new(
        "38342".into(),
        format!("S{i}"),
        None,
        format!("Aid{i:0>20}"),
        None,
    )
}

/// Blocks each sync until the test lets it go; says when one starts.
struct Gate {
    started: std::sync::mpsc::Receiver<()>,
    release: std::sync::mpsc::Sender<std::io::Result<()>>,
}

fn gated(path: &std::path::Path) -> (Sqlite, Gate) {
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let mut opened = false;
    let sync = Box::new(move || {
        // The sync at open (the migrations' commits) passes at once.
        if !std::mem::replace(&mut opened, true) {
            return Ok(());
        }
        let _ = started_tx.send(());
        released
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("test gone")))
    });
    let store = Sqlite::open_with(path.to_str().unwrap(), Some(sync)).unwrap();
    (store, Gate { started, release })
}

async fn next_sync_starts(gate: &Gate) {
    tokio::task::block_in_place(|| {
        gate.started
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a sync starts after the commit")
    });
}

fn is_ready<F: std::future::Future + Unpin>(future: &mut F) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(future).poll(&mut cx).is_ready()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_is_answered_only_after_the_wal_reaches_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (store, gate) = gated(&dir.path().join("aidlink.db"));
    let mut put = store.put_binding(binding(1), 1_000);
    next_sync_starts(&gate).await;
    // Committed (the sync only starts after the commit), yet not answered.
    assert_eq!(store.stats().commits.load(Ordering::Relaxed), 1);
    assert!(!is_ready(&mut put), "answered before the WAL was synced");
    gate.release.send(Ok(())).unwrap();
    let stored = tokio::time::timeout(std::time::Duration::from_secs(10), put)
        .await
        .expect("answered once synced");
    assert!(stored.unwrap());
    assert_eq!(store.stats().syncs.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_failed_sync_every_write_fails_until_the_relay_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (store, gate) = gated(&dir.path().join("aidlink.db"));
    let put = store.put_binding(binding(1), 1_000);
    next_sync_starts(&gate).await;
    gate.release
        .send(Err(std::io::Error::other("EIO")))
        .unwrap();
    let within = std::time::Duration::from_secs(10);
    let failed = tokio::time::timeout(within, put)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        failed.to_string(),
        "storage unavailable: the write did not reach the disk"
    );
    // Committed after the failure: no sync is tried, none can vouch for it.
    let later = tokio::time::timeout(within, store.probe_write(2_000))
        .await
        .unwrap();
    assert!(
        later.is_err(),
        "a write after a failed sync was acknowledged"
    );
    assert!(gate.started.try_recv().is_err());
}

#[test]
fn a_wal_removed_or_replaced_under_the_relay_fails_its_sync() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("aidlink.db");
    let wal_path = dir.path().join("aidlink.db-wal");
    assert!(
        super::WalFile::open(db.to_str().unwrap()).is_err(),
        "no WAL file yet"
    );
    std::fs::write(&wal_path, b"frames").unwrap();
    let mut wal = super::WalFile::open(db.to_str().unwrap()).unwrap();
    wal.sync().unwrap();
    // Replaced by another file: SQLite still writes to the one it opened, lost at restart.
    std::fs::rename(&wal_path, dir.path().join("kept")).unwrap();
    std::fs::write(&wal_path, b"other frames").unwrap();
    let replaced = wal.sync().unwrap_err().to_string();
    assert!(replaced.contains("was removed or replaced"), "{replaced}");
    std::fs::remove_file(&wal_path).unwrap();
    assert!(wal.sync().is_err(), "removed");
}

#[tokio::test]
async fn a_timed_purge_deletes_as_purge_does_and_says_how_long_it_held_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Sqlite::open(dir.path().join("aidlink.db").to_str().unwrap()).unwrap();
    for i in 0..3 {
        assert!(store.put_binding(binding(i), 1_000).await.unwrap());
    }
    let asked = std::time::Instant::now();
    let (purged, held) = store.purge_timed(2_000, 2).await.unwrap();
    let round_trip = asked.elapsed();
    assert_eq!(purged.bindings, 2, "one batch of two");
    assert!(
        held > std::time::Duration::ZERO && held <= round_trip,
        "{held:?} of {round_trip:?}"
    );
    assert_eq!(store.row_counts().await.unwrap().bindings, 1);
}
