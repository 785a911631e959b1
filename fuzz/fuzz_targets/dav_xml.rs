//! WebDAV request bodies: never panic; what parses serializes to XML that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = guss_dav::parse_propfind(text);
    let _ = guss_dav::parse_lockinfo(text);
    let _ = guss_dav::parse_mkcol(text);
    if let Ok(changes) = guss_dav::parse_proppatch(text) {
        for change in changes {
            if let guss_dav::PropPatch::Set(name, value) = change {
                // A stored dead property must be embeddable again.
                let wrapped = format!("<v xmlns=\"urn:x\">{value}</v>");
                guss_dav::parse_xml(&wrapped, guss_dav::Limits::default()).expect("kept values are well-formed");
                let _ = name;
            }
        }
    }
});
