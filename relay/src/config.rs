//! The relay's TOML configuration (docs/contract.md; every key with its default in
//! `relay/relay.example.toml`), parsed with serde and validated as a whole: every problem is
//! reported with its key path (`site[0].tagging_hash: must be 20 letters or digits`). A site
//! whose RTB House credentials are not set yet is valid, with a warning ([`Config::warnings`]).

mod error;
mod message;
mod validate;

pub use error::{ConfigError, Problem};
pub use message::Message;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The whole configuration file. (`Serialize` writes secrets in the clear: it is for comparing
/// and saving settings, never for logs; `Debug` masks them.)
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    pub server: Server,
    /// `[storage]`.
    #[serde(default)]
    pub storage: Storage,
    /// `[rtbhouse]`.
    #[serde(default)]
    pub rtbhouse: RtbHouse,
    /// `[[site]]`, one per Calltouch site.
    #[serde(default)]
    pub site: Vec<Site>,
}

/// `[server]`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: String,
    /// Bearer token for `/v1/sites/*`, and what an operator types to sign in to the screen at
    /// `/admin`. Required, at least 16 characters.
    pub admin_token: String,
    /// A signed-in session of the operator's screen ends after this long without a request
    /// (a duration, `1m` to `7d`). Default `30m`.
    pub admin_session_idle: String,
    /// Folder with the capture bundle (`aidlink.js`, `aidlink_bg.wasm`), served at `/`.
    /// Default `dist/script`.
    pub assets_dir: PathBuf,
    /// Folder served for any other path (the demo site). Default: none.
    pub static_dir: Option<PathBuf>,
    /// Binding POSTs accepted per client IP per minute. Default 120.
    pub bindings_per_minute_per_ip: u32,
    /// Reverse proxies whose `X-Forwarded-For` is trusted for the client IP: behind them the
    /// client is the right-most forwarded address that is not one of them (re-read on reload;
    /// their exemption from `max_connections_per_ip` is read at start-up). Their
    /// `X-Forwarded-Proto: https` is believed too: the operator's screen then marks its session
    /// cookie `Secure`. Default none.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest Calltouch webhook body, bytes (Calltouch sends a few KB); a larger one is
    /// refused 413 unread (a declared length) or as soon as it passes this. The site and token
    /// are checked before any of the body is read. Default 65536 (64 KiB).
    pub webhook_max_bytes: usize,
    /// How long a client has to send a request's headers, ms, counted from when the relay
    /// starts waiting for them (the connection opened, or the previous answer was sent: so it
    /// is also how long an idle keep-alive connection is kept); then the connection is closed.
    /// Default 10000.
    pub header_read_timeout_ms: u64,
    /// How long a client has to send a request's whole body once its headers are in, ms; then
    /// 408. Default 10000.
    pub body_read_timeout_ms: u64,
    /// A connection on which no byte moves either way for this long, ms, is closed (a body that
    /// stalls, a client that does not read its answer). Default 60000.
    pub idle_timeout_ms: u64,
    /// Connections open at once; one more is closed at once, with a warning in the log (at most
    /// one per 10 s, with the count). Keep the process's file limit well above it (the README's
    /// systemd unit sets `LimitNOFILE=4096`). Default 512.
    pub max_connections: u32,
    /// Connections open at once from one client address (IPv6: one /64), so one client cannot
    /// take every connection from the others; one more is closed at once, with a warning in the
    /// log as for `max_connections`. Connections from `trusted_proxies` are not limited (they
    /// carry many clients); 0 = no per-address limit (a value above `max_connections` acts as
    /// no limit too). Default 64.
    pub max_connections_per_ip: u32,
    /// On SIGTERM / SIGINT the relay stops accepting, lets requests in progress finish for up
    /// to this long, ms, then exits anyway. Default 10000 (the README's unit allows 20 s).
    pub shutdown_grace_ms: u64,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8080".into(),
            admin_token: String::new(),
            admin_session_idle: "30m".into(),
            assets_dir: PathBuf::from("dist/script"),
            static_dir: None,
            bindings_per_minute_per_ip: 120,
            trusted_proxies: Vec::new(),
            webhook_max_bytes: 64 * 1024,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 512,
            max_connections_per_ip: 64,
            shutdown_grace_ms: 10_000,
        }
    }
}

