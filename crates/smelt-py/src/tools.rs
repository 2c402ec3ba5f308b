//! The file-to-file tools behind `smelt.convert` and `smelt.compress` (the Python layer in
//! `python/smelt/__init__.py` turns in-memory models into files and shapes the results).

use crate::array::{numpy_name, to_tensor};
use crate::errors::guard;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use smelt::compress::{Accuracy, Samples};
use smelt::compression::palettize::Method;
use smelt::compression::{Granularity, Mode, Options, DEFAULT_OPS};
use smelt::{ConvertOptions, Tensor};
use std::path::PathBuf;

/// Converts `source` (.onnx or .ingot) to the package `output`; returns what was written
/// and what the passes did.
#[pyfunction]
#[pyo3(signature = (source, output, name = None, version = None, author = None, license = None,
    description = None, metadata = vec![], states = vec![], descriptions = vec![], keep_graph = false))]
#[allow(clippy::too_many_arguments)]
pub fn convert_file<'py>(
    py: Python<'py>,
    source: PathBuf,
    output: PathBuf,
    name: Option<String>,
    version: Option<String>,
    author: Option<String>,
    license: Option<String>,
    description: Option<String>,
    metadata: Vec<(String, String)>,
    states: Vec<(String, String)>,
    descriptions: Vec<(String, String)>,
    keep_graph: bool,
) -> PyResult<Bound<'py, PyDict>> {
    if output == source {
        return Err(PyValueError::new_err(format!(
            "the output {} is the source: give another output path",
            output.display()
        )));
    }
    let opts = ConvertOptions {
        name,
        version,
        author,
        license,
        description,
        metadata,
        states,
        descriptions,
        keep_graph,
    };
    let c = py.detach(|| guard(|| smelt::convert(&source, &output, &opts, &mut |_, _| {})))?;
    let d = PyDict::new(py);
    d.set_item("output", &output)?;
    d.set_item("file_bytes", c.write.file_bytes)?;
    d.set_item("weight_bytes", c.write.weight_bytes)?;
    match &c.passes {
        Some(p) => {
            d.set_item("nodes_before", p.nodes_before)?;
            d.set_item("nodes_after", p.nodes_after)?;
            let passes = PyDict::new(py);
            for (name, n) in &p.passes {
                let prev: usize = passes.get_item(name)?.map_or(Ok(0), |v| v.extract())?;
                passes.set_item(name, prev + n)?;
            }
            d.set_item("passes", passes)?;
            d.set_item("summary", p.to_string())?;
        }
        None => d.set_item("passes", py.None())?,
    }
    Ok(d)
}

/// One feed (a dict {name: array}) or a list of them, as tensors.
fn feeds(v: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<Vec<(String, Tensor)>>> {
    let Some(v) = v else { return Ok(vec![]) };
    let one = |d: &Bound<'_, PyAny>| -> PyResult<Vec<(String, Tensor)>> {
        let d = d.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!("{what}: a dict {{name: array}} or a list of them"))
        })?;
        d.iter()
            .map(|(k, a)| {
                let k: String = k
                    .extract()
                    .map_err(|_| PyTypeError::new_err(format!("{what}: names must be str")))?;
                let t = to_tensor(&a, None, &format!("{what} '{k}'"))?;
                Ok((k, t))
            })
            .collect()
    };
    if v.is_instance_of::<PyDict>() {
        return Ok(vec![one(v)?]);
    }
    let list = v.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!("{what}: a dict {{name: array}} or a list of them"))
    })?;
    list.iter().map(|d| one(&d)).collect()
}

/// Refuses an option that belongs to the other mode or granularity.
fn refuse(given: &[(bool, &str)], belongs: &str) -> PyResult<()> {
    match given.iter().find(|(set, _)| *set) {
        Some((_, opt)) => Err(PyValueError::new_err(format!("{opt} is for {belongs}"))),
        None => Ok(()),
    }
}

