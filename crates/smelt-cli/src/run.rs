//! `smelt run`: loads a model (.onnx or .ingot) through `smelt::Model`, runs it on inputs
//! from .npy files or seeded random ones of the declared types, prints a summary of every
//! output and saves them as .npy files. A model with declared states starts from zero states
//! (symbolic dimensions sized by --dim) that carry over between the runs of --repeat.

use crate::info::human_bytes;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use smelt::{ComputeUnits, Config, DeviceKind, Model};
use smelt_core::{f16, npy, DType, Data, Dim, Tensor, ValueInfo};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct RunArgs {
    /// The .onnx or .ingot file.
    pub model: PathBuf,
    /// An input from a .npy file: NAME=FILE.npy (or just FILE.npy for a one-input model).
    #[arg(short, long = "input", value_name = "NAME=FILE.npy")]
    pub inputs: Vec<String>,
    /// Fill the inputs not given with --input with seeded random values of the declared
    /// dtype and shape (floats in [-1, 1), integers in [0, 10)).
    #[arg(long)]
    pub random: bool,
    /// Seed of --random.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Size of a symbolic dimension for --random and the states: NAME=N; '?=N' sizes the
    /// unnamed ones. Dimensions not set are 1, and the run says which.
    #[arg(long = "dim", value_name = "NAME=N")]
    pub dims: Vec<String>,
    /// Where the outputs are saved, one NAME.npy per output.
    #[arg(short, long, default_value = "out")]
    pub output_dir: PathBuf,
    /// Do not save the outputs.
    #[arg(long)]
    pub no_save: bool,
    /// After the first run, time this many more runs and print median / min / max latency
    /// and the process's peak resident memory.
    #[arg(long, default_value_t = 0)]
    pub repeat: usize,
    /// The compute units the model may use: all, cpu-only or cpu-and-gpu.
    #[arg(long, default_value = "all", value_name = "UNITS")]
    pub compute_units: ComputeUnits,
    /// Decode each compressed weight whole on every run instead of per tile inside the
    /// kernel that reads it (the reference path, to compare speed, memory or results).
    #[arg(long)]
    pub no_fuse: bool,
    /// Decode each compressed weight once at load into an f32 constant on the CPU (also
    /// SMELT_DECODE_AT_LOAD=1): runs cost what the f32 model's do, weights take f32 memory.
    #[arg(long)]
    pub decode_at_load: bool,
    /// Run every node as its own op, without the CPU's lowering fusions (a Conv with the
    /// residual Add and activation after it as one FusedConv; also SMELT_NO_FUSE=1), to
    /// compare speed or results.
    #[arg(long)]
    pub no_fuse_ops: bool,
    /// Run an .onnx or safetensors model as imported, without the portable passes that
    /// loading runs by default (what `smelt convert --keep-graph` saves)
    #[arg(long)]
    pub keep_graph: bool,
    /// Print the load time, the mapped and copied weight bytes, the resident memory
    /// (VmRSS, RssAnon, RssFile) after load and after the run, and the peak (VmHWM).
    #[arg(long)]
    pub stats: bool,
    /// Operand precision of MatMul, Gemm and Conv on the GPU: fp32 (exact), tf32, fp16 or
    /// bf16 (fp32 accumulation, f32 outputs; other ops stay f32).
    #[arg(long, default_value = "fp32", value_name = "P")]
    pub precision: smelt::Precision,
    /// Profile the runs (also SMELT_PROFILE=1): time per op type and the slowest nodes over
    /// all runs but the first (device time on a GPU, with transfers and allocator stats;
    /// host time on the CPU). Turns CUDA graphs off.
    #[arg(long)]
    pub profile: bool,
    /// Do not capture and replay CUDA graphs (also SMELT_NO_CUDA_GRAPH=1).
    #[arg(long)]
    pub no_cuda_graph: bool,
    /// CPU threads (default: one per core, or RAYON_NUM_THREADS).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
}

