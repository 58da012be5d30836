//! aidlink capture: binds the RTB House visitor id (cookie `__r_aid_v__` or `__rtbh.aid`) to the
//! Calltouch session, hands it to Calltouch (`ct('set_attrs', …)`) and sends the binding to the
//! aidlink relay, once per (session, id). Compiled to WebAssembly; shipped as a `<script>` tag
//! (`www/loader/`) and as the npm package `aidlink`.
//!
//! The data path, in module order:
//! - [`config`]: `data-*` attributes / npm options → validated [`config::Config`] (pure).
//! - [`page`]: guarded access to the host page (cookies, `ct`, storage, timers, console).
//! - [`session`]: the Calltouch session and visitor ids, in order of preference.
//! - [`agent`]: the state machine: look for both ids → hand to Calltouch → queue; consent;
//!   carries out what `deliver` decides (requests, beacons, storage), one [`agent::tick`] at a
//!   time. When to look (the poll, the page's events) and the waiting for requests and retry
//!   delays are the loader's (`www/loader/watch.js`).
//! - [`deliver`]: the delivery state, pure: the queue → one request at a time, retries, beacon
//!   flush, storage shared by the site's tabs.
//! - [`send`]: one request (the page's `fetch`, caught; gloo-net reads the response) and
//!   `sendBeacon`.
//! - [`pending`]: what survives a reload in `localStorage` (pure).
//! - `entry`: the functions behind `window.aidlink` and npm `start()`.
//!
//! Wire types and parsing rules shared with the relay live in `aidlink-protocol`.
#![warn(missing_docs)]

extern crate alloc;

pub mod config;
pub mod deliver;
pub mod pending;
pub mod send;

#[cfg(target_arch = "wasm32")]
pub mod agent;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
pub mod page;
#[cfg(target_arch = "wasm32")]
pub mod session;

#[cfg(target_arch = "wasm32")]
pub use entry::{check, deny_consent, grant_consent, start_tag, status, stop};

/// The heap: talc instead of Rust's default dlmalloc for wasm32, 2.7 KB gzip smaller
/// (BENCHMARKS.md); the module is single-threaded.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
