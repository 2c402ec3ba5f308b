//! The dtype contract of [`GpuOp`]s: which declared input dtypes the kernels run. Placement
//! refuses the rest (`backend::gpu_support`), so a node is never placed on a kernel that
//! would give a wrong answer for its types.

use super::elementwise;
use super::op::{GpuOp, Role};
use super::reduce;
use smelt_core::DType;
use smelt_ir::{Graph, Node};

impl GpuOp {
    /// Checks the node's declared dtypes against what the kernels run (see
    /// [`GpuOp::dtype_error`]). An unknown dtype is a refusal: the runtime cannot check it.
    pub fn check_types(&self, node: &Node, graph: &Graph) -> Result<(), String> {
        if let GpuOp::Index(x) = self {
            return x.check_types(node, graph);
        }
        if self.location_free() {
            return Ok(()); // no kernel reads the inputs' elements
        }
        match self {
            GpuOp::Attention(_) => return super::attention::check_types(node, graph),
            GpuOp::Loss(_) => return super::loss::check_types(node, graph),
            GpuOp::Quant(q) => return super::quant::check_types(node, graph, q.dequant),
            GpuOp::LinearAttention(_) | GpuOp::CausalConv { .. } => {
                return super::sequence::check_types(node, graph)
            }
            _ => {}
        }
        let mut data = Vec::new();
        for (i, inp) in node.inputs.iter().enumerate() {
            let Some(id) = inp else { continue };
            let v = &graph.values[*id];
            if self.role(i) == Role::Host && !matches!(self, GpuOp::CastLike { .. } | GpuOp::Range)
            {
                continue;
            }
            match v.info.dtype {
                None => return Err(format!("dtype of input '{}' unknown", v.name)),
                Some(d) => data.push((i, d, v.name.as_str())),
            }
        }
        match self.dtype_error(&data) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Why the kernels do not take inputs of these (index, dtype, name), or None:
    /// - data movement (Transpose, Concat, Slice, Split, Gather, Expand, Pad, Where's
    ///   values): any device dtype, keyed by element size;
    /// - element-wise math: see [`UnaryOp::takes`] / [`BinaryOp::takes`]; comparisons on
    ///   one numeric dtype or bool; Cast / CastLike between the numeric dtypes, bool and
    ///   the low-bit ones;
    ///   IsNaN / IsInf on floats;
    /// - everything else (MatMul, Conv, pools, norms, reductions, Resize, Clip): f32.
    pub fn dtype_error(&self, data: &[(usize, DType, &str)]) -> Option<String> {
        use elementwise::{cast_code, is_float, is_int};
        let movable = |d: DType| cast_code(d).is_some();
        let first = data.first().map(|x| x.1);
        let bad = |what: &str| {
            let list: Vec<String> = data.iter().map(|x| x.1.to_string()).collect();
            Some(format!("{what} of {} has no GPU kernel", list.join(", ")))
        };
        match self {
            GpuOp::Unary { op, .. } => match first {
                Some(d) if op.takes(d) => None,
                _ => bad(&format!("{op:?}")),
            },
            GpuOp::Binary(op) => match data {
                [(_, a, _), (_, b, _)] if op.takes(*a, *b) => None,
                _ => bad(&format!("{op:?}")),
            },
            GpuOp::Variadic { op, .. } => {
                let d = first?;
                if data.iter().all(|x| x.1 == d) && op.takes(d, d) {
                    None
                } else {
                    bad(&format!("{op:?}"))
                }
            }
            GpuOp::Compare(_) => match data {
                [(_, a, _), (_, b, _)] if a == b && elementwise::suffix(*a).is_some() => None,
                _ => bad("comparison"),
            },
            GpuOp::Cast { to, .. } => match first {
                Some(d) if movable(d) && movable(*to) => None,
                Some(d) => Some(format!("Cast {d} to {to} has no GPU kernel")),
                None => None,
            },
            GpuOp::CastLike { .. } => match data {
                [(_, a, _), (_, b, _)] if movable(*a) && movable(*b) => None,
                _ => bad("CastLike"),
            },
            GpuOp::Clip { .. } => match first {
                Some(d) if is_float(d) || is_int(d) => None,
                _ => bad("Clip"),
            },
            GpuOp::BitCast { to } => {
                let d = first?;
                let four = |d: DType| matches!(d, DType::I4 | DType::U4 | DType::F4E2M1);
                if movable(d)
                    && movable(*to)
                    && !four(d)
                    && !four(*to)
                    && d.size_of() == to.size_of()
                {
                    None
                } else {
                    Some(format!("BitCast {d} to {to} has no GPU kernel"))
                }
            }
            GpuOp::Range => {
                let d = first?;
                if data.len() == 3 && data.iter().all(|x| x.1 == d) && (is_float(d) || is_int(d)) {
                    None
                } else {
                    bad("Range")
                }
            }
            GpuOp::Scan(sc) => match first {
                Some(d) if sc.takes(d) => None,
                _ => bad(if sc.prod { "CumProd" } else { "CumSum" }),
            },
            GpuOp::Reduce(r) => match first {
                Some(d) if reduce::takes(r.op, d) => None,
                _ => bad(&format!("{:?}", r.op)),
            },
            GpuOp::IsClass { .. } => match first {
                Some(d) if is_float(d) => None,
                _ => bad("IsNaN/IsInf"),
            },
            GpuOp::Where => match data {
                [(_, DType::Bool, _), (_, a, _), (_, b, _)] if a == b && movable(*a) => None,
                _ => bad("Where"),
            },
            GpuOp::Gather { .. } | GpuOp::GatherElements { .. } => match data {
                [(_, d, _), (_, DType::I64 | DType::I32, _)] if movable(*d) => None,
                _ => bad("Gather (indices i64 or i32)"),
            },
            GpuOp::Transpose { .. }
            | GpuOp::Concat { .. }
            | GpuOp::Slice { .. }
            | GpuOp::Split { .. }
            | GpuOp::Expand
            | GpuOp::Tile
            | GpuOp::Trilu { .. }
            | GpuOp::DepthSpace { .. }
            | GpuOp::ReverseSequence { .. }
            | GpuOp::Pad { .. } => {
                let d = first?;
                if movable(d) && data.iter().all(|x| x.1 == d) {
                    None
                } else {
                    bad("data movement")
                }
            }
            GpuOp::MaxUnpool(_) => match data {
                [(0, DType::F32, _), (1, DType::I64, _)] => None,
                _ => bad("MaxUnpool (f32 values, i64 indices)"),
            },
            _ => data
                .iter()
                .find(|x| x.1 != DType::F32)
                .map(|(_, d, name)| format!("input '{name}' is {d}; the GPU kernel takes f32")),
        }
    }
}
