//! The ONNX backend test runner. One runner per backend; each case is a folder holding
//! `model.onnx` and `test_data_set_*/{input,output}_N.pb`. Outputs are compared under named
//! tolerances (ONNX's defaults unless a case needs otherwise), and every case gets an
//! [`Outcome`] that the report lists.

use smelt_core::{DType, Error, Tensor};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod data;
pub use data::{check_onnx_tests, check_package, ensure_data, package_dir, NODE_CASES, ONNX_TESTS};

/// The suites run, as folders under `onnx/backend/test/data/`.
pub const SUITES: [&str; 4] = ["node", "pytorch-converted", "pytorch-operator", "simple"];

/// The data root inside the fetched onnx wheel (see [`ensure_data`] for the data checked
/// complete).
pub fn data_root(repo: &Path) -> PathBuf {
    package_dir(repo, ONNX_TESTS).join("onnx/backend/test/data")
}

/// A comparison tolerance: |got - want| <= atol + rtol * |want|.
#[derive(Copy, Clone, Debug)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

/// ONNX's backend-test defaults.
pub const ONNX_DEFAULT: Tolerance = Tolerance {
    rtol: 1e-3,
    atol: 1e-7,
};
/// For cases whose reference was computed in higher precision or with another algorithm.
pub const APPROX: Tolerance = Tolerance {
    rtol: 1e-3,
    atol: 1e-5,
};
/// Low-precision outputs (f16 / bf16).
pub const LOW_PRECISION: Tolerance = Tolerance {
    rtol: 1e-2,
    atol: 1e-3,
};

