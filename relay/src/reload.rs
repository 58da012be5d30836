//! Settings that change without a restart: the configuration is re-read on SIGHUP and when the
//! file's modification time changes. An invalid new file is refused with a log line and the
//! previous settings stay. (`server.listen` and `storage.url` need a restart.) A site without
//! its RTB House credentials is valid and logged as a warning; leads already recorded
//! `misconfigured:…` stay so when they are set (only a later event of the lead decides again).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::config::Config;

/// The current configuration, shared by every part of the relay.
#[derive(Clone)]
pub struct Settings(Arc<RwLock<Arc<Config>>>);

impl Settings {
    /// Wraps the configuration loaded at start.
    pub fn new(config: Config) -> Settings {
        Settings(Arc::new(RwLock::new(Arc::new(config))))
    }

    /// A snapshot of the current configuration.
    pub fn current(&self) -> Arc<Config> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads from `path`; the old settings stay when the file is invalid.
    pub fn reload(&self, path: &std::path::Path) -> bool {
        match Config::load(path) {
            Ok(config) => {
                let old = self.current();
                let waiting = restart_only_changes(&old, &config);
                if !waiting.is_empty() {
                    tracing::warn!(
                        keys = %waiting.join(", "),
                        "changed keys that are read at start-up only: they take effect after a restart"
                    );
                }
                if let Ok(mut guard) = self.0.write() {
                    *guard = Arc::new(config);
                }
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
