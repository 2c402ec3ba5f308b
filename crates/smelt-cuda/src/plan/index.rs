//! Indexing, generation and selection ops ([`IndexOp`], one case of `GpuOp`): their
//! attributes, which inputs are read on the host (indices, shapes, scalars), the dtype
//! contract, and Range / Hardmax planning; the gathers' and scatters' host planning is in
//! plan/gather.rs and plan/scatter.rs (re-exported here). Kernels: `cuda/kernels/index.cu`;
//! launches: `cuda/ops/index.rs` and `cuda/ops/select.rs` (TopK, NonMaxSuppression).
//!
//! Dtypes: data-moving ops (Trilu, EyeLike, ConstantOfShape, GatherElements, GatherND,
//! Compress, CenterCropPad, DepthToSpace, SpaceToDepth, Tile, OneHot, Scatter without
//! reduction, TensorScatter, Dropout) take any dtype of 1, 2, 4 or 8 bytes; arithmetic ones
//! (Range, CumSum, CumProd, Scatter reductions) f32, f64, f16, i32, i64; Hardmax f32, f64,
//! f16; TopK every numeric dtype but bf16; NonMaxSuppression f32. Every result equals the
//! CPU op's (smelt-ops), exactly.

pub use super::gather::*;
use super::i32_of;
pub use super::scatter::*;
use crate::plan::op::Role;
use smelt_core::{DType, Dim, Error, Result, Tensor};
use smelt_ir::{Graph, Node};
use smelt_ops::array::common::Reduction;

