//! PostgreSQL storage, which several relay instances share: tokio-postgres through a bounded
//! deadpool pool (`storage.pool_size` connections, `storage.connect_timeout_ms` to open one,
//! `storage.acquire_timeout_ms` to wait for a free one, `storage.statement_timeout_ms` for any
//! statement, enforced by the server and by the relay), versioned migrations (`schema`), every
//! statement a constant (`sql`). `sslmode=require` in the URL connects over TLS (rustls), the
//! server's certificate verified against the Mozilla roots or the URL's `sslrootcert` PEM file;
//! without it the connection is in the clear (a unix socket or a private network).
//!
//! What keeps instances from stepping on each other lives in the SQL: the outbox is claimed
//! with `FOR UPDATE SKIP LOCKED` and a lease that expires (a crashed instance's claims are taken
//! by the others once it has passed); one postback per lead is the outbox's primary key; a
//! verdict is a conditional update on the version judged, so a lead is decided once even when
//! its start and end reach two instances at the same moment; the periodic jobs take a
//! session-level advisory lock per job ([`Store::exclusive`]). Every write is one transaction
//! and resolves after its commit; a lost connection is an error (503 upstream), and the pool
//! opens new connections as soon as the server answers again.

/// Shorthand: an `Op` from an async block over the connection.
macro_rules! op {
    (|$conn:ident| $body:expr) => {
        Box::new(move |$conn: &mut Object| Box::pin(async move { $body }))
    };
}

mod jobs;
mod read;
mod rows;
mod schema;
mod screen;
mod sql;
mod write;

#[cfg(test)]
mod instances;
#[cfg(test)]
pub(crate) mod tests;

use std::str::FromStr;
use std::time::Duration;

use aidlink_protocol::Binding;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{
    Attempt, BoxFuture, ClaimPlan, DeadLetter, Delivery, LeadStatus, LeadSummary, Next,
    OutboxStats, Purged, RowCounts, Store, StoreError, TouchKeys, Trail, Turn,
};
use crate::decide::{LeadFacts, StoredTouch, Verdict};
use crate::store::sqlite::OutboxState;
use crate::webhook::Lead;

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Whether a `postgres://` URL can be used by this build; why not.
pub fn check_url(url: &str) -> Result<(), String> {
    connection(url).map(|_| ())
}

/// What a `postgres://` URL connects with: its settings (without `sslrootcert`) and the TLS
/// set-up `sslmode=require` uses; why the URL cannot be used.
fn connection(url: &str) -> Result<(tokio_postgres::Config, MakeRustlsConnect), String> {
    let (url, root_cert) = split_root_cert(url);
    let config = tokio_postgres::Config::from_str(&url).map_err(|e| {
        format!("not a PostgreSQL URL ({e}); e.g. postgres://aidlink:secret@db:5432/aidlink")
    })?;
    if config.get_hosts().is_empty() {
        return Err("names no host (postgres://user:password@HOST:5432/database)".into());
    }
    if root_cert.is_some() && config.get_ssl_mode() != SslMode::Require {
        return Err("sslrootcert is read only with sslmode=require".into());
    }
    Ok((config, tls(root_cert.as_deref())?))
}

/// `url` without its `sslrootcert=PATH` parameter (libpq's name, which tokio-postgres does
/// not read), and that path, percent-decoded.
fn split_root_cert(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut root_cert = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("sslrootcert=") {
            Some(path) => {
                root_cert = Some(
                    percent_encoding::percent_decode_str(path)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                false
            }
            None => true,
        })
        .collect();
    if kept.is_empty() {
        (base.to_string(), root_cert)
    } else {
        (format!("{base}?{}", kept.join("&")), root_cert)
    }
}

