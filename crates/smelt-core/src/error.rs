//! The error type used at every crate boundary. Errors carry the op, the node and the input
//! they concern, added as they travel up through [`Error::in_node`].

use crate::DType;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An op was given something it cannot accept (bad attribute, bad shape, ...).
    #[error("{0}")]
    Invalid(String),
    /// An input has a dtype the op does not support.
    #[error("unsupported dtype {dtype} for {what}")]
    UnsupportedDType { dtype: DType, what: String },
    /// An op (or a domain) is not implemented.
    #[error("unsupported op {domain}::{op_type}{}", if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) })]
    UnsupportedOp {
        domain: String,
        op_type: String,
        detail: String,
    },
    /// A feature (value type, dtype in a file, attribute form) that is not implemented.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Shapes that cannot be combined.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A failure inside a node, with the node's name and op.
    #[error("node '{node}' ({op_type}): {source}")]
    Node {
        node: String,
        op_type: String,
        #[source]
        source: Box<Error>,
    },
    /// A malformed file (a model's protobuf, a package, external data, an `.npy`): the
    /// message names the file and what is wrong with it.
    #[error("{0}")]
    Format(String),
    /// A graph input given by the caller does not match the graph.
    #[error("input '{name}': {msg}")]
    Input { name: String, msg: String },
    /// A device or its driver failed (CUDA, cuBLAS, NVRTC, a device allocation): an error
    /// to report, never a reason to run the node on another device.
    #[error("{backend}: {msg}")]
    Device { backend: &'static str, msg: String },
    /// A failed read or write; `context` names the file ("reading x.npy").
    #[error("{context}: {}", io_text(.source))]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// An I/O error as the messages of the `smelt` command word it: "no such file" (not the
/// OS's "No such file or directory (os error 2)"), the OS's text for the rarer ones.
pub fn io_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "no such file".into(),
        K::PermissionDenied => "permission denied".into(),
        K::IsADirectory => "is a folder, not a file".into(),
        K::UnexpectedEof => "the file ends too early".into(),
        _ => {
            let t = e.to_string();
            match t.find(" (os error ") {
                Some(i) => t[..i].to_string(),
                None => t,
            }
        }
    }
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
    pub fn shape(msg: impl Into<String>) -> Self {
        Error::Shape(msg.into())
    }
    pub fn dtype(dtype: DType, what: impl Into<String>) -> Self {
        Error::UnsupportedDType {
            dtype,
            what: what.into(),
        }
    }
    pub fn unsupported(op_type: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::UnsupportedOp {
            domain: String::new(),
            op_type: op_type.into(),
            detail: detail.into(),
        }
    }
    pub fn device(backend: &'static str, msg: impl Into<String>) -> Self {
        Error::Device {
            backend,
            msg: msg.into(),
        }
    }
    pub fn format(msg: impl Into<String>) -> Self {
        Error::Format(msg.into())
    }
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
    /// Wraps the error with the node it happened in (idempotent for the same node).
    pub fn in_node(self, node: &str, op_type: &str) -> Self {
        match self {
            Error::Node { .. } => self,
            e => Error::Node {
                node: node.to_string(),
                op_type: op_type.to_string(),
                source: Box::new(e),
            },
        }
    }
    /// True when the root cause is a missing op or dtype implementation.
    pub fn is_unsupported(&self) -> bool {
        match self {
            Error::UnsupportedOp { .. }
            | Error::UnsupportedDType { .. }
            | Error::Unsupported(_) => true,
            Error::Node { source, .. } => source.is_unsupported(),
            _ => false,
        }
    }
}

/// `bail!("...")`: return an [`Error::Invalid`] built with `format!`.
#[macro_export]
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::Error::Invalid(format!($($t)*))) };
}

/// `ensure!(cond, "...")`: bail unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($c:expr, $($t:tt)*) => { if !$c { $crate::bail!($($t)*) } };
}
