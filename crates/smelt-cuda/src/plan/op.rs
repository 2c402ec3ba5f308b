//! [`GpuOp`]: the ops a GPU backend runs, parsed once per node from its op type and
//! attributes. `from_node` failing is the reason placement gives for keeping a node on the
//! CPU; [`GpuOp::check_types`] (op_types.rs) adds the dtype contract.

use super::attention::AttentionAttrs;
use super::col2im::Col2ImAttrs;
use super::conv::{ConvAttrs, ConvTransposeAttrs};
use super::elementwise::{self, BinaryOp, CompareOp, UnaryOp};
use super::grid_sample::GridSampleAttrs;
use super::index::IndexOp;
use super::loss::LossAttrs;
use super::matmul::GemmAttrs;
use super::pool::PoolAttrs;
use super::quant::QuantAttrs;
use super::reduce::{self, ReduceAttrs, ScanAttrs};
use super::resize::ResizeAttrs;
use super::roi_align::RoiAlignAttrs;
use super::rotary::RotaryAttrs;
use super::sequence::LinearAttentionAttrs;
use super::signal::{DftAttrs, WindowAttrs};
use smelt_core::DType;
use smelt_ir::Node;

/// A no-copy view op.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewKind {
    /// Reshape (target from input 1).
    Reshape {
        allowzero: bool,
    },
    Flatten {
        axis: i64,
    },
    /// Squeeze / Unsqueeze: axes from the attribute (older opsets) or input 1.
    Squeeze {
        axes: Option<Vec<i64>>,
    },
    Unsqueeze {
        axes: Option<Vec<i64>>,
    },
    /// Identity, and Dropout in inference.
    Identity,
}

/// Slice's attributes (opsets before 10).
#[derive(Clone, Debug, PartialEq)]
pub struct SliceAttrs {
    pub starts: Vec<i64>,
    pub ends: Vec<i64>,
    pub axes: Option<Vec<i64>>,
}

