//! Every case that passes on the imported graph also passes after the portable passes
//! (`smelt_passes::optimize`, what `smelt convert` saves): the passes keep what each graph
//! computes, over the whole operator suite.

use smelt_conformance::*;
use std::path::PathBuf;

#[test]
fn conformance_through_the_passes_matches() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = ensure_data(&repo).unwrap_or_else(|e| panic!("{e}"));
    let direct = run_all(&root, &SUITES, "", Via::Onnx, |_| {});
    let passed = run_all(&root, &SUITES, "", Via::Passes, |_| {});
    // unseeded random ops draw anew on every run: they pass or fail by chance either way
    let lost: Vec<String> = direct
        .iter()
        .zip(&passed)
        .filter(|(d, p)| d.outcome == Outcome::Pass && p.outcome != Outcome::Pass)
        .map(|(d, p)| format!("{}/{}: {}", d.suite, d.name, p.outcome.detail()))
        .collect();
    let (np, nt, ap, at) = counts(&passed);
    println!("through the passes: node passed {np} / {nt}; all suites passed {ap} / {at}");
    assert!(
        lost.is_empty(),
        "{} cases pass directly but not through the passes:\n{}",
        lost.len(),
        lost.join("\n")
    );
}
