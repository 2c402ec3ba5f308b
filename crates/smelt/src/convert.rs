//! Conversion to `.ingot`: import (ONNX, a Hugging Face safetensors checkpoint, or an
//! existing `.ingot` to re-package), apply the caller's metadata and state declarations,
//! write atomically.

use smelt_core::{Error, Result};
use smelt_ingot::{Info, StateDecl, WriteStats};
use smelt_ir::Graph;
use std::path::Path;

/// What `smelt convert` sets besides the graph.
#[derive(Clone, Debug, Default)]
pub struct ConvertOptions {
    /// Model name (default: the input file's stem).
    pub name: Option<String>,
    pub version: Option<String>,
    pub author: Option<String>,
    pub license: Option<String>,
    pub description: Option<String>,
    /// User metadata, added after the source model's own.
    pub metadata: Vec<(String, String)>,
    /// (input, output) pairs that become declared states, named after the input.
    pub states: Vec<(String, String)>,
    /// Descriptions of inputs and outputs, by name.
    pub descriptions: Vec<(String, String)>,
    /// Save the graph as imported: no portable passes (`smelt_passes::optimize`: constant
    /// folding, declutter, BatchNorm folding, common subexpressions, dead nodes).
    pub keep_graph: bool,
}

/// The package info of an imported ONNX model.
pub fn onnx_info(m: &smelt_onnx::Model, path: &Path) -> Info {
    let mut metadata = m.metadata.clone();
    let find = |k: &str| {
        m.metadata
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    metadata.retain(|(k, _)| !["author", "license", "version"].contains(&k.as_str()));
    Info {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        version: find("version"),
        author: find("author"),
        license: find("license"),
        description: m.doc.clone(),
        metadata,
        opsets: m.opsets.clone(),
        states: vec![],
        descriptions: Default::default(),
        producer: format!("smelt {}", env!("CARGO_PKG_VERSION")),
        source: format!(
            "onnx ir {}{}",
            m.ir_version,
            if m.producer.is_empty() {
                String::new()
            } else {
                format!(", from {}", m.producer)
            }
        ),
    }
}

/// Imports a model file (ONNX, `.ingot`, or a safetensors checkpoint: its folder or its
/// `.safetensors` file with `config.json` beside it) and applies `opts`: the graph and info a package
/// would hold, with the portable passes run unless `opts.keep_graph`.
pub fn import(input: &Path, opts: &ConvertOptions) -> Result<(Graph, Info)> {
    import_reporting(input, opts).map(|(g, i, _)| (g, i))
}

/// [`import`], with what the passes did (`None` with `keep_graph`).
pub fn import_reporting(
    input: &Path,
    opts: &ConvertOptions,
) -> Result<(Graph, Info, Option<smelt_passes::Report>)> {
    let format = crate::format::detect_supported(input)?;
    let (mut graph, mut info) = if format == crate::format::ModelFormat::Ingot {
        let p = smelt_ingot::open(input, &Default::default())?;
        (p.graph, p.info)
    } else if format == crate::format::ModelFormat::Safetensors {
        smelt_safetensors::hf::import(input, &Default::default())?
    } else {
        let m = smelt_onnx::load_path(input)?;
        let info = onnx_info(&m, input);
        (m.graph, info)
    };
    let set = |slot: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            *slot = v.clone();
        }
    };
    set(&mut info.name, &opts.name);
    set(&mut info.version, &opts.version);
    set(&mut info.author, &opts.author);
    set(&mut info.license, &opts.license);
    set(&mut info.description, &opts.description);
    info.metadata.extend(opts.metadata.iter().cloned());
    for (k, v) in &opts.descriptions {
        if graph
            .value_id(k)
            .is_none_or(|id| !graph.inputs.contains(&id) && !graph.outputs.contains(&id))
        {
            return Err(Error::invalid(format!(
                "--describe {k}: not an input or output of the model"
            )));
        }
        info.descriptions.insert(k.clone(), v.clone());
    }
    for (i, o) in &opts.states {
        info.states.push(StateDecl {
            name: i.clone(),
            input: i.clone(),
            output: o.clone(),
            description: String::new(),
        });
    }
    smelt_ingot::read::check_states(&info, &graph).map_err(|e| match e {
        Error::Format(m) => Error::invalid(m),
        e => e,
    })?;
    let report = if opts.keep_graph {
        None
    } else {
        Some(smelt_passes::optimize(&mut graph)?)
    };
    Ok((graph, info, report))
}

/// What a conversion did: the package written and the passes run.
#[derive(Clone, Debug)]
pub struct Converted {
    pub write: WriteStats,
    /// `None` with `keep_graph`.
    pub passes: Option<smelt_passes::Report>,
}

/// Converts `input` to a package at `output`. The write is atomic: on any error no file is
/// left at `output`. `progress` sees (weight bytes written, total).
pub fn convert(
    input: &Path,
    output: &Path,
    opts: &ConvertOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Converted> {
    let (graph, info, passes) = import_reporting(input, opts)?;
    let write = smelt_ingot::write(output, &graph, &info, progress)?;
    Ok(Converted { write, passes })
}