#[derive(Clone, Debug)]
pub enum GpuOp {
    Unary {
        op: UnaryOp,
        p: f32,
        q: f32,
    },
    /// Clip: bounds from the attributes (opset < 11) or inputs 1 and 2 (read on the host).
    Clip {
        min: Option<f32>,
        max: Option<f32>,
        from_inputs: bool,
    },
    Binary(BinaryOp),
    /// f32 comparisons giving bool.
    Compare(CompareOp),
    Where,
    /// Cast; `saturate` only concerns float8 targets.
    Cast {
        to: DType,
        saturate: bool,
    },
    /// CastLike: Cast to input 1's dtype (input 1 is read on the host for its dtype only).
    CastLike {
        saturate: bool,
    },
    /// Sum / Mean / Max / Min of one or more inputs: `op` folded left to right, Mean then
    /// divides by the count.
    Variadic {
        op: BinaryOp,
        mean: bool,
    },
    /// IsNaN (mode 1) / IsInf (2: +inf, 4: -inf, or both): float to bool.
    IsClass {
        mode: i32,
    },
    MatMul,
    Gemm(GemmAttrs),
    Conv(ConvAttrs),
    ConvTranspose(ConvTransposeAttrs),
    Pool(PoolAttrs),
    GlobalPool {
        max: bool,
    },
    BatchNorm {
        eps: f32,
    },
    LayerNorm {
        axis: i64,
        eps: f32,
    },
    Reduce(ReduceAttrs),
    /// CumSum / CumProd along the axis of input 1 (read on the host).
    Scan(ScanAttrs),
    /// ArgMax / ArgMin along `axis`, into i64.
    ArgExt {
        max: bool,
        axis: i64,
        keepdims: bool,
        last: bool,
    },
    Transpose {
        perm: Option<Vec<i64>>,
    },
    View(ViewKind),
    Concat {
        axis: i64,
    },
    /// Slice: (starts, ends, axes) from attributes before opset 10, else inputs 1..=4.
    Slice {
        attrs: Option<SliceAttrs>,
    },
    /// Gather along `axis`; indices (input 1, i64 or i32) checked on the device.
    Gather {
        axis: i64,
    },
    /// Split along `axis`: sizes from the attribute (opsets < 13) or input 1 (host), or
    /// `num_outputs`, or equal parts.
    Split {
        axis: i64,
        split: Option<Vec<i64>>,
        num_outputs: Option<i64>,
    },
    Expand,
    /// Tile by the repeats of input 1 (read on the host).
    Tile,
    /// BitCast: the same bytes as dtype `to` of equal width (bool: any nonzero byte true).
    BitCast {
        to: DType,
    },
    /// GatherElements along `axis`; indices (input 1, i64 or i32) checked on the device.
    GatherElements {
        axis: i64,
    },
    /// Trilu: the upper or lower triangle of the last two dims, k from input 1 (host).
    Trilu {
        upper: bool,
    },
    /// Range(start, limit, delta): three host scalars of one numeric dtype.
    Range,
    /// ConstantOfShape: the one-element `value` (default f32 0) over the shape of input 0,
    /// read on the host; filled on the device.
    ConstantOfShape {
        value: smelt_core::Tensor,
    },
    /// DepthToSpace (`to_space`, DCR or CRD) / SpaceToDepth: a transpose of a 6-d view.
    DepthSpace {
        block: i64,
        to_space: bool,
        crd: bool,
    },
    /// Pad: pads and value from attributes (opsets < 11) or inputs 1..=3 (host).
    Pad {
        mode: smelt_ops::array::pad::Mode,
        attrs: Option<(Vec<i64>, f32)>,
    },
    Resize(ResizeAttrs),
    /// A constant: its value is made on the host once per run and kept on the device across
    /// runs (the executor's constant cache), so readers on either side take it without a
    /// per-run copy.
    Constant,
    /// Shape (dims `start..end`): read from the input's metadata wherever it lives, no copy.
    Shape {
        start: i64,
        end: Option<i64>,
    },
    /// Size: the input's element count, from its metadata.
    Size,
    /// An optimizer step of `ai.onnx.preview.training` (R and T read on the host).
    Optimizer(smelt_ops::misc::optimizers::Rule),
    /// MaxUnpool: X f32 and Indices i64 on the device, output_shape on the host.
    MaxUnpool(smelt_ops::nn::spatial::WindowAttrs),
    /// LRN across channels of x [N, C, ...].
    Lrn {
        alpha: f32,
        beta: f32,
        bias: f32,
        size: usize,
    },
    /// ReverseSequence (any dtype; sequence_lens read on the host).
    ReverseSequence {
        batch_axis: i64,
        time_axis: i64,
    },
    /// Det of [*, M, M].
    Det,
    /// Attention (opset 23/24), f32 (see `plan::attention`).
    Attention(AttentionAttrs),
    /// NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss; the target is read on the host.
    Loss(LossAttrs),
    /// RMSNormalization over dims `axis..`.
    RmsNorm {
        axis: i64,
        eps: f32,
    },
    /// GridSample, up to 3 spatial dims (see `plan::grid_sample`).
    GridSample(GridSampleAttrs),
    /// LinearAttention (opset 27), f32.
    LinearAttention(LinearAttentionAttrs),
    /// CausalConvWithState (opset 27), f32; `silu`: the SiLU activation.
    CausalConv {
        silu: bool,
    },
    /// GroupNormalization (`groups` Some) / InstanceNormalization (None).
    GroupNorm {
        groups: Option<usize>,
        eps: f32,
    },
    /// LpNormalization, p 1 or 2.
    LpNorm {
        axis: i64,
        p: i64,
    },
    /// MeanVarianceNormalization over `axes`.
    Mvn {
        axes: Vec<i64>,
    },
    /// RotaryEmbedding (opset 23); position_ids read on the host.
    Rotary(RotaryAttrs),
    /// LpPool (1 to 3 spatial dims): the window as AveragePool's, `p` the norm order.
    LpPool {
        attrs: PoolAttrs,
        p: f64,
    },
    /// DFT: dft_length and axis (inputs 1, 2) read on the host.
    Dft(DftAttrs),
    /// HannWindow / HammingWindow / BlackmanWindow: the size read on the host.
    Window(WindowAttrs),
    /// AffineGrid: the size (input 1) read on the host.
    AffineGrid {
        align: bool,
    },
    /// Softmax (kind 0) / LogSoftmax (1) / Hardmax (2) over any axis, with the CPU op's
    /// opset rule (`coerce`: opset < 13 flattens dims `axis..`).
    SoftmaxNd {
        axis: i64,
        coerce: bool,
        kind: i32,
    },
    /// Col2Im: image_shape and block_shape (inputs 1, 2) read on the host.
    Col2Im(Col2ImAttrs),
    /// Einsum over up to 4 inputs (see `plan::einsum`).
    Einsum {
        equation: String,
    },
    /// QuantizeLinear (f32 -> u8) / DequantizeLinear (u8 -> f32).
    Quant(QuantAttrs),
    /// DynamicQuantizeLinear (f32 -> u8, scale, zero point).
    DynQuant,
    /// RoiAlign: batch_indices (input 2) read on the host.
    RoiAlign(RoiAlignAttrs),
    /// BatchNormalization in training mode (as the CPU op resolved it from the opset).
    BatchNormTrain {
        eps: f32,
        momentum: f32,
    },
    /// Indexing, generation and selection ops (plan/index.rs).
    Index(IndexOp),
}

