//! Parses fuzzed bytes as a safetensors file and, when that succeeds, reads every tensor as a
//! smelt tensor and every float tensor as f32.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(st) = smelt_safetensors::SafeTensors::parse(data) else {
        return;
    };
    std::hint::black_box(st.metadata());
    for t in st.tensors() {
        let bytes = t.data(data).expect("a parsed tensor's range is inside the file");
        assert_eq!(bytes.len() as u64, t.n_elements() * t.dtype().size());
        if let Ok(x) = t.to_tensor(data) {
            assert_eq!(x.shape().len(), t.shape().len());
            std::hint::black_box(x);
        }
        if t.dtype().is_float() && t.dtype().size() >= 2 {
            let v = t.to_f32(data).expect("16/32/64-bit floats widen to f32");
            assert_eq!(v.len() as u64, t.n_elements());
        }
    }
});
