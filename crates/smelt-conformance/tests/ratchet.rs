//! The conformance ratchet: runs every ONNX backend test case on the CPU backend and fails if
//! fewer pass than recorded in `RATCHET` (raise the numbers there as ops land), or if any
//! case panics (a panic on any input is a defect).

use smelt_conformance::*;
use std::path::{Path, PathBuf};

fn recorded() -> (usize, usize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("RATCHET");
    let text = std::fs::read_to_string(&path).expect("RATCHET file");
    let get = |key: &str| -> usize {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(key)
                    .map(|v| v.trim().parse().expect("RATCHET number"))
            })
            .unwrap_or_else(|| panic!("RATCHET has no '{key}' line"))
    };
    (get("node "), get("all "))
}

/// The ONNX test data, complete (fetched on first use; both tests may ask at once, fetch.py's
/// lock makes the second wait): a run on incomplete data would read as a regression.
fn data(repo: &Path) -> PathBuf {
    ensure_data(repo).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn conformance_does_not_regress() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = data(&repo);
    let results = run_all(&root, &SUITES, "", Via::Onnx, |_| {});
    let panics: Vec<_> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Panic(_)))
        .map(|r| format!("{}: {}", r.name, r.outcome.detail()))
        .collect();
    let (np, nt, ap, at) = counts(&results);
    println!("conformance: node passed {np} / {nt}; all suites passed {ap} / {at}");
    let (rn, ra) = recorded();
    assert!(
        panics.is_empty(),
        "{} cases panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(np >= rn, "node tests passing fell to {np}, recorded {rn}");
    assert!(
        ap >= ra,
        "all-suite tests passing fell to {ap}, recorded {ra}"
    );
    if np > rn || ap > ra {
        println!(
            "conformance improved: raise crates/smelt-conformance/RATCHET to node {np}, all {ap}"
        );
    }
}

/// Every case that passes on the imported graph also passes after the graph is written as an
/// `.ingot` package and loaded back: the package keeps every op, attribute, subgraph and
/// tensor the suite exercises.
#[test]
fn conformance_through_ingot_packages_matches() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = data(&repo);
    let direct = run_all(&root, &SUITES, "", Via::Onnx, |_| {});
    let packaged = run_all(&root, &SUITES, "", Via::Ingot, |_| {});
    let lost: Vec<String> = direct
        .iter()
        .zip(&packaged)
        .filter(|(d, p)| d.outcome == Outcome::Pass && p.outcome != Outcome::Pass)
        .map(|(d, p)| format!("{}/{}: {}", d.suite, d.name, p.outcome.detail()))
        .collect();
    let (np, nt, ap, at) = counts(&packaged);
    println!("through .ingot: node passed {np} / {nt}; all suites passed {ap} / {at}");
    assert!(
        lost.is_empty(),
        "{} cases pass directly but not through .ingot:\n{}",
        lost.len(),
        lost.join("\n")
    );
}