/// The resident-set fields `--stats` prints after load and after the run.
const RSS_KEYS: &[&str] = &["VmRSS", "RssAnon", "RssFile"];

/// A `KEY:  N kB` field of /proc/self/status, in bytes.
fn status_bytes(status: &str, key: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.split_once(':').is_some_and(|(k, _)| k == key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if known.
fn peak_rss() -> Option<u64> {
    status_bytes(&std::fs::read_to_string("/proc/self/status").ok()?, "VmHWM")
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
}

/// splitmix64: a small, seeded generator (random inputs must be reproducible).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The `--dim` name of the unnamed (unknown) dimensions.
pub const UNNAMED: &str = "?";

/// The names `--dim` can size in these declared types: their symbolic dims, and
/// [`UNNAMED`] where a dim has no name.
pub(crate) fn dim_names<'a>(infos: impl IntoIterator<Item = &'a ValueInfo>) -> BTreeSet<String> {
    infos
        .into_iter()
        .filter_map(|i| i.shape.as_ref())
        .flatten()
        .filter_map(|d| match d {
            Dim::Fixed(_) => None,
            Dim::Sym(s) => Some(s.clone()),
            Dim::Unknown => Some(UNNAMED.to_string()),
        })
        .collect()
}

/// Checks the `--dim` names against the ones the model has (`known`, from [`dim_names`]).
pub(crate) fn check_dims(dims: &HashMap<String, usize>, known: &BTreeSet<String>) -> Result<()> {
    let mut given: Vec<&String> = dims.keys().collect();
    given.sort();
    for k in given {
        if !known.contains(k) {
            let list = if known.is_empty() {
                "it has none: every dimension is fixed".to_string()
            } else {
                format!(
                    "it has {}",
                    known
                        .iter()
                        .map(|n| format!("'{n}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            bail!(
                "--dim {k}={}: the model's inputs and states have no dimension '{k}' ({list})",
                dims[k]
            );
        }
    }
    Ok(())
}

/// The note printed when dimensions were left at 1: which, and how to set them.
pub(crate) fn defaulted_note(defaulted: &[String]) -> String {
    let named: Vec<String> = defaulted
        .iter()
        .map(|d| {
            if d == UNNAMED {
                "unnamed (?)".into()
            } else {
                format!("'{d}'")
            }
        })
        .collect();
    format!(
        "dimension(s) {} set to 1: size them with --dim NAME=N (--dim '?=N' for unnamed ones)",
        named.join(", ")
    )
}

/// A random tensor of a declared type: floats uniform in [-1, 1), integers in [0, 10), bools
/// fair coins. Symbolic dims take their size from `dims`, unnamed ones from `dims["?"]`;
/// either defaults to 1.
pub fn random_tensor(
    name: &str,
    info: &ValueInfo,
    dims: &HashMap<String, usize>,
    rng: &mut Rng,
) -> Result<Tensor> {
    let dtype = info.dtype.ok_or_else(|| {
        anyhow!("input '{name}' has no declared dtype: give it with --input {name}=FILE.npy")
    })?;
    let shape_decl = info.shape.as_ref().ok_or_else(|| {
        anyhow!("input '{name}' has no declared shape: give it with --input {name}=FILE.npy")
    })?;
    let shape: Vec<usize> = shape_decl
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => *n,
            Dim::Sym(s) => dims.get(s).copied().unwrap_or(1),
            Dim::Unknown => dims.get(UNNAMED).copied().unwrap_or(1),
        })
        .collect();
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= 1 << 31)
        .ok_or_else(|| anyhow!("input '{name}': random shape {shape:?} is too large"))?;
    let f = |rng: &mut Rng| rng.unit() * 2.0 - 1.0;
    let int = |rng: &mut Rng| (rng.next_u64() % 10) as i64;
    let data = match dtype {
        DType::F32 => Data::F32((0..n).map(|_| f(rng) as f32).collect()),
        DType::F64 => Data::F64((0..n).map(|_| f(rng)).collect()),
        DType::F16 => Data::F16((0..n).map(|_| f16::from_f64(f(rng))).collect()),
        DType::BF16 => Data::BF16((0..n).map(|_| smelt_core::bf16::from_f64(f(rng))).collect()),
        DType::I8 => Data::I8((0..n).map(|_| int(rng) as i8).collect()),
        DType::U8 => Data::U8((0..n).map(|_| int(rng) as u8).collect()),
        DType::I16 => Data::I16((0..n).map(|_| int(rng) as i16).collect()),
        DType::U16 => Data::U16((0..n).map(|_| int(rng) as u16).collect()),
        DType::I32 => Data::I32((0..n).map(|_| int(rng) as i32).collect()),
        DType::U32 => Data::U32((0..n).map(|_| int(rng) as u32).collect()),
        DType::I64 => Data::I64((0..n).map(|_| int(rng)).collect()),
        DType::U64 => Data::U64((0..n).map(|_| int(rng) as u64).collect()),
        DType::Bool => Data::Bool((0..n).map(|_| rng.next_u64() & 1 == 1).collect()),
        d => bail!(
            "input '{name}': cannot make random {d} values; give it with --input {name}=FILE.npy"
        ),
    };
    Ok(Tensor::new(dtype, shape, data)?)
}

pub(crate) fn parse_dims(list: &[String]) -> Result<HashMap<String, usize>> {
    let mut m = HashMap::new();
    for d in list {
        let (k, v) = d
            .rsplit_once('=')
            .ok_or_else(|| anyhow!("--dim '{d}': expected NAME=N"))?;
        let n: usize = v
            .trim()
            .parse()
            .map_err(|_| anyhow!("--dim '{d}': '{v}' is not a size"))?;
        m.insert(k.trim().to_string(), n);
    }
    Ok(m)
}

/// A file name for an output name (ONNX names may hold '/', ':' ...).
pub fn file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("out{s}")
    } else {
        s
    }
}