impl Server {
    /// `header_read_timeout_ms` as a duration.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }
    /// `body_read_timeout_ms` as a duration.
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms)
    }
    /// `idle_timeout_ms` as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
    /// `shutdown_grace_ms` as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
    /// `admin_session_idle` as a duration (validated at load).
    pub fn admin_session_idle(&self) -> Duration {
        humantime::parse_duration(&self.admin_session_idle).unwrap_or(Duration::from_secs(1800))
    }
}

/// `[storage]`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// `sqlite://PATH` (embedded; default `sqlite://aidlink.db`), or
    /// `postgres://user:password@host:5432/database` (also `postgresql://`), which several
    /// relay instances can share.
    pub url: String,
    /// Bindings, settled leads (filtered, sent, dead) with their events and attempts, and
    /// delivered or dead postbacks older than this are deleted; a lead still waiting or being
    /// retried never is. Default `90d`.
    pub retention: String,
    /// How long a claimed postback is reserved for the instance that claimed it, ms: another
    /// instance (or this one after a crash) takes it again once this has passed without an
    /// attempt recorded. Never less than `rtbhouse.timeout_ms` + 5000 is used (a postback
    /// still in flight is not claimed again). Default 15000.
    pub outbox_lease_ms: u64,
    /// PostgreSQL only: connections this instance keeps open at most (1 to 256). Default 16.
    pub pool_size: u32,
    /// PostgreSQL only: how long opening one connection may take, ms. Default 5000.
    pub connect_timeout_ms: u64,
    /// PostgreSQL only: how long a request waits for a free connection of the pool, ms; then
    /// it is refused with 503. Default 5000.
    pub acquire_timeout_ms: u64,
    /// PostgreSQL only: the longest one statement may run, ms (the server cancels it; the relay
    /// also gives up on an answer this late). Default 10000.
    pub statement_timeout_ms: u64,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            url: "sqlite://aidlink.db".into(),
            retention: "90d".into(),
            outbox_lease_ms: 15_000,
            pool_size: 16,
            connect_timeout_ms: 5_000,
            acquire_timeout_ms: 5_000,
            statement_timeout_ms: 10_000,
        }
    }
}

impl Storage {
    /// `retention` as a duration (validated at load; the default's, should it not parse).
    pub fn retention(&self) -> Duration {
        humantime::parse_duration(&self.retention)
            .or_else(|_| humantime::parse_duration(&Storage::default().retention))
            .unwrap_or(Duration::MAX)
    }
}

/// `[rtbhouse]`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtbHouse {
    /// Postback URL; `{region}` is replaced by the site's region.
    /// Default `https://{region}.creativecdn.com/partner/omni/postbacks`.
    pub endpoint: String,
    /// Timeout of one postback request, ms. Default 3000.
    pub timeout_ms: u64,
    /// How long a failing postback is retried before the dead letter. Default `24h`, which is
    /// also the most allowed: RTB House refuses conversions older than 24 hours.
    pub retry_for: String,
    /// First retry delay, ms (doubles up to `retry_cap_ms`, with jitter). Default 1000.
    pub retry_base_ms: u64,
    /// Longest retry delay, ms. Default 600000 (10 min).
    pub retry_cap_ms: u64,
    /// Postbacks in flight at once, shared fairly between sites. Default 16.
    pub concurrency: u32,
}

impl Default for RtbHouse {
    fn default() -> Self {
        RtbHouse {
            endpoint: "https://{region}.creativecdn.com/partner/omni/postbacks".into(),
            timeout_ms: 3000,
            retry_for: "24h".into(),
            retry_base_ms: 1000,
            retry_cap_ms: 600_000,
            concurrency: 16,
        }
    }
}

impl RtbHouse {
    /// `retry_for` as a duration (validated at load; the default's, should it not parse).
    pub fn retry_for(&self) -> Duration {
        humantime::parse_duration(&self.retry_for)
            .or_else(|_| humantime::parse_duration(&RtbHouse::default().retry_for))
            .unwrap_or(Duration::ZERO)
    }
}

