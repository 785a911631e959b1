//! E-mail addresses: never panic; the canonical form parses to itself.
#![no_main]

use guss_core::EmailAddress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(address) = text.parse::<EmailAddress>() {
        let again: EmailAddress = address.as_str().parse().expect("the canonical form is valid");
        assert_eq!(again, address);
        assert_eq!(format!("{}@{}", address.local_part(), address.domain()), address.as_str());
    }
});
