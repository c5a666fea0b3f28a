//! Helm's stored release text, as found in `data.release`: must never panic, hang or allocate
//! without bound.
#![no_main]

use kubectl_bkdoctor::helm::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode::decode(data);
});