/// Whether input `i` of a node is a device tensor (`Data`) or read on the host (`Host`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Data,
    Host,
}

impl GpuOp {
    /// The GPU op of `node`, or why there is none.
    pub fn from_node(node: &Node) -> Result<GpuOp, String> {
        if node.domain == smelt_ops::misc::optimizers::DOMAIN {
            return smelt_ops::misc::optimizers::Rule::parse(&node.op_type, &node.attrs)
                .map(GpuOp::Optimizer)
                .map_err(|e| e.to_string());
        }
        if !node.domain.is_empty() {
            return Err(format!("no GPU kernel for domain '{}'", node.domain));
        }
        let a = &node.attrs;
        let e = |r: smelt_core::Result<GpuOp>| r.map_err(|e| e.to_string());
        let n_out = node.outputs.iter().filter(|o| o.is_some()).count();
        let t = node.op_type.as_str();
        if let Some((op, p, q)) = elementwise::unary(t, a)? {
            return Ok(GpuOp::Unary { op, p, q });
        }
        if let Some((op, mean)) = elementwise::variadic(t) {
            if mean || t == "Sum" || node.inputs.len() != 2 {
                if node.inputs.is_empty() || node.inputs.iter().any(|i| i.is_none()) {
                    return Err(format!("{t} with no or missing inputs"));
                }
                return Ok(GpuOp::Variadic { op, mean });
            }
        }
        if let Some(op) = elementwise::binary_attrs(t, a)? {
            if node.inputs.len() != 2 {
                return Err(format!("{t} of {} inputs (GPU: 2)", node.inputs.len()));
            }
            return Ok(GpuOp::Binary(op));
        }
        if let Some(op) = elementwise::compare(t) {
            return Ok(GpuOp::Compare(op));
        }
        if let Some(op) = reduce::reduce_op(t) {
            return e(ReduceAttrs::parse(op, a).map(GpuOp::Reduce));
        }
        if let Some(r) = IndexOp::parse(node) {
            return r.map(GpuOp::Index);
        }
        let op = match t {
            "Clip" => {
                let (min, max) = (
                    a.float("min").map_err(|e| e.to_string())?,
                    a.float("max").map_err(|e| e.to_string())?,
                );
                GpuOp::Clip {
                    min,
                    max,
                    from_inputs: node.inputs.len() > 1,
                }
            }
            "Where" => GpuOp::Where,
            "CastLike" => GpuOp::CastLike {
                saturate: a.int_or("saturate", 1).map_err(|e| e.to_string())? != 0,
            },
            "IsNaN" => GpuOp::IsClass { mode: 1 },
            "IsInf" => {
                let f = |n: &str| a.int_or(n, 1).map_err(|e| e.to_string());
                GpuOp::IsClass {
                    mode: if f("detect_positive")? != 0 { 2 } else { 0 }
                        | if f("detect_negative")? != 0 { 4 } else { 0 },
                }
            }
            "Cast" => {
                let code = a
                    .int("to")
                    .map_err(|e| e.to_string())?
                    .ok_or("Cast without 'to'")?;
                let to = DType::from_onnx(code).ok_or(format!("Cast to unknown type {code}"))?;
                GpuOp::Cast {
                    to,
                    saturate: a.int_or("saturate", 1).map_err(|e| e.to_string())? != 0,
                }
            }
            "MatMul" => GpuOp::MatMul,
            "Gemm" => e(GemmAttrs::parse(a).map(GpuOp::Gemm))?,
            "Conv" => e(ConvAttrs::parse(a).map(GpuOp::Conv))?,
            "ConvTranspose" => e(ConvTransposeAttrs::parse(a).map(GpuOp::ConvTranspose))?,
            "MaxPool" | "AveragePool" => {
                if n_out > 1 && t == "AveragePool" {
                    return Err("AveragePool has one output".into());
                }
                e(PoolAttrs::parse(a, t == "MaxPool").map(GpuOp::Pool))?
            }
            "LRN" => {
                let size = a
                    .int("size")
                    .map_err(|e| e.to_string())?
                    .ok_or("LRN without size")?;
                if size <= 0 {
                    return Err(format!("LRN: size must be positive, got {size}"));
                }
                GpuOp::Lrn {
                    alpha: a.float_or("alpha", 1e-4).map_err(|e| e.to_string())?,
                    beta: a.float_or("beta", 0.75).map_err(|e| e.to_string())?,
                    bias: a.float_or("bias", 1.0).map_err(|e| e.to_string())?,
                    size: size as usize,
                }
            }
            "ReverseSequence" => GpuOp::ReverseSequence {
                batch_axis: a.int_or("batch_axis", 1).map_err(|e| e.to_string())?,
                time_axis: a.int_or("time_axis", 0).map_err(|e| e.to_string())?,
            },
            "Det" => GpuOp::Det,
            "MaxUnpool" => {
                let w = smelt_ops::nn::spatial::WindowAttrs::parse(a).map_err(|e| e.to_string())?;
                if w.kernel.is_none() {
                    return Err("MaxUnpool: missing attribute 'kernel_shape'".into());
                }
                GpuOp::MaxUnpool(w)
            }
            "GlobalAveragePool" => GpuOp::GlobalPool { max: false },
            "GlobalMaxPool" => GpuOp::GlobalPool { max: true },
            "BatchNormalization" => {
                let eps = a.float_or("epsilon", 1e-5).map_err(|e| e.to_string())?;
                let training = smelt_ops::norm::batchnorm::training(node.opset, a, n_out)
                    .map_err(|e| e.to_string())?;
                if training {
                    GpuOp::BatchNormTrain {
                        eps,
                        momentum: a.float_or("momentum", 0.9).map_err(|e| e.to_string())?,
                    }
                } else if n_out > 1 {
                    return Err("BatchNormalization: inference with more than one output".into());
                } else {
                    GpuOp::BatchNorm { eps }
                }
            }
            "Softmax" | "LogSoftmax" | "Hardmax" => {
                let kind = match t {
                    "Softmax" => 0,
                    "LogSoftmax" => 1,
                    _ => 2,
                };
                let (axis, coerce) =
                    smelt_ops::norm::softmax::rule(node.opset, a).map_err(|e| e.to_string())?;
                GpuOp::SoftmaxNd { axis, coerce, kind }
            }
            "LayerNormalization" => {
                if a.int_or("stash_type", 1).map_err(|e| e.to_string())? != 1 {
                    return Err("LayerNormalization stash_type other than float".into());
                }
                GpuOp::LayerNorm {
                    axis: a.int_or("axis", -1).map_err(|e| e.to_string())?,
                    eps: a.float_or("epsilon", 1e-5).map_err(|e| e.to_string())?,
                }
            }
            "Transpose" => GpuOp::Transpose {
                perm: a.ints("perm").map_err(|e| e.to_string())?,
            },
            "Reshape" => GpuOp::View(ViewKind::Reshape {
                allowzero: a.int_or("allowzero", 0).map_err(|e| e.to_string())? != 0,
            }),
            "Flatten" => GpuOp::View(ViewKind::Flatten {
                axis: a.int_or("axis", 1).map_err(|e| e.to_string())?,
            }),
            "Squeeze" => GpuOp::View(ViewKind::Squeeze {
                axes: a.ints("axes").map_err(|e| e.to_string())?,
            }),
            "Unsqueeze" => GpuOp::View(ViewKind::Unsqueeze {
                axes: a.ints("axes").map_err(|e| e.to_string())?,
            }),
            "Identity" => GpuOp::View(ViewKind::Identity),
            "Dropout" => {
                if n_out > 1 || node.inputs.len() > 1 {
                    return Err("Dropout with a mask output or ratio/training inputs".into());
                }
                GpuOp::View(ViewKind::Identity)
            }
            "Concat" => GpuOp::Concat {
                axis: a
                    .int("axis")
                    .map_err(|e| e.to_string())?
                    .ok_or("Concat without axis")?,
            },
            "Slice" => GpuOp::Slice {
                attrs: match a.ints("starts").map_err(|e| e.to_string())? {
                    Some(starts) => Some(SliceAttrs {
                        starts,
                        ends: a
                            .ints("ends")
                            .map_err(|e| e.to_string())?
                            .ok_or("Slice without ends")?,
                        axes: a.ints("axes").map_err(|e| e.to_string())?,
                    }),
                    None => None,
                },
            },
            "Gather" => GpuOp::Gather {
                axis: a.int_or("axis", 0).map_err(|e| e.to_string())?,
            },
            "Expand" => GpuOp::Expand,
            "CumSum" | "CumProd" => e(ScanAttrs::parse(t, a).map(GpuOp::Scan))?,
            "Tile" => GpuOp::Tile,
            "Range" => GpuOp::Range,
            "BitCast" => {
                let code = a
                    .int("to")
                    .map_err(|e| e.to_string())?
                    .ok_or("BitCast without 'to'")?;
                GpuOp::BitCast {
                    to: DType::from_onnx(code).ok_or(format!("BitCast to unknown type {code}"))?,
                }
            }
            "GatherElements" => GpuOp::GatherElements {
                axis: a.int_or("axis", 0).map_err(|e| e.to_string())?,
            },
            "Trilu" => GpuOp::Trilu {
                upper: a.int_or("upper", 1).map_err(|e| e.to_string())? != 0,
            },
            "ConstantOfShape" => {
                let value = a
                    .tensor("value")
                    .map_err(|e| e.to_string())?
                    .unwrap_or_else(|| smelt_core::Tensor::scalar(0f32));
                if value.len() != 1 || elementwise::cast_code(value.dtype()).is_none() {
                    return Err(format!(
                        "ConstantOfShape of a {} value {:?} has no GPU kernel",
                        value.dtype(),
                        value.shape()
                    ));
                }
                GpuOp::ConstantOfShape { value }
            }
            "DepthToSpace" | "SpaceToDepth" => GpuOp::DepthSpace {
                block: a
                    .int("blocksize")
                    .map_err(|e| e.to_string())?
                    .ok_or("no blocksize")?,
                to_space: t == "DepthToSpace",
                crd: match a
                    .string_or("mode", "DCR".into())
                    .map_err(|e| e.to_string())?
                    .as_str()
                {
                    "DCR" => false,
                    "CRD" => true,
                    m => return Err(format!("unknown DepthToSpace mode '{m}'")),
                },
            },
            "ArgMax" | "ArgMin" => GpuOp::ArgExt {
                max: t == "ArgMax",
                axis: a.int_or("axis", 0).map_err(|e| e.to_string())?,
                keepdims: a.int_or("keepdims", 1).map_err(|e| e.to_string())? != 0,
                last: a
                    .int_or("select_last_index", 0)
                    .map_err(|e| e.to_string())?
                    != 0,
            },
            "Pad" => {
                use smelt_ops::array::pad::Mode;
                let mode = match a
                    .string_or("mode", "constant".into())
                    .map_err(|e| e.to_string())?
                    .as_str()
                {
                    "constant" => Mode::Constant,
                    "reflect" => Mode::Reflect,
                    "edge" => Mode::Edge,
                    "wrap" => Mode::Wrap,
                    m => return Err(format!("unknown Pad mode '{m}'")),
                };
                let pads = match a.ints("pads").map_err(|e| e.to_string())? {
                    Some(p) => Some(p),
                    None => a.ints("paddings").map_err(|e| e.to_string())?,
                };
                let attrs = match pads {
                    Some(p) => Some((p, a.float_or("value", 0.0).map_err(|e| e.to_string())?)),
                    None => None,
                };
                GpuOp::Pad { mode, attrs }
            }
            "Split" => GpuOp::Split {
                axis: a.int_or("axis", 0).map_err(|e| e.to_string())?,
                split: a.ints("split").map_err(|e| e.to_string())?,
                num_outputs: a.int("num_outputs").map_err(|e| e.to_string())?,
            },
            "Resize" => GpuOp::Resize(ResizeAttrs::parse(node)?),
            "Constant" if node.inputs.is_empty() => GpuOp::Constant,
            "Size" => GpuOp::Size,
            "Shape" => GpuOp::Shape {
                start: a.int_or("start", 0).map_err(|e| e.to_string())?,
                end: a.int("end").map_err(|e| e.to_string())?,
            },
            "Attention" => e(AttentionAttrs::parse(a).map(GpuOp::Attention))?,
            "NegativeLogLikelihoodLoss" | "SoftmaxCrossEntropyLoss" => {
                e(LossAttrs::parse(a, t == "SoftmaxCrossEntropyLoss").map(GpuOp::Loss))?
            }
            "LinearAttention" => e(LinearAttentionAttrs::parse(a).map(GpuOp::LinearAttention))?,
            "CausalConvWithState" => {
                let act = a
                    .string_or("activation", "none".into())
                    .map_err(|e| e.to_string())?;
                if !matches!(act.as_str(), "none" | "silu" | "swish") {
                    return Err(format!("unknown activation '{act}'"));
                }
                GpuOp::CausalConv {
                    silu: act != "none",
                }
            }
            "InstanceNormalization" | "GroupNormalization" => {
                let groups = if t == "GroupNormalization" {
                    let g = a.req_int("num_groups").map_err(|e| e.to_string())?;
                    if g <= 0 {
                        return Err(format!("num_groups {g}"));
                    }
                    Some(g as usize)
                } else {
                    None
                };
                GpuOp::GroupNorm {
                    groups,
                    eps: a.float_or("epsilon", 1e-5).map_err(|e| e.to_string())?,
                }
            }
            "LpNormalization" => {
                let p = a.int_or("p", 2).map_err(|e| e.to_string())?;
                if p != 1 && p != 2 {
                    return Err(format!("LpNormalization p {p}"));
                }
                GpuOp::LpNorm {
                    axis: a.int_or("axis", -1).map_err(|e| e.to_string())?,
                    p,
                }
            }
            "MeanVarianceNormalization" => GpuOp::Mvn {
                axes: a
                    .ints_or("axes", vec![0, 2, 3])
                    .map_err(|e| e.to_string())?,
            },
            "RotaryEmbedding" => e(RotaryAttrs::parse(a).map(GpuOp::Rotary))?,
            "LpPool" => {
                let p = match a.get("p") {
                    Some(smelt_ir::Attr::Float(f)) => *f as f64,
                    _ => a.int_or("p", 2).map_err(|e| e.to_string())? as f64,
                };
                if p <= 0.0 {
                    return Err(format!("LpPool p {p}"));
                }
                let mut attrs = PoolAttrs::parse(a, false).map_err(|e| e.to_string())?;
                if attrs.window.kernel.is_none() {
                    return Err("LpPool without kernel_shape".into());
                }
                attrs.count_include_pad = false;
                GpuOp::LpPool { attrs, p }
            }
            "DFT" => e(DftAttrs::parse(a, node.opset).map(GpuOp::Dft))?,
            "HannWindow" | "HammingWindow" | "BlackmanWindow" => {
                e(WindowAttrs::parse(t, a).map(GpuOp::Window))?
            }
            "AffineGrid" => GpuOp::AffineGrid {
                align: a.int_or("align_corners", 0).map_err(|e| e.to_string())? != 0,
            },
            "Col2Im" => e(Col2ImAttrs::parse(a).map(GpuOp::Col2Im))?,
            "Einsum" if node.inputs.len() > super::einsum::MAX_IN => {
                return Err(format!("Einsum of {} inputs", node.inputs.len()))
            }
            "Einsum" => GpuOp::Einsum {
                equation: a
                    .req_string("equation")
                    .map_err(|e| e.to_string())?
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect(),
            },
            "QuantizeLinear" | "DequantizeLinear" => {
                e(QuantAttrs::parse(a, t == "DequantizeLinear").map(GpuOp::Quant))?
            }
            "DynamicQuantizeLinear" => GpuOp::DynQuant,
            "RoiAlign" => GpuOp::RoiAlign(RoiAlignAttrs::parse(node)?),
            "GridSample" => e(GridSampleAttrs::parse(a).map(GpuOp::GridSample))?,
            "RMSNormalization" => {
                let stash = a.int_or("stash_type", 1).map_err(|e| e.to_string())?;
                if ![1, 10, 11, 16].contains(&stash) {
                    return Err(format!("RMSNormalization stash_type {stash}"));
                }
                GpuOp::RmsNorm {
                    axis: a.int_or("axis", -1).map_err(|e| e.to_string())?,
                    eps: a.float_or("epsilon", 1e-5).map_err(|e| e.to_string())?,
                }
            }
            _ => return Err(format!("no GPU kernel for {t}")),
        };
        Ok(op)
    }