pub(crate) fn fmt_num(x: f64) -> String {
    if x == 0.0 || (x.abs() >= 1e-3 && x.abs() < 1e5) || !x.is_finite() {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() || s == "-" {
            "0".into()
        } else {
            s.to_string()
        }
    } else {
        format!("{x:.3e}")
    }
}

/// "f32[1,40,6625]  min .. max .. mean ..  first [..]".
pub fn summary(t: &Tensor) -> String {
    let head = format!("{}{:?}", t.dtype(), t.shape()).replace(' ', "");
    let first = 6;
    match t.dtype() {
        DType::String => {
            let v = t.as_slice::<String>().unwrap_or(&[]);
            format!("{head}  first {:?}", &v[..v.len().min(first)])
        }
        _ => match t.to_f64_vec() {
            Ok(v) if !v.is_empty() => {
                let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                let (mn, mx) = finite
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                        (a.min(x), b.max(x))
                    });
                let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
                let nonfinite = v.len() - finite.len();
                let firsts: Vec<String> = v.iter().take(first).map(|&x| fmt_num(x)).collect();
                let more = if v.len() > first { ", ..." } else { "" };
                let nf = if nonfinite > 0 {
                    format!("  ({nonfinite} NaN/inf)")
                } else {
                    String::new()
                };
                if finite.is_empty() {
                    format!("{head}  [{}{more}]{nf}", firsts.join(", "))
                } else {
                    format!(
                        "{head}  min {} max {} mean {}  [{}{more}]{nf}",
                        fmt_num(mn),
                        fmt_num(mx),
                        fmt_num(mean),
                        firsts.join(", ")
                    )
                }
            }
            Ok(_) => format!("{head}  (empty)"),
            Err(_) => head,
        },
    }
}

