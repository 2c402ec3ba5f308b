//! The golden real models through the runtime with `ComputeUnits::All` (nodes placed on
//! CUDA run on the GPU, the rest on the CPU) against the same models `CpuOnly` and against
//! the ONNX Runtime references of tests/golden, within each case's tolerance.
//!
//! Without a CUDA device every case prints `SKIP` and returns. A model file that is not in
//! the cache (`$SMELT_CACHE` or .cache/) is skipped with a message rather than fetched, so
//! the test can run on a machine with no network. `-- --nocapture` prints, per case, the
//! placement, the largest GPU-vs-CPU and GPU-vs-reference errors, the transfers and the
//! timings.
//!
//! Each case also runs on the GPU at tf32, fp16 and bf16 GEMM precision (see
//! `smelt::Precision`) and prints the largest error of each float output against the CPU's
//! fp32 result, relative to the output's largest magnitude; it must stay within the loose
//! named tolerance `PRECISION_TOL` (these are whole networks: rounding compounds over
//! layers, so the bound is a sanity check, the printed numbers are the measurement).

mod common;

use common::*;
use smelt::{ComputeUnits, Config, Model, Precision};
use smelt_core::{npy, Tensor};
use std::time::Instant;

/// Loose bound on max |gpu - cpu fp32| / max |cpu fp32| per float output, per precision:
/// unit roundoff 2^-11 (tf32, fp16) or 2^-8 (bf16) times 64 for depth and conditioning.
const PRECISION_TOL: [(Precision, &str, f64); 3] = [
    (Precision::Tf32, "64 * 2^-11", 64.0 / 2048.0),
    (Precision::F16, "64 * 2^-11", 64.0 / 2048.0),
    (Precision::Bf16, "64 * 2^-8", 64.0 / 256.0),
];

fn has_cuda() -> bool {
    smelt::available_devices()
        .iter()
        .any(|d| d.backend == "cuda")
}

