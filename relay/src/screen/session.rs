//! Sessions of the operator's screen, the pure part: a random session id (the cookie's value;
//! storage keeps only its SHA-256) and CSRF token, whether a stored session is still alive at
//! a given time (idle expiry, its last-seen time written at most once a minute), the cookie,
//! and secrets compared in constant time. The clock is always passed in.

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::store::screen::AdminSession;

/// The session cookie's name.
pub const COOKIE: &str = "aidlink_session";
/// The language cookie's name.
pub const LANG_COOKIE: &str = "aidlink_lang";
/// A session's last-seen time is written at most this often.
pub const TOUCH_EVERY_MS: i64 = 60_000;

/// Why a session id could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct NoRandom;

/// 32 random bytes from the operating system, as 64 hex digits.
pub fn random_hex() -> Result<String, NoRandom> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| NoRandom)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `text`, hex: what storage keeps of a session id.
pub fn hash(text: &str) -> String {
    hex(digest::digest(&digest::SHA256, text.as_bytes()).as_ref())
}

/// Compares two secrets in time independent of where they differ and of their lengths (their
/// SHA-256 digests are compared, every byte).
pub fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (
        digest::digest(&digest::SHA256, given.as_bytes()),
        digest::digest(&digest::SHA256, expected.as_bytes()),
    );
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The public name of a session in the audit trail: never the id, a prefix of its hash.
pub fn label(session: &AdminSession) -> String {
    format!("session {}", session.id_hash.get(..8).unwrap_or("?"))
}

/// A stored session at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alive {
    /// Alive; its last-seen time is recent enough.
    Yes,
    /// Alive; write its last-seen time now.
    Touch,
    /// Idle for longer than allowed: it has ended.
    Expired,
}

/// Whether `session` is alive at `now_ms` when sessions end after `idle_ms` without a
/// request.
pub fn alive(session: &AdminSession, now_ms: i64, idle_ms: i64) -> Alive {
    let idle = now_ms.saturating_sub(session.last_seen_ms);
    if idle > idle_ms {
        Alive::Expired
    } else if idle >= TOUCH_EVERY_MS {
        Alive::Touch
    } else {
        Alive::Yes
    }
}

/// A new session at `now_ms`: its id (for the cookie) and what storage keeps.
pub fn start(now_ms: i64) -> Result<(String, AdminSession), NoRandom> {
    let id = random_hex()?;
    let session = AdminSession {
        id_hash: hash(&id),
        csrf: random_hex()?,
        created_ms: now_ms,
        last_seen_ms: now_ms,
    };
    Ok((id, session))
}

/// The `Set-Cookie` value that carries the session id: only to `/admin`, never to scripts or
/// other sites, `Secure` when the page came over HTTPS.
pub fn cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/admin; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cookie_removed(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// A cookie's value from a `Cookie` header line (`a=1; b=2`).
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn at(last_seen_ms: i64) -> AdminSession {
        AdminSession {
            id_hash: hash("id"),
            csrf: "c".into(),
            created_ms: 0,
            last_seen_ms,
        }
    }

    #[test]
    fn a_session_ends_after_its_idle_time_and_is_touched_once_a_minute() {
        let idle = 30 * MINUTE;
        let s = at(1_000_000);
        assert_eq!(alive(&s, 1_000_000, idle), Alive::Yes);
        assert_eq!(alive(&s, 1_000_000 + MINUTE - 1, idle), Alive::Yes);
        assert_eq!(alive(&s, 1_000_000 + MINUTE, idle), Alive::Touch);
        assert_eq!(
            alive(&s, 1_000_000 + idle, idle),
            Alive::Touch,
            "exactly the idle time"
        );
        assert_eq!(alive(&s, 1_000_000 + idle + 1, idle), Alive::Expired);
        // Touched at 29 minutes, it lives another 30.
        let touched = at(1_000_000 + 29 * MINUTE);
        assert_eq!(alive(&touched, 1_000_000 + 58 * MINUTE, idle), Alive::Touch);
    }

    #[test]
    fn ids_are_random_and_only_their_hash_is_kept() {
        let (id, session) = start(5).unwrap();
        let (other, _) = start(5).unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, other);
        assert_eq!(session.id_hash, hash(&id));
        assert_ne!(session.id_hash, id);
        assert_ne!(session.csrf, id);
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "SHA-256"
        );
        assert!(label(&session).starts_with("session ") && !label(&session).contains(&id));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(
            "admin-token-0123456789",
            "admin-token-0123456789"
        ));
        assert!(!same_secret(
            "admin-token-012345678",
            "admin-token-0123456789"
        ));
        assert!(!same_secret("", "admin-token-0123456789"));
        assert!(!same_secret(
            "admin-token-0123456780",
            "admin-token-0123456789"
        ));
    }

    #[test]
    fn the_cookie_stays_on_admin_pages_and_is_secure_over_https() {
        assert_eq!(
            cookie("abc", false),
            "aidlink_session=abc; Path=/admin; HttpOnly; SameSite=Strict"
        );
        assert!(cookie("abc", true).ends_with("; Secure"));
        assert!(cookie_removed(false).contains("Max-Age=0"));
        assert_eq!(
            cookie_value("x=1; aidlink_session=abc ; aidlink_lang=en", COOKIE),
            Some("abc")
        );
        assert_eq!(cookie_value("xaidlink_session=abc", COOKIE), None);
    }
}
