//! `smelt info MODEL(.onnx|.ingot) [--plan] [--compute-units UNITS]`: what a model is made of.
//!
//! Both formats load through `smelt::Model::load` (an `.onnx` without the passes that loading
//! runs by default, so the report describes the file), so the report shows what the runtime sees:
//! package metadata, inputs, outputs, states, mapped and copied weight bytes, parameter count
//! and op histogram. An `.onnx` model that smelt cannot load (an op not implemented yet) is
//! still described, from its ModelProto, with the missing ops listed. `--plan` prints, instead
//! of the report, where each node runs and why (see [`crate::plan`]).

use anyhow::{Context, Result};
use clap::Args;
use prost::Message;
use smelt::{ComputeUnits, Config, Model};
use smelt_core::{DType, Tensor};
use smelt_ir::{Attr, Graph};
use smelt_onnx::proto::{GraphProto, ModelProto, TensorProto};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct InfoArgs {
    /// The .onnx or .ingot file.
    pub model: PathBuf,
    /// Print where each node runs (device and reason), the nodes per device, the transfers
    /// between devices and the available devices, instead of the summary.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: one line per node instead of one per device and reason.
    #[arg(long, requires = "plan")]
    pub nodes: bool,
    /// The compute units the placement may use: all, cpu-only or cpu-and-gpu.
    #[arg(long, default_value = "all", value_name = "UNITS")]
    pub compute_units: ComputeUnits,
}

/// Counts of a graph and its subgraphs.
#[derive(Default)]
struct Stats {
    /// (domain, op_type) -> nodes, with the nodes inside subgraphs.
    ops: BTreeMap<(String, String), usize>,
    nodes: usize,
    sub_nodes: usize,
    params: u64,
    param_bytes: f64,
    initializers: usize,
    constants: usize,
}

impl Stats {
    fn node(&mut self, domain: &str, op: &str, depth: usize) {
        if depth == 0 {
            self.nodes += 1;
        } else {
            self.sub_nodes += 1;
        }
        *self.ops.entry((domain.into(), op.into())).or_default() += 1;
    }
}

/// Bytes per element; sub-byte types count half a byte, strings are counted by length.
fn dtype_bytes(d: DType) -> f64 {
    match d {
        DType::I4 | DType::U4 | DType::F4E2M1 => 0.5,
        DType::String => 0.0,
        d => d.size_of() as f64,
    }
}

fn add_proto_tensor(s: &mut Stats, t: &TensorProto) {
    let n: u64 = t.dims.iter().map(|&d| d.max(0) as u64).product();
    let per = smelt_onnx::dtype_from_onnx(t.data_type).map_or(0.0, dtype_bytes);
    s.params += n;
    s.param_bytes += n as f64 * per + t.string_data.iter().map(|x| x.len() as f64).sum::<f64>();
}

fn add_tensor(s: &mut Stats, t: &Tensor) {
    s.params += t.len() as u64;
    s.param_bytes += match t.as_slice::<String>() {
        Ok(v) => v.iter().map(|x| x.len() as f64).sum(),
        Err(_) => t.len() as f64 * dtype_bytes(t.dtype()),
    };
}

/// Walks a ModelProto graph: initializers, Constant nodes and subgraphs.
fn walk_proto(g: &GraphProto, s: &mut Stats, depth: usize) {
    for t in &g.initializer {
        add_proto_tensor(s, t);
        s.initializers += 1;
    }
    for n in &g.node {
        s.node(&n.domain, &n.op_type, depth);
        for a in &n.attribute {
            if n.op_type == "Constant" && n.domain.is_empty() {
                if let Some(t) = &a.t {
                    add_proto_tensor(s, t);
                    s.constants += 1;
                }
            }
            if let Some(sub) = &a.g {
                walk_proto(sub, s, depth + 1);
            }
            for sub in &a.graphs {
                walk_proto(sub, s, depth + 1);
            }
        }
    }
}

