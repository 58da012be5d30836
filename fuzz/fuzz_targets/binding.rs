//! The binding payload as `POST /v1/bindings` reads it: JSON into `Binding`, then `validate`;
//! a valid one is serialised again and must read back equal (the relay stores what it read).
#![no_main]

use aidlink_protocol::binding::MAX_BODY_BYTES;
use aidlink_protocol::Binding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The relay refuses larger bodies before parsing; fuzz a little past the cap anyway.
    if data.len() > 2 * MAX_BODY_BYTES {
        return;
    }
    let Ok(binding) = serde_json::from_slice::<Binding>(data) else {
        return;
    };
    if binding.validate().is_ok() {
        let text = serde_json::to_string(&binding).expect("a valid binding serialises");
        let again: Binding = serde_json::from_str(&text).expect("a serialised binding reads back");
        assert_eq!(again, binding, "round trip of {text}");
        assert!(again.validate().is_ok());
        if let Some(touch) = binding.touch {
            let _ = touch.with_sane_time(1_776_698_521_591);
        }
    }
});
