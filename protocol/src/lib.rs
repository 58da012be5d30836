//! Wire types and pure logic shared by the aidlink browser module (`aidlink`, compiled to
//! WebAssembly) and the relay (`aidlink-relay`, native). Nothing here does I/O.
//!
//! - [`binding`]: the `POST /v1/bindings` payload ([`Binding`], [`Touch`]), its validation and the
//!   deterministic binding id used for de-duplication.
//! - [`cookie`]: `document.cookie` parsing (exact name, first match, quotes, percent-decoding),
//!   the RTB House id in either form (the id itself, or the `__rtbh.aid` JSON object) read from
//!   a list of cookie names or from one value (`attrs`), id validation, and Calltouch's
//!   `_ct_ids` cookie.
//! - [`text`]: percent-decoding and splitting on a separator, shared by those readers.
//! - [`touch`]: the traffic touchpoint of a page view (utm_*, referrer host, landing path) and
//!   how a touchpoint reads as source / medium / direct.
//! - [`backoff`]: the retry schedule (exponential, capped, with jitter supplied by
//!   the caller) and `Retry-After` parsing.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod backoff;
pub mod binding;
pub mod cookie;
pub mod text;
pub mod touch;

pub use backoff::Backoff;
pub use binding::{Binding, BindingError, Touch};
