//! Why a configuration was refused: each problem names its key path
//! (`site[0].tagging_hash: must be 20 letters or digits`). TOML errors found while
//! deserialising carry the path serde was at and the line; the values of secret keys are
//! never echoed, because reload errors go to the log.

use std::fmt;

use super::Message;

/// One problem (or, from [`super::Config::warnings`], one warning) in a configuration, with
/// its key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `site[0].tagging_hash`.
    pub path: String,
    /// What is wrong (printed in English; the operator's screen shows it in the user's
    /// language too).
    pub message: Message,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML syntax or a wrong type / unknown key (the message names the key).
    #[error("{0}")]
    Syntax(String),
    /// Values that parse but are not acceptable; each names its key path.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// Each problem on its own line, `path: message`.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}

/// Keys whose values are never shown in a message.
const SECRET_KEYS: [&str; 3] = ["pkey", "admin_token", "webhook_token"];

/// A TOML error as a [`ConfigError::Syntax`]: `path: message (line N)` when serde was inside a
/// key (`site[0].metrics[1]: unknown variant …`), else `line N: message` (TOML syntax).
pub(super) fn from_toml(text: &str, path: Option<&str>, error: &toml::de::Error) -> ConfigError {
    let path = path.filter(|p| *p != ".");
    let line = error.span().map(|span| line_of(text, span.start));
    let mut message = error.message().trim().replace('\n', " ");
    // Serde's messages quote the value they refused; TOML syntax messages (no path) quote only
    // the tokens the parser expected.
    let key = path.map(|p| p.rsplit('.').next().unwrap_or(p));
    if key.is_some_and(|k| SECRET_KEYS.contains(&k)) {
        message = hide_quoted(&message);
    }
    ConfigError::Syntax(match (path, line) {
        (Some(p), Some(n)) => format!("{p}: {message} (line {n})"),
        (Some(p), None) => format!("{p}: {message}"),
        (None, Some(n)) => format!("line {n}: {message}"),
        (None, None) => message,
    })
}

/// The 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Replaces each value quoted in `` `…` `` or `"…"` by `(value hidden)`: serde's
/// `invalid type: integer `98765432123`` shows the value it refused.
fn hide_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest[open..].chars().next().unwrap_or('`');
        let Some(len) = rest[open + 1..].find(quote) else {
            break;
        };
        out.push_str(rest[..open].trim_end_matches(' '));
        out.push_str(" (value hidden)");
        rest = &rest[open + 1 + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one_at_any_offset() {
        let text = "a = 1\nb = 2\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 6), 2, "the first byte of line 2");
        assert_eq!(line_of(text, 8), 2);
        assert_eq!(line_of(text, 999), 3);
    }

    #[test]
    fn quoted_values_are_hidden() {
        assert_eq!(
            hide_quoted("invalid type: integer `98765432123`, expected a string"),
            "invalid type: integer (value hidden), expected a string"
        );
        assert_eq!(
            hide_quoted("invalid type: string \"s3cret\", expected x"),
            "invalid type: string (value hidden), expected x"
        );
        assert_eq!(hide_quoted("no quotes"), "no quotes");
        assert_eq!(hide_quoted("open `only"), "open `only");
    }
}
