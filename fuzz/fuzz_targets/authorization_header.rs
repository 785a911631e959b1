//! HTTP `Authorization` header values: never panic, never invent bytes.
#![no_main]

use guss_core::Credentials;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(credentials) = Credentials::from_authorization_header(text) {
        // The secret is a part of the header (Bearer) or of its decoded form (Basic).
        assert!(credentials.secret().len() <= text.len());
    }
});
