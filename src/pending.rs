//! What survives a page load in `localStorage`: the ids of bindings already sent (so a reload
//! does not POST again) and bindings not yet delivered (sent on the next load). Encoded as
//! plain lines rather than JSON so reading them needs no deserialiser in the bundle. Pure.

use aidlink_protocol::text::{cut, split};
use alloc::string::String;
use alloc::vec::Vec;

/// `localStorage` key of the sent binding ids.
pub const SENT_KEY: &str = "aidlink.sent";
/// `localStorage` key of the undelivered bindings.
pub const PENDING_KEY: &str = "aidlink.pending";
/// Most bytes kept for undelivered bindings; the oldest are dropped past it.
pub const MAX_PENDING_BYTES: usize = 16 * 1024;
/// Most sent ids remembered (a visitor rarely has more sessions × ids than this).
pub const MAX_SENT_IDS: usize = 64;

/// Where the two values live: `localStorage` in the browser (shared by the site's tabs, which
/// write it between this tab's calls), a map in tests.
pub trait Store {
    /// The value under `key`; `None` when absent or unreadable.
    fn load(&self, key: &str) -> Option<String>;
    /// Writes `value` under `key`; an empty value removes it. Errors are swallowed.
    fn save(&self, key: &str, value: &str);
}

/// A binding waiting to be delivered: its id and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The binding id (`protocol::binding::binding_id`).
    pub id: String,
    /// The exact body to POST.
    pub body: String,
}

/// Reads the sent-ids value (`id,id,…`).
pub fn decode_sent(value: &str) -> Vec<String> {
    split(value, b',')
        .filter(|id| !id.is_empty())
        .map(String::from)
        .collect()
}

/// Writes the sent-ids value, keeping the newest [`MAX_SENT_IDS`].
pub fn encode_sent(ids: &[String]) -> String {
    let mut out = String::new();
    for (n, id) in ids
        .iter()
        .skip(ids.len().saturating_sub(MAX_SENT_IDS))
        .enumerate()
    {
        if n > 0 {
            out.push(',');
        }
        out.push_str(id);
    }
    out
}

/// Reads the pending value: one `id<TAB>body` per line. Malformed lines are skipped.
pub fn decode_pending(value: &str) -> Vec<Pending> {
    split(value, b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (id, body) = cut(line, b'\t')?;
            let ok = !id.is_empty() && body.starts_with('{') && body.ends_with('}');
            ok.then(|| Pending {
                id: String::from(id),
                body: String::from(body),
            })
        })
        .collect()
}

/// Writes the pending value, newest last, dropping the oldest entries until it fits in
/// [`MAX_PENDING_BYTES`]. Bodies come from `JSON.stringify`, which never emits a raw newline
/// or tab, so the line format cannot be broken by a value.
pub fn encode_pending(items: &[Pending]) -> String {
    let mut total = 0;
    let mut keep = 0;
    for item in items.iter().rev() {
        let size = item.id.len() + item.body.len() + 2;
        if total + size > MAX_PENDING_BYTES {
            break;
        }
        total += size;
        keep += 1;
    }
    let mut out = String::with_capacity(total);
    for item in items.iter().skip(items.len().saturating_sub(keep)) {
        if breaks_line(&item.body) || breaks_line(&item.id) {
            continue;
        }
        out.push_str(&item.id);
        out.push('\t');
        out.push_str(&item.body);
        out.push('\n');
    }
    out
}

/// Holds a newline or a tab, which would break the line format.
fn breaks_line(text: &str) -> bool {
    text.bytes().any(|b| b == b'\n' || b == b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    fn item(n: usize, body_len: usize) -> Pending {
        Pending {
            id: format!("b{n:016x}"),
            body: format!("{{\"x\":\"{}\"}}", "a".repeat(body_len)),
        }
    }

    #[test]
    fn sent_ids_round_trip_and_are_capped() {
        let ids: Vec<String> = (0..70).map(|n| n.to_string()).collect();
        let kept = decode_sent(&encode_sent(&ids));
        assert_eq!(kept.len(), MAX_SENT_IDS);
        assert_eq!(kept.last().unwrap(), "69");
        assert_eq!(kept.first().unwrap(), "6");
        assert!(decode_sent("").is_empty());
    }

    #[test]
    fn pending_round_trips() {
        let items = [item(1, 10), item(2, 20)];
        assert_eq!(decode_pending(&encode_pending(&items)), items);
    }

    #[test]
    fn pending_is_capped_at_16_kb_keeping_the_newest() {
        let items: Vec<Pending> = (0..10).map(|n| item(n, 3000)).collect();
        let encoded = encode_pending(&items);
        assert!(encoded.len() <= MAX_PENDING_BYTES);
        let kept = decode_pending(&encoded);
        assert_eq!(kept.len(), 5);
        assert_eq!(kept.last(), items.last());
    }

    #[test]
    fn an_item_that_would_break_the_line_format_is_not_stored() {
        let mut tab = item(1, 1);
        tab.body.insert(1, '\t');
        let mut newline = item(2, 1);
        newline.id.push('\n');
        let kept = decode_pending(&encode_pending(&[tab, item(3, 1), newline]));
        assert_eq!(kept, [item(3, 1)]);
    }

    #[test]
    fn malformed_storage_is_ignored() {
        let kept = decode_pending("garbage\nb1\t{\"ok\":1}\n\tnoid}\nb2\tnot json\n");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].id, "b1");
    }
}
