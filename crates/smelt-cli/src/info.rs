//! `smelt info MODEL.onnx`: what a model is made of, read from the ModelProto itself so that
//! it works for models smelt cannot import yet (their missing ops are listed).

use anyhow::{Context, Result};
use prost::Message;
use smelt_core::DType;
use smelt_onnx::proto::{GraphProto, ModelProto, TensorProto};
use std::collections::BTreeMap;
use std::path::Path;

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

fn elem_bytes(code: i32) -> f64 {
    match smelt_onnx::dtype_from_onnx(code) {
        Ok(DType::I4 | DType::U4 | DType::F4E2M1) => 0.5,
        Ok(DType::String) => 0.0,
        Ok(d) => d.size_of() as f64,
        Err(_) => 0.0,
    }
}

fn add_tensor(s: &mut Stats, t: &TensorProto) {
    let n: u64 = t.dims.iter().map(|&d| d.max(0) as u64).product();
    s.params += n;
    s.param_bytes += n as f64 * elem_bytes(t.data_type)
        + t.string_data.iter().map(|x| x.len() as f64).sum::<f64>();
}

fn walk(g: &GraphProto, s: &mut Stats, depth: usize) {
    for t in &g.initializer {
        add_tensor(s, t);
        s.initializers += 1;
    }
    for n in &g.node {
        if depth == 0 {
            s.nodes += 1;
        } else {
            s.sub_nodes += 1;
        }
        *s.ops
            .entry((n.domain.clone(), n.op_type.clone()))
            .or_default() += 1;
        for a in &n.attribute {
            if n.op_type == "Constant" && n.domain.is_empty() {
                if let Some(t) = &a.t {
                    add_tensor(s, t);
                    s.constants += 1;
                }
            }
            if let Some(sub) = &a.g {
                walk(sub, s, depth + 1);
            }
            for sub in &a.graphs {
                walk(sub, s, depth + 1);
            }
        }
    }
}

pub fn human_bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 {
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

fn one_line(s: &str, max: usize) -> String {
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

pub fn main(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let m = ModelProto::decode(bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("{}: not a valid ONNX model: {e}", path.display()))?;
    let g = m
        .graph
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("{}: the model has no graph", path.display()))?;
    println!(
        "model     {} ({})",
        path.display(),
        human_bytes(bytes.len() as f64)
    );
    let producer = format!("{} {}", m.producer_name, m.producer_version);
    println!(
        "producer  {}   ir_version {}",
        if producer.trim().is_empty() {
            "?"
        } else {
            producer.trim()
        },
        m.ir_version
    );
    let opsets: Vec<String> = m
        .opset_import
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                if o.domain.is_empty() {
                    "ai.onnx"
                } else {
                    &o.domain
                },
                o.version
            )
        })
        .collect();
    println!("opsets    {}", opsets.join(", "));
    if !m.doc_string.is_empty() {
        println!("doc       {}", one_line(&m.doc_string, 100));
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
    walk(g, &mut s, 0);
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
    Ok(())
}