/// One `[[site]]`: a Calltouch site and its RTB House integration settings.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Calltouch site id (numeric). Required.
    pub id: String,
    /// The on/off switch. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// RTB House PKEY; never logged. Default: not set (missing or `""`): the site is valid,
    /// its leads are recorded `misconfigured:pkey` and nothing is sent (a warning says so).
    #[serde(default)]
    pub pkey: String,
    /// RTB House ADVERTISER TAGGING HASH: 20 letters or digits when set. Default: not set, as
    /// for `pkey` (`misconfigured:tagging_hash`).
    #[serde(default)]
    pub tagging_hash: String,
    /// RTB House region. Default `omni`.
    #[serde(default)]
    pub region: Region,
    /// Token in the webhook URL (`?token=`). Required; never logged.
    pub webhook_token: String,
    /// Origins allowed to POST bindings (`https://shop.example`). Default none.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Webhook source networks; empty = any. Default empty.
    #[serde(default)]
    pub webhook_ip_allow: Vec<IpNet>,
    /// Which leads go. Default `["all_calls"]`.
    #[serde(default = "default_metrics")]
    pub metrics: Vec<Metric>,
    /// Tag filter. Default: none.
    #[serde(default)]
    pub tags: TagFilter,
    /// Traffic conditions, all must hold. Default none.
    #[serde(default)]
    pub traffic: Vec<TrafficCondition>,
    /// Attribution model for traffic conditions, over the visitor's visits received before the
    /// lead (none: the webhook's own fields). Default `last_non_direct`.
    #[serde(default)]
    pub attribution: Attribution,
    /// Key of the RTB House id in Calltouch `attrs`. Default `__r_aid_v__`.
    #[serde(default = "default_attr_key")]
    pub attr_key: String,
    /// The `cd` sent to RTB House: `default` (RTB House decides; default) or `attribution`
    /// (from the lead's source under `attribution`: one of `rtbhouse_sources` sends
    /// `cd=false`, anything else, direct included, `cd=true`).
    #[serde(default)]
    pub dedup: Dedup,
    /// `utm_source` (else `source`) values that mean RTB House, case-insensitive. Default
    /// `["rtbhouse", "rtb-house", "rtb_house"]`.
    #[serde(default = "default_rtbhouse_sources")]
    pub rtbhouse_sources: Vec<String>,
    /// The value segment of a call's conversion tag: a decimal with a dot, ≥ 0, at most two
    /// decimals (`"1500"`, `"1500.50"`). Default `""`: none (an empty segment).
    #[serde(default)]
    pub call_value: String,
    /// The same for a web-form lead. Default `""`.
    #[serde(default)]
    pub request_value: String,
}

fn yes() -> bool {
    true
}
fn default_metrics() -> Vec<Metric> {
    vec![Metric::AllCalls]
}
fn default_attr_key() -> String {
    aidlink_protocol::cookie::RTB_COOKIE.into()
}
fn default_rtbhouse_sources() -> Vec<String> {
    ["rtbhouse", "rtb-house", "rtb_house"]
        .map(String::from)
        .into()
}

/// How the postback's `cd` ("custom deduplication", an attribution flag: docs/domain.md §4) is
/// chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dedup {
    /// `cd=default`: RTB House attributes the conversion itself (default).
    #[default]
    Default,
    /// `cd=false` when the lead's source under the site's attribution model is RTB House
    /// (`rtbhouse_sources`), else `cd=true`.
    Attribution,
}

/// RTB House region (`{region}` in the endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// EMEA (default).
    #[default]
    Omni,
    /// Americas.
    Us,
    /// Asia-Pacific.
    Asia,
    /// Amsterdam.
    Ams,
}

impl Region {
    /// The host label.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Omni => "omni",
            Region::Us => "us",
            Region::Asia => "asia",
            Region::Ams => "ams",
        }
    }
}

/// A lead metric (docs/domain.md §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Every call.
    AllCalls,
    /// First call from a number.
    UniqueCalls,
    /// Target calls (final at call end).
    TargetCalls,
    /// Unique and target.
    UniqueTargetCalls,
    /// `status=unsuccessful`.
    FailedCalls,
    /// Every web-form request.
    Requests,
    /// Unique requests.
    UniqueRequests,
    /// Target requests.
    TargetRequests,
    /// Unique target requests.
    UniqueTargetRequests,
}

/// `tags = { names = [], match = "any" }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TagFilter {
    /// Tag names; empty = no tag filter.
    pub names: Vec<String>,
    /// `any` (default) or `all` of the names.
    pub r#match: TagMatch,
}

