//! aidlink relay: the server half of aidlink. Bindings from browsers and Calltouch webhooks
//! come in, are stored durably, decided per the operator's settings, and qualifying leads go
//! out as RTB House postbacks, once per lead. The data path, module by module:
//!
//! - [`http`]: ingest (`POST /v1/bindings`, `/v1/calltouch/{site}`), the decision log API,
//!   the capture bundle and `/healthz` `/readyz` `/metrics`; one error type sets every status.
//! - [`webhook`]: a Calltouch webhook's fields → a [`webhook::Lead`] without personal data.
//! - [`store`]: the durable [`store::Store`] trait and its implementations: SQLite (WAL, group
//!   commit on one writer, reads on their own connections) and PostgreSQL (a bounded pool,
//!   shared by several instances: outbox claims with `SKIP LOCKED` and leases, one postback
//!   per lead by key, advisory locks for periodic jobs); it loads facts and writes verdicts,
//!   and keeps what the operator's screen saves; nothing is acknowledged before it is committed.
//! - [`migrate`]: `migrate-storage`, a whole store copied into another (SQLite to
//!   PostgreSQL, or back), verified by counts.
//! - [`pipeline`]: "decide this lead now" (load facts → judge → record), the sweep of leads
//!   left undecided, and retention.
//! - [`decide`]: the rules, pure, checked one by one: switch → credentials → RTB House id →
//!   call end → metrics → tags → traffic under the attribution model; the first "no" is the
//!   recorded reason.
//! - [`postback`]: the RTB House postback URL.
//! - [`outbox`]: delivery with retry, backoff, `Retry-After`, dead letters; up to
//!   `rtbhouse.concurrency` in flight, shared fairly between sites.
//! - [`config`] and [`reload`]: the TOML settings, validated with key paths, reloaded on SIGHUP
//!   or file change; the effective settings put the sites saved on the operator's screen in
//!   place of the file's ([`overlay`], pure), read and written by [`saved`] (a save with its
//!   [`audit`] entry; a poll of the settings version on every instance).
//! - [`screen`]: the operator's screen at `/admin`: sign-in and sessions, sites and their form,
//!   the lead log and trails with `Retry`, the live view, the test lead; Russian and English.
//! - [`metrics`]: Prometheus counters.
//! - [`clock`]: the one clock (system time, or a manual one in tests).
//!
//! Wire types shared with the browser module (the binding payload) live in `aidlink-protocol`.
#![warn(missing_docs)]

pub mod audit;
pub mod clock;
pub mod config;
pub mod decide;
pub mod http;
pub mod metrics;
pub mod migrate;
pub mod outbox;
pub mod overlay;
pub mod pipeline;
pub mod postback;
pub mod reload;
pub mod saved;
pub mod screen;
pub mod store;
pub mod webhook;
