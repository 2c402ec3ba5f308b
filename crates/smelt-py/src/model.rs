//! `smelt.Model`, `smelt.State` and `smelt.Feature`: the runtime API (`smelt::Model`) for
//! Python. Inputs are checked here first (name, dtype, shape) so that each mistake is its own
//! Python exception: a wrong dtype a `TypeError`, a wrong name or shape a `ValueError`.

use crate::array::{numpy_name, to_numpy, to_tensor};
use crate::errors::guard;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use smelt::{ComputeUnits, Config, Dim, Precision, Tensor, ValueInfo};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// An input, output or state of a model: its name, numpy dtype name, shape and description.
///
/// `dtype` is a name `numpy.dtype` takes ("float32", "int64", "bool"; "bfloat16" and the
/// float8 / int4 types need `ml_dtypes`), or None when the model does not declare it.
/// `shape` is a tuple of ints (fixed dims), strs (named dims such as "batch") and None
/// (unknown dims), or None when the rank is unknown.
#[pyclass(frozen, module = "smelt")]
pub struct Feature {
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    dtype: Option<&'static str>,
    #[pyo3(get)]
    shape: Option<Py<PyTuple>>,
    #[pyo3(get)]
    description: String,
}

fn shape_tuple<'py>(py: Python<'py>, dims: &[Dim]) -> PyResult<Bound<'py, PyTuple>> {
    let mut items: Vec<Bound<'py, PyAny>> = Vec::with_capacity(dims.len());
    for d in dims {
        items.push(match d {
            Dim::Fixed(n) => n.into_pyobject(py)?.into_any(),
            Dim::Sym(s) => s.into_pyobject(py)?.into_any(),
            Dim::Unknown => py.None().into_bound(py),
        });
    }
    PyTuple::new(py, items)
}

/// A declared shape as Python writes it: `(N, 1, 28, 28)`.
fn shape_text(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    match parts.len() {
        1 => format!("({},)", parts[0]),
        _ => format!("({})", parts.join(", ")),
    }
}

impl Feature {
    fn new(py: Python<'_>, name: &str, info: &ValueInfo, description: &str) -> PyResult<Feature> {
        Ok(Feature {
            name: name.to_string(),
            dtype: info.dtype.map(numpy_name),
            shape: match &info.shape {
                Some(s) => Some(shape_tuple(py, s)?.unbind()),
                None => None,
            },
            description: description.to_string(),
        })
    }
}

#[pymethods]
impl Feature {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let shape = match &self.shape {
            Some(s) => s.bind(py).repr()?.to_string(),
            None => "None".into(),
        };
        let name = self.name.clone().into_pyobject(py)?.repr()?;
        Ok(format!(
            "Feature(name={name}, dtype={}, shape={shape})",
            self.dtype.map_or("None".into(), |d| format!("'{d}'")),
        ))
    }
}

/// The values of a model's declared states between predictions (zeros when made by
/// `Model.new_state()`). `predict(inputs, state=s)` reads and then updates them. Read one
/// with `s["name"]` (a copy), replace it with `s["name"] = array` (same dtype and shape).
#[pyclass(frozen, module = "smelt")]
pub struct State {
    inner: Mutex<smelt::State>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, smelt::State> {
        // a panic while held (reported as an error) leaves values that are still whole
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// The lock, taken from Python: a prediction on another thread may hold it, so wait
    /// for it detached from the interpreter.
    fn lock_py(&self, py: Python<'_>) -> MutexGuard<'_, smelt::State> {
        match self.inner.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => py.detach(|| SendGuard(self.lock())).0,
        }
    }
}

/// A guard carried out of `Python::detach` (it is released on the same thread that took it).
struct SendGuard<'a>(MutexGuard<'a, smelt::State>);
// SAFETY: the guard only crosses the detach closure's boundary on one thread.
unsafe impl Send for SendGuard<'_> {}

