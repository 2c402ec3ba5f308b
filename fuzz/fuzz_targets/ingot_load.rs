//! Loads fuzzed bytes as an `.ingot` package and, when that succeeds, prepares a CPU plan.
//! The graph is not run: a valid graph may legitimately take long to evaluate.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smelt_ingot::LoadOptions;
use std::sync::Arc;

fn load(bytes: Vec<u8>) {
    if let Ok(p) = smelt_ingot::from_bytes(Arc::new(bytes), &LoadOptions::default()) {
        let plan = smelt_cpu::Plan::new(&p.graph);
        std::hint::black_box(&plan);
    }
}

fuzz_target!(|data: &[u8]| {
    // As given: exercises the header and checksum checks.
    load(data.to_vec());
    // With the length and checksums repaired, so mutations reach the manifest and the graph.
    let mut fixed = data.to_vec();
    if smelt_fuzz::fix_ingot_checksums(&mut fixed) {
        load(fixed);
    }
});