/// The compression options, checked as `smelt compress` checks its flags.
#[allow(clippy::too_many_arguments)]
fn options(
    mode: &str,
    dtype: Option<&str>,
    granularity: Option<&str>,
    block_size: Option<usize>,
    symmetric: Option<bool>,
    nbits: Option<u32>,
    group_size: Option<usize>,
    method: Option<&str>,
) -> PyResult<Mode> {
    let g = granularity.map(|g| g.replace('-', "_"));
    let g = g.as_deref();
    let bad_g = |g: &str, takes: &str| {
        PyValueError::new_err(format!("granularity '{g}': mode='{mode}' takes {takes}"))
    };
    match mode {
        "linear" => {
            refuse(
                &[
                    (nbits.is_some(), "nbits"),
                    (method.is_some(), "method"),
                    (group_size.is_some(), "group_size"),
                ],
                "mode='palettize' (mode='linear' takes dtype='int8' or 'int4')",
            )?;
            let g = g.unwrap_or("per_channel");
            if g != "per_block" {
                refuse(
                    &[(block_size.is_some(), "block_size")],
                    "granularity='per_block'",
                )?;
            }
            let block = block_size.unwrap_or(32);
            if block == 0 {
                return Err(PyValueError::new_err("block_size must be at least 1"));
            }
            let bits = match dtype.unwrap_or("int8") {
                "int8" => 8,
                "int4" => 4,
                d => {
                    return Err(PyValueError::new_err(format!(
                        "dtype '{d}': linear takes 'int8' or 'int4'"
                    )))
                }
            };
            let takes = "'per_tensor', 'per_channel' or 'per_block'";
            Ok(Mode::Linear {
                bits,
                symmetric: symmetric.unwrap_or(true),
                granularity: match g {
                    "per_tensor" => Granularity::PerTensor,
                    "per_channel" => Granularity::PerChannel,
                    "per_block" => Granularity::PerBlock(block),
                    g => return Err(bad_g(g, takes)),
                },
            })
        }
        "palettize" => {
            refuse(
                &[
                    (dtype.is_some(), "dtype"),
                    (block_size.is_some(), "block_size"),
                    (symmetric.is_some(), "symmetric"),
                ],
                "mode='linear' (mode='palettize' takes nbits=1..8)",
            )?;
            let g = g.unwrap_or("per_tensor");
            if g != "per_grouped_channel" {
                refuse(
                    &[(group_size.is_some(), "group_size")],
                    "granularity='per_grouped_channel'",
                )?;
            }
            let bits = nbits.unwrap_or(4);
            if !(1..=8).contains(&bits) {
                return Err(PyValueError::new_err(format!(
                    "nbits must be 1 to 8, got {bits}"
                )));
            }
            let group = group_size.unwrap_or(16);
            if group == 0 {
                return Err(PyValueError::new_err("group_size must be at least 1"));
            }
            Ok(Mode::Palettize {
                bits,
                method: match method.unwrap_or("kmeans") {
                    "kmeans" => Method::KMeans,
                    "uniform" => Method::Uniform,
                    m => {
                        return Err(PyValueError::new_err(format!(
                            "method '{m}': 'kmeans' or 'uniform'"
                        )))
                    }
                },
                granularity: match g {
                    "per_tensor" => Granularity::PerTensor,
                    "per_grouped_channel" => Granularity::PerGroupedChannel(group),
                    g => return Err(bad_g(g, "'per_tensor' or 'per_grouped_channel'")),
                },
            })
        }
        m => Err(PyValueError::new_err(format!(
            "mode '{m}': 'linear' or 'palettize'"
        ))),
    }
}

fn accuracy<'py>(py: Python<'py>, acc: &Accuracy) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("runs", acc.runs)?;
    let outs = PyList::empty(py);
    for o in &acc.outputs {
        let r = PyDict::new(py);
        r.set_item("name", &o.name)?;
        r.set_item("dtype", numpy_name(o.dtype))?;
        r.set_item("shape", o.shape.clone())?;
        r.set_item("values", o.values)?;
        r.set_item("finite", o.finite)?;
        r.set_item("nonfinite_original", o.nonfinite_original)?;
        r.set_item("nonfinite_compressed", o.nonfinite_compressed)?;
        r.set_item("snr_db", o.snr_db)?;
        r.set_item("cosine", o.cosine)?;
        r.set_item("max_abs", o.max_abs)?;
        r.set_item("exact", o.exact)?;
        r.set_item("top1", o.top1)?;
        outs.append(r)?;
    }
    d.set_item("outputs", outs)?;
    let ws = PyList::empty(py);
    for w in &acc.weights {
        let r = PyDict::new(py);
        r.set_item("name", &w.name)?;
        r.set_item("weight_snr_db", w.weight_snr_db)?;
        r.set_item("output_snr_db", w.output_snr_db)?;
        ws.append(r)?;
    }
    d.set_item("weights", ws)?;
    Ok(d)
}

