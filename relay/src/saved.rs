//! Settings saved on the operator's screen, between storage and [`Settings`]: a save writes the
//! site and its audit entry in one transaction and applies it at once on this instance; every
//! instance also polls the settings version (one indexed read every ~2 s, [`watch`]) and reloads
//! the saved sites when it moved, so relays sharing one database see a save within seconds
//! without a restart. A saved site takes effect on the next webhook.

use std::time::Duration;

use crate::audit;
use crate::config::Site;
use crate::reload::Settings;
use crate::store::screen::{AuditEntry, SavedSite};
use crate::store::{Store, StoreError};

/// Why saved settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    /// Storage failed; nothing was saved.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The site could not be written as JSON (it always can; kept for the cause).
    #[error("site settings: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Reads the settings version and, when it is not the one applied, the saved sites, and puts
/// them in place; true when they were reloaded. A saved site that no longer parses (written by
/// a newer version) is left out with an error in the log.
pub async fn refresh(settings: &Settings, store: &dyn Store) -> Result<bool, StoreError> {
    let version = store.settings_version().await?;
    if settings.saved_version() == Some(version) {
        return Ok(false);
    }
    let mut rows = store.saved_sites().await?;
    rows.sort_by(|a, b| (a.saved_ms, &a.site).cmp(&(b.saved_ms, &b.site)));
    let mut sites = Vec::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_str::<Site>(&row.settings) {
            Ok(site) => sites.push(site),
            Err(e) => {
                tracing::error!(site = %row.site, error = %e, "saved settings unreadable; the file's apply")
            }
        }
    }
    let count = sites.len();
    settings.apply_saved(version, sites);
    tracing::info!(version, saved_sites = count, "saved settings applied");
    Ok(true)
}

/// Every `every`, [`refresh`]; a storage error is logged and tried again next time.
pub async fn watch(settings: Settings, store: std::sync::Arc<dyn Store>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = refresh(&settings, &*store).await {
            tracing::warn!(error = %e, "saved settings not read; tried again shortly");
        }
    }
}

/// Saves `site` (already checked: [`crate::overlay::problems`]) with an audit entry of what
/// changed against its effective settings until now, by `who` at `now_ms`, and applies it.
pub async fn save(
    settings: &Settings,
    store: &dyn Store,
    site: &Site,
    who: &str,
    now_ms: i64,
) -> Result<(), SavedError> {
    let before = settings.current().site(&site.id).cloned();
    let changes = audit::changes(before.as_ref(), site);
    let saved = SavedSite {
        site: site.id.clone(),
        settings: serde_json::to_string(site)?,
        saved_ms: now_ms,
    };
    let entry = AuditEntry {
        site: site.id.clone(),
        at_ms: now_ms,
        who: who.to_string(),
        changes: audit::encode(&changes),
    };
    store.save_site(saved, entry).await?;
    refresh(settings, store).await?;
    tracing::info!(site = %site.id, fields = changes.len(), who, "site settings saved on the screen");
    Ok(())
}
