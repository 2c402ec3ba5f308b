//! Indexing, generation and selection ops ([`IndexOp`], one case of `GpuOp`): their
//! attributes, which inputs are read on the host (indices, shapes, scalars) and the dtype
//! contract; the gathers' and scatters' host planning is in plan/gather.rs and
//! plan/scatter.rs (re-exported here). Kernels: `cuda/kernels/index.cu`; launches:
//! `cuda/ops/index.rs` and `cuda/ops/select.rs` (TopK, NonMaxSuppression, NonZero, Unique).
//! Range, Trilu, ConstantOfShape, GatherElements, Tile, CumSum, CumProd, DepthToSpace and
//! SpaceToDepth are the typed kernels' (`GpuOp` arms in op.rs), Hardmax the softmax
//! family's.
//!
//! Dtypes: data-moving ops (EyeLike, GatherND, Compress, CenterCropPad, OneHot, Scatter
//! without reduction, TensorScatter, Dropout) take any dtype of 1, 2, 4 or 8 bytes; Scatter
//! reductions f32, f64, f16, i32, i64; TopK every numeric dtype but bf16;
//! NonMaxSuppression f32. Every result equals the CPU op's (smelt-ops), exactly.

pub use super::gather::*;
pub use super::scatter::*;
use crate::plan::op::Role;
use smelt_core::{DType, Error};
use smelt_ir::{Graph, Node};
use smelt_ops::array::common::Reduction;

#[derive(Clone, Debug)]
pub enum IndexOp {
    /// EyeLike: only the input's shape is read.
    EyeLike { dtype: Option<DType>, k: i64 },
    /// GatherND (indices, input 1, on the host).
    GatherND { batch_dims: usize },
    /// Compress (condition, input 1, on the host); no axis: the flattened input.
    Compress { axis: Option<i64> },
    /// CenterCropPad (target shape, input 1, on the host).
    CenterCropPad { axes: Option<Vec<i64>> },
    /// OneHot (indices, depth and values read on the host; the output made on the device).
    OneHot { axis: i64 },
    /// ScatterElements / Scatter (`nd` false, along `axis`) or ScatterND (`nd`): indices on
    /// the host, data and updates on the device.
    Scatter { axis: i64, red: Reduction, nd: bool },
    /// TopK along `axis`: k from the attribute (opsets < 10) or input 1 (host); values and
    /// i64 indices, sorted (as the CPU op, whatever `sorted` says).
    TopK {
        axis: i64,
        largest: bool,
        k: Option<i64>,
    },
    /// TensorScatter (opset 24): updates written into a copy of the cache along `axis` at
    /// write_indices (input 2, host) per batch, wrapping when `circular`.
    TensorScatter { circular: bool, axis: i64 },
    /// NonMaxSuppression of f32 boxes / scores; max_output_boxes_per_class, iou_threshold
    /// and score_threshold (inputs 2..=4) on the host; the selection count is read back.
    Nms { center: bool },
    /// Unique (Y, indices, inverse_indices, counts) over the items along `axis` (None: the
    /// flattened elements); the group count is read back.
    Unique { sorted: bool, axis: Option<i64> },
    /// NonZero: the coordinates of the nonzero elements, [rank, count] i64 (the count read
    /// back from a first pass).
    NonZero,
    /// Dropout in inference with a mask output and/or ratio / training_mode inputs (host):
    /// the output is the input, the mask all true. Training (a true training_mode with a
    /// ratio other than 0) is unsupported at run time.
    Dropout,
}

/// Dtypes the data-moving kernels take (1, 2, 4 or 8 bytes).
pub fn movable(d: DType) -> bool {
    use DType::*;
    matches!(
        d,
        F32 | F16 | BF16 | F64 | I8 | U8 | I16 | U16 | I32 | U32 | I64 | U64 | Bool
    )
}

/// Dtypes of the arithmetic kernels (Range, CumSum, CumProd, scatter reductions).
pub fn numeric(d: DType) -> bool {
    matches!(
        d,
        DType::F32 | DType::F64 | DType::F16 | DType::I32 | DType::I64
    )
}

fn err<T>(e: Error) -> std::result::Result<T, String> {
    Err(e.to_string())
}

