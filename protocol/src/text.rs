//! What the readers of cookies, query strings and stored values share: percent-decoding (`%` and
//! two hex digits are that byte, any other `%` stays as it is, and the result must be UTF-8) and
//! splitting on one ASCII separator. Both ship in the capture module's bundle, where every byte
//! counts: the decoder is a few lines rather than the `percent-encoding` crate, its UTF-8 check
//! a short loop rather than core's validator (unrolled for speed: about 1 KB of WebAssembly), and
//! the split is a byte search rather than core's `str::split`, whose searchers decode every
//! character (and, for a single `char`, carry a slice-index panic whose message formats
//! integers, code the bundle otherwise does without).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

/// `text` percent-decoded; `None` when the decoded bytes are not UTF-8 (a Windows-1251 link, an
/// escape cut in the middle of a character). Borrowed when there is no `%` at all.
pub fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    decode(text, false, true)
}

/// `text` with each `+` read as a space when `plus` (form encoding) and each `%` escape decoded
/// when `escapes`; `None` when the result is not UTF-8. Borrowed when there is nothing to change.
pub(crate) fn decode(text: &str, plus: bool, escapes: bool) -> Option<Cow<'_, str>> {
    if !text
        .bytes()
        .any(|b| (escapes && b == b'%') || (plus && b == b'+'))
    {
        return Some(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let [b, tail @ ..] = rest {
        rest = tail;
        if let (true, b'%', [high, low, after @ ..]) = (escapes, *b, tail) {
            if let (Some(high), Some(low)) = (hex(*high), hex(*low)) {
                out.push(high << 4 | low);
                rest = after;
                continue;
            }
        }
        out.push(if plus && *b == b'+' { b' ' } else { *b });
    }
    utf8(&out).map(Cow::Owned)
}

/// `bytes` as text when they are UTF-8, by the rule `String::from_utf8` applies (Unicode's
/// well-formed sequences: no overlong form, no surrogate, nothing past U+10FFFF); `None`
/// otherwise.
fn utf8(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while let [lead, tail @ ..] = rest {
        // How many continuation bytes follow, the smallest code point that needs them, and the
        // lead byte's bits.
        let (more, least, bits) = match *lead {
            0x00..=0x7f => (0, 0, *lead),
            0xc0..=0xdf => (1, 0x80, lead & 0x1f),
            0xe0..=0xef => (2, 0x800, lead & 0x0f),
            0xf0..=0xf7 => (3, 0x1_0000, lead & 0x07),
            _ => return None,
        };
        let (continuation, after) = tail.split_at_checked(more)?;
        let mut code = u32::from(bits);
        for b in continuation {
            if b & 0xc0 != 0x80 {
                return None;
            }
            code = code << 6 | u32::from(b & 0x3f);
        }
        if code < least {
            return None;
        }
        // `from_u32` refuses surrogates and what lies past U+10FFFF.
        out.push(char::from_u32(code)?);
        rest = after;
    }
    Some(out)
}

/// The parts of `text` between each `sep`, an ASCII byte, as `text.split(sep as char)` gives
/// them.
pub fn split(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let text = rest?;
        let (head, tail) = match cut(text, sep) {
            Some((head, tail)) => (head, Some(tail)),
            None => (text, None),
        };
        rest = tail;
        Some(head)
    })
}

/// `text` up to the first of `seps`, ASCII bytes (all of it when there is none), as
/// `text.split(seps).next()`.
pub fn before_any<'a>(text: &'a str, seps: &[u8]) -> &'a str {
    seps.iter().fold(text, |text, &sep| {
        cut(text, sep).map_or(text, |(head, _)| head)
    })
}

/// `text` cut at the first `sep`, an ASCII byte, as `text.split_once(sep as char)`. (An ASCII
/// byte is never part of another character, so a byte search finds the same place.)
pub fn cut(text: &str, sep: u8) -> Option<(&str, &str)> {
    debug_assert!(sep.is_ascii());
    let at = text.bytes().position(|b| b == sep)?;
    let (head, tail) = text.split_at_checked(at)?;
    Some((head, tail.get(1..)?))
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
        assert_eq!(percent_decode("a%20b%2Fc%2f").as_deref(), Some("a b/c/"));
        assert_eq!(percent_decode("%D0%B1%D0%B0%D0%BD").as_deref(), Some("бан"));
        assert_eq!(
            percent_decode("100%").as_deref(),
            Some("100%"),
            "a lone % stays"
        );
        assert_eq!(
            percent_decode("%zz%4").as_deref(),
            Some("%zz%4"),
            "so does a bad escape"
        );
        assert_eq!(percent_decode("%%41").as_deref(), Some("%A"));
        assert_eq!(percent_decode("").as_deref(), Some(""));
        assert!(matches!(
            percent_decode("plain"),
            Some(Cow::Borrowed("plain"))
        ));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_none() {
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_decode("%EF%F0%E8"), None, "Windows-1251");
        assert_eq!(percent_decode("%D0"), None, "a character cut in half");
    }

    #[test]
    fn the_utf8_check_agrees_with_core() {
        let core = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
        // Every sequence of up to two bytes, and of three and four bytes from a lead byte that
        // starts one (continuation bytes at the edges of each range, and beyond them).
        let edges = [
            0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff,
        ];
        for a in 0..=255u8 {
            assert_eq!(utf8(&[a]), core(&[a]), "{a:#x}");
            for b in 0..=255u8 {
                assert_eq!(utf8(&[a, b]), core(&[a, b]), "{a:#x} {b:#x}");
            }
        }
        for a in 0xc0..=0xffu8 {
            for b in 0..=255u8 {
                for c in edges {
                    assert_eq!(utf8(&[a, b, c]), core(&[a, b, c]), "{a:#x} {b:#x} {c:#x}");
                    for d in edges {
                        let four = [a, b, c, d];
                        assert_eq!(utf8(&four), core(&four), "{four:x?}");
                    }
                }
            }
        }
        for text in [
            "",
            "ascii",
            "бан",
            "€",
            "𝄞 music",
            "a\u{10ffff}z",
            "\u{d7ff}\u{e000}",
        ] {
            assert_eq!(utf8(text.as_bytes()).as_deref(), Some(text));
        }
        assert_eq!(utf8(b"ok\xe2\x82"), None, "cut short");
        assert_eq!(utf8(b"\xed\xa0\x80"), None, "a surrogate");
        assert_eq!(utf8(b"\xf4\x90\x80\x80"), None, "past U+10FFFF");
        assert_eq!(utf8(b"\xc0\xaf"), None, "overlong");
    }

    #[test]
    fn split_and_cut_agree_with_str() {
        for text in [
            "",
            ",",
            "a",
            "a,b",
            ",a,,b,",
            "ключ,значение",
            "a=b=c",
            "é=,è",
        ] {
            assert!(split(text, b',').eq(text.split(',')), "{text:?}");
            assert_eq!(cut(text, b'='), text.split_once('='), "{text:?}");
            let seps = [',', '='];
            assert_eq!(before_any(text, b",="), text.split(seps).next().unwrap());
        }
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
            assert_eq!(
                percent_decode(input).map(Cow::into_owned),
                theirs,
                "{input:?}"
            );
        }
    }
}