/// Reads the --input arguments into (name, tensor), checking the names against the model's
/// inputs. A state input is refused: its value comes from the model's state.
pub(crate) fn read_inputs(
    args: &[String],
    model_inputs: &[String],
    state_inputs: &[String],
) -> Result<Vec<(String, Tensor)>> {
    let mut out: Vec<(String, Tensor)> = Vec::new();
    for a in args {
        let (name, file) = match a.split_once('=') {
            Some((n, f)) if model_inputs.iter().any(|m| m == n) => (n.to_string(), f.to_string()),
            Some((n, _)) if state_inputs.iter().any(|m| m == n) => bail!(
                "--input '{a}': '{n}' is a state input: its value comes from the model's state \
                 (zeros at the start), not from --input"
            ),
            _ if model_inputs.len() == 1
                && !model_inputs.iter().any(|m| a.starts_with(&format!("{m}=")))
                && Path::new(a).exists() =>
            {
                (model_inputs[0].clone(), a.clone())
            }
            Some((n, _)) => bail!(
                "--input '{a}': the model has no input '{n}' (its inputs: {})",
                model_inputs.join(", ")
            ),
            None => bail!(
                "--input '{a}': expected NAME=FILE.npy (the model's inputs: {})",
                model_inputs.join(", ")
            ),
        };
        if out.iter().any(|(n, _)| *n == name) {
            bail!("input '{name}' is given twice");
        }
        let t = npy::read(&file).with_context(|| format!("input '{name}'"))?;
        out.push((name, t));
    }
    Ok(out)
}