/// The TLS set-up of `sslmode=require`: the server's certificate must chain to a root of the
/// Mozilla set (webpki-roots) or to one in the `sslrootcert` PEM file, and name the host the
/// URL connects to.
fn tls(root_cert: Option<&str>) -> Result<MakeRustlsConnect, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = root_cert {
        let unreadable = |e: &dyn std::fmt::Display| format!("sslrootcert {path}: {e}");
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
            let cert = cert.map_err(|e| unreadable(&e))?;
            roots.add(cert).map_err(|e| unreadable(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("sslrootcert {path}: no PEM certificate in it"));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Pool and time limits (`[storage]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Connections at most.
    pub pool_size: usize,
    /// Opening one connection.
    pub connect_timeout: Duration,
    /// Waiting for a free connection.
    pub acquire_timeout: Duration,
    /// One statement.
    pub statement_timeout: Duration,
}

impl Options {
    /// From `[storage]`.
    pub fn from_config(storage: &crate::config::Storage) -> Options {
        Options {
            pool_size: storage.pool_size as usize,
            connect_timeout: Duration::from_millis(storage.connect_timeout_ms),
            acquire_timeout: Duration::from_millis(storage.acquire_timeout_ms),
            statement_timeout: Duration::from_millis(storage.statement_timeout_ms),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::from_config(&crate::config::Storage::default())
    }
}

/// The PostgreSQL store; cheap to share.
pub struct Postgres {
    pool: Pool,
    /// How long the relay waits for one operation's answer before giving up on its connection.
    answer_within: Duration,
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A database error with its cause (tokio-postgres's own text is terse: "db error").
fn db_error(e: &tokio_postgres::Error) -> StoreError {
    let mut text = e.to_string();
    if let Some(db) = e.as_db_error() {
        text = format!("{}: {}", db.severity(), db.message());
    } else if let Some(source) = std::error::Error::source(e) {
        text = format!("{text}: {source}");
    }
    unavailable(format!("PostgreSQL: {text}"))
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Timeout(_) => unavailable(
            "PostgreSQL: no connection within storage.acquire_timeout_ms / connect_timeout_ms",
        ),
        PoolError::Backend(e) => db_error(&e),
        other => unavailable(format!("PostgreSQL: {other}")),
    }
}

/// An operation on one pooled connection.
type Op<T> = Box<dyn for<'c> FnOnce(&'c mut Object) -> BoxFuture<'c, Result<T, Failed>> + Send>;

/// Why an operation failed inside: the database, or data it cannot read.
#[derive(Debug)]
pub(super) enum Failed {
    Db(tokio_postgres::Error),
    Data(String),
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Failed {
        Failed::Db(e)
    }
}

impl Postgres {
    /// Connects to `url` (`postgres://…`), migrates the schema (under an advisory lock) and
    /// keeps a pool per `options`. Fails when the server cannot be reached now.
    pub async fn open(url: &str, options: &Options) -> Result<Postgres, StoreError> {
        let (mut config, tls) = connection(url).map_err(StoreError::Unsupported)?;
        // TLS only when asked for with `sslmode=require`, and then verified; `prefer` (the
        // default) connects in the clear rather than trust an unverified certificate silently.
        if config.get_ssl_mode() != SslMode::Require {
            config.ssl_mode(SslMode::Disable);
        }
        let timeout_ms = options.statement_timeout.as_millis();
        let mut server_options = config.get_options().unwrap_or_default().to_string();
        server_options.push_str(&format!(" -c statement_timeout={timeout_ms}"));
        config
            .options(server_options.trim())
            .connect_timeout(options.connect_timeout)
            .application_name("aidlink-relay");
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(unavailable)?;
        let store = Postgres {
            pool,
            answer_within: options.statement_timeout + Duration::from_secs(1),
        };
        let migrated = store
            .with(Box::new(|conn| {
                Box::pin(async move { Ok(schema::migrate(conn).await?) })
            }))
            .await?;
        if migrated.applied > 0 {
            tracing::info!(
                applied = migrated.applied,
                version = migrated.version,
                "PostgreSQL schema migrated"
            );
        }
        Ok(store)
    }

    /// Runs `op` on a pooled connection, within [`Postgres::answer_within`]; a connection
    /// that did not answer in time is closed, not returned to the pool.
    fn with<T: Send + 'static>(&self, op: Op<T>) -> BoxFuture<'_, Result<T, StoreError>> {
        Box::pin(async move {
            let mut conn = self.pool.get().await.map_err(pool_error)?;
            let answer = tokio::time::timeout(self.answer_within, op(&mut conn)).await;
            match answer {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(Failed::Db(e))) => Err(db_error(&e)),
                Ok(Err(Failed::Data(e))) => Err(unavailable(e)),
                Err(_) => {
                    drop(Object::take(conn));
                    Err(unavailable(
                        "PostgreSQL: no answer within storage.statement_timeout_ms",
                    ))
                }
            }
        })
    }
}

impl Store for Postgres {
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(op!(|c| {
            c.query_one("SELECT 1", &[]).await?;
            Ok(())
        }))
    }

    fn probe_write(&self, now_ms: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(op!(|c| {
            c.execute(
                "INSERT INTO probe (id, at_ms) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
                &[&now_ms],
            )
            .await?;
            Ok(())
        }))
    }

    fn put_binding(
        &self,
        binding: Binding,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.with(op!(|c| write::put_binding(c, &binding, now_ms).await))
    }

    fn put_lead_event(
        &self,
        site: String,
        lead: Lead,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(op!(|c| write::put_lead_event(c, &site, &lead, now_ms).await))
    }

    fn lead_facts(
        &self,
        site: String,
        lead_id: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Option<LeadFacts>, StoreError>> {
        self.with(op!(|c| read::lead_facts(c, &site, &lead_id, limit).await))
    }

    fn touches(
        &self,
        site: String,
        keys: TouchKeys,
        until_ms: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<StoredTouch>, StoreError>> {
        self.with(op!(
            |c| read::touches(c, &site, &keys, until_ms, limit).await
        ))
    }

    fn record_verdict(
        &self,
        site: String,
        lead_id: String,
        version: i64,
        verdict: Verdict,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.with(op!(|c| {
            write::record_verdict(c, &site, &lead_id, version, &verdict, now_ms).await
        }))
    }

    fn undecided(&self, limit: u32) -> BoxFuture<'_, Result<Vec<(String, String)>, StoreError>> {
        self.with(op!(|c| read::undecided(c, limit).await))
    }

    fn claim_due(
        &self,
        now_ms: i64,
        lease_ms: i64,
        plan: ClaimPlan,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>> {
        self.with(op!(|c| write::claim_due(c, now_ms, lease_ms, &plan).await))
    }

    fn record_attempt(
        &self,
        delivery: Delivery,
        attempt: Attempt,
        next: Next,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(op!(
            |c| write::record_attempt(c, &delivery, &attempt, next).await
        ))
    }

    fn dead_letters(
        &self,
        site: String,
        lead_id: Option<String>,
    ) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        self.with(op!(
            |c| read::dead_letters(c, &site, lead_id.as_deref()).await
        ))
    }

    fn requeue_dead(
        &self,
        site: String,
        lead_ids: Vec<String>,
        forced: bool,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.with(op!(|c| {
            write::requeue_dead(c, &site, &lead_ids, forced, now_ms).await
        }))
    }

    fn trail(
        &self,
        site: String,
        lead_id: String,
    ) -> BoxFuture<'_, Result<Option<Trail>, StoreError>> {
        self.with(op!(|c| read::trail(c, site, lead_id).await))
    }

    fn list(
        &self,
        site: String,
        status: LeadStatus,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<LeadSummary>, StoreError>> {
        self.with(op!(|c| read::list(c, &site, status, limit).await))
    }

    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        self.with(op!(|c| read::outbox_stats(c).await))
    }

    fn row_counts(&self) -> BoxFuture<'_, Result<RowCounts, StoreError>> {
        self.with(op!(|c| read::row_counts(c).await))
    }

    fn purge(&self, cutoff_ms: i64, batch: u32) -> BoxFuture<'_, Result<Purged, StoreError>> {
        self.with(op!(|c| write::purge(c, cutoff_ms, batch).await))
    }

    fn reclaim(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        // PostgreSQL's autovacuum makes the space of deleted rows reusable by itself.
        Box::pin(async { Ok(0) })
    }

    fn exclusive(&self, job: &'static str) -> BoxFuture<'_, Result<Option<Turn>, StoreError>> {
        Box::pin(async move {
            let conn = self.pool.get().await.map_err(pool_error)?;
            jobs::try_lock(conn, job, self.answer_within).await
        })
    }
}

/// The stored name of a status.
fn status_name(status: LeadStatus) -> &'static str {
    status.as_str()
}

/// A status as stored.
fn parse_status(name: &str) -> Result<LeadStatus, Failed> {
    LeadStatus::parse(name).ok_or_else(|| Failed::Data(format!("lead status {name:?}")))
}

fn state_name(state: OutboxState) -> &'static str {
    state.as_str()
}

/// A postback's `cd` as stored.
fn parse_cd(name: &str) -> Result<crate::postback::Cd, Failed> {
    crate::postback::Cd::parse(name).ok_or_else(|| Failed::Data(format!("cd {name:?}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failed> {
    serde_json::to_string(value).map_err(|e| Failed::Data(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Failed> {
    serde_json::from_str(text).map_err(|e| Failed::Data(format!("stored JSON: {e}")))
}