#[derive(Clone, Debug)]
pub enum IndexOp {
    /// Range(start, limit, delta): all three read on the host.
    Range,
    /// Trilu (k from input 1, host).
    Trilu { upper: bool },
    /// EyeLike: only the input's shape is read.
    EyeLike { dtype: Option<DType>, k: i64 },
    /// ConstantOfShape (shape from input 0, host): `value` (one element).
    ConstantOfShape { value: Tensor },
    /// GatherElements (indices, input 1, read and checked on the host).
    GatherElements { axis: i64 },
    /// Tile (repeats from input 1, host).
    Tile,
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
    /// CumSum (`prod` false) / CumProd along the axis of input 1 (host).
    Cum {
        prod: bool,
        exclusive: bool,
        reverse: bool,
    },
    /// Hardmax along `axis` (None: the attribute is absent).
    Hardmax { axis: Option<i64> },
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
    /// DepthToSpace (`mode` 0 DCR, 1 CRD) or SpaceToDepth (`mode` 2).
    SpaceDepth { block: usize, mode: u8 },
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
                "Range" => IndexOp::Range,
                "Trilu" => IndexOp::Trilu {
                    upper: int_or("upper", 1)? != 0,
                },
                "EyeLike" => IndexOp::EyeLike {
                    dtype: match a.int("dtype").map_err(|e| e.to_string())? {
                        Some(c) => Some(DType::from_onnx(c).ok_or(format!("EyeLike dtype {c}"))?),
                        None => None,
                    },
                    k: int_or("k", 0)?,
                },
                "ConstantOfShape" => {
                    let value = a
                        .tensor("value")
                        .map_err(|e| e.to_string())?
                        .unwrap_or_else(|| Tensor::scalar(0f32));
                    if value.len() != 1 {
                        return Err("ConstantOfShape value must hold one element".into());
                    }
                    IndexOp::ConstantOfShape { value }
                }
                "GatherElements" => IndexOp::GatherElements {
                    axis: int_or("axis", 0)?,
                },
                "Tile" => IndexOp::Tile,
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
                "CumSum" | "CumProd" => IndexOp::Cum {
                    prod: node.op_type == "CumProd",
                    exclusive: int_or("exclusive", 0)? != 0,
                    reverse: int_or("reverse", 0)? != 0,
                },
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
                "DepthToSpace" | "SpaceToDepth" => {
                    let b = a
                        .int("blocksize")
                        .map_err(|e| e.to_string())?
                        .ok_or("no blocksize")?;
                    if b < 1 {
                        return Err(format!("blocksize {b} must be >= 1"));
                    }
                    let mode = if node.op_type == "SpaceToDepth" {
                        2
                    } else {
                        match a
                            .string_or("mode", "DCR".into())
                            .map_err(|e| e.to_string())?
                            .as_str()
                        {
                            "DCR" => 0,
                            "CRD" => 1,
                            m => return Err(format!("unknown DepthToSpace mode '{m}'")),
                        }
                    };
                    IndexOp::SpaceDepth {
                        block: b as usize,
                        mode,
                    }
                }
                "Hardmax" => IndexOp::Hardmax {
                    axis: a.int("axis").map_err(|e| e.to_string())?,
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
            // softmax family's
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
            IndexOp::Range | IndexOp::ConstantOfShape { .. } | IndexOp::OneHot { .. } => true,
            IndexOp::Trilu { .. }
            | IndexOp::GatherElements { .. }
            | IndexOp::Tile
            | IndexOp::GatherND { .. }
            | IndexOp::Compress { .. }
            | IndexOp::CenterCropPad { .. }
            | IndexOp::Cum { .. }
            | IndexOp::TopK { .. }
            | IndexOp::Dropout => i >= 1,
            IndexOp::Scatter { .. } => i == 1,
            IndexOp::TensorScatter { .. } => i == 2,
            IndexOp::Nms { .. } => i >= 2,
            IndexOp::EyeLike { .. }
            | IndexOp::Hardmax { .. }
            | IndexOp::SpaceDepth { .. }
            | IndexOp::NonZero
            | IndexOp::Unique { .. } => false,
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
            IndexOp::Range => need(
                0,
                |d| numeric(d) || d == DType::BF16,
                "Range takes f32, f64, f16, bf16, i32, i64",
            ),
            IndexOp::Trilu { .. }
            | IndexOp::GatherElements { .. }
            | IndexOp::Tile
            | IndexOp::GatherND { .. }
            | IndexOp::Compress { .. }
            | IndexOp::CenterCropPad { .. }
            | IndexOp::SpaceDepth { .. }
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
            IndexOp::ConstantOfShape { value } => {
                if movable(value.dtype()) {
                    Ok(())
                } else {
                    Err(format!("ConstantOfShape of {}", value.dtype()))
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
            IndexOp::Cum { .. } => need(0, numeric, "scan takes f32, f64, f16, i32, i64"),
            IndexOp::Unique { .. } => need(
                0,
                |d| d == DType::Bool || topk_dtype(d),
                "Unique takes bool and numbers but bf16",
            ),
            IndexOp::TopK { .. } => need(0, topk_dtype, "TopK takes floats but bf16, integers"),
            IndexOp::Hardmax { axis } => {
                need(0, hardmax_dtype, "Hardmax takes f32, f64, f16")?;
                hardmax_placeable(node, graph, *axis)
            }
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

fn hardmax_dtype(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F64 | DType::F16)
}

/// Hardmax's axis semantics differ by opset (before 13 the dims from `axis` on are one
/// flattened row; from 13 only `axis`): placement takes the cases where both agree, on the
/// declared shape: the axis is given and every dim after it is 1, or the input is 2-D.
fn hardmax_placeable(
    node: &Node,
    graph: &Graph,
    axis: Option<i64>,
) -> std::result::Result<(), String> {
    let id = node.inputs[0].ok_or("Hardmax without input")?;
    let shape = graph.values[id]
        .info
        .shape
        .as_ref()
        .ok_or("Hardmax input rank unknown (the axis semantics differ by opset)")?;
    let dims: Vec<Option<usize>> = shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => Some(*n),
            _ => None,
        })
        .collect();
    hardmax_dims_agree(&dims, axis).map_err(|e| e.to_string())
}

/// Whether both opsets' Hardmax give the same rows for `dims` (None: unknown extent).
pub fn hardmax_dims_agree(dims: &[Option<usize>], axis: Option<i64>) -> Result<()> {
    let r = dims.len();
    let ax = match axis {
        Some(a) => super::axis(a, r, "Hardmax axis")?,
        None if r == 2 => 1,
        None => {
            return Err(Error::unsupported(
                "Hardmax",
                "no axis attribute on rank other than 2 (the default differs by opset)",
            ))
        }
    };
    if r == 0 || dims[ax + 1..].iter().all(|d| *d == Some(1)) {
        return Ok(());
    }
    Err(Error::unsupported(
        "Hardmax",
        format!("axis {ax} is not the last non-unit dim (the semantics differ by opset)"),
    ))
}

/// [outer, n, inner] around axis `a` of `shape`.
pub fn split3(shape: &[usize], a: usize) -> (usize, usize, usize) {
    (
        shape[..a].iter().product(),
        shape[a],
        shape[a + 1..].iter().product(),
    )
}

/// Hardmax rows at run time (the planned case: every dim after the axis is 1).
pub fn hardmax(shape: &[usize], axis: Option<i64>) -> Result<(usize, usize, usize)> {
    let dims: Vec<Option<usize>> = shape.iter().map(|&d| Some(d)).collect();
    hardmax_dims_agree(&dims, axis)?;
    if shape.is_empty() {
        return Ok((1, 1, 1));
    }
    let a = match axis {
        Some(a) => super::axis(a, shape.len(), "Hardmax axis")?,
        None => 1,
    };
    i32_of(shape.iter().product(), "Hardmax size")?;
    Ok(split3(shape, a))
}

/// Range's length and the overflow check of integer ranges (as the CPU op: every value fits
/// the dtype; checking the ends suffices, the sequence is monotone).
pub fn range_len_int(a: i64, b: i64, c: i64, dt: DType) -> Result<usize> {
    let (a, b, c) = (a as i128, b as i128, c as i128);
    if c == 0 {
        return Err(Error::invalid("Range delta must not be 0"));
    }
    let n = ((b - a + c - c.signum()) / c).max(0);
    if n > 0 {
        let last = a + (n - 1) * c;
        let (lo, hi) = match dt {
            DType::I32 => (i32::MIN as i128, i32::MAX as i128),
            _ => (i64::MIN as i128, i64::MAX as i128),
        };
        if a < lo || a > hi || last < lo || last > hi {
            return Err(Error::invalid(format!("Range value {last} overflows {dt}")));
        }
    }
    let n = usize::try_from(n).map_err(|_| Error::invalid("Range too long"))?;
    i32_of(n, "Range length")?;
    Ok(n)
}

/// Range's length for floats (as the CPU op).
pub fn range_len_float(a: f64, b: f64, c: f64) -> Result<usize> {
    if c == 0.0 {
        return Err(Error::invalid("Range delta must not be 0"));
    }
    let n = ((b - a) / c).ceil().max(0.0);
    if !(n.is_finite() && n < (1u64 << 40) as f64) {
        return Err(Error::invalid(format!(
            "Range length {n} is not a valid size"
        )));
    }
    i32_of(n as usize, "Range length")?;
    Ok(n as usize)
}