/// Walks a loaded graph the same way, so both formats report the same counts.
fn walk_graph(g: &Graph, s: &mut Stats, depth: usize) {
    for t in g.initializers.values() {
        add_tensor(s, t);
        s.initializers += 1;
    }
    for n in &g.nodes {
        s.node(&n.domain, &n.op_type, depth);
        for a in n.attrs.0.values() {
            match a {
                Attr::Tensor(t) if n.op_type == "Constant" && n.domain.is_empty() => {
                    add_tensor(s, t);
                    s.constants += 1;
                }
                Attr::Graph(sub) => walk_graph(sub, s, depth + 1),
                Attr::Graphs(subs) => subs.iter().for_each(|sub| walk_graph(sub, s, depth + 1)),
                _ => {}
            }
        }
    }
}

pub fn human_bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b} B")
    }
}

/// 1234567 -> "1,234,567".
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `s` on one line (control characters become spaces), cut to `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        format!(
            "{}... ({} chars)",
            flat.chars().take(max).collect::<String>(),
            s.chars().count()
        )
    } else {
        flat
    }
}

fn opsets_line(opsets: &[(String, i64)]) -> String {
    opsets
        .iter()
        .map(|(d, v)| format!("{} {v}", if d.is_empty() { "ai.onnx" } else { d }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parameters, node counts and the op histogram; the ops the registry lacks are marked.
fn print_stats(s: &Stats) {
    println!(
        "parameters {} ({}) in {} initializers and {} Constant nodes",
        grouped(s.params),
        human_bytes(s.param_bytes),
        s.initializers,
        s.constants
    );
    let sub = if s.sub_nodes > 0 {
        format!(", {} more in subgraphs", s.sub_nodes)
    } else {
        String::new()
    };
    println!("ops       {} nodes{sub}, {} op types", s.nodes, s.ops.len());
    let mut hist: Vec<_> = s.ops.iter().collect();
    hist.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let reg = smelt_ops::registry();
    let mut missing = Vec::new();
    for ((domain, op), n) in hist {
        let name = if domain.is_empty() {
            op.clone()
        } else {
            format!("{domain}::{op}")
        };
        let known = reg.get(domain, op).is_some();
        if !known {
            missing.push(name.clone());
        }
        println!(
            "  {n:>6}  {name}{}",
            if known { "" } else { "   (not implemented)" }
        );
    }
    if missing.is_empty() {
        println!("smelt     every op is implemented");
    } else {
        println!(
            "smelt     {} op type(s) not implemented: {}",
            missing.len(),
            missing.join(", ")
        );
    }
}

pub fn main(a: InfoArgs) -> Result<()> {
    let path = a.model.as_path();
    let format = smelt::format::detect_supported(path)?;
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    // the report describes the file as it is; the plan, what runs (after the passes that
    // loading an .onnx runs)
    let config = Config {
        compute_units: a.compute_units,
        optimize: a.plan,
        ..Config::default()
    };
    let loaded = Model::load(path, config);
    if a.plan {
        let model = loaded.with_context(|| format!("loading {}", path.display()))?;
        crate::plan::print(path, &model, a.nodes);
        return Ok(());
    }
    match loaded {
        Ok(model) => model_report(path, size, &model),
        Err(e) if format == smelt::ModelFormat::Onnx => onnx_report(path, &e),
        Err(e) => Err(e).with_context(|| format!("loading {}", path.display())),
    }
}

/// The report of a loaded model (either format).
fn model_report(path: &Path, size: u64, model: &Model) -> Result<()> {
    let info = model.metadata();
    let st = model.load_stats();
    let ingot = smelt::is_ingot(path);
    let format = if ingot {
        format!("ingot {}.{}", st.format_version.0, st.format_version.1)
    } else if info.source == "safetensors" {
        "safetensors".to_string()
    } else {
        "onnx".to_string()
    };
    println!(
        "model     {} ({}, {format})",
        path.display(),
        human_bytes(size as f64)
    );
    let field = |label: &str, v: &str| {
        if !v.is_empty() {
            println!("{label:<9} {}", one_line(v, 100));
        }
    };
    field("name", &info.name);
    field("version", &info.version);
    field("author", &info.author);
    field("license", &info.license);
    field("about", &info.description);
    if ingot {
        field("producer", &info.producer);
    }
    field("source", &info.source);
    field("opsets", &opsets_line(&info.opsets));
    let desc = |d: &str| {
        if d.is_empty() {
            String::new()
        } else {
            format!("  {}", one_line(d, 80))
        }
    };
    println!("inputs");
    for f in model.inputs() {
        println!("  {:<24} {}{}", f.name, f.info, desc(&f.description));
    }
    println!("outputs");
    for f in model.outputs() {
        println!("  {:<24} {}{}", f.name, f.info, desc(&f.description));
    }
    if !model.states().is_empty() {
        println!("states");
        for s in model.states() {
            println!(
                "  {:<24} {}  fed to '{}', updated from '{}'{}",
                s.name,
                s.info,
                s.input,
                s.output,
                desc(&s.description)
            );
        }
    }
    if !info.metadata.is_empty() {
        println!("metadata");
        for (k, v) in &info.metadata {
            println!("  {k:<24} {}", one_line(v, 60));
        }
    }
    println!(
        "weights   {} mapped ({} tensors), {} copied ({} tensors){}",
        human_bytes(st.mapped_bytes as f64),
        st.mapped_tensors,
        human_bytes(st.copied_bytes as f64),
        st.copied_tensors,
        if ingot {
            format!(", manifest {}", human_bytes(st.manifest_bytes as f64))
        } else {
            String::new()
        }
    );
    let mut s = Stats::default();
    walk_graph(model.graph(), &mut s, 0);
    print_stats(&s);
    Ok(())
}

/// The report of an ONNX model smelt cannot load, read from the ModelProto itself.
fn onnx_report(path: &Path, load_error: &smelt::Error) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let m = ModelProto::decode(bytes.as_slice()).map_err(|e| {
        anyhow::anyhow!("{}: not a valid ONNX model (protobuf: {e})", path.display())
    })?;
    let g = m
        .graph
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("{}: the model has no graph", path.display()))?;
    println!(
        "model     {} ({}, onnx)",
        path.display(),
        human_bytes(bytes.len() as f64)
    );
    let producer = format!("{} {}", m.producer_name, m.producer_version);
    println!(
        "source    onnx ir {}{}",
        m.ir_version,
        match producer.trim() {
            "" => String::new(),
            p => format!(", from {p}"),
        }
    );
    let opsets: Vec<(String, i64)> = m
        .opset_import
        .iter()
        .map(|o| (o.domain.clone(), o.version))
        .collect();
    println!("opsets    {}", opsets_line(&opsets));
    if !m.doc_string.is_empty() {
        println!("about     {}", one_line(&m.doc_string, 100));
    }
    let inits: std::collections::HashSet<&str> =
        g.initializer.iter().map(|t| t.name.as_str()).collect();
    println!("inputs");
    for i in g.input.iter().filter(|i| !inits.contains(i.name.as_str())) {
        let info = smelt_onnx::value_info(i)
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("({e})"));
        println!("  {:<24} {info}", i.name);
    }
    println!("outputs");
    for o in &g.output {
        let info = smelt_onnx::value_info(o)
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("({e})"));
        println!("  {:<24} {info}", o.name);
    }
    if !m.metadata_props.is_empty() {
        println!("metadata");
        for kv in &m.metadata_props {
            println!("  {:<24} {}", kv.key, one_line(&kv.value, 60));
        }
    }
    let mut s = Stats::default();
    walk_proto(g, &mut s, 0);
    print_stats(&s);
    println!(
        "load      smelt cannot load this model: {}",
        one_line(&load_error.to_string(), 200)
    );
    Ok(())
}
