//! Settings that change without a restart. The effective settings are the config file's with
//! the sites saved on the operator's screen in place ([`crate::overlay`]); they are rebuilt when
//! the file is re-read (on SIGHUP and when its modification time changes) and when the saved
//! settings change ([`crate::saved`] polls their version). An invalid new file is refused with
//! a log line and the previous settings stay. (`server.listen` and `storage.url` need a
//! restart.) A site without its RTB House credentials is valid and logged as a warning; leads
//! already recorded `misconfigured:…` stay so when they are set (only a later event of the lead
//! decides again).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::config::{Config, Site};
use crate::overlay;

/// The current configuration, shared by every part of the relay.
#[derive(Clone)]
pub struct Settings(Arc<RwLock<State>>);

struct State {
    /// The file's settings as last loaded.
    file: Arc<Config>,
    /// The sites saved on the screen, and the settings version they were read at.
    saved: Arc<Vec<Site>>,
    version: Option<i64>,
    /// `file` with `saved` in place: what every part of the relay uses.
    effective: Arc<Config>,
}

impl Settings {
    /// Wraps the configuration loaded at start (nothing saved read yet).
    pub fn new(config: Config) -> Settings {
        let config = Arc::new(config);
        Settings(Arc::new(RwLock::new(State {
            file: config.clone(),
            saved: Arc::new(Vec::new()),
            version: None,
            effective: config,
        })))
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        match self.0.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write(&self, f: impl FnOnce(&mut State)) {
        match self.0.write() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// A snapshot of the effective configuration (file + saved sites).
    pub fn current(&self) -> Arc<Config> {
        self.read(|s| s.effective.clone())
    }

    /// The config file's settings alone, as last loaded.
    pub fn file(&self) -> Arc<Config> {
        self.read(|s| s.file.clone())
    }

    /// The sites saved on the screen, as last read.
    pub fn saved(&self) -> Arc<Vec<Site>> {
        self.read(|s| s.saved.clone())
    }

    /// The settings version the saved sites were read at (`None`: not read yet).
    pub fn saved_version(&self) -> Option<i64> {
        self.read(|s| s.version)
    }

    /// Puts the saved sites read at `version` in place.
    pub fn apply_saved(&self, version: i64, saved: Vec<Site>) {
        self.write(|s| {
            s.effective = Arc::new(overlay::effective(&s.file, &saved));
            s.saved = Arc::new(saved);
            s.version = Some(version);
        });
    }

    /// Reloads from `path`; the old settings stay when the file is invalid.
    pub fn reload(&self, path: &std::path::Path) -> bool {
        match Config::load(path) {
            Ok(config) => {
                let old = self.file();
                let waiting = restart_only_changes(&old, &config);
                if !waiting.is_empty() {
                    tracing::warn!(
                        keys = %waiting.join(", "),
                        "changed keys that are read at start-up only: they take effect after a restart"
                    );
                }
                self.write(|s| {
                    s.effective = Arc::new(overlay::effective(&config, &s.saved));
                    s.file = Arc::new(config);
                });
                log_warnings(&self.current());
                tracing::info!(sites = self.current().site.len(), "configuration reloaded");
                true
            }
            Err(e) => {
                for line in e.lines() {
                    tracing::error!(problem = %line, "configuration reload refused; keeping the previous settings");
                }
                false
            }
        }
    }
}

/// Keys read once at start-up (the listener, the connection limits, storage), as `section.key`.
pub const AT_START_ONLY: [&str; 7] = [
    "server.listen",
    "server.header_read_timeout_ms",
    "server.idle_timeout_ms",
    "server.max_connections",
    "server.max_connections_per_ip",
    "server.shutdown_grace_ms",
    "storage.url",
];

/// Which of [`AT_START_ONLY`] differ between `old` and `new`.
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let value = |config: &Config, path: &str| {
        let (section, key) = path.split_once('.')?;
        let table = toml::Table::try_from(config).ok()?;
        table.get(section)?.get(key).cloned()
    };
    AT_START_ONLY
        .into_iter()
        .filter(|path| value(old, path) != value(new, path))
        .collect()
}

/// Logs each of [`Config::warnings`] (`site[0].pkey: not set: …`) at warn level: at start
/// and at each reload.
pub fn log_warnings(config: &Config) {
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Watches `path` (SIGHUP, and a modification-time check every `every`) and reloads. The
/// SIGHUP handler is installed when this is called, not when the future first runs: a
/// `systemctl reload` right after start must reload, not kill the process (SIGHUP's default).
/// Call it from within the runtime.
pub fn watch(
    settings: Settings,
    path: PathBuf,
    every: Duration,
) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    #[cfg(unix)]
    return watching(settings, path, every, hangup);
    #[cfg(not(unix))]
    return watching(settings, path, every);
}

async fn watching(
    settings: Settings,
    path: PathBuf,
    every: Duration,
    #[cfg(unix)] mut hangup: Option<tokio::signal::unix::Signal>,
) {
    let mut seen = modified(&path);
    loop {
        #[cfg(unix)]
        let by_signal = async {
            match hangup.as_mut() {
                Some(s) => s.recv().await.is_some(),
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let by_signal = std::future::pending::<bool>();
        tokio::select! {
            _ = by_signal => {
                tracing::info!("SIGHUP: reloading configuration");
                seen = modified(&path);
                settings.reload(&path);
            }
            _ = tokio::time::sleep(every) => {
                let now = modified(&path);
                if now.is_some() && now != seen {
                    seen = now;
                    settings.reload(&path);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(server: &str) -> Config {
        Config::parse(&format!(
            "[server]\nadmin_token = \"0123456789abcdef\"\n{server}\n[[site]]\nid = \"1\"\n\
             webhook_token = \"tok-0123456789abcdef\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn keys_read_at_start_up_only_are_named_when_a_reload_changes_them() {
        let old = config("");
        assert!(restart_only_changes(&old, &config("")).is_empty());
        let new =
            config("max_connections = 100\nidle_timeout_ms = 5000\nbindings_per_minute_per_ip = 7");
        assert_eq!(
            restart_only_changes(&old, &new),
            ["server.idle_timeout_ms", "server.max_connections"],
            "the rate limit applies at once, so it is not named"
        );
    }
}
