//! smelt: the public facade. Re-exports the types an application needs.
pub use smelt_core::{DType, Dim, Error, Result, Tensor, ValueInfo};
pub use smelt_cpu::{run, Plan};
pub use smelt_ir::Graph;
pub use smelt_onnx as onnx;
pub use smelt_ops::{registry, GraphBuilder};