impl IndexOp {
    /// The op of `node` if this family has it (None: not this family).
    pub fn parse(node: &Node) -> Option<std::result::Result<IndexOp, String>> {
        let a = &node.attrs;
        let int_or = |k: &str, d: i64| a.int_or(k, d).map_err(|e| e.to_string());
        let n_out = node.outputs.iter().filter(|o| o.is_some()).count();
        let op = || -> std::result::Result<IndexOp, String> {
            Ok(match node.op_type.as_str() {
                "EyeLike" => IndexOp::EyeLike {
                    dtype: match a.int("dtype").map_err(|e| e.to_string())? {
                        Some(c) => Some(DType::from_onnx(c).ok_or(format!("EyeLike dtype {c}"))?),
                        None => None,
                    },
                    k: int_or("k", 0)?,
                },
                "GatherND" => {
                    let b = int_or("batch_dims", 0)?;
                    if b < 0 {
                        return Err(format!("batch_dims {b} must be >= 0"));
                    }
                    IndexOp::GatherND {
                        batch_dims: b as usize,
                    }
                }
                "Compress" => IndexOp::Compress {
                    axis: a.int("axis").map_err(|e| e.to_string())?,
                },
                "CenterCropPad" => IndexOp::CenterCropPad {
                    axes: a.ints("axes").map_err(|e| e.to_string())?,
                },
                "OneHot" => IndexOp::OneHot {
                    axis: int_or("axis", -1)?,
                },
                "ScatterElements" | "Scatter" | "ScatterND" => {
                    let red = if node.op_type == "Scatter" {
                        Reduction::None
                    } else {
                        let s = a
                            .string_or("reduction", "none".into())
                            .map_err(|e| e.to_string())?;
                        Reduction::parse(&s).or_else(err)?
                    };
                    IndexOp::Scatter {
                        axis: int_or("axis", 0)?,
                        red,
                        nd: node.op_type == "ScatterND",
                    }
                }
                "TensorScatter" => {
                    let mode = a
                        .string_or("mode", "linear".into())
                        .map_err(|e| e.to_string())?;
                    if mode != "linear" && mode != "circular" {
                        return Err(format!("unknown TensorScatter mode '{mode}'"));
                    }
                    IndexOp::TensorScatter {
                        circular: mode == "circular",
                        axis: int_or("axis", -2)?,
                    }
                }
                "NonZero" => IndexOp::NonZero,
                "Unique" => IndexOp::Unique {
                    sorted: int_or("sorted", 1)? != 0,
                    axis: a.int("axis").map_err(|e| e.to_string())?,
                },
                "NonMaxSuppression" => {
                    let c = int_or("center_point_box", 0)?;
                    if c != 0 && c != 1 {
                        return Err(format!("center_point_box must be 0 or 1, got {c}"));
                    }
                    IndexOp::Nms { center: c == 1 }
                }
                "TopK" => IndexOp::TopK {
                    axis: int_or("axis", -1)?,
                    largest: int_or("largest", 1)? != 0,
                    k: a.int("k").map_err(|e| e.to_string())?,
                },
                "Dropout" => {
                    if n_out > 2 {
                        return Err("Dropout with more than two outputs".into());
                    }
                    if a.has("is_test") && int_or("is_test", 0)? == 0 {
                        return Err("Dropout in training mode (is_test 0)".into());
                    }
                    IndexOp::Dropout
                }
                _ => unreachable!(),
            })
        };
        match node.op_type.as_str() {
            // Range, Trilu, ConstantOfShape, GatherElements, Tile, CumSum, CumProd,
            // DepthToSpace and SpaceToDepth are the typed kernels' (op.rs), Hardmax the
            // softmax family's (plan::norm)
            "EyeLike" | "GatherND" | "Compress" | "CenterCropPad" | "TopK" | "TensorScatter"
            | "NonMaxSuppression" | "NonZero" | "Unique" | "OneHot" | "ScatterElements"
            | "Scatter" | "ScatterND" => Some(op()),
            // the plain inference form stays a no-copy view (op.rs)
            "Dropout" if n_out > 1 || node.inputs.len() > 1 => Some(op()),
            _ => None,
        }
    }

    /// Where input `i` is read.
    pub fn role(&self, i: usize) -> Role {
        let host = match self {
            IndexOp::OneHot { .. } => true,
            IndexOp::GatherND { .. }
            | IndexOp::Compress { .. }
            | IndexOp::CenterCropPad { .. }
            | IndexOp::TopK { .. }
            | IndexOp::Dropout => i >= 1,
            IndexOp::Scatter { .. } => i == 1,
            IndexOp::TensorScatter { .. } => i == 2,
            IndexOp::Nms { .. } => i >= 2,
            IndexOp::EyeLike { .. } | IndexOp::NonZero | IndexOp::Unique { .. } => false,
        };
        if host {
            Role::Host
        } else {
            Role::Data
        }
    }

