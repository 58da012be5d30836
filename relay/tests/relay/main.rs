//! The relay's integration tests, one binary (`cargo test -p aidlink-relay --test relay`; run
//! again with `AIDLINK_TEST_STORAGE=postgres://…` for the PostgreSQL backend: `support::storage`),
//! with the helpers they share in `support/`: the real `aidlink-relay` binary on loopback
//! (`Relay`), a fake RTB House (`Receiver`), the one wait helper (`wait_until`) and the one
//! fake `Store` (`support::fault`). Webhook fixtures are in `relay/tests/fixtures/`.
//!
//! - `chain`: a binding and a webhook become one postback, whatever the redeliveries.
//! - `credit`: whom a lead is credited to cannot be changed by a forged binding.
//! - `decisions`: what a lead is judged on when more arrives after it.
//! - `delivery`: postback attempts against the fake RTB House.
//! - `fixtures`: recorded Calltouch webhooks, by POST and by GET.
//! - `hostile`: clients that try to exhaust the relay (slow, huge, many) are cut off.
//! - `ingest`: webhooks and bindings in, client addresses, bodies.
//! - `instances`: several relays on one PostgreSQL database; the database going away.
//! - `migrate`: `migrate-storage` moves a relay's data to another storage.
//! - `ops`: CORS, assets, health, metrics, logs, `check-config`.
//! - `pages`: the screen's test lead, `Retry`, and its form without script.
//! - `refusals`: bad input gets the right status and stores nothing.
//! - `router`: `app(state)` with `oneshot`, storage that cannot commit.
//! - `screen`: the operator's screen: sign-in and its limit, sessions and their expiry,
//!   CSRF, the CSP, the language.
//! - `settings`: settings saved on the screen over the file's, across reloads and instances.
//! - `storage`: group commit, kills and restarts.
//! - `sweep`: a failed decision is retried within seconds.
mod support;

mod chain;
mod credit;
mod decisions;
mod delivery;
mod fixtures;
mod hostile;
mod ingest;
mod instances;
mod migrate;
mod ops;
mod pages;
mod refusals;
mod router;
mod screen;
mod settings;
mod storage;
mod sweep;
