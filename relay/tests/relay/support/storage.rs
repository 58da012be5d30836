//! Which storage the suite runs on: SQLite files in each test's temp dir, or, with
//! `AIDLINK_TEST_STORAGE=postgres://…` (npm test runs the suite a second time so, on the server
//! scripts/postgres.sh starts, over TLS: `?sslmode=require&sslrootcert=…`), a fresh PostgreSQL
//! schema per relay or store. Tests that are about SQLite's own files use SQLite either way.

use std::path::Path;
use std::sync::Arc;

use aidlink_relay::store::{self, Store};

/// The PostgreSQL server the suite runs on, if it does.
pub fn postgres() -> Option<String> {
    std::env::var("AIDLINK_TEST_STORAGE")
        .ok()
        .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
}

/// The storage URL for a relay or store whose files live in `dir`: `sqlite://DIR/aidlink.db`,
/// or a new empty schema on the PostgreSQL server.
pub fn url_for(dir: &Path) -> String {
    match postgres() {
        None => format!("sqlite://{}", dir.join("aidlink.db").display()),
        Some(base) => fresh_schema(&base),
    }
}

/// A new schema on `base`'s server; the URL whose connections use it. (Made on a thread of
/// its own: callers may be inside a runtime or not.)
fn fresh_schema(base: &str) -> String {
    let schema = format!("it_{:016x}", rand::random::<u64>());
    let (base2, schema2) = (base.to_string(), schema.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Without the URL's parameters (`sslmode=require`, `sslrootcert`: the relay's,
            // not this set-up's), in the clear.
            let plain = base2.split('?').next().unwrap_or(&base2);
            let (client, conn) = tokio_postgres::connect(plain, tokio_postgres::NoTls)
                .await
                .expect("the test PostgreSQL server answers");
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE SCHEMA {schema2}"))
                .await
                .unwrap();
        })
    })
    .join()
    .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// The `[storage]` settings for `url`, a small pool (many relays run at once in the suite).
pub fn settings(url: &str) -> aidlink_relay::config::Storage {
    aidlink_relay::config::Storage {
        url: url.to_string(),
        pool_size: 4,
        ..Default::default()
    }
}

/// The store at `url`, as a relay opens it.
pub async fn open(url: &str) -> Arc<dyn Store> {
    store::open(&settings(url)).await.unwrap()
}

/// A fresh store (files in `dir`) on the suite's backend.
pub async fn fresh(dir: &Path) -> Arc<dyn Store> {
    open(&url_for(dir)).await
}