/// Compresses the weights of `source` into the package `output` (see `smelt.compress`).
/// Returns a dict: `weights` (one dict per compressed weight), `skipped`, `unused_skip`,
/// `seconds`, `file_bytes` and `accuracy` (None without `inputs` or `calibration`).
#[pyfunction]
#[pyo3(signature = (source, output, mode, dtype = None, granularity = None, block_size = None,
    symmetric = None, nbits = None, group_size = None, method = None, weight_threshold = 2048,
    ops = None, skip = vec![], calibration = None, inputs = None, probes = 5))]
#[allow(clippy::too_many_arguments)]
pub fn compress_file<'py>(
    py: Python<'py>,
    source: PathBuf,
    output: PathBuf,
    mode: &str,
    dtype: Option<&str>,
    granularity: Option<&str>,
    block_size: Option<usize>,
    symmetric: Option<bool>,
    nbits: Option<u32>,
    group_size: Option<usize>,
    method: Option<&str>,
    weight_threshold: usize,
    ops: Option<Vec<String>>,
    skip: Vec<String>,
    calibration: Option<&Bound<'py, PyAny>>,
    inputs: Option<&Bound<'py, PyAny>>,
    probes: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let mode = options(
        mode,
        dtype,
        granularity,
        block_size,
        symmetric,
        nbits,
        group_size,
        method,
    )?;
    if output == source {
        return Err(PyValueError::new_err(format!(
            "the output {} is the source: give another output path",
            output.display()
        )));
    }
    let mut opts = Options::new(mode);
    opts.weight_threshold = weight_threshold;
    opts.ops = ops.unwrap_or_else(|| DEFAULT_OPS.iter().map(|s| s.to_string()).collect());
    opts.skip = skip;
    guard(|| opts.check())?;
    opts.calibration = feeds(calibration, "calibration")?;
    let mut samples = Samples {
        feeds: feeds(inputs, "inputs")?,
        probes,
        ..Default::default()
    };
    if samples.feeds.is_empty() {
        samples.feeds = opts.calibration.iter().take(1).cloned().collect();
    }
    let (report, acc, stats) = py.detach(|| {
        guard(|| {
            let (graph, info) = smelt::convert::import(&source, &ConvertOptions::default())?;
            let (compressed, report) = smelt::compression::compress(&graph, &opts, &mut |_, _| {})?;
            let acc = if samples.feeds.is_empty() {
                None
            } else {
                Some(smelt::compress::measure(
                    &graph,
                    &compressed,
                    &info,
                    &report,
                    &samples,
                    &mut |_, _| {},
                )?)
            };
            let stats = smelt::compress::write(&output, &compressed, info, &mut |_, _| {})?;
            Ok((report, acc, stats))
        })
    })?;
    let d = PyDict::new(py);
    let weights = PyList::empty(py);
    for t in &report.tensors {
        let r = PyDict::new(py);
        r.set_item("name", &t.name)?;
        r.set_item("op_type", &t.op_type)?;
        r.set_item("shape", t.shape.clone())?;
        r.set_item("grid", t.grid.clone())?;
        r.set_item("bytes_before", t.bytes_before)?;
        r.set_item("bytes_after", t.bytes_after)?;
        r.set_item("snr_db", t.snr_db)?;
        r.set_item("seconds", t.seconds)?;
        r.set_item("note", &t.note)?;
        weights.append(r)?;
    }
    d.set_item("weights", weights)?;
    d.set_item("skipped", report.skipped.clone())?;
    d.set_item("unused_skip", report.unused_skip.clone())?;
    d.set_item("seconds", report.seconds)?;
    d.set_item("file_bytes", stats.file_bytes)?;
    match &acc {
        Some(a) => d.set_item("accuracy", accuracy(py, a)?)?,
        None => d.set_item("accuracy", py.None())?,
    }
    Ok(d)
}
