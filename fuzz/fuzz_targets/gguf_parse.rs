//! Parses fuzzed bytes as a GGUF file and, when that succeeds, reads every metadata value
//! through the typed getters and dequantizes every tensor.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = smelt_gguf::Gguf::parse(data) else {
        return;
    };
    let _ = g.architecture();
    for (key, _) in g.metadata().iter() {
        let _ = std::hint::black_box((g.get_str(key), g.get_uint(key), g.get_str_array(key)));
    }
    for t in g.tensors() {
        if let Ok(x) = t.dequantize(data) {
            assert_eq!(x.len() as u64, t.n_elements());
            std::hint::black_box(x);
        }
    }
});
