//! Host tests of `document.cookie` parsing and of both forms of the RTB House id.
use super::*;

/// 2026-12-04T00:00:00Z.
const NOW: u64 = 1_796_342_400_000;

#[test]
fn exact_name_match_not_suffix() {
    let c = "x__r_aid_v__=wrong; __r_aid_v__=Right123";
    assert_eq!(find(c, RTB_COOKIE).as_deref(), Some("Right123"));
    assert_eq!(find("x__r_aid_v__=wrong", RTB_COOKIE), None);
    assert_eq!(find("__r_aid_v__x=wrong", RTB_COOKIE), None);
}

#[test]
fn first_match_wins_and_whitespace_is_trimmed() {
    let c = "  a=1 ;__r_aid_v__ = first ; __r_aid_v__=second";
    assert_eq!(find(c, RTB_COOKIE).as_deref(), Some("first"));
}

#[test]
fn empty_and_missing() {
    assert_eq!(find("", RTB_COOKIE), None);
    assert_eq!(find(";;; ;", RTB_COOKIE), None);
    assert_eq!(
        find("__r_aid_v__", RTB_COOKIE),
        None,
        "no '=' is not a cookie"
    );
    assert_eq!(
        read_aid("__r_aid_v__=", [RTB_COOKIE], NOW),
        None,
        "empty value is absent"
    );
}

#[test]
fn value_may_contain_equals() {
    assert_eq!(find("k=a=b", "k").as_deref(), Some("a=b"));
}

#[test]
fn quotes_stripped_once_then_percent_decoded() {
    assert_eq!(find("k=\"abc\"", "k").as_deref(), Some("abc"));
    assert_eq!(find("k=\"\"abc\"\"", "k").as_deref(), Some("\"abc\""));
    assert_eq!(
        find("k=\"abc", "k").as_deref(),
        Some("\"abc"),
        "unbalanced kept"
    );
    assert_eq!(find("k=AbC%5F12", "k").as_deref(), Some("AbC_12"));
}

#[test]
fn bad_percent_encoding_falls_back_to_raw() {
    assert_eq!(find("k=%FF%FEab", "k").as_deref(), Some("%FF%FEab"));
    assert_eq!(find("k=50%", "k").as_deref(), Some("50%"));
}

#[test]
fn aid_validation() {
    assert!(is_valid_aid("AbCdEf0123456789xyz"));
    assert!(is_valid_aid("AbCdEf0123456789xyz_1700000000"));
    assert!(
        is_valid_aid("6dca811d-3ccc-11f1-989d-c722ed84714f"),
        "UUID v1"
    );
    assert!(is_valid_aid(&"a".repeat(256)));
    assert!(!is_valid_aid(&"a".repeat(257)));
    for bad in ["", "a b", "a;b", "a\"b", "a\\b", "a\tb", "é", "a\u{7f}"] {
        assert!(!is_valid_aid(bad), "{bad:?} must be rejected");
    }
}

#[test]
fn read_aid_treats_invalid_as_absent() {
    assert_eq!(read_aid("__r_aid_v__=a%20b", [RTB_COOKIE], NOW), None);
    assert_eq!(read_aid("__r_aid_v__=%22q%22", [RTB_COOKIE], NOW), None);
    assert_eq!(
        read_aid("__r_aid_v__=%41bc", [RTB_COOKIE], NOW).as_deref(),
        Some("Abc")
    );
    assert_eq!(
        read_aid("__r_aid_v__=x; __r_aid_v__=y", ["__r_aid_v__"], NOW).as_deref(),
        Some("x")
    );
}

/// `__rtbh.aid` as the current RTB House tag writes it (seen on a real site).
const RTBH_AID: &str = "%7B%22eventType%22%3A%22aid%22%2C%22id%22%3A%226dca811d-3ccc-11f1-989d-c722ed84714f%22%2C%22expiryDate%22%3A%222027-04-20T15%3A22%3A01.591Z%22%7D";
const UUID: &str = "6dca811d-3ccc-11f1-989d-c722ed84714f";

fn value(json: &str) -> Option<String> {
    read_aid_value(json, NOW)
}

