//! The Calltouch webhook parser, fed the way the relay feeds it (relay/src/http/ingest.rs): the
//! query string's pairs, then the form body's, each through `form_urlencoded::parse`. The input
//! is split at its first `\n` into query and body, so both halves and their order are explored.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (query, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&data[..0], data),
    };
    let mut fields: Vec<(String, String)> = form_urlencoded::parse(query).into_owned().collect();
    fields.extend(form_urlencoded::parse(body).into_owned());
    if let Ok(lead) = aidlink_relay::webhook::parse_lead(&fields) {
        // What the pipeline does next with every accepted lead.
        let _ = lead.lead_id();
        let _ = lead.is_call_end();
    }
});
