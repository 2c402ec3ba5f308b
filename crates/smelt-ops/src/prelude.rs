//! What an op file needs.
pub use crate::util::*;
pub use smelt_core::tensor::{numel, strides};
pub use smelt_core::{bail, bf16, dispatch_any, dispatch_float, dispatch_numeric, ensure, f16};
pub use smelt_core::{broadcast_shapes, DType, Data, Dim, Elem, Error, Result, Tensor, ValueInfo};
pub use smelt_ir::{Attr, Attributes, EvalCtx, Graph, InferCtx, Op, OpCtx, Registry};
pub use std::sync::Arc;
