//! `Range` headers: never panic; every range lies inside the representation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((length, text)) = data.split_first_chunk::<8>() else {
        return;
    };
    let length = u64::from_le_bytes(*length) % (1 << 40);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if let Ok(Some(ranges)) = guss_dav::parse_range(text, length) {
        for range in ranges {
            assert!(range.first <= range.last && range.last < length);
        }
    }
});
