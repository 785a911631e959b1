//! WebAuthn client JSON (registration and assertion): never panic, bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = guss_identity::parse_registration(text);
    let _ = guss_identity::parse_assertion(text);
});
