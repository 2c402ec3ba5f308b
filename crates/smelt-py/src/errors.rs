//! smelt's errors as Python exceptions, and the guard that keeps a Rust panic from reaching
//! the interpreter as anything but an ordinary exception.

use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyNotImplementedError, PyOSError, PyPermissionError,
    PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;
use smelt::Error;
use std::io::ErrorKind;

/// The Python exception for a smelt error, with the error's message as it is:
/// a missing file is `FileNotFoundError`, other I/O failures `OSError`, a dtype an op does
/// not take `TypeError`, a missing op `NotImplementedError`; malformed files, bad inputs,
/// shapes and options are `ValueError`.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match root(&e) {
        Error::Io { source, .. } => match source.kind() {
            ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
        Error::UnsupportedDType { .. } => PyTypeError::new_err(msg),
        Error::UnsupportedOp { .. } => PyNotImplementedError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// The error a node error wraps (the kind decides the exception; the message keeps the node).
fn root(e: &Error) -> &Error {
    match e {
        Error::Node { source, .. } => root(source),
        e => e,
    }
}

/// Runs `f`, turning a panic into a `RuntimeError` that says it is a bug in smelt (never
/// expected: every bad input is an error first).
pub fn guard<T>(f: impl FnOnce() -> smelt::Result<T>) -> Result<T, PyErr> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_py),
        Err(p) => {
            let what = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            Err(PyRuntimeError::new_err(format!(
                "internal error in smelt (please report it): {what}"
            )))
        }
    }
}
