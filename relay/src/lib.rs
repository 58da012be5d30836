//! aidlink relay.
pub mod config;
pub mod decide;
pub mod postback;
pub mod webhook;
