//! Checks on a parsed configuration that types alone cannot express (addresses, lengths,
//! duplicates, URLs); every problem is reported, each with its key path. Warnings name what
//! is valid but cannot work yet (a site without its RTB House credentials).

use std::net::SocketAddr;

use super::{Config, Dedup, Message, Problem, Site};
use crate::postback::HORIZON_MS;

impl Config {
    /// Every problem in the configuration.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad = |path: String, message: Message| out.push(Problem { path, message });
        if self.server.listen.parse::<SocketAddr>().is_err() {
            bad("server.listen".into(), Message::ListenAddress);
        }
        if self.server.admin_token.chars().count() < 16 {
            bad("server.admin_token".into(), Message::TokenLength);
        }
        if self.server.bindings_per_minute_per_ip == 0 {
            bad(
                "server.bindings_per_minute_per_ip".into(),
                Message::AtLeastOne,
            );
        }
        if !(1024..=2 * 1024 * 1024).contains(&self.server.webhook_max_bytes) {
            bad("server.webhook_max_bytes".into(), Message::WebhookMaxBytes);
        }
        for (key, value) in [
            ("header_read_timeout_ms", self.server.header_read_timeout_ms),
            ("body_read_timeout_ms", self.server.body_read_timeout_ms),
            ("idle_timeout_ms", self.server.idle_timeout_ms),
        ] {
            if !(100..=600_000).contains(&value) {
                bad(format!("server.{key}"), Message::TimeoutMs);
            }
        }
        if !(1..=65_536).contains(&self.server.max_connections) {
            bad("server.max_connections".into(), Message::MaxConnections);
        }
        let idle = humantime::parse_duration(&self.server.admin_session_idle);
        if !idle.is_ok_and(|d| (60..=7 * 86_400).contains(&d.as_secs())) {
            bad("server.admin_session_idle".into(), Message::SessionIdle);
        }
        if self.server.shutdown_grace_ms > 300_000 {
            bad("server.shutdown_grace_ms".into(), Message::ShutdownGrace);
        }
        if let Err(why) = crate::store::check_url(&self.storage.url) {
            bad("storage.url".into(), Message::StorageUrl(why));
        }
        if self.storage.outbox_lease_ms == 0 {
            bad("storage.outbox_lease_ms".into(), Message::AtLeastOne);
        }
        if !(1..=256).contains(&self.storage.pool_size) {
            bad("storage.pool_size".into(), Message::PoolSize);
        }
        for (key, value) in [
            ("connect_timeout_ms", self.storage.connect_timeout_ms),
            ("acquire_timeout_ms", self.storage.acquire_timeout_ms),
            ("statement_timeout_ms", self.storage.statement_timeout_ms),
        ] {
            if !(100..=600_000).contains(&value) {
                bad(format!("storage.{key}"), Message::TimeoutMs);
            }
        }
        match humantime::parse_duration(&self.storage.retention) {
            Ok(d) if d >= std::time::Duration::from_secs(86_400) => {}
            Ok(_) => bad("storage.retention".into(), Message::RetentionTooShort),
            Err(_) => bad("storage.retention".into(), Message::RetentionDuration),
        }
        if !(1..=1024).contains(&self.rtbhouse.concurrency) {
            bad("rtbhouse.concurrency".into(), Message::Concurrency);
        }
        let endpoint = &self.rtbhouse.endpoint;
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            bad("rtbhouse.endpoint".into(), Message::HttpUrl);
        }
        if self.rtbhouse.timeout_ms == 0 {
            bad("rtbhouse.timeout_ms".into(), Message::AtLeastOne);
        }
        match humantime::parse_duration(&self.rtbhouse.retry_for) {
            Err(_) => bad("rtbhouse.retry_for".into(), Message::RetryForDuration),
            Ok(d) if d.as_millis() > HORIZON_MS as u128 => {
                bad("rtbhouse.retry_for".into(), Message::RetryForTooLong)
            }
            Ok(_) => {}
        }
        if self.rtbhouse.retry_base_ms == 0
            || self.rtbhouse.retry_cap_ms < self.rtbhouse.retry_base_ms
        {
            bad("rtbhouse.retry_cap_ms".into(), Message::RetryCap);
        }
        for (i, site) in self.site.iter().enumerate() {
            let p = |key: &str| format!("site[{i}].{key}");
            if !aidlink_protocol::binding::is_site_id(&site.id) {
                bad(p("id"), Message::SiteId);
            } else if self.site[..i].iter().any(|s| s.id == site.id) {
                bad(p("id"), Message::DuplicateSite(site.id.clone()));
            }
            // Not set yet is allowed (see `warnings`); set, the hash must be well-formed.
            let hash_ok = site.tagging_hash.len() == 20
                && site.tagging_hash.bytes().all(|b| b.is_ascii_alphanumeric());
            if !is_unset(&site.tagging_hash) && !hash_ok {
                bad(p("tagging_hash"), Message::TaggingHash);
            }
            if site.webhook_token.chars().count() < 16 {
                bad(p("webhook_token"), Message::TokenLength);
            }
            for (j, origin) in site.allowed_origins.iter().enumerate() {
                if !is_origin(origin) {
                    bad(format!("site[{i}].allowed_origins[{j}]"), Message::Origin);
                }
            }
            for (j, tag) in site.tags.names.iter().enumerate() {
                if tag.trim().is_empty() {
                    bad(format!("site[{i}].tags.names[{j}]"), Message::NotEmpty);
                }
            }
            if site.attr_key.is_empty() {
                bad(p("attr_key"), Message::NotEmpty);
            }
            for (j, source) in site.rtbhouse_sources.iter().enumerate() {
                if source.trim().is_empty() {
                    bad(
                        format!("site[{i}].rtbhouse_sources[{j}]"),
                        Message::NotEmpty,
                    );
                }
            }
            if site.dedup == Dedup::Attribution && site.rtbhouse_sources.is_empty() {
                bad(p("rtbhouse_sources"), Message::NeedsRtbHouseSource);
            }
            for (key, value) in [
                ("call_value", &site.call_value),
                ("request_value", &site.request_value),
            ] {
                if !is_value(value) {
                    bad(p(key), Message::Value);
                }
            }
        }
        out
    }

    /// What is valid but will not work yet: one line per RTB House credential an enabled site
    /// lacks (`site[0].pkey: not set: …`). Its leads are recorded `misconfigured:<key>`.
    pub fn warnings(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (i, site) in self.site.iter().enumerate().filter(|(_, s)| s.enabled) {
            for key in site.unset_credentials() {
                out.push(Problem {
                    path: format!("site[{i}].{key}"),
                    message: Message::NotSet,
                });
            }
        }
        out
    }
}

impl Site {
    /// The RTB House credentials not set yet (missing or blank), in order: `pkey`,
    /// `tagging_hash`. While any is, the site's leads are recorded `misconfigured:<key>`.
    pub fn unset_credentials(&self) -> impl Iterator<Item = &'static str> + '_ {
        [("pkey", &self.pkey), ("tagging_hash", &self.tagging_hash)]
            .into_iter()
            .filter(|(_, value)| is_unset(value))
            .map(|(key, _)| key)
    }
}

/// A credential left empty (or blank) in the file: not set yet.
fn is_unset(value: &str) -> bool {
    value.trim().is_empty()
}

/// A conversion value as RTB House reads it: empty (none), or digits with at most two
/// decimals after a dot (`0`, `1500`, `1500.5`, `1500.50`); no sign, comma, exponent or space.
pub(crate) fn is_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let (whole, decimals) = value.split_once('.').unwrap_or((value, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(decimals) && decimals.len() <= 2
}

fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    (scheme == "https" || scheme == "http")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
}