    /// Whether the op runs without a kernel wherever its input lives: Constant, Shape and
    /// Size make host values from metadata; views (Reshape, Flatten, Squeeze, Unsqueeze,
    /// Identity) relabel the input's host and/or device copy. No copy is made, and any dtype
    /// is accepted.
    pub fn location_free(&self) -> bool {
        matches!(
            self,
            GpuOp::Constant | GpuOp::Shape { .. } | GpuOp::Size | GpuOp::View(_)
        )
    }

    /// Where input `i` is read.
    pub fn role(&self, i: usize) -> Role {
        let host = match self {
            GpuOp::Index(x) => x.role(i) == Role::Host,
            GpuOp::Clip { .. } | GpuOp::CastLike { .. } => i >= 1,
            GpuOp::ConstantOfShape { .. } | GpuOp::Range => true,
            GpuOp::View(ViewKind::Reshape { .. })
            | GpuOp::View(ViewKind::Squeeze { .. })
            | GpuOp::View(ViewKind::Unsqueeze { .. })
            | GpuOp::Reduce(_)
            | GpuOp::Expand
            | GpuOp::Tile
            | GpuOp::Trilu { .. }
            | GpuOp::Scan(_) => i >= 1,
            GpuOp::Optimizer(_) => i < 2,
            GpuOp::MaxUnpool(_) => i >= 2,
            GpuOp::ReverseSequence { .. } => i >= 1,
            GpuOp::Loss(_) => i == 1,
            GpuOp::Rotary(_) => i == 3,
            GpuOp::Dft(_) => i >= 1,
            GpuOp::Window(_) => true,
            GpuOp::AffineGrid { .. } => i == 1,
            GpuOp::Col2Im(_) => i >= 1,
            GpuOp::RoiAlign(_) => i == 2,
            GpuOp::Slice { .. } | GpuOp::Resize(_) | GpuOp::Split { .. } | GpuOp::Pad { .. } => {
                i >= 1
            }
            _ => false,
        };
        if host {
            Role::Host
        } else {
            Role::Data
        }
    }
}
