//! The relay's TOML config parser and validator (`Config::parse`), including the error path
//! that quotes the offending line: it must never panic, and its message must render.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match aidlink_relay::config::Config::parse(text) {
        Ok(config) => {
            for site in &config.site {
                let _ = config.site(&site.id);
            }
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
