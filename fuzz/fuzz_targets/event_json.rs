//! CloudEvents JSON: never panic; what parses serializes back to an equal event.
#![no_main]

use guss_core::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(data) {
        let json = serde_json::to_vec(&event).expect("events serialize");
        let again: Event = serde_json::from_slice(&json).expect("serialized events parse");
        assert_eq!(again, event);
    }
});