/// How tag names combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagMatch {
    /// At least one name.
    #[default]
    Any,
    /// Every name.
    All,
}

/// `{ field = "utm_source", op = "equals", value = "yandex" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficCondition {
    /// Which traffic field.
    pub field: TrafficField,
    /// How it is compared (case-insensitive).
    pub op: TrafficOp,
    /// The value compared with.
    pub value: String,
}

/// A traffic field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficField {
    /// Source (utm_source, else referrer host, else `(direct)`).
    Source,
    /// Medium (utm_medium, else `referral` / `(none)`).
    Medium,
    /// `utm_source`.
    UtmSource,
    /// `utm_medium`.
    UtmMedium,
    /// `utm_campaign`.
    UtmCampaign,
    /// `utm_content`.
    UtmContent,
    /// `utm_term`.
    UtmTerm,
}

impl TrafficField {
    /// The config / reason name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficField::Source => "source",
            TrafficField::Medium => "medium",
            TrafficField::UtmSource => "utm_source",
            TrafficField::UtmMedium => "utm_medium",
            TrafficField::UtmCampaign => "utm_campaign",
            TrafficField::UtmContent => "utm_content",
            TrafficField::UtmTerm => "utm_term",
        }
    }
}

/// A traffic comparison (case-insensitive; no regexes by design).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficOp {
    /// Equal.
    Equals,
    /// Not equal.
    NotEquals,
    /// Contains.
    Contains,
    /// Does not contain.
    NotContains,
}

/// Attribution model for traffic conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The last visit that was not direct; direct only when all were (default).
    #[default]
    LastNonDirect,
    /// The last visit.
    LastClick,
    /// The first visit.
    FirstClick,
}

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text)
    }

    /// Parses and validates TOML text. A value of the wrong type or shape, or an unknown key,
    /// is reported with its key path and line; the values of secret keys are never echoed.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let document =
            toml::Deserializer::parse(text).map_err(|e| error::from_toml(text, None, &e))?;
        let config: Config = serde_path_to_error::deserialize(document).map_err(|e| {
            let path = e.path().to_string();
            error::from_toml(text, Some(&path), e.inner())
        })?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The site with Calltouch id `id`.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.site.iter().find(|s| s.id == id)
    }

    /// Whether some site takes browsers' bindings from `origin` (CORS is answered for it).
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.site.iter().any(|s| s.allows_origin(origin))
    }
}

impl Site {
    /// Whether this site's bindings may come from pages of `origin` (`allowed_origins`).
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|a| a == origin)
    }
}

fn mask(secret: &str) -> &'static str {
    if secret.is_empty() {
        "(empty)"
    } else {
        "(set, hidden)"
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server.listen", &self.server.listen)
            .field("server.admin_token", &mask(&self.server.admin_token))
            .field("storage.url", &self.storage.url)
            .field("rtbhouse.endpoint", &self.rtbhouse.endpoint)
            .field("site", &self.site)
            .finish()
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site")
            .field("id", &self.id)
            .field("enabled", &self.enabled)
            .field("pkey", &mask(&self.pkey))
            .field("tagging_hash", &self.tagging_hash)
            .field("region", &self.region)
            .field("webhook_token", &mask(&self.webhook_token))
            .field("metrics", &self.metrics)
            .field("tags", &self.tags)
            .field("traffic", &self.traffic)
            .field("attribution", &self.attribution)
            .field("dedup", &self.dedup)
            .field("rtbhouse_sources", &self.rtbhouse_sources)
            .field("call_value", &self.call_value)
            .field("request_value", &self.request_value)
            .finish_non_exhaustive()
    }
}

/// A valid site for unit tests: site 38342 with PKEY `rtb-test`, plus `extra` TOML lines.
#[cfg(test)]
pub(crate) fn test_site(extra: &str) -> Site {
    let toml = format!(
        "[server]\nadmin_token = \"0123456789abcdef\"\n[[site]]\nid = \"38342\"\npkey = \"rtb-test\"\n\
         tagging_hash = \"IYIhaCDSPfPoVd4FIEF1\"\nwebhook_token = \"tok-0123456789abcdef\"\n{extra}\n"
    );
    Config::parse(&toml)
        .expect("test site config")
        .site
        .remove(0)
}

#[cfg(test)]
mod tests;
