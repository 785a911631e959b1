//! MIME messages as they arrive: summarising never panics and every
//! field kept stays within its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let summary = guss_mail::message::summarize(data);
    for field in [&summary.message_id, &summary.subject, &summary.from].into_iter().flatten() {
        assert!(field.len() <= 998);
    }
    assert!(summary.ancestors.len() <= 64);
    assert!(summary.calendar.as_ref().is_none_or(|c| c.len() <= 1024 * 1024));
    let _ = guss_mail::message::from_addresses(data);
    let _ = guss_mail::message::has_header(data, "Message-ID");
});
