//! Indexing, generation and selection ops ([`IndexOp`], one case of `GpuOp`): their
//! attributes, which inputs are read on the host (indices, shapes, scalars), the dtype
//! contract, and the host-side planning (checked indices, scatter destinations, strides).
//! The kernels are `cuda/kernels/index.cu`; the launches `cuda/ops/index.rs`.
//!
//! Dtypes: data-moving ops (Trilu, EyeLike, ConstantOfShape, GatherElements, Tile, OneHot,
//! Scatter without reduction, Dropout) take any dtype of 1, 2, 4 or 8 bytes; arithmetic
//! ones (Range, CumSum, CumProd, Scatter reductions) f32, f64, f16, i32, i64; Hardmax f32,
//! f64, f16. Every result equals the CPU op's (smelt-ops), exactly.

use super::{dense_strides, i32_of, Strides, MAX_RANK};
use crate::plan::op::Role;
use smelt_core::{DType, Dim, Error, Result, Tensor};
use smelt_ir::{Graph, Node};
use smelt_ops::array::common::{wrap_index, Reduction};

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
            "Range" | "Trilu" | "EyeLike" | "ConstantOfShape" | "GatherElements" | "Tile"
            | "GatherND" | "Compress" | "CenterCropPad" | "TopK" | "DepthToSpace"
            | "SpaceToDepth" | "TensorScatter" | "NonMaxSuppression" | "OneHot"
            | "ScatterElements" | "Scatter" | "ScatterND" | "CumSum" | "CumProd" | "Hardmax" => {
                Some(op())
            }
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
            IndexOp::EyeLike { .. } | IndexOp::Hardmax { .. } | IndexOp::SpaceDepth { .. } => false,
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
            IndexOp::Range => need(0, numeric, "Range takes f32, f64, f16, i32, i64"),
            IndexOp::Trilu { .. }
            | IndexOp::GatherElements { .. }
            | IndexOp::Tile
            | IndexOp::GatherND { .. }
            | IndexOp::Compress { .. }
            | IndexOp::CenterCropPad { .. }
            | IndexOp::SpaceDepth { .. }
            | IndexOp::TensorScatter { .. } => need(0, movable, "kernel moves 1-8 byte elements"),
            IndexOp::EyeLike { dtype, .. } => {
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
            IndexOp::TopK { .. } => need(0, topk_dtype, "TopK takes floats but bf16, integers"),
            IndexOp::Hardmax { axis } => {
                need(0, hardmax_dtype, "Hardmax takes f32, f64, f16")?;
                hardmax_placeable(node, graph, *axis)
            }
            IndexOp::Dropout => {
                need(0, movable, "kernel moves 1-8 byte elements")?;
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

/// GatherElements / ScatterElements: the strided walk over the indices' shape (data strides
/// with the axis' stride 0), the axis stride, and the checked, wrapped indices.
pub fn gather_elements(
    dshape: &[usize],
    ishape: &[usize],
    idx: &[i64],
    axis: i64,
) -> Result<(Strides, i32, Vec<i64>)> {
    if dshape.is_empty() {
        return Err(Error::invalid("GatherElements of a scalar"));
    }
    let a = super::axis(axis, dshape.len(), "GatherElements axis")?;
    // the CPU op's checks: same rank, non-axis dims within data's
    if dshape.len() != ishape.len() || (0..dshape.len()).any(|d| d != a && ishape[d] > dshape[d]) {
        return Err(Error::invalid(format!(
            "indices shape {ishape:?} does not fit data shape {dshape:?}"
        )));
    }
    let mut st = dense_strides(dshape);
    let sa = st[a];
    st[a] = 0;
    let p = super::pack_strides(ishape, &[&st])?;
    i32_of(dshape.iter().product(), "data size")?;
    let dim = dshape[a];
    let w = idx
        .iter()
        .map(|&i| wrap_index(i, dim, "GatherElements").map(|v| v as i64))
        .collect::<Result<Vec<_>>>()?;
    Ok((p, i32_of(sa as usize, "axis stride")?, w))
}

/// ScatterElements destinations: data offset per update, in the updates' order.
pub fn scatter_elements_dst(
    dshape: &[usize],
    ishape: &[usize],
    idx: &[i64],
    axis: i64,
) -> Result<Vec<i64>> {
    if dshape.is_empty() {
        return Err(Error::invalid("ScatterElements of a scalar"));
    }
    let a = super::axis(axis, dshape.len(), "ScatterElements axis")?;
    let base = smelt_ops::array::gather_elements::base_offsets(dshape, ishape, a)?;
    let sa = dense_strides(dshape)[a];
    let dim = dshape[a];
    base.iter()
        .zip(idx)
        .map(|(&b, &i)| Ok(b as i64 + wrap_index(i, dim, "scatter")? as i64 * sa))
        .collect()
}

/// ScatterND destinations: for each index tuple t and slice element j, offset + j, in the
/// updates' order; `ushape` must be indices[:-1] ++ data[k:].
pub fn scatter_nd_dst(
    dshape: &[usize],
    ishape: &[usize],
    ushape: &[usize],
    idx: &[i64],
) -> Result<Vec<i64>> {
    if ishape.is_empty() {
        return Err(Error::invalid("ScatterND indices must have rank >= 1"));
    }
    let k = ishape[ishape.len() - 1];
    if k > dshape.len() {
        return Err(Error::invalid(format!(
            "index tuples of length {k} too long for data {dshape:?}"
        )));
    }
    let want: Vec<usize> = ishape[..ishape.len() - 1]
        .iter()
        .chain(&dshape[k..])
        .copied()
        .collect();
    if ushape != want.as_slice() {
        return Err(Error::invalid(format!(
            "updates shape {ushape:?} should be {want:?}"
        )));
    }
    let st = dense_strides(dshape);
    let slice: usize = dshape[k..].iter().product();
    let n: usize = ishape[..ishape.len() - 1].iter().product();
    let mut dst = Vec::with_capacity(n * slice);
    for t in 0..n {
        let mut off = 0i64;
        for j in 0..k {
            off += wrap_index(idx[t * k + j], dshape[j], "ScatterND")? as i64 * st[j];
        }
        dst.extend((0..slice as i64).map(|j| off + j));
    }
    Ok(dst)
}

/// Whether any destination repeats (then the updates apply serially, in order).
pub fn has_duplicates(dst: &[i64]) -> bool {
    let mut v = dst.to_vec();
    v.sort_unstable();
    v.windows(2).any(|w| w[0] == w[1])
}

/// Tile: the output shape and the kernel's strides (dims = output dims, a = input strides,
/// b = input dims), unmerged.
pub fn tile(shape: &[usize], reps: &[i64]) -> Result<(Vec<usize>, Strides)> {
    if reps.len() != shape.len() {
        return Err(Error::invalid(format!(
            "Tile repeats {reps:?} must have one entry per input dim ({})",
            shape.len()
        )));
    }
    if reps.iter().any(|&r| r < 0) {
        return Err(Error::invalid(format!("Tile repeats {reps:?} negative")));
    }
    if shape.len() > MAX_RANK {
        return Err(Error::unsupported("Tile", format!("rank {}", shape.len())));
    }
    let out: Vec<usize> = shape
        .iter()
        .zip(reps)
        .map(|(&d, &r)| d * r as usize)
        .collect();
    i32_of(out.iter().product(), "Tile output size")?;
    let st = dense_strides(shape);
    let mut p = Strides {
        rank: shape.len() as i32,
        ..Default::default()
    };
    for i in 0..shape.len() {
        p.dims[i] = out[i] as i32;
        p.a[i] = st[i] as i32;
        p.b[i] = shape[i].max(1) as i32;
    }
    Ok((out, p))
}

/// OneHot: output shape, (outer, depth, inner), and per index position the hot position
/// (-1: none), as the CPU op (indices truncated, negatives wrapped once).
pub fn one_hot(
    ishape: &[usize],
    idx: &[f64],
    depth: f64,
    axis: i64,
) -> Result<(Vec<usize>, (usize, usize, usize), Vec<i32>)> {
    if !(depth >= 1.0 && depth < (1u64 << 40) as f64) {
        return Err(Error::invalid(format!("OneHot depth {depth} must be >= 1")));
    }
    let depth = depth as usize;
    let a = super::axis(axis, ishape.len() + 1, "OneHot axis")?;
    let outer: usize = ishape[..a].iter().product();
    let inner: usize = ishape[a..].iter().product();
    let mut shape = ishape.to_vec();
    shape.insert(a, depth);
    i32_of(shape.iter().product(), "OneHot output size")?;
    let tgt = idx
        .iter()
        .map(|&v| {
            let x = v.trunc() as i64;
            let x = if x < 0 { x + depth as i64 } else { x };
            if (0..depth as i64).contains(&x) {
                x as i32
            } else {
                -1
            }
        })
        .collect();
    Ok((shape, (outer, depth, inner), tgt))
}

/// GatherND: output shape, per index tuple the data offset of its slice, and the slice
/// length (as the CPU op: batch dims shared, negative indices wrapped).
pub fn gather_nd(
    ds: &[usize],
    is: &[usize],
    idx: &[i64],
    b: usize,
) -> Result<(Vec<usize>, Vec<i64>, usize)> {
    if !(!is.is_empty() && b < is.len() && b < ds.len()) || ds[..b] != is[..b] {
        return Err(Error::invalid(format!(
            "batch_dims {b} does not fit data {ds:?} and indices {is:?}"
        )));
    }
    let k = is[is.len() - 1];
    if b + k > ds.len() {
        return Err(Error::invalid(format!(
            "index tuples of length {k} too long for data {ds:?} with batch_dims {b}"
        )));
    }
    let batch: usize = ds[..b].iter().product();
    let per: usize = is[b..is.len() - 1].iter().product();
    let slice: usize = ds[b + k..].iter().product();
    let st = dense_strides(&ds[b..]);
    let bstride: usize = ds[b..].iter().product();
    let shape: Vec<usize> = is[..is.len() - 1]
        .iter()
        .chain(&ds[b + k..])
        .copied()
        .collect();
    let mut src = Vec::with_capacity(batch * per);
    for bi in 0..batch {
        for t in 0..per {
            let tup = &idx[(bi * per + t) * k..][..k];
            let mut off = (bi * bstride) as i64;
            for (j, &i) in tup.iter().enumerate() {
                off += wrap_index(i, ds[b + j], "GatherND")? as i64 * st[j];
            }
            src.push(off);
        }
    }
    i32_of(
        ds.iter().product::<usize>().max(shape.iter().product()),
        "GatherND size",
    )?;
    Ok((shape, src, slice))
}

/// Compress: output shape, per output row (outer x kept) its data offset, and the row
/// length (as the CPU op: no axis flattens; the condition may be shorter than the dim).
pub fn compress(
    shape: &[usize],
    cond: &[i64],
    axis: Option<i64>,
) -> Result<(Vec<usize>, Vec<i64>, usize)> {
    let n: usize = shape.iter().product();
    let (sh, a) = match axis {
        Some(ax) => {
            if shape.is_empty() {
                return Err(Error::invalid("Compress of a scalar with an axis"));
            }
            (
                shape.to_vec(),
                super::axis(ax, shape.len(), "Compress axis")?,
            )
        }
        None => (vec![n], 0),
    };
    let dim = sh[a];
    if cond.len() > dim {
        return Err(Error::invalid(format!(
            "Compress condition has {} entries for a dim of {dim}",
            cond.len()
        )));
    }
    let keep: Vec<usize> = (0..cond.len()).filter(|&i| cond[i] != 0).collect();
    let (outer, inner) = (
        sh[..a].iter().product::<usize>(),
        sh[a + 1..].iter().product::<usize>(),
    );
    let mut oshape = sh.clone();
    oshape[a] = keep.len();
    i32_of(n, "Compress size")?;
    let src = (0..outer)
        .flat_map(|o| keep.iter().map(move |&k| ((o * dim + k) * inner) as i64))
        .collect();
    Ok((oshape, src, inner))
}

/// CenterCropPad: output shape, the per-dim coordinate tables (concatenated; -1: zero
/// fill) and the kernel's strides (dims = output dims, a = input strides, b = table
/// offsets), from the CPU op's maps.
pub fn center_crop_pad(
    shape: &[usize],
    target: &[usize],
    axes: Option<&[i64]>,
) -> Result<(Vec<usize>, Vec<i32>, Strides)> {
    use smelt_ops::array::pad::{pad_map, Mode};
    let r = shape.len();
    let axes = match axes {
        Some(a) => smelt_ops::util::norm_axes(a, r)?,
        None => (0..r).collect(),
    };
    if target.len() != axes.len() {
        return Err(Error::invalid(format!(
            "shape {target:?} has {} entries for {} axes",
            target.len(),
            axes.len()
        )));
    }
    if r > MAX_RANK {
        return Err(Error::unsupported("CenterCropPad", format!("rank {r}")));
    }
    let st = dense_strides(shape);
    let mut oshape = shape.to_vec();
    let mut table = Vec::new();
    let mut p = Strides {
        rank: r as i32,
        ..Default::default()
    };
    for (d, &n) in shape.iter().enumerate() {
        let o = axes.iter().position(|&a| a == d).map_or(n, |j| target[j]);
        let begin = if o >= n {
            ((o - n) / 2) as i64
        } else {
            -(((n - o) / 2) as i64)
        };
        let m = pad_map(o, n, begin, Mode::Constant)?;
        p.dims[d] = i32_of(o, "a dimension")?;
        p.a[d] = st[d] as i32;
        p.b[d] = i32_of(table.len(), "table size")?;
        table.extend(m.iter().map(|c| c.map_or(-1, |c| c as i32)));
        oshape[d] = o;
    }
    i32_of(
        shape.iter().product::<usize>().max(oshape.iter().product()),
        "size",
    )?;
    Ok((oshape, table, p))
}

/// DepthToSpace (mode 0 DCR, 1 CRD) / SpaceToDepth (mode 2) as the CPU op: a 6-D reshape,
/// a transpose and a 4-D reshape; the output shape and the strided gather's plan.
pub fn space_depth(shape: &[usize], b: usize, mode: u8) -> Result<(Vec<usize>, Strides)> {
    if shape.len() != 4 {
        return Err(Error::invalid(format!(
            "input must be 4-D, has shape {shape:?}"
        )));
    }
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    let (v, perm, out): (Vec<usize>, [usize; 6], Vec<usize>) = match mode {
        2 => {
            if h % b != 0 || w % b != 0 {
                return Err(Error::invalid(format!(
                    "spatial dims {h}x{w} not divisible by blocksize {b}"
                )));
            }
            (
                vec![n, c, h / b, b, w / b, b],
                [0, 3, 5, 1, 2, 4],
                vec![n, c * b * b, h / b, w / b],
            )
        }
        _ => {
            if c % (b * b) != 0 {
                return Err(Error::invalid(format!(
                    "channels {c} not divisible by blocksize² {}",
                    b * b
                )));
            }
            let c2 = c / (b * b);
            let out = vec![n, c2, h * b, w * b];
            if mode == 1 {
                (vec![n, c2, b, b, h, w], [0, 1, 4, 2, 5, 3], out)
            } else {
                (vec![n, b, b, c2, h, w], [0, 3, 4, 1, 5, 2], out)
            }
        }
    };
    let st = dense_strides(&v);
    let dims: Vec<usize> = perm.iter().map(|&p| v[p]).collect();
    let ps: Vec<i64> = perm.iter().map(|&p| st[p]).collect();
    i32_of(shape.iter().product(), "size")?;
    Ok((out, super::pack_strides(&dims, &[&ps])?))
}

/// TensorScatter destinations: the cache offset of every update element, in order (as the
/// CPU op; positions must fall inside the cache unless `circular` wraps them).
pub fn tensor_scatter_dst(
    past: &[usize],
    upd: &[usize],
    idx: Option<Vec<i64>>,
    axis: i64,
    circular: bool,
) -> Result<Vec<i64>> {
    let r = past.len();
    if r != upd.len() || r < 2 {
        return Err(Error::invalid(format!(
            "cache {past:?} and update {upd:?} must have the same rank >= 2"
        )));
    }
    let axis = super::axis(axis, r, "TensorScatter axis")?;
    if axis == 0 {
        return Err(Error::invalid("axis must not be the batch axis"));
    }
    for d in 0..r {
        let ok = if d == axis {
            upd[d] <= past[d]
        } else {
            upd[d] == past[d]
        };
        if !ok {
            return Err(Error::invalid(format!(
                "update {upd:?} does not fit cache {past:?} on axis {d}"
            )));
        }
    }
    let b = past[0];
    let idx = idx.unwrap_or_else(|| vec![0; b]);
    if idx.len() != b {
        return Err(Error::invalid(format!(
            "write_indices has {} entries, batch is {b}",
            idx.len()
        )));
    }
    let (smax, supd) = (past[axis], upd[axis]);
    let inner: usize = past[axis + 1..].iter().product();
    let per: usize = past[1..axis].iter().product();
    i32_of(past.iter().product(), "cache size")?;
    let mut dst = Vec::with_capacity(upd.iter().product());
    for (bi, &start) in idx.iter().enumerate() {
        for p in 0..per {
            let outer = bi * per + p;
            for s in 0..supd {
                let mut pos = start + s as i64;
                if circular {
                    pos = pos.rem_euclid(smax as i64);
                }
                if pos < 0 || pos as usize >= smax {
                    return Err(Error::invalid(format!(
                        "write position {pos} outside cache length {smax} (batch {bi})"
                    )));
                }
                let d0 = ((outer * smax + pos as usize) * inner) as i64;
                dst.extend((0..inner as i64).map(|j| d0 + j));
            }
        }
    }
    Ok(dst)
}
