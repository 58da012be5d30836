//! Percent-decoding, as cookies and query strings need it: `%` and two hex digits are that
//! byte, any other `%` stays as it is, and the result must be UTF-8. A few lines rather than the
//! `percent-encoding` crate: this ships in the capture module's bundle, where every byte counts.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

/// `text` percent-decoded; `None` when the decoded bytes are not UTF-8 (a Windows-1251 link, an
/// escape cut in the middle of a character). Borrowed when there is no `%` at all.
pub fn decode(text: &str) -> Option<Cow<'_, str>> {
    if !text.bytes().any(|b| b == b'%') {
        return Some(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let [b, tail @ ..] = rest {
        rest = tail;
        if let (b'%', [high, low, after @ ..]) = (*b, tail) {
            if let (Some(high), Some(low)) = (hex(*high), hex(*low)) {
                out.push(high << 4 | low);
                rest = after;
                continue;
            }
        }
        out.push(*b);
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_anything_else_stays() {
        assert_eq!(decode("a%20b%2Fc%2f").as_deref(), Some("a b/c/"));
        assert_eq!(decode("%D0%B1%D0%B0%D0%BD").as_deref(), Some("бан"));
        assert_eq!(decode("100%").as_deref(), Some("100%"), "a lone % stays");
        assert_eq!(
            decode("%zz%4").as_deref(),
            Some("%zz%4"),
            "so does a bad escape"
        );
        assert_eq!(decode("%%41").as_deref(), Some("%A"));
        assert_eq!(decode("").as_deref(), Some(""));
        assert!(matches!(decode("plain"), Some(Cow::Borrowed("plain"))));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_none() {
        assert_eq!(decode("%FF"), None);
        assert_eq!(decode("%EF%F0%E8"), None, "Windows-1251");
        assert_eq!(decode("%D0"), None, "a character cut in half");
    }

    #[test]
    fn agrees_with_the_percent_encoding_crate() {
        // The crate this replaced (a dev-dependency, for this comparison only).
        for input in [
            "",
            "%",
            "%4",
            "%41%",
            "a+b%20",
            "%e2%82%ac",
            "%E2%82",
            "x%2G",
            "%+1",
            "%-1",
            "%C3%A9t%C3%A9",
            "%%%",
            "%7B%22id%22%3A%22a%22%7D",
            "%25252",
        ] {
            let theirs = percent_encoding::percent_decode_str(input)
                .decode_utf8()
                .ok()
                .map(Cow::into_owned);
            assert_eq!(decode(input).map(Cow::into_owned), theirs, "{input:?}");
        }
    }
}