#[pymethods]
impl State {
    /// The state names, in the model's order.
    #[getter]
    fn names(&self, py: Python<'_>) -> Vec<String> {
        self.lock_py(py).names().to_vec()
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.lock_py(py).names().len()
    }
    fn __contains__(&self, py: Python<'_>, name: &str) -> bool {
        self.lock_py(py).get(name).is_some()
    }
    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let s = self.lock_py(py);
        let t = s.get(name).cloned().ok_or_else(|| {
            pyo3::exceptions::PyKeyError::new_err(format!(
                "no state named '{name}' (states: {})",
                s.names().join(", ")
            ))
        })?;
        drop(s);
        to_numpy(py, t, &format!("state '{name}'"))
    }
    fn __setitem__(&self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let like = self.lock_py(py).get(name).map(|t| t.dtype());
        let t = to_tensor(value, like, &format!("state '{name}'"))?;
        let mut s = self.lock_py(py);
        guard(|| s.set(name, t))
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let s = self.lock_py(py);
        let parts: Vec<String> = s
            .names()
            .iter()
            .filter_map(|n| {
                s.get(n)
                    .map(|t| format!("{n}: {}{:?}", numpy_name(t.dtype()), t.shape()))
            })
            .collect();
        format!("State({})", parts.join(", "))
    }
}

/// A loaded model (`smelt.load`). Any number of threads may call `predict` on one model at
/// once; the interpreter is released while it runs.
#[pyclass(frozen, module = "smelt")]
pub struct Model {
    inner: smelt::Model,
    path: PathBuf,
    compute_units: ComputeUnits,
}

/// The Python name of compute units.
fn units_name(u: ComputeUnits) -> &'static str {
    match u {
        ComputeUnits::All => "all",
        ComputeUnits::CpuOnly => "cpu_only",
        ComputeUnits::CpuAndGpu => "cpu_and_gpu",
    }
}

/// Loads an `.ingot` package or an `.onnx` model (told apart by their first bytes).
///
/// `compute_units`: "all" (default), "cpu_only" or "cpu_and_gpu". `precision`: the operand
/// precision of MatMul, Gemm and Conv on a GPU: "fp32" (default, exact), "tf32", "fp16" or
/// "bf16" (the CPU always computes in fp32). `threads`: CPU threads for this model's
/// predictions (default: one per core, or RAYON_NUM_THREADS). `verify_weights`: check every
/// weight's checksum while loading a package.
#[pyfunction]
#[pyo3(signature = (path, compute_units = "all", precision = "fp32", threads = None, verify_weights = true))]
pub fn load(
    py: Python<'_>,
    path: PathBuf,
    compute_units: &str,
    precision: &str,
    threads: Option<usize>,
    verify_weights: bool,
) -> PyResult<Model> {
    let units: ComputeUnits = compute_units.parse().map_err(|_| {
        PyValueError::new_err(format!(
            "unknown compute_units '{compute_units}' (all, cpu_only, cpu_and_gpu)"
        ))
    })?;
    let precision = guard(|| Precision::parse(precision))?;
    if threads == Some(0) {
        return Err(PyValueError::new_err("threads must be at least 1"));
    }
    let config = Config {
        compute_units: units,
        precision,
        threads,
        verify_weights,
        ..Config::default()
    };
    if path.is_dir() {
        return Err(pyo3::exceptions::PyIsADirectoryError::new_err(format!(
            "{} is a folder, not a model file",
            path.display()
        )));
    }
    let inner = py.detach(|| guard(|| smelt::Model::load(&path, config)))?;
    Ok(Model {
        inner,
        path,
        compute_units: units,
    })
}

/// Checks a caller's tensor against a declared input.
fn check_input(f: &smelt::Feature, t: &Tensor) -> PyResult<()> {
    if let Some(d) = f.info.dtype {
        if d != t.dtype() {
            return Err(PyTypeError::new_err(format!(
                "input '{}': expected dtype {}, got {} (convert it with .astype(numpy.{}))",
                f.name,
                numpy_name(d),
                numpy_name(t.dtype()),
                numpy_name(d)
            )));
        }
    }
    if let Some(shape) = &f.info.shape {
        let bad = shape.len() != t.rank()
            || shape
                .iter()
                .zip(t.shape())
                .any(|(d, &n)| d.fixed().is_some_and(|k| k != n));
        if bad {
            let got: Vec<Dim> = t.shape().iter().map(|&n| Dim::Fixed(n)).collect();
            return Err(PyValueError::new_err(format!(
                "input '{}': expected shape {}, got {}",
                f.name,
                shape_text(shape),
                shape_text(&got)
            )));
        }
    }
    Ok(())
}

