//! The JSON form of the RTB House cookie, as the current RTB House tags write `__rtbh.aid`:
//! `{"eventType":"aid","id":"<id>","expiryDate":"<ISO 8601>"}` (once percent-decoded).
//!
//! A tiny scanner for that one flat object instead of a JSON deserialiser: this code ships in
//! the script-tag WebAssembly bundle, where a deserialiser costs ~15 KB gzip (and even an
//! unescaping string reader ~1 KB). It never panics (no slice indexing, only `get`), never
//! allocates, and reads anything it does not understand as "no id". Escapes are checked and
//! skipped, not decoded: a key written with escapes is an unknown key, and an `id` or
//! `eventType` with escapes reads as absent (no RTB House id contains one).

/// What the object says, before the caller's rules (validity, `unknown`) are applied.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct AidObject<'a> {
    /// `id`; `None` when missing, not a string, or written with escapes.
    pub id: Option<&'a str>,
    /// `expiryDate` in ms since the epoch; `None` when missing or `null`.
    pub expiry_ms: Option<u64>,
}

/// Parses the JSON object `text`. `None` when it is not one flat JSON object, when `eventType`
/// is present and is not `"aid"`, or when `expiryDate` is present and is neither `null` nor a
/// UTC ISO 8601 date (`2027-04-20T15:22:01.591Z`, as `Date.prototype.toISOString` writes).
/// Nested objects or arrays read as unparseable. Duplicate keys: the last one counts, as with
/// `JSON.parse`.
pub(super) fn parse(text: &str) -> Option<AidObject<'_>> {
    let mut s = Scanner { text, pos: 0 };
    let mut out = AidObject::default();
    s.skip_ws();
    s.expect(b'{')?;
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.pos += 1;
    } else {
        loop {
            s.skip_ws();
            let key = s.string()?;
            s.skip_ws();
            s.expect(b':')?;
            s.skip_ws();
            let value = s.value()?;
            match key {
                Value::Str("id") => out.id = value.text(),
                Value::Str("eventType") if value.text() != Some("aid") => return None,
                Value::Str("expiryDate") => {
                    out.expiry_ms = match value {
                        Value::Null => None,
                        _ => Some(iso_ms(value.text()?)?),
                    }
                }
                _ => {}
            }
            s.skip_ws();
            match s.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.skip_ws();
    s.peek().is_none().then_some(out)
}

/// A scalar value. `Escaped` is a string with escapes (checked, not decoded).
#[derive(Clone, Copy)]
enum Value<'a> {
    Str(&'a str),
    Escaped,
    Null,
    Other,
}

impl<'a> Value<'a> {
    fn text(self) -> Option<&'a str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A string, `null`, or a number / `true` / `false` (not looked into).
    fn value(&mut self) -> Option<Value<'a>> {
        if self.peek()? == b'"' {
            return self.string();
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            self.pos += 1;
        }
        match self.text.get(start..self.pos)? {
            "" => None,
            "null" => Some(Value::Null),
            _ => Some(Value::Other),
        }
    }

    /// A JSON string at the cursor. `None` on an unterminated string, a raw control character
    /// or a bad escape.
    fn string(&mut self) -> Option<Value<'a>> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match self.next()? {
                        b'u' => {
                            for _ in 0..4 {
                                self.next().filter(u8::is_ascii_hexdigit)?;
                            }
                        }
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        _ => return None,
                    }
                }
                0..0x20 => return None,
                _ => {}
            }
        }
        if escaped {
            return Some(Value::Escaped);
        }
        self.text.get(start..self.pos - 1).map(Value::Str)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC) → ms since the epoch. Dates before 1970 read as 0
