//! The cookie reader over a `document.cookie` string: both RTB House forms (`__r_aid_v__`, the
//! JSON `__rtbh.aid`), a configured list of names, the raw value reader, and Calltouch's
//! `_ct_ids`. The first 8 bytes are the clock (`now_ms`), the rest the cookie text.
#![no_main]

use aidlink_protocol::cookie::{
    decode, find, is_valid_aid, parse_ct_ids, read_aid, read_aid_value, DEFAULT_COOKIES,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (clock, text) = if data.len() >= 8 {
        let (c, t) = data.split_at(8);
        (u64::from_le_bytes(c.try_into().unwrap()), t)
    } else {
        (1_776_698_521_591, data)
    };
    let Ok(cookies) = std::str::from_utf8(text) else {
        return;
    };
    for now_ms in [clock, 0, u64::MAX] {
        let names = DEFAULT_COOKIES.iter().copied().chain(["_rtb_custom", ""]);
        if let Some(aid) = read_aid(cookies, names, now_ms) {
            assert!(
                is_valid_aid(&aid),
                "read_aid returned an invalid id {aid:?}"
            );
        }
        // The raw value reader on the whole text, as a Calltouch attrs value would reach it.
        if let Some(aid) = read_aid_value(cookies, now_ms) {
            assert!(
                is_valid_aid(&aid),
                "read_aid_value returned an invalid id {aid:?}"
            );
        }
    }
    let _ = decode(cookies);
    if let Some(ids) = find(cookies, "_ct_ids") {
        let _ = parse_ct_ids(&ids);
    }
});