/// "VmRSS 30.1 MiB, RssAnon 5.0 MiB, RssFile 25.0 MiB" from /proc/self/status.
fn memory_line(keys: &[&str]) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    keys.iter()
        .map(|k| match status_bytes(&status, k) {
            Some(b) => format!("{k} {}", mib(b)),
            None => format!("{k} unknown"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where each node ran: "the CPU" when every node is on a CPU, else "cpu (cpu) 12, ...".
fn devices_used(model: &Model) -> String {
    let counts: Vec<_> = model
        .placement()
        .counts()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    if counts.iter().all(|(d, _)| d.kind == DeviceKind::Cpu) {
        format!("the CPU ({} threads)", model.threads())
    } else {
        counts
            .iter()
            .map(|(d, n)| format!("{} {n}", crate::plan::device_label(d)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Warnings for options that a model placed wholly on the CPU does not use: a GPU precision
/// other than fp32 (the CPU computes in fp32) and `--compute-units cpu-and-gpu` where no GPU
/// is found. Empty when a GPU runs nodes.
pub(crate) fn unused_gpu_options(
    model: &Model,
    units: ComputeUnits,
    precision: smelt::Precision,
) -> Vec<String> {
    let p = model.placement();
    if p.uses_gpu() {
        return Vec::new();
    }
    let why = if p.notes.is_empty() {
        "every node runs on the CPU".to_string()
    } else {
        format!("every node runs on the CPU ({})", p.notes.join("; "))
    };
    let mut w = Vec::new();
    if units == ComputeUnits::CpuAndGpu {
        w.push(format!(
            "--compute-units cpu-and-gpu: no GPU is used: {why}"
        ));
    }
    if precision != smelt::Precision::F32 {
        w.push(format!(
            "--precision {precision} has no effect: {why}, which computes in fp32"
        ));
    }
    w
}

/// The GPU executor's transfers, CUDA graphs and allocator.
fn print_gpu_stats(st: &smelt::GpuStats) {
    println!(
        "gpu       {} runs, precision {}; nodes {} on the GPU, {} on the CPU, {} fallbacks",
        st.runs, st.precision, st.gpu_nodes, st.cpu_nodes, st.cpu_fallbacks
    );
    println!(
        "transfers host->device {} ({}), device->host {} ({}); weights on the device {} (+{} 16-bit copies)",
        st.uploads,
        human_bytes(st.upload_bytes as f64),
        st.downloads,
        human_bytes(st.download_bytes as f64),
        human_bytes(st.weight_bytes as f64),
        human_bytes(st.weight_16bit_bytes as f64)
    );
    println!(
        "graphs    {} captured, {} replays, {} failed{}",
        st.graph_captures,
        st.graph_replays,
        st.graph_failures,
        st.graph_failure_reasons
            .first()
            .map_or(String::new(), |r| format!(" ({r})"))
    );
    if let Some(b) = &st.graph_blocker {
        println!("          not captured: {b}");
    }
    let al = &st.alloc;
    println!(
        "allocator in use {}, peak {}, cached {}, reserved for graphs {}; {} cuMemAlloc, {} cache hits",
        human_bytes(al.in_use as f64),
        human_bytes(al.peak as f64),
        human_bytes(al.cached as f64),
        human_bytes(al.reserved as f64),
        al.device_allocs,
        al.cache_hits
    );
    for r in st.fallback_reasons.iter().take(5) {
        println!("fallback  {r}");
    }
}

pub fn main(a: RunArgs) -> Result<()> {
    let dims = parse_dims(&a.dims)?;
    let t0 = Instant::now();
    let config = Config {
        compute_units: a.compute_units,
        fuse_compressed: !a.no_fuse,
        decode_at_load: a.decode_at_load,
        fuse_ops: !a.no_fuse_ops,
        optimize: !a.keep_graph,
        precision: a.precision,
        profile: a.profile,
        cuda_graphs: !a.no_cuda_graph,
        threads: a.threads.map(|n| n as usize),
        ..Config::default()
    };
    let model =
        Model::load(&a.model, config).with_context(|| format!("loading {}", a.model.display()))?;
    let load_time = t0.elapsed();
    for w in unused_gpu_options(&model, a.compute_units, a.precision) {
        eprintln!("warning: {w}");
    }
    if a.stats {
        let st = model.load_stats();
        println!(
            "load      {:.3} s, {} ({}): weights {} mapped ({} tensors), {} copied ({} tensors)",
            load_time.as_secs_f64(),
            a.model.display(),
            human_bytes(st.file_bytes as f64),
            human_bytes(st.mapped_bytes as f64),
            st.mapped_tensors,
            human_bytes(st.copied_bytes as f64),
            st.copied_tensors
        );
        println!("memory    after load: {}", memory_line(RSS_KEYS));
    }
    let names: Vec<String> = model.inputs().iter().map(|f| f.name.clone()).collect();
    let state_inputs: Vec<String> = model.states().iter().map(|s| s.input.clone()).collect();
    let mut inputs = read_inputs(&a.inputs, &names, &state_inputs)?;
    for (n, t) in &inputs {
        println!("input  {n:<24} {}", summary(t));
    }
    // the dims --random and the states size: unknown --dim names are refused
    let random_infos: Vec<&ValueInfo> = model
        .inputs()
        .iter()
        .filter(|f| a.random && !inputs.iter().any(|(n, _)| *n == f.name))
        .map(|f| &f.info)
        .chain(model.states().iter().map(|s| &s.info))
        .collect();
    let all_infos = model
        .inputs()
        .iter()
        .map(|f| &f.info)
        .chain(model.states().iter().map(|s| &s.info));
    check_dims(&dims, &dim_names(all_infos))?;
    let defaulted: Vec<String> = dim_names(random_infos)
        .into_iter()
        .filter(|d| !dims.contains_key(d))
        .collect();
    if !defaulted.is_empty() {
        eprintln!("note: {}", defaulted_note(&defaulted));
    }
    let mut rng = Rng::new(a.seed);
    let mut missing = Vec::new();
    for f in model.inputs() {
        if inputs.iter().any(|(n, _)| *n == f.name) {
            continue;
        }
        if a.random {
            let t = random_tensor(&f.name, &f.info, &dims, &mut rng)?;
            println!(
                "input  {:<24} {} (random, seed {})",
                f.name,
                summary(&t),
                a.seed
            );
            inputs.push((f.name.clone(), t));
        } else {
            missing.push(format!("{} {}", f.name, f.info));
        }
    }
    if !missing.is_empty() {
        bail!(
            "missing input(s): {}; give them with --input NAME=FILE.npy or use --random",
            missing.join(", ")
        );
    }
    // A stateful model starts from zero states; they carry over from run to run (--repeat),
    // as in streaming use.
    let mut state = if model.states().is_empty() {
        None
    } else {
        let d: Vec<(&str, usize)> = dims.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        Some(
            model
                .new_state_with(&d)
                .context("making the model's state")?,
        )
    };
    let (in_names, in_tensors): (Vec<String>, Vec<Tensor>) = inputs.into_iter().unzip();
    let feed: Vec<(&str, Tensor)> = in_names
        .iter()
        .map(|s| s.as_str())
        .zip(in_tensors)
        .collect();
    let mut predict = || match state.as_mut() {
        Some(st) => model.predict_with_state(&feed, st),
        None => model.predict(&feed),
    };
    let t0 = Instant::now();
    let outputs = predict().context("running the model")?;
    let dt = t0.elapsed();
    let after_run = a.stats.then(|| memory_line(RSS_KEYS));
    if a.repeat > 0 {
        let mut ms = Vec::with_capacity(a.repeat);
        let mut dev_ms = Vec::with_capacity(a.repeat);
        let mut comp_ms = Vec::with_capacity(a.repeat);
        for _ in 0..a.repeat {
            let t = Instant::now();
            predict().context("running the model")?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            if let Some(st) = model.gpu_stats() {
                dev_ms.extend(st.last_device_ms);
                comp_ms.extend(st.last_compute_ms);
            }
        }
        ms.sort_by(|x, y| x.total_cmp(y));
        dev_ms.sort_by(|x, y| x.total_cmp(y));
        comp_ms.sort_by(|x, y| x.total_cmp(y));
        let peak = peak_rss().map_or("unknown".to_string(), mib);
        println!(
            "latency over {} runs: median {:.3} ms, min {:.3} ms, max {:.3} ms; peak RSS {peak}",
            ms.len(),
            ms[ms.len() / 2],
            ms[0],
            ms[ms.len() - 1]
        );
        if !dev_ms.is_empty() {
            // the executor's two CUDA events per run: after the input uploads, after the
            // output downloads (see smelt_cuda::exec)
            println!(
                "device time over {} runs: median {:.3} ms, min {:.3} ms, max {:.3} ms \
                 (CUDA events from after the input uploads to after the output downloads)",
                dev_ms.len(),
                dev_ms[dev_ms.len() / 2],
                dev_ms[0],
                dev_ms[dev_ms.len() - 1]
            );
            if !comp_ms.is_empty() {
                println!(
                    "compute time over {} runs: median {:.3} ms, min {:.3} ms, max {:.3} ms \
                     (CUDA events from after the input uploads to the outputs computed, \
                     before their downloads)",
                    comp_ms.len(),
                    comp_ms[comp_ms.len() / 2],
                    comp_ms[0],
                    comp_ms[comp_ms.len() - 1]
                );
            }
            if let Some(st) = model.gpu_stats() {
                println!(
                    "cuda graphs: {} captured, {} replays over all {} runs{}",
                    st.graph_captures,
                    st.graph_replays,
                    st.runs,
                    st.graph_failure_reasons
                        .first()
                        .map_or(String::new(), |r| format!(" (a capture failed: {r})"))
                );
                if let Some(b) = &st.graph_blocker {
                    println!("cuda graphs not captured: {b}");
                }
            }
        }
    }
    if let Some(p) = model.profile() {
        print!("{}", p.report(25));
    }
    if let Some(st) = model.gpu_stats() {
        if a.profile || st.profile.is_some() || a.stats {
            print_gpu_stats(&st);
        }
    }
    if a.stats {
        // one more run, traced: each intermediate's size and lifetime, placed in one arena
        let plan = model
            .memory_plan(&feed, state.as_ref())
            .context("planning intermediate memory")?;
        println!(
            "plan      intermediates: {} values, {} if all kept, live peak {}, arena with \
             lifetime reuse {}",
            plan.buffers.len(),
            human_bytes(plan.total_bytes as f64),
            human_bytes(plan.peak_live_bytes as f64),
            human_bytes(plan.arena_bytes as f64)
        );
    }
    if !a.no_save {
        std::fs::create_dir_all(&a.output_dir)
            .with_context(|| format!("creating {}", a.output_dir.display()))?;
    }
    for (name, t) in outputs.iter() {
        println!("output {name:<24} {}", summary(t));
        if !a.no_save {
            let p = a.output_dir.join(format!("{}.npy", file_name(name)));
            match npy::write(&p, t) {
                Ok(()) => println!("       -> {}", p.display()),
                Err(e) => println!("       (not saved: {e})"),
            }
        }
    }
    if let Some(st) = &state {
        for n in st.names() {
            if let Some(t) = st.get(n) {
                println!("state  {n:<24} {}", summary(t));
            }
        }
    }
    println!(
        "ran {} nodes on {} in {:.3} s",
        model.graph().nodes.len(),
        devices_used(&model),
        dt.as_secs_f64()
    );
    if let Some(m) = after_run {
        println!("memory    after run:  {m}");
        println!("memory    peak:       {}", memory_line(&["VmHWM"]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_inputs_follow_the_declared_type() {
        let info = ValueInfo::new(
            DType::I64,
            vec![Dim::Sym("batch".into()), Dim::Fixed(3), Dim::Unknown],
        );
        let dims: HashMap<String, usize> = [("batch".to_string(), 4)].into();
        let t = random_tensor("x", &info, &dims, &mut Rng::new(1)).unwrap();
        assert_eq!(t.shape(), &[4, 3, 1]);
        assert!(t
            .as_slice::<i64>()
            .unwrap()
            .iter()
            .all(|&x| (0..10).contains(&x)));
        let a = random_tensor(
            "x",
            &ValueInfo::fixed(DType::F32, &[33]),
            &dims,
            &mut Rng::new(7),
        )
        .unwrap();
        let b = random_tensor(
            "x",
            &ValueInfo::fixed(DType::F32, &[33]),
            &dims,
            &mut Rng::new(7),
        )
        .unwrap();
        assert_eq!(a, b);
        let v = a.as_slice::<f32>().unwrap();
        assert!(v.iter().all(|&x| (-1.0..1.0).contains(&x)) && v.iter().any(|&x| x != v[0]));
        assert!(random_tensor("x", &ValueInfo::unknown(), &dims, &mut Rng::new(0)).is_err());
    }

    #[test]
    fn summaries_and_names() {
        let t = Tensor::from_vec(vec![2, 2], vec![1.0f32, -2.5, 3.0, f32::NAN]).unwrap();
        let s = summary(&t);
        assert!(s.starts_with("f32[2,2]  min -2.5 max 3 mean 0.5"), "{s}");
        assert!(s.contains("1 NaN/inf"), "{s}");
        assert_eq!(
            file_name("save_infer_model/scale_0.tmp_1"),
            "save_infer_model_scale_0.tmp_1"
        );
        assert_eq!(file_name("input:0"), "input_0");
        assert!(parse_dims(&["n=x".into()]).is_err());
        let status = "VmHWM:\t  2048 kB\nVmRSS:\t    12 kB\nRssAnon:\t 4 kB\nVmRSSX: 1 kB\n";
        assert_eq!(status_bytes(status, "VmRSS"), Some(12 * 1024));
        assert_eq!(status_bytes(status, "VmHWM"), Some(2048 * 1024));
        assert_eq!(status_bytes(status, "RssFile"), None);
        assert_eq!(parse_dims(&["n=3".into()]).unwrap()["n"], 3);
    }
}
