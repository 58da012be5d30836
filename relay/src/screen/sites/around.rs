//! What a site's settings page shows around its form: where the settings in effect come from
//! (the file's, or saved here, and whether the file's differ), "saved" after a save, and the
//! site's audit trail.

use std::fmt::Write;

use crate::audit;
use crate::config::Site;
use crate::http::AppState;
use crate::overlay::{self, Origin};
use crate::screen::html::{self, esc};
use crate::screen::i18n::{Lang, T};
use crate::screen::ScreenError;

/// What a site's settings page shows around the form: where its settings come from (and
/// "saved" after a save), and its audit trail.
#[derive(Default)]
pub struct Around {
    /// Before the form.
    pub notes: String,
    /// After the form.
    pub trail: String,
}

/// Where `site`'s settings come from, "saved" after a save, and its audit trail.
pub async fn around(
    state: &AppState,
    lang: Lang,
    site: Option<&Site>,
    just_saved: bool,
) -> Result<Around, ScreenError> {
    let Some(site) = site else {
        return Ok(Around::default());
    };
    let origin = overlay::origin(&state.settings.file(), &state.settings.saved(), &site.id);
    let mut notes = String::new();
    if just_saved {
        notes.push_str(&html::notice("ok", lang.t(T::Saved)));
    }
    let (kind, text) = match origin {
        Origin::File => ("note", T::FileOnlyNote),
        Origin::Saved => ("note", T::SavedNote),
        Origin::SavedFileDiffers => ("warning", T::FileDiffersNote),
        Origin::ScreenOnly => ("note", T::ScreenOnlyNote),
    };
    notes.push_str(&html::notice(kind, lang.t(text)));
    let entries = state.store.audit_trail(site.id.clone(), 100).await?;
    let mut trail = format!("<h2 id=\"audit\">{}</h2>", esc(lang.t(T::Audit)));
    if entries.is_empty() {
        trail.push_str(&html::notice("note", lang.t(T::NoAudit)));
        return Ok(Around { notes, trail });
    }
    let _ = write!(
        trail,
        "<table class=\"audit\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(lang.t(T::When)),
        esc(lang.t(T::Who)),
        esc(lang.t(T::WhatChanged))
    );
    for entry in entries {
        let changes = audit::decode(&entry.changes);
        let mut what = String::from("<ul>");
        for c in &changes {
            let from = c
                .from
                .as_deref()
                .map(|f| format!("{} → ", esc(f)))
                .unwrap_or_default();
            let _ = write!(
                what,
                "<li><code>{}</code>: {from}{}</li>",
                esc(&c.field),
                esc(&c.to)
            );
        }
        if changes.is_empty() {
            let _ = write!(what, "<li>{}</li>", esc(lang.t(T::NoChange)));
        }
        what.push_str("</ul>");
        let _ = write!(
            trail,
            "<tr><td>{}</td><td>{}</td><td>{what}</td></tr>",
            esc(&html::time(entry.at_ms)),
            esc(&entry.who)
        );
    }
    trail.push_str("</tbody></table>");
    Ok(Around { notes, trail })
}