fn run_case(name: &str) {
    if !has_cuda() {
        eprintln!("SKIP: no CUDA device ({name} not run on the GPU)");
        return;
    }
    let dir = root().join("tests/golden");
    let text = std::fs::read_to_string(dir.join("cases.txt")).expect("tests/golden/cases.txt");
    let cases = parse_cases(&text);
    let c = cases.iter().find(|c| c.name == name).expect("case");
    let path = match &c.package {
        None => root().join(&c.model),
        Some(p) => cache().join(p).join(&c.model),
    };
    if !path.exists() {
        eprintln!("SKIP: {name}: model {} not present", path.display());
        return;
    }
    let load = |units| {
        Model::load(
            &path,
            Config {
                compute_units: units,
                ..Config::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: loading: {e}"))
    };
    let cpu = load(ComputeUnits::CpuOnly);
    let gpu = load(ComputeUnits::All);
    let counts: Vec<String> = gpu
        .placement()
        .counts()
        .iter()
        .map(|(d, n)| format!("{} {n}", d.backend))
        .collect();
    let device = gpu.placement().devices[0].name.clone();
    println!(
        "{name}: {} nodes: {}; {} transfers; device {device}",
        gpu.graph().nodes.len(),
        counts.join(", "),
        gpu.placement().transfers
    );
    let mut cpu_ops: Vec<String> = gpu
        .placement()
        .nodes
        .iter()
        .filter(|a| gpu.placement().devices[a.device].backend == "cpu")
        .map(|a| a.op_type.clone())
        .collect();
    cpu_ops.sort();
    cpu_ops.dedup();
    println!("  on the cpu: {cpu_ops:?}");
    let inputs: Vec<(String, Tensor)> = c
        .inputs
        .iter()
        .map(|(n, f)| (n.clone(), npy::read(dir.join(name).join(f)).unwrap()))
        .collect();
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let t = Instant::now();
    let want_cpu = cpu
        .predict(&feed)
        .unwrap_or_else(|e| panic!("{name}: cpu: {e}"));
    let t_cpu = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let got = gpu
        .predict(&feed)
        .unwrap_or_else(|e| panic!("{name}: gpu: {e}"));
    let t_first = t.elapsed().as_secs_f64();
    let mut times: Vec<f64> = (0..20)
        .map(|_| {
            let t = Instant::now();
            gpu.predict(&feed).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "  time: cpu {:.2} ms; gpu first {:.1} ms (kernel compile, weight upload), median of 20 {:.3} ms",
        t_cpu * 1e3,
        t_first * 1e3,
        times[10] * 1e3
    );
    let mut failures = Vec::new();
    for (oname, file) in &c.outputs {
        let want = npy::read(dir.join(name).join(file)).unwrap();
        let g = got
            .get(oname)
            .unwrap_or_else(|| panic!("{name}: output {oname} missing"));
        let vs_cpu =
            compare(g, want_cpu.get(oname).unwrap(), 0.0, f64::INFINITY).unwrap_or(f64::NAN);
        match compare(g, &want, c.rtol, c.atol) {
            Ok(e) => println!(
                "  {oname}: {:?} max abs error vs cpu {vs_cpu:.3e}, vs onnxruntime {e:.3e} (atol {:e}, rtol {:e})",
                want.shape(),
                c.atol,
                c.rtol
            ),
            Err(m) => {
                println!("  {oname}: FAIL {m}");
                failures.push(format!("{oname}: {m}"));
            }
        }
    }
    let again = gpu.predict(&feed).unwrap();
    for (oname, t) in got.iter() {
        let d = compare(again.get(oname).unwrap(), t, 0.0, f64::INFINITY).unwrap_or(f64::NAN);
        println!("  {oname}: last run (CUDA graph replay when captured) vs first run: max abs diff {d:.3e}");
    }
    for (p, tol_name, tol) in PRECISION_TOL {
        let m = Model::load(
            &path,
            Config {
                compute_units: ComputeUnits::All,
                precision: p,
                ..Config::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name} {p}: loading: {e}"));
        let out = m
            .predict(&feed)
            .unwrap_or_else(|e| panic!("{name} {p}: gpu: {e}"));
        for (oname, want) in want_cpu.iter() {
            if !want.dtype().is_float() {
                continue;
            }
            let e = compare(out.get(oname).unwrap(), want, 0.0, f64::INFINITY).unwrap_or(f64::NAN);
            let scale = want
                .to_f64_vec()
                .unwrap()
                .iter()
                .fold(0f64, |a, v| a.max(v.abs()))
                .max(f64::MIN_POSITIVE);
            let rel = e / scale;
            println!(
                "  {p}: {oname}: max abs error vs cpu fp32 {e:.3e} (max |out| {scale:.3e}, relative {rel:.3e}; tolerance {tol_name} = {tol:.3e})"
            );
            if rel.is_nan() || rel > tol {
                failures.push(format!(
                    "{oname} at {p}: relative error {rel:.3e} over {tol_name}"
                ));
            }
        }
    }
    // the package `smelt convert` writes (the graph after the portable passes) on the GPU
    let pkg = std::env::temp_dir().join(format!(
        "smelt-golden-cuda-{name}-{}.ingot",
        std::process::id()
    ));
    smelt::convert(&path, &pkg, &Default::default(), &mut |_, _| {})
        .unwrap_or_else(|e| panic!("{name}: converting: {e}"));
    let passed = Model::load(
        &pkg,
        Config {
            compute_units: ComputeUnits::All,
            ..Config::default()
        },
    )
    .unwrap_or_else(|e| panic!("{name}: loading the package: {e}"));
    let out = passed
        .predict(&feed)
        .unwrap_or_else(|e| panic!("{name}: package on the gpu: {e}"));
    std::fs::remove_file(&pkg).ok();
    for (oname, file) in &c.outputs {
        let want = npy::read(dir.join(name).join(file)).unwrap();
        match compare(out.get(oname).unwrap(), &want, c.rtol, c.atol) {
            Ok(e) => println!(
                "  package after the passes ({} nodes): {oname}: max abs error vs onnxruntime {e:.3e}",
                passed.graph().nodes.len()
            ),
            Err(m) => failures.push(format!("{oname} from the package after the passes: {m}")),
        }
    }
    if let Some(s) = gpu.gpu_stats() {
        println!(
            "  gpu: CUDA graphs {} captured, {} replays, {} failed {:?}; device time of the last run {:?} ms",
            s.graph_captures, s.graph_replays, s.graph_failures, s.graph_failure_reasons, s.last_device_ms
        );
        println!(
            "  gpu: {} runs, {} gpu / {} cpu node runs, {} fallbacks {:?}; uploads {} ({} B), downloads {} ({} B); weights {} B; device memory in use {} B, peak {} B, cache hits {}, cuMemAlloc {}",
            s.runs, s.gpu_nodes, s.cpu_nodes, s.cpu_fallbacks, s.fallback_reasons.iter().take(3).collect::<Vec<_>>(),
            s.uploads, s.upload_bytes, s.downloads, s.download_bytes, s.weight_bytes,
            s.alloc.in_use, s.alloc.peak, s.alloc.cache_hits, s.alloc.device_allocs
        );
    }
    assert!(failures.is_empty(), "{name}: {}", failures.join("; "));
}

macro_rules! golden_cuda {
    ($($case:ident),* $(,)?) => {
        $(#[test] fn $case() { run_case(stringify!($case)); })*
    };
}

golden_cuda!(
    mnist_cnn,
    ocr_det,
    ocr_rec,
    ocr_cls,
    opennsfw,
    minilm_l3,
    minilm_l6_int8,
    silero_vad,
    silero_vad_op15
);
