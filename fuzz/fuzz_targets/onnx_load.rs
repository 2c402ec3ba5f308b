//! Imports fuzzed bytes as an ONNX ModelProto and, when that succeeds, prepares a CPU plan.
//! The graph is not run: a valid graph may legitimately take long to evaluate.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = smelt_onnx::load_bytes(data, None) {
        let plan = smelt_cpu::Plan::new(&m.graph);
        std::hint::black_box(&plan);
    }
});
