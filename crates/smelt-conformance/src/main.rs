//! `cargo run -p smelt-conformance -- [--filter S] [--suite NAME]... [--via-ingot | --via-passes | --cuda |
//! --cuda-only | --cuda-plan] [--write FILE] [-q]`
//!
//! Runs the ONNX backend tests on the CPU backend, prints one line per case and the totals,
//! and with `--write` saves the Markdown report. `--via-ingot` runs each model after writing
//! it as an `.ingot` package and loading it back; `--via-passes` after the portable passes
//! (`smelt_passes::optimize`). `--cuda` runs each model as
//! `ComputeUnits::All` places it (CUDA where supported, the CPU for the rest); `--cuda-only`
//! is the CUDA runner alone (a case with a node off the GPU is unsupported). `--cuda-plan`
//! needs no GPU: the CPU runs each case, and one with a node CUDA placement would refuse is
//! unsupported (an upper bound on `--cuda-only`).

use smelt_conformance::*;
use std::path::PathBuf;

fn main() {
    let mut filter = String::new();
    let mut suites: Vec<String> = vec![];
    let mut write: Option<PathBuf> = None;
    let mut quiet = false;
    let mut via = Via::Onnx;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--filter" => filter = args.next().unwrap_or_default(),
            "--suite" => suites.push(args.next().unwrap_or_default()),
            "--write" => write = args.next().map(PathBuf::from),
            "-q" | "--quiet" => quiet = true,
            "--via-ingot" => via = Via::Ingot,
            "--via-passes" => via = Via::Passes,
            "--cuda" => via = Via::Cuda,
            "--cuda-only" => via = Via::CudaOnly,
            "--cuda-plan" => via = Via::CudaPlan,
            other => {
                eprintln!("unknown argument '{other}'\nusage: conformance [--filter S] [--suite NAME]... [--via-ingot | --via-passes | --cuda | --cuda-only | --cuda-plan] [--write FILE] [-q]");
                std::process::exit(2);
            }
        }
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = check_onnx_tests(&package_dir(&repo, ONNX_TESTS)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let suite_refs: Vec<&str> = if suites.is_empty() {
        SUITES.to_vec()
    } else {
        suites.iter().map(|s| s.as_str()).collect()
    };
    let results = run_all(&root, &suite_refs, &filter, via, |r| {
        if !quiet || r.outcome != Outcome::Pass {
            let d = r.outcome.detail();
            let d: String = d.chars().take(300).collect();
            println!(
                "{:<11} {}/{} {}",
                r.outcome.label().to_uppercase(),
                r.suite,
                r.name,
                d
            );
        }
    });
    let (np, nt, ap, at) = counts(&results);
    println!("node: passed {np} / {nt}; all suites: passed {ap} / {at}");
    if let Some(p) = write {
        std::fs::write(&p, report(&results)).unwrap_or_else(|e| {
            eprintln!("writing {}: {e}", p.display());
            std::process::exit(1)
        });
        println!("wrote {}", p.display());
    }
}