    /// The dtype contract on the declared types (see the module doc); an unknown dtype of
    /// a device input is a refusal.
    pub fn check_types(&self, node: &Node, graph: &Graph) -> std::result::Result<(), String> {
        let dt = |i: usize| -> Option<DType> {
            node.inputs
                .get(i)
                .copied()
                .flatten()
                .and_then(|id| graph.values[id].info.dtype)
        };
        let out_dt = |i: usize| -> Option<DType> {
            node.outputs
                .get(i)
                .copied()
                .flatten()
                .and_then(|id| graph.values[id].info.dtype)
        };
        let need = |i: usize, ok: fn(DType) -> bool, what: &str| match dt(i) {
            Some(d) if ok(d) => Ok(()),
            Some(d) => Err(format!("{} input {i} is {d}; the GPU {what}", node.op_type)),
            None => Err(format!("{} input {i}: dtype unknown", node.op_type)),
        };
        match self {
            IndexOp::GatherND { .. }
            | IndexOp::Compress { .. }
            | IndexOp::CenterCropPad { .. }
            | IndexOp::NonZero
            | IndexOp::TensorScatter { .. } => need(0, movable, "kernel moves 1-8 byte elements"),
            IndexOp::EyeLike { dtype, .. } => {
                need(0, movable, "kernel reads 1-8 byte elements")?;
                let d = dtype.or(dt(0)).ok_or("EyeLike: dtype unknown")?;
                if d == DType::Bool || (numeric(d) || (movable(d) && d.is_int())) {
                    Ok(())
                } else {
                    Err(format!("EyeLike to {d} has no GPU kernel"))
                }
            }
            IndexOp::OneHot { .. } => need(2, movable, "kernel moves 1-8 byte elements"),
            IndexOp::Scatter { red, .. } => {
                if *red == Reduction::None {
                    need(0, movable, "kernel moves 1-8 byte elements")
                } else {
                    need(
                        0,
                        numeric,
                        "scatter reductions take f32, f64, f16, i32, i64",
                    )
                }
            }
            IndexOp::Nms { .. } => {
                let f32_only = |d: DType| d == DType::F32;
                need(0, f32_only, "NonMaxSuppression takes f32 boxes")?;
                need(1, f32_only, "NonMaxSuppression takes f32 scores")
            }
            IndexOp::Unique { .. } => need(
                0,
                |d| d == DType::Bool || topk_dtype(d),
                "Unique takes bool and numbers but bf16",
            ),
            IndexOp::TopK { .. } => need(0, topk_dtype, "TopK takes floats but bf16, integers"),
            IndexOp::Dropout => {
                need(0, movable, "kernel moves 1-8 byte elements")?;
                // training needs the CPU op's random masks: placement takes the node only
                // when training_mode is absent or a constant false, or the ratio a constant 0
                let constant = |i: usize| -> Option<f64> {
                    let id = node.inputs.get(i).copied().flatten()?;
                    let v = graph.initializers.get(&id)?.to_f64_vec().ok()?;
                    (v.len() == 1).then(|| v[0])
                };
                if node.inputs.get(2).copied().flatten().is_some()
                    && constant(2) != Some(0.0)
                    && constant(1) != Some(0.0)
                {
                    return Err(
                        "Dropout training_mode not a constant false (training runs on the CPU)"
                            .into(),
                    );
                }
                if node.outputs.get(1).copied().flatten().is_some()
                    && out_dt(1) != Some(DType::Bool)
                {
                    return Err("Dropout mask other than bool (opset < 10)".into());
                }
                Ok(())
            }
        }
    }
}

fn topk_dtype(d: DType) -> bool {
    use DType::*;
    matches!(
        d,
        F32 | F64 | F16 | I8 | U8 | I16 | U16 | I32 | U32 | I64 | U64
    )
}

/// [outer, n, inner] around axis `a` of `shape`.
pub fn split3(shape: &[usize], a: usize) -> (usize, usize, usize) {
    (
        shape[..a].iter().product(),
        shape[a],
        shape[a + 1..].iter().product(),
    )
}
