//! `If` headers: never panic; tokens are what stood between angle brackets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(header) = guss_dav::parse_if(text) {
        assert!(!header.lists.is_empty());
        for token in header.tokens() {
            assert!(!token.is_empty() && !token.contains('>'));
        }
    }
});