/// The tolerance a case is compared with, by name: ONNX's defaults unless listed here.
pub fn tolerance_for(case: &str, dtype: DType) -> Tolerance {
    if matches!(dtype, DType::F16 | DType::BF16) {
        return LOW_PRECISION;
    }
    // Cases whose references carry accumulated float error of a long chain of ops.
    const APPROX_CASES: [&str; 4] = ["test_gru_", "test_lstm_", "test_rnn_", "test_simple_rnn"];
    if APPROX_CASES.iter().any(|p| case.starts_with(p)) {
        return APPROX;
    }
    ONNX_DEFAULT
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass,
    /// Output `index` differs; `detail` says how (max error, shape or dtype).
    Mismatch {
        index: usize,
        detail: String,
    },
    /// An op, dtype or value type the backend does not implement.
    Unsupported(String),
    Error(String),
    Panic(String),
    Timeout,
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Mismatch { .. } => "mismatch",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::Error(_) => "error",
            Outcome::Panic(_) => "panic",
            Outcome::Timeout => "timeout",
        }
    }
    pub fn detail(&self) -> String {
        match self {
            Outcome::Pass | Outcome::Timeout => String::new(),
            Outcome::Mismatch { index, detail } => format!("output {index}: {detail}"),
            Outcome::Unsupported(s) | Outcome::Error(s) | Outcome::Panic(s) => s.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CaseResult {
    pub suite: String,
    pub name: String,
    /// Op types in the case's model (main graph), for the per-op summary.
    pub ops: Vec<String>,
    pub outcome: Outcome,
    pub millis: u128,
}

/// The cases of a suite folder, sorted by name.
pub fn list_cases(suite_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(suite_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.join("model.onnx").exists())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read_pb_dir(dir: &Path, prefix: &str) -> Result<Vec<Tensor>, Error> {
    let mut out = Vec::new();
    for i in 0.. {
        let p = dir.join(format!("{prefix}_{i}.pb"));
        if !p.exists() {
            break;
        }
        let bytes = std::fs::read(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
        out.push(smelt_onnx::load_tensor_bytes(&bytes).map_err(|e| {
            // sequence / optional protos do not decode as tensors
            Error::Unsupported(format!("non-tensor test data {}: {e}", p.display()))
        })?);
    }
    Ok(out)
}

/// Compares one output; Err describes the first difference.
pub fn compare(got: &Tensor, want: &Tensor, tol: Tolerance) -> Result<(), String> {
    if got.dtype() != want.dtype() {
        return Err(format!(
            "dtype {} != expected {}",
            got.dtype(),
            want.dtype()
        ));
    }
    if got.shape() != want.shape() {
        return Err(format!(
            "shape {:?} != expected {:?}",
            got.shape(),
            want.shape()
        ));
    }
    let d = want.dtype();
    if d == DType::String {
        let (g, w) = (
            got.as_slice::<String>().unwrap(),
            want.as_slice::<String>().unwrap(),
        );
        return match g.iter().zip(w).position(|(a, b)| a != b) {
            None => Ok(()),
            Some(i) => Err(format!("element {i}: '{}' != expected '{}'", g[i], w[i])),
        };
    }
    if !d.is_float() {
        // integers, bools and low-bit types (raw bits) compare exactly
        let eq = got == want || got.data() == want.data();
        return if eq {
            Ok(())
        } else {
            Err(first_diff_exact(got, want))
        };
    }
    let (g, w) = (
        got.to_f64_vec().map_err(|e| e.to_string())?,
        want.to_f64_vec().map_err(|e| e.to_string())?,
    );
    let mut worst: Option<(usize, f64)> = None;
    let mut max_abs = 0f64;
    for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
        if a.is_nan() && b.is_nan() {
            continue;
        }
        if a.is_infinite() || b.is_infinite() {
            if a != b {
                return Err(format!("element {i}: {a} != expected {b}"));
            }
            continue;
        }
        let err = (a - b).abs();
        if err.is_nan() {
            return Err(format!("element {i}: {a} != expected {b}"));
        }
        max_abs = max_abs.max(err);
        let excess = err - (tol.atol + tol.rtol * b.abs());
        if excess > 0.0 && worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    match worst {
        None => Ok(()),
        Some((i, _)) => Err(format!(
            "max abs error {max_abs:.3e}; element {i}: {} vs expected {} (rtol {}, atol {})",
            g[i], w[i], tol.rtol, tol.atol
        )),
    }
}

fn first_diff_exact(got: &Tensor, want: &Tensor) -> String {
    match (got.to_i64_vec(), want.to_i64_vec()) {
        (Ok(g), Ok(w)) => match g.iter().zip(&w).position(|(a, b)| a != b) {
            Some(i) => format!("element {i}: {} != expected {}", g[i], w[i]),
            None => "values differ".into(),
        },
        _ => "values differ".into(),
    }
}

/// How a case's model reaches the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The imported ONNX graph.
    Onnx,
    /// The imported graph written as an `.ingot` package and loaded back: every case then
    /// also tests the package's serialization of its ops, attributes and subgraphs.
    Ingot,
    /// The imported graph rewritten by the portable passes (`smelt_passes::optimize`), as
    /// `smelt convert` saves it: every case then also tests that the passes keep what the
    /// graph computes.
    Passes,
    /// The imported graph on CUDA as `ComputeUnits::All` places it: nodes the CUDA backend
    /// supports on the GPU, the rest on the CPU. An error without a CUDA device.
    Cuda,
    /// The CUDA runner alone: a case with any node the GPU does not run (at placement or
    /// at run time) is `Unsupported`.
    CudaOnly,
    /// No device needed: the CPU runs the case, and a case with any node the CUDA backend
    /// would refuse at placement is `Unsupported`. An upper bound on `CudaOnly` (run-time
    /// fallbacks are not seen), for working on GPU coverage on a machine without a GPU.
    CudaPlan,
}

/// How a case's graph is executed.
enum Runner<'g> {
    Cpu(smelt_cpu::Plan<&'g smelt_ir::Graph>),
    Cuda(Box<smelt_cuda::Executor<&'g smelt_ir::Graph>>, bool),
}

impl<'g> Runner<'g> {
    fn new(graph: &'g smelt_ir::Graph, via: Via) -> Result<Runner<'g>, Outcome> {
        let only = match via {
            Via::Onnx | Via::Ingot | Via::Passes => {
                return Ok(Runner::Cpu(smelt_cpu::Plan::new(graph)))
            }
            Via::CudaPlan => {
                for n in &graph.nodes {
                    if let smelt_ir::Support::No(why) = smelt_cuda::backend::gpu_support(n, graph) {
                        return Err(Outcome::Unsupported(format!(
                            "cuda: node '{}' ({}): {why}",
                            n.name, n.op_type
                        )));
                    }
                }
                return Ok(Runner::Cpu(smelt_cpu::Plan::new(graph)));
            }
            Via::Cuda => false,
            Via::CudaOnly => true,
        };
        let mut on_gpu = Vec::with_capacity(graph.nodes.len());
        for n in &graph.nodes {
            match smelt_cuda::backend::gpu_support(n, graph) {
                smelt_ir::Support::Yes => on_gpu.push(true),
                smelt_ir::Support::No(why) if only => {
                    return Err(Outcome::Unsupported(format!(
                        "cuda: node '{}' ({}): {why}",
                        n.name, n.op_type
                    )))
                }
                smelt_ir::Support::No(_) => on_gpu.push(false),
            }
        }
        smelt_cuda::Executor::new(graph, &on_gpu)
            .map(|e| Runner::Cuda(Box::new(e), only))
            .map_err(|e| Outcome::Error(e.to_string()))
    }
    fn run(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>, Outcome> {
        match self {
            Runner::Cpu(p) => p.run(inputs).map_err(classify),
            Runner::Cuda(e, only) => {
                let out = e.run(inputs).map_err(classify)?;
                let st = e.stats();
                if *only && st.cpu_fallbacks > 0 {
                    return Err(Outcome::Unsupported(format!(
                        "cuda: ran on the cpu: {}",
                        st.fallback_reasons.join("; ")
                    )));
                }
                Ok(out)
            }
        }
    }
}

/// Writes the graph as an `.ingot` package in memory and loads it back.
fn through_ingot(model: &smelt_onnx::Model) -> Result<smelt_ir::Graph, Error> {
    let info = smelt_ingot::Info {
        opsets: model.opsets.clone(),
        ..Default::default()
    };
    let bytes = smelt_ingot::to_bytes(&model.graph, &info)?;
    Ok(smelt_ingot::from_bytes(std::sync::Arc::new(bytes), &Default::default())?.graph)
}

/// Runs one case with the CPU backend, or CUDA (see [`Via`]).
pub fn run_case(dir: &Path, via: Via) -> (Vec<String>, Outcome) {
    let name = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let model = match smelt_onnx::load_path(&dir.join("model.onnx")) {
        Ok(m) => m,
        Err(e) => return (vec![], classify(e)),
    };
    let mut ops: Vec<String> = model
        .graph
        .nodes
        .iter()
        .map(|n| n.op_type.clone())
        .collect();
    ops.dedup();
    let mut sets: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    sets.sort();
    if sets.is_empty() {
        return (ops, Outcome::Error("no test_data_set folder".into()));
    }
    let graph = match via {
        Via::Onnx | Via::Cuda | Via::CudaOnly | Via::CudaPlan => model.graph,
        Via::Ingot => match through_ingot(&model) {
            Ok(g) => g,
            Err(e) => return (ops, Outcome::Error(format!("through .ingot: {e}"))),
        },
        Via::Passes => {
            let mut g = model.graph;
            if let Err(e) = smelt_passes::optimize(&mut g) {
                return (ops, Outcome::Error(format!("through the passes: {e}")));
            }
            g
        }
    };
    let plan = match Runner::new(&graph, via) {
        Ok(r) => r,
        Err(o) => return (ops, o),
    };
    for set in sets {
        let (inputs, outputs) = match (read_pb_dir(&set, "input"), read_pb_dir(&set, "output")) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => return (ops, classify(e)),
        };
        let g = &graph;
        if inputs.len() > g.inputs.len() {
            return (
                ops,
                Outcome::Error(format!(
                    "{} inputs given, graph has {}",
                    inputs.len(),
                    g.inputs.len()
                )),
            );
        }
        // inputs are positional; trailing optional graph inputs may be left out
        let named: Vec<(String, Tensor)> = g
            .inputs
            .iter()
            .zip(inputs)
            .map(|(&id, t)| (g.values[id].name.clone(), t))
            .collect();
        let got = match plan.run(named) {
            Ok(o) => o,
            Err(o) => return (ops, o),
        };
        if got.len() != outputs.len() {
            return (
                ops,
                Outcome::Error(format!("{} outputs, expected {}", got.len(), outputs.len())),
            );
        }
        for (i, ((_, g), w)) in got.iter().zip(&outputs).enumerate() {
            if let Err(detail) = compare(g, w, tolerance_for(&name, w.dtype())) {
                return (ops, Outcome::Mismatch { index: i, detail });
            }
        }
    }
    (ops, Outcome::Pass)
}

fn classify(e: Error) -> Outcome {
    if e.is_unsupported() {
        Outcome::Unsupported(e.to_string())
    } else {
        Outcome::Error(e.to_string())
    }
}

/// Runs a case on its own thread, catching panics and giving up after `timeout`.
pub fn run_case_guarded(suite: &str, dir: &Path, timeout: Duration, via: Via) -> CaseResult {
    let name = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let (tx, rx) = mpsc::channel();
    let d = dir.to_path_buf();
    let start = Instant::now();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let r = std::panic::catch_unwind(|| run_case(&d, via));
            let _ = tx.send(r);
        })
        .expect("spawn test thread");
    let (ops, outcome) = match rx.recv_timeout(timeout) {
        Ok(Ok(r)) => r,
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            (vec![], Outcome::Panic(msg))
        }
        Err(_) => (vec![], Outcome::Timeout),
    };
    CaseResult {
        suite: suite.to_string(),
        name,
        ops,
        outcome,
        millis: start.elapsed().as_millis(),
    }
}

/// Runs every case of the listed suites whose name contains `filter`.
pub fn run_all(
    root: &Path,
    suites: &[&str],
    filter: &str,
    via: Via,
    mut progress: impl FnMut(&CaseResult),
) -> Vec<CaseResult> {
    let mut out = Vec::new();
    for s in suites {
        for dir in list_cases(&root.join(s)) {
            let name = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if !name.contains(filter) {
                continue;
            }
            let r = run_case_guarded(s, &dir, Duration::from_secs(60), via);
            progress(&r);
            out.push(r);
        }
    }
    out
}

/// Counts of passing cases: (node suite passed, node suite total, all passed, all total).
pub fn counts(results: &[CaseResult]) -> (usize, usize, usize, usize) {
    let node: Vec<_> = results.iter().filter(|r| r.suite == "node").collect();
    let pass =
        |v: &mut dyn Iterator<Item = &CaseResult>| v.filter(|r| r.outcome == Outcome::Pass).count();
    (
        pass(&mut node.iter().copied()),
        node.len(),
        pass(&mut results.iter()),
        results.len(),
    )
}

/// The Markdown report: totals, per-op summary, then one line per case.
pub fn report(results: &[CaseResult]) -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "# ONNX conformance: CPU backend\n");
    let _ = writeln!(
        s,
        "Generated by `cargo run -p smelt-conformance -- --write docs/conformance.md` over the"
    );
    let _ = writeln!(
        s,
        "backend test data of the `onnx==1.22.0` wheel (fetched by `scripts/fetch.py`)."
    );
    let _ = writeln!(s, "Tolerances: ONNX defaults (rtol 1e-3, atol 1e-7); f16/bf16 outputs rtol 1e-2, atol 1e-3; RNN cases atol 1e-5.\n");
    for suite in SUITES {
        let v: Vec<_> = results.iter().filter(|r| r.suite == suite).collect();
        if v.is_empty() {
            continue;
        }
        let p = v.iter().filter(|r| r.outcome == Outcome::Pass).count();
        let _ = writeln!(s, "- `{suite}`: passed {p} / {}", v.len());
    }
    let mut by_label: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results.iter().filter(|r| r.suite == "node") {
        *by_label.entry(r.outcome.label()).or_default() += 1;
    }
    let _ = writeln!(
        s,
        "\nNode tests by outcome: {}\n",
        by_label
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "## Per op (node suite)\n\n| op | passed | total |\n|---|---|---|"
    );
    let mut per_op: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in results.iter().filter(|r| r.suite == "node") {
        let key = op_key(r);
        let e = per_op.entry(key).or_default();
        e.1 += 1;
        if r.outcome == Outcome::Pass {
            e.0 += 1;
        }
    }
    for (op, (p, t)) in &per_op {
        let _ = writeln!(s, "| {op} | {p} | {t} |");
    }
    for suite in SUITES {
        let v: Vec<_> = results.iter().filter(|r| r.suite == suite).collect();
        if v.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n## Cases: `{suite}`\n");
        for r in v {
            let d = r.outcome.detail().replace('\n', " ");
            let d: String = d.chars().take(200).collect();
            if d.is_empty() {
                let _ = writeln!(s, "- {} {}", r.name, r.outcome.label());
            } else {
                let _ = writeln!(s, "- {} {}: {}", r.name, r.outcome.label(), d);
            }
        }
    }
    s
}

/// The op a node case tests: its single op type, or for multi-op (expanded) cases, the name stem.
fn op_key(r: &CaseResult) -> String {
    let mut ops = r.ops.clone();
    ops.sort();
    ops.dedup();
    if ops.len() == 1 && !r.name.ends_with("_expanded") {
        return ops[0].clone();
    }
    let stem = r.name.trim_start_matches("test_");
    let stem = stem.split('_').next().unwrap_or(stem);
    if r.name.contains("_expanded") {
        format!("{stem} (expanded)")
    } else {
        stem.to_string()
    }
}
