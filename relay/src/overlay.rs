//! The effective settings: the config file is the bootstrap, and a site saved on the operator's
//! screen replaces the file's site of the same id as a whole (a site added on the screen exists
//! only in storage). Pure: [`crate::reload::Settings`] keeps the result, [`crate::saved`] loads
//! what was saved. A candidate site from the screen is checked by the one `check-config` rule
//! set ([`crate::config::Config::problems`]) inside the effective settings it would make.

use crate::config::{Config, Problem, Site};

/// The file's settings with each saved site in place of the file's of the same id; saved sites
/// the file does not have follow, in the order given.
pub fn effective(file: &Config, saved: &[Site]) -> Config {
    let mut config = file.clone();
    for site in saved {
        match config.site.iter_mut().find(|s| s.id == site.id) {
            Some(slot) => *slot = site.clone(),
            None => config.site.push(site.clone()),
        }
    }
    config
}

/// Where a saved site's settings stand against the config file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Only in the file: the file's settings apply.
    File,
    /// Saved on the screen, the file has the same settings (or none for this site).
    Saved,
    /// Saved on the screen and the file's differ: the saved ones apply.
    SavedFileDiffers,
    /// Added on the screen: only in storage.
    ScreenOnly,
}

/// Where site `id`'s effective settings come from.
pub fn origin(file: &Config, saved: &[Site], id: &str) -> Origin {
    match (file.site(id), saved.iter().find(|s| s.id == id)) {
        (Some(_), None) | (None, None) => Origin::File,
        (Some(f), Some(s)) if f != s => Origin::SavedFileDiffers,
        (Some(_), Some(_)) => Origin::Saved,
        (None, Some(_)) => Origin::ScreenOnly,
    }
}

/// The problems `candidate` would bring into the effective settings (`file` with `saved` and
/// the candidate in place), each with the key path relative to the site (`tagging_hash`,
/// `allowed_origins[1]`); problems elsewhere (none, while the file is valid) keep their full
/// path. Empty: it may be saved.
pub fn problems(file: &Config, saved: &[Site], candidate: &Site) -> Vec<Problem> {
    let mut all: Vec<Site> = saved
        .iter()
        .filter(|s| s.id != candidate.id)
        .cloned()
        .collect();
    all.push(candidate.clone());
    let config = effective(file, &all);
    let index = config
        .site
        .iter()
        .position(|s| s.id == candidate.id)
        .unwrap_or_default();
    let prefix = format!("site[{index}].");
    config
        .problems()
        .into_iter()
        .map(|p| match p.path.strip_prefix(&prefix) {
            Some(field) => Problem {
                path: field.to_string(),
                message: p.message,
            },
            None => p,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Message, Metric};

    fn file() -> Config {
        let text = "[server]\nadmin_token = \"0123456789abcdef\"\n\
            [[site]]\nid = \"1\"\nwebhook_token = \"tok-0123456789abcdef\"\n\
            [[site]]\nid = \"2\"\nwebhook_token = \"tok-0123456789abcdef\"\nenabled = false\n";
        Config::parse(text).unwrap()
    }

    fn site(id: &str, enabled: bool) -> Site {
        let mut s = file().site.remove(0);
        s.id = id.into();
        s.enabled = enabled;
        s
    }

    #[test]
    fn a_saved_site_replaces_the_files_whole_and_a_new_one_is_added() {
        let mut saved_one = site("1", false);
        saved_one.metrics = vec![Metric::Requests];
        let config = effective(&file(), &[saved_one.clone(), site("3", true)]);
        let ids: Vec<&str> = config.site.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            ["1", "2", "3"],
            "the file's order, screen-only sites after"
        );
        assert_eq!(
            config.site("1"),
            Some(&saved_one),
            "the whole site, not a merge"
        );
        assert!(
            !config.site("2").unwrap().enabled,
            "the file's where nothing is saved"
        );
        assert!(config.site("3").unwrap().enabled);
    }

    #[test]
    fn the_origin_says_which_settings_win_and_when_the_file_differs() {
        let f = file();
        let same = f.site("1").unwrap().clone();
        assert_eq!(origin(&f, &[], "1"), Origin::File);
        assert_eq!(origin(&f, &[same], "1"), Origin::Saved);
        assert_eq!(
            origin(&f, &[site("1", false)], "1"),
            Origin::SavedFileDiffers
        );
        assert_eq!(origin(&f, &[site("9", true)], "9"), Origin::ScreenOnly);
    }

    #[test]
    fn a_candidate_is_checked_by_the_config_rules_with_paths_relative_to_the_site() {
        let mut bad = site("2", true);
        bad.tagging_hash = "short".into();
        bad.allowed_origins = vec!["https://ok.example".into(), "ftp://x/y".into()];
        let problems = problems(&file(), &[], &bad);
        let found: Vec<(&str, &Message)> = problems
            .iter()
            .map(|p| (p.path.as_str(), &p.message))
            .collect();
        assert_eq!(
            found,
            [
                ("tagging_hash", &Message::TaggingHash),
                ("allowed_origins[1]", &Message::Origin)
            ]
        );
        assert!(problems_of_ok_site_are_none());
    }

    fn problems_of_ok_site_are_none() -> bool {
        problems(&file(), &[site("3", true)], &site("4", true)).is_empty()
    }
}
