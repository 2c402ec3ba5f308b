//! `smelt._smelt`: the native part of the `smelt` Python package (PyO3). The package's
//! Python layer (`python/smelt/`) re-exports `load`, `Model`, `State` and `Feature` from here
//! and builds `convert`, `compress` and `compare` on `convert_file` and `compress_file`.

mod array;
mod errors;
mod model;
mod tools;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The devices smelt can run on here (the CPU last), as dicts of kind, backend and name.
#[pyfunction]
fn available_devices(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    smelt::available_devices()
        .iter()
        .map(|d| model::device_dict(py, d))
        .collect()
}

#[pymodule]
fn _smelt(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<model::Model>()?;
    m.add_class::<model::State>()?;
    m.add_class::<model::Feature>()?;
    m.add_function(wrap_pyfunction!(model::load, m)?)?;
    m.add_function(wrap_pyfunction!(available_devices, m)?)?;
    m.add_function(wrap_pyfunction!(tools::convert_file, m)?)?;
    m.add_function(wrap_pyfunction!(tools::compress_file, m)?)?;
    Ok(())
}