#[test]
fn json_form_as_the_tag_writes_it() {
    let cookies = ["_ga=GA1.1.1; __rtbh.aid=", RTBH_AID, "; __rtbh.lid=x"].concat();
    assert_eq!(
        read_aid(&cookies, DEFAULT_COOKIES, NOW).as_deref(),
        Some(UUID)
    );
    assert_eq!(
        find(&cookies, RTB_JSON_COOKIE)
            .and_then(|v| value(&v))
            .as_deref(),
        Some(UUID)
    );
    for id in [
        "AbCdEf0123456789xyz",
        "k3X9pQ2mZ7vB1nL8wR4tY6uE0a",
        "AbCdEf0123456789xyz_17000",
    ] {
        let json = [r#"{"eventType":"aid","id":""#, id, r#""}"#].concat();
        assert_eq!(
            value(&json).as_deref(),
            Some(id),
            "19–26 characters, no expiryDate"
        );
    }
    assert_eq!(
        value(
            &[
                r#" {"id":""#,
                UUID,
                r#"","expiryDate":"2026-12-04T00:00:00.001Z"} "#
            ]
            .concat()
        )
        .as_deref(),
        Some(UUID),
        "no eventType; expires in 1 ms"
    );
}

#[test]
fn json_form_read_as_absent() {
    let cases = [
        (
            r#"{"eventType":"aid","id":"AbCdEf0123456789xyz","expiryDate":"2026-12-03T23:59:59.999Z"}"#,
            "expired",
        ),
        (
            r#"{"eventType":"aid","id":"AbCdEf0123456789xyz","expiryDate":"2026-12-04T00:00:00Z"}"#,
            "expires now",
        ),
        (
            r#"{"eventType":"aid","id":"unknown","expiryDate":"2027-04-20T15:22:01.591Z"}"#,
            "unknown",
        ),
        (
            r#"{"eventType":"uid","id":"unknown"}"#,
            "__rtbh.uid's placeholder",
        ),
        (
            r#"{"eventType":"uid","id":"AbCdEf0123456789xyz"}"#,
            "another eventType",
        ),
        (r#"{"eventType":"aid","id":""}"#, "empty id"),
        (r#"{"eventType":"aid"}"#, "no id"),
        (r#"{"eventType":"aid","id":null}"#, "null id"),
        (r#"{"eventType":"aid","id":"a b"}"#, "invalid id"),
        (r#"{"eventType":"aid","id":"a"b"}"#, "quote in the id"),
        (
            r#"{"eventType":"aid","id":"AbCdEf0123456789xyz","expiryDate":"20.04.2027"}"#,
            "unparseable date",
        ),
        (
            r#"{"eventType":"aid","id":"AbCdEf0123456789xyz""#,
            "truncated",
        ),
        (
            r#"{"eventType":"aid","id":"AbCdEf0123456789xyz",}"#,
            "trailing comma",
        ),
        (
            r#"{"eventType":"aid","id":{"v":"AbCdEf0123456789xyz"}}"#,
            "nested",
        ),
        ("{", "broken"),
        ("{}", "empty object"),
        ("%7B%22id%22%3A", "encoded, broken"),
        ("%7B%FF%7D", "encoded, not UTF-8"),
        ("%7Bnot json", "encoded once more, not JSON"),
        (
            "%257B%2522id%2522%253A%2522AbCdEf0123456789xyz%2522%257D",
            "encoded three times",
        ),
        ("unknown", "plain placeholder"),
        ("", "empty"),
    ];
    for (json, why) in cases {
        assert_eq!(value(json), None, "{why}: {json}");
    }
}

#[test]
fn json_form_percent_encoded_twice_is_read() {
    // The cookie's own decoding leaves `%7B%22…`: decoded once more.
    let twice = RTBH_AID.replace('%', "%25");
    let cookies = ["__rtbh.aid=", &twice].concat();
    assert_eq!(find(&cookies, RTB_JSON_COOKIE).as_deref(), Some(RTBH_AID));
    assert_eq!(
        read_aid(&cookies, DEFAULT_COOKIES, NOW).as_deref(),
        Some(UUID)
    );
    assert_eq!(
        value(&RTBH_AID.to_ascii_lowercase()).as_deref(),
        Some(UUID),
        "lowercase hex digits; the scanner skips the unknown keys eventtype, expirydate"
    );
}

#[test]
fn plain_form_is_the_id_itself() {
    assert_eq!(
        value(" AbCdEf0123456789xyz ").as_deref(),
        Some("AbCdEf0123456789xyz")
    );
    assert_eq!(value(UUID).as_deref(), Some(UUID));
    assert_eq!(value("Ab'C`<d>&e=f_1%").as_deref(), Some("Ab'C`<d>&e=f_1%"));
    assert_eq!(value("%41bc"), None, "still encoded: not an id");
}

#[test]
fn list_of_names_first_found_wins() {
    let json = ["__rtbh.aid=", RTBH_AID].concat();
    let both = ["__r_aid_v__=Plain0123456789abcde; ", &json].concat();
    assert_eq!(
        read_aid(&both, DEFAULT_COOKIES, NOW).as_deref(),
        Some("Plain0123456789abcde")
    );
    assert_eq!(
        read_aid(&both, [RTB_JSON_COOKIE, RTB_COOKIE], NOW).as_deref(),
        Some(UUID),
        "order of the list, not of the cookies"
    );
    let reversed = [json.as_str(), "; __r_aid_v__=Plain0123456789abcde"].concat();
    assert_eq!(
        read_aid(&reversed, DEFAULT_COOKIES, NOW).as_deref(),
        Some("Plain0123456789abcde")
    );
    // A name whose value reads as absent does not win: the next one is tried.
    let expired = r#"__r_aid_v__=a%20b; __rtbh.aid=%7B%22id%22%3A%22Second0123456789xyz%22%7D"#;
    assert_eq!(
        read_aid(expired, DEFAULT_COOKIES, NOW).as_deref(),
        Some("Second0123456789xyz")
    );
    assert_eq!(
        read_aid(&json, [RTB_COOKIE], NOW),
        None,
        "only the names listed"
    );
    assert_eq!(
        read_aid(&json, ["my_aid", "__rtbh.aid"], NOW).as_deref(),
        Some(UUID)
    );
    assert_eq!(read_aid(&both, [], NOW), None);
    assert_eq!(
        read_aid(&json, DEFAULT_COOKIES, 1_808_234_521_591),
        None,
        "expired by now"
    );
}

#[test]
fn ct_ids_cookie() {
    let raw = find("_ct_ids=vwgixinz%3A38342%3A261374990", "_ct_ids").unwrap();
    let ids = parse_ct_ids(&raw).unwrap();
    assert_eq!(
        ids,
        CtIds {
            mod_id: "vwgixinz",
            site_id: "38342",
            session: "261374990"
        }
    );
    assert_eq!(parse_ct_ids("vwgixinz:38342"), None);
    assert_eq!(parse_ct_ids("vwgixinz:38342:"), None);
    assert_eq!(parse_ct_ids("vwgixinz:38342:null"), None);
}

#[test]
fn session_validation() {
    assert!(is_valid_session("261374990"));
    assert!(!is_valid_session("null"));
    assert!(!is_valid_session("undefined"));
    assert!(!is_valid_session("1 2"));
    assert!(!is_valid_session(&"1".repeat(65)));
}

#[test]
fn no_prefix_or_byte_swap_of_the_json_form_panics() {
    let json = r#"{"eventType":"aid","note":"a\"\\\/\u00e9","id":"6dca811d-3ccc-11f1-989d-c722ed84714f","expiryDate":"2027-04-20T15:22:01.591Z"}"#;
    let expected = Some(String::from(UUID));
    assert_eq!(value(json), expected);
    for end in 0..json.len() {
        let prefix = json.get(..end).unwrap();
        assert_eq!(value(prefix), None, "{prefix}");
    }
    for at in 0..json.len() {
        for swap in [
            "{", "}", "\"", "\\", ":", ",", "é", "\u{0}", "9", "Z", "%7B",
        ] {
            let mut bytes = json.as_bytes().to_vec();
            bytes.splice(at..at + 1, swap.bytes());
            if let Ok(text) = String::from_utf8(bytes) {
                let _ = value(&text);
                let _ = value(&["%7B", text.get(1..).unwrap_or("")].concat());
            }
        }
    }
}