fn str_dict<'py>(py: Python<'py>, kv: &[(String, String)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in kv {
        d.set_item(k, v)?;
    }
    Ok(d)
}

pub fn device_dict<'py>(py: Python<'py>, d: &smelt::DeviceInfo) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("kind", d.kind.to_string())?;
    out.set_item("backend", &d.backend)?;
    out.set_item("name", &d.name)?;
    Ok(out)
}

#[pymethods]
impl Model {
    /// The file the model was loaded from.
    #[getter]
    fn path(&self) -> &PathBuf {
        &self.path
    }
    /// The compute units it was loaded with ("all", "cpu_only", "cpu_and_gpu").
    #[getter]
    fn compute_units(&self) -> &'static str {
        units_name(self.compute_units)
    }
    /// The CPU threads a prediction may use.
    #[getter]
    fn threads(&self) -> usize {
        self.inner.threads()
    }
    /// The inputs a caller feeds (declared states excluded), as `Feature`s.
    #[getter]
    fn inputs(&self, py: Python<'_>) -> PyResult<Vec<Feature>> {
        self.inner
            .inputs()
            .iter()
            .map(|f| Feature::new(py, &f.name, &f.info, &f.description))
            .collect()
    }
    /// The outputs a prediction returns (declared states excluded), as `Feature`s.
    #[getter]
    fn outputs(&self, py: Python<'_>) -> PyResult<Vec<Feature>> {
        self.inner
            .outputs()
            .iter()
            .map(|f| Feature::new(py, &f.name, &f.info, &f.description))
            .collect()
    }
    /// The declared states, as `Feature`s named after the state.
    #[getter]
    fn states(&self, py: Python<'_>) -> PyResult<Vec<Feature>> {
        self.inner
            .states()
            .iter()
            .map(|s| Feature::new(py, &s.name, &s.info, &s.description))
            .collect()
    }
    /// The package metadata: name, version, author, license, description, producer,
    /// source, `user` (the user metadata, a dict of str) and `opsets` (domain -> version).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.inner.metadata();
        let d = PyDict::new(py);
        d.set_item("name", &m.name)?;
        d.set_item("version", &m.version)?;
        d.set_item("author", &m.author)?;
        d.set_item("license", &m.license)?;
        d.set_item("description", &m.description)?;
        d.set_item("producer", &m.producer)?;
        d.set_item("source", &m.source)?;
        d.set_item("user", str_dict(py, &m.metadata)?)?;
        let opsets = PyDict::new(py);
        for (domain, v) in &m.opsets {
            opsets.set_item(domain, v)?;
        }
        d.set_item("opsets", opsets)?;
        Ok(d)
    }

    /// Where each node runs and why: a dict with `compute_units`, `devices` (dicts of kind,
    /// backend, name), `nodes` (one dict per node: node, op_type, device (the backend that
    /// runs it), reason), `transfers` (values crossing devices) and `notes` (what holds for
    /// every node, such as why no GPU is used).
    fn plan<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.inner.placement();
        let d = PyDict::new(py);
        d.set_item("compute_units", units_name(p.compute_units))?;
        let devices = PyList::empty(py);
        for dev in &p.devices {
            devices.append(device_dict(py, dev)?)?;
        }
        d.set_item("devices", devices)?;
        let nodes = PyList::empty(py);
        for a in &p.nodes {
            let n = PyDict::new(py);
            n.set_item("node", &a.node)?;
            n.set_item("op_type", &a.op_type)?;
            n.set_item(
                "device",
                p.devices.get(a.device).map(|d| d.backend.as_str()),
            )?;
            n.set_item("reason", &a.reason)?;
            nodes.append(n)?;
        }
        d.set_item("nodes", nodes)?;
        d.set_item("transfers", p.transfers)?;
        d.set_item("notes", p.notes.clone())?;
        Ok(d)
    }

    /// Zero-filled values of the declared states. `dims` sizes their symbolic dimensions
    /// (`{"batch": 4}`); others are 1.
    #[pyo3(signature = (dims = None))]
    fn new_state(&self, dims: Option<HashMap<String, usize>>) -> PyResult<State> {
        let dims = dims.unwrap_or_default();
        let d: Vec<(&str, usize)> = dims.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let s = guard(|| self.inner.new_state_with(&d))?;
        Ok(State {
            inner: Mutex::new(s),
        })
    }

    /// Runs the model on `inputs`, a dict {name: numpy array (or anything numpy.asarray
    /// takes)}, and returns a dict {output name: numpy array} in the model's output order.
    ///
    /// Each array must have the declared dtype (no silent casts: a TypeError says which) and
    /// a shape that matches the declared one (ValueError). C-contiguous arrays are used in
    /// place, without a copy: do not modify them from another thread while this runs. A model
    /// with declared states needs `state=` (from `new_state()`), updated in place.
    #[pyo3(signature = (inputs, state = None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        state: Option<&Bound<'py, State>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let m = &self.inner;
        let dict = inputs.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!(
                "inputs must be a dict {{name: array}}, got {}",
                inputs
                    .get_type()
                    .name()
                    .map_or("?".into(), |n| n.to_string())
            ))
        })?;
        let mut feed: Vec<(String, Tensor)> = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let name: String = k
                .extract()
                .map_err(|_| PyTypeError::new_err("input names must be str"))?;
            let Some(f) = m.inputs().iter().find(|f| f.name == name) else {
                return Err(PyValueError::new_err(self.unknown_input(&name)));
            };
            let t = to_tensor(&v, f.info.dtype, &format!("input '{name}'"))?;
            check_input(f, &t)?;
            feed.push((name, t));
        }
        if feed.len() < m.inputs().len() {
            let missing: Vec<String> = m
                .inputs()
                .iter()
                .filter(|f| !feed.iter().any(|(n, _)| *n == f.name))
                .map(|f| format!("'{}' {}", f.name, f.info))
                .collect();
            return Err(PyValueError::new_err(format!(
                "missing input(s): {}",
                missing.join(", ")
            )));
        }
        let state = state.map(|s| s.get());
        if state.is_none() && !m.states().is_empty() {
            let names: Vec<&str> = m.states().iter().map(|s| s.name.as_str()).collect();
            return Err(PyValueError::new_err(format!(
                "the model declares states ({}): pass state=model.new_state()",
                names.join(", ")
            )));
        }
        let outs = py.detach(|| {
            guard(|| {
                let refs: Vec<(&str, Tensor)> =
                    feed.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
                match state {
                    Some(s) => m.predict_with_state(&refs, &mut s.lock()),
                    None => m.predict(&refs),
                }
            })
        });
        // the inputs are released here, while attached
        drop(feed);
        let out = PyDict::new(py);
        for (name, t) in outs?.0 {
            let a = to_numpy(py, t, &format!("output '{name}'"))?;
            out.set_item(name, a)?;
        }
        Ok(out)
    }

    /// Copies the package the model was loaded from to `path` (atomically). A model loaded
    /// from an `.onnx` file has no package: convert it with `smelt.convert`.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        if !smelt::is_ingot(&self.path) {
            return Err(PyValueError::new_err(format!(
                "{} is not an .ingot package: make one with smelt.convert",
                self.path.display()
            )));
        }
        let src = self.path.clone();
        py.detach(move || {
            guard(|| {
                let tmp = path.with_extension("ingot.tmp");
                let io = |e| smelt::Error::io(format!("writing {}", path.display()), e);
                std::fs::copy(&src, &tmp).map_err(io)?;
                std::fs::rename(&tmp, &path).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    io(e)
                })
            })
        })
    }

    fn __repr__(&self) -> String {
        let f = |v: &[smelt::Feature]| {
            v.iter()
                .map(|f| format!("{} {}", f.name, f.info))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "Model('{}', inputs: {}, outputs: {})",
            self.path.display(),
            f(self.inner.inputs()),
            f(self.inner.outputs())
        )
    }
}

impl Model {
    fn unknown_input(&self, name: &str) -> String {
        let m = &self.inner;
        if m.states().iter().any(|s| s.input == name || s.name == name) {
            return format!(
                "input '{name}': is a declared state: it is fed from state=, not passed as an \
                 input"
            );
        }
        let names: Vec<&str> = m.inputs().iter().map(|f| f.name.as_str()).collect();
        format!(
            "input '{name}': not an input of the model (inputs: {})",
            names.join(", ")
        )
    }
}
