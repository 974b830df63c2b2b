#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fledge_fuzz::selectors(data));