/// (long past). Anything else: `None`. Field ranges are checked loosely (day 1–31 whatever the
/// month): the date is only compared with the clock.
pub(super) fn iso_ms(date: &str) -> Option<u64> {
    let bytes = date.as_bytes();
    let (head, tail) = (bytes.get(..19)?, bytes.get(19..)?);
    // year, month, day, hour, minute, second: digits fill the current field, the template's
    // separators move to the next one.
    let mut n = [0u64; 6];
    let mut field = 0;
    for (&b, &want) in head.iter().zip(b"dddd-dd-ddTdd:dd:dd") {
        if want != b'd' {
            if b != want {
                return None;
            }
            field += 1;
        } else if b.is_ascii_digit() {
            let v = n.get_mut(field)?;
            *v = *v * 10 + u64::from(b - b'0');
        } else {
            return None;
        }
    }
    let ms = match tail {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z']
            if !fraction.is_empty() && fraction.iter().all(u8::is_ascii_digit) =>
        {
            // The first three digits, padded: `.5` is 500 ms.
            (0..3).fold(0, |ms, i| {
                ms * 10 + fraction.get(i).map_or(0, |d| u64::from(d - b'0'))
            })
        }
        _ => return None,
    };
    let [year, month, day, hour, minute, second] = n;
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid || year < 1970 {
        return valid.then_some(0);
    }
    // Days since 1970-01-01 (Howard Hinnant's `days_from_civil`, for years from 1970: the
    // year counted from March, so that the leap day is the last day of the year).
    let y = if month <= 2 { year - 1 } else { year };
    let (era, yoe) = (y / 400, y % 400);
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_as_the_tag_writes_them() {
        assert_eq!(iso_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(iso_ms("1970-01-01T00:00:00.001Z"), Some(1));
        // new Date("2027-04-20T15:22:01.591Z").getTime()
        assert_eq!(iso_ms("2027-04-20T15:22:01.591Z"), Some(1_808_234_521_591));
        assert_eq!(
            iso_ms("2027-04-20T15:22:01.5912345Z"),
            Some(1_808_234_521_591)
        );
        assert_eq!(iso_ms("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        assert_eq!(iso_ms("2024-03-01T00:00:00Z"), Some(1_709_251_200_000));
        assert_eq!(iso_ms("2000-12-31T23:59:59.999Z"), Some(978_307_199_999));
        assert_eq!(iso_ms("1969-12-31T23:59:59Z"), Some(0), "before 1970: past");
        for bad in [
            "",
            "2027-04-20",
            "2027-04-20T15:22:01",
            "2027-04-20 15:22:01Z",
            "2027-13-01T00:00:00Z",
            "2027-04-32T00:00:00Z",
            "2027-00-20T00:00:00Z",
            "2027-04-20T24:00:00Z",
            "2027-04-20T15:60:00Z",
            "2027-04-20T15:22:01.Z",
            "2027-04-20T15:22:01ZZ",
            "2027-04-20T18:22:01+03:00",
            "27-04-20T15:22:01Z",
            "２０２７-04-20T15:22:01Z",
        ] {
            assert_eq!(iso_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_object_form() {
        let o = parse(r#"{"eventType":"aid","id":"6dca811d-3ccc-11f1-989d-c722ed84714f","expiryDate":"1970-01-01T00:00:01Z"}"#).unwrap();
        assert_eq!(o.id, Some("6dca811d-3ccc-11f1-989d-c722ed84714f"));
        assert_eq!(o.expiry_ms, Some(1000));
        let o = parse(" { \"id\" : \"abc\" , \"n\": -1.5e3, \"b\": true, \"x\": null } ").unwrap();
        assert_eq!((o.id, o.expiry_ms), (Some("abc"), None));
        assert_eq!(parse("{}"), Some(AidObject::default()));
        let o = parse(r#"{"id":"first","id":"last","expiryDate":null}"#).unwrap();
        assert_eq!((o.id, o.expiry_ms), (Some("last"), None));
        assert_eq!(parse(r#"{"id":42}"#).unwrap().id, None, "not a string");
    }

    #[test]
    fn escapes_are_checked_and_skipped_not_decoded() {
        let o = parse(r#"{"note":"say \"hi\" \\ \/ \ud83d\ude00 \n","id":"abc"}"#).unwrap();
        assert_eq!(o.id, Some("abc"), "escapes in another value are skipped");
        assert_eq!(
            parse(r#"{"id":"a\/b"}"#).unwrap().id,
            None,
            "an id with escapes is no id"
        );
        assert_eq!(
            parse(r#"{"\u0069d":"abc"}"#).unwrap().id,
            None,
            "an escaped key is another key"
        );
        assert_eq!(parse(r#"{"eventType":"\u0061id","id":"abc"}"#), None);
    }

    #[test]
    fn what_is_not_one_flat_object_is_none() {
        for bad in [
            "",
            "{",
            "}",
            "[]",
            "\"id\"",
            r#"{"id":"a"} x"#,
            r#"{"id":"a",}"#,
            r#"{"id":"a" "b":1}"#,
            r#"{"id":"a"#,
            r#"{"id":"a\"}"#,
            r#"{"id":"a\q"}"#,
            r#"{"id":"a\u12"}"#,
            r#"{"id":"a\u12G4"}"#,
            "{\"id\":\"a\nb\"}",
            r#"{"id":}"#,
            r#"{id:"a"}"#,
            r#"{"id":"a","o":{"k":1}}"#,
            r#"{"id":"a","l":[1]}"#,
            r#"{"eventType":"uid","id":"a"}"#,
            r#"{"eventType":1,"id":"a"}"#,
            r#"{"id":"a","expiryDate":"soon"}"#,
            r#"{"id":"a","expiryDate":1808234521591}"#,
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
