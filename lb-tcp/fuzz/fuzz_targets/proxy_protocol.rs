//! Fuzzes the PROXY protocol parser: it must never panic, and whatever it accepts must
//! re-encode and parse back to the same header.
#![no_main]

use lb_tcp::proxy_protocol::{parse, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Parsed::Complete { header, consumed }) = parse(data) else {
        return;
    };
    assert!(consumed <= data.len());
    let encoded = header
        .to_bytes()
        .expect("a parsed header always re-encodes");
    match parse(&encoded) {
        Ok(Parsed::Complete {
            header: again,
            consumed,
        }) => {
            assert_eq!(again, header);
            assert_eq!(consumed, encoded.len());
        }
        other => panic!("re-encoded header does not parse back: {other:?}"),
    }
});
