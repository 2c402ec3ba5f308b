//! [`GpuOp`]: the ops a GPU backend runs, parsed once per node from its op type and
//! attributes. `from_node` failing is the reason placement gives for keeping a node on the
//! CPU; [`GpuOp::check_types`] adds the dtype contract.

use super::conv::{ConvAttrs, ConvTransposeAttrs};
use super::elementwise::{self, BinaryOp, CompareOp, UnaryOp};
use super::index::IndexOp;
use super::matmul::GemmAttrs;
use super::pool::PoolAttrs;
use super::reduce::{self, ReduceAttrs};
use super::resize::ResizeAttrs;
use smelt_core::DType;
use smelt_ir::{Graph, Node};

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
    Cast {
        to: DType,
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
    Softmax {
        axis: Option<i64>,
        log: bool,
    },
    LayerNorm {
        axis: i64,
        eps: f32,
    },
    Reduce(ReduceAttrs),
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
        if let Some(op) = elementwise::binary(t) {
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
            "Cast" => {
                let code = a
                    .int("to")
                    .map_err(|e| e.to_string())?
                    .ok_or("Cast without 'to'")?;
                let to = DType::from_onnx(code).ok_or(format!("Cast to unknown type {code}"))?;
                GpuOp::Cast { to }
            }
            "MatMul" => GpuOp::MatMul,
            "Gemm" => e(GemmAttrs::parse(a).map(GpuOp::Gemm))?,
            "Conv" => e(ConvAttrs::parse(a).map(GpuOp::Conv))?,
            "ConvTranspose" => e(ConvTransposeAttrs::parse(a).map(GpuOp::ConvTranspose))?,
            "MaxPool" | "AveragePool" => {
                if n_out > 1 {
                    return Err("MaxPool with the Indices output has no GPU kernel".into());
                }
                e(PoolAttrs::parse(a, t == "MaxPool").map(GpuOp::Pool))?
            }
            "GlobalAveragePool" => GpuOp::GlobalPool { max: false },
            "GlobalMaxPool" => GpuOp::GlobalPool { max: true },
            "BatchNormalization" => {
                if n_out > 1 || a.int_or("training_mode", 0).unwrap_or(0) != 0 {
                    return Err("BatchNormalization in training mode has no GPU kernel".into());
                }
                GpuOp::BatchNorm {
                    eps: a.float_or("epsilon", 1e-5).map_err(|e| e.to_string())?,
                }
            }
            "Softmax" | "LogSoftmax" => GpuOp::Softmax {
                axis: a.int("axis").map_err(|e| e.to_string())?,
                log: t == "LogSoftmax",
            },
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
            GpuOp::Clip { .. } => i >= 1,
            GpuOp::View(ViewKind::Reshape { .. })
            | GpuOp::View(ViewKind::Squeeze { .. })
            | GpuOp::View(ViewKind::Unsqueeze { .. })
            | GpuOp::Reduce(_)
            | GpuOp::Expand
            | GpuOp::Gather { .. } => i >= 1,
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

    /// The dtype a device input `i` must have (None: any the op accepts, see check_types).
    fn data_dtype(&self, i: usize) -> Option<DType> {
        match self {
            GpuOp::Where if i == 0 => Some(DType::Bool),
            GpuOp::Cast { .. } => None,
            _ => Some(DType::F32),
        }
    }

    /// Checks the node's declared dtypes against what the kernels run: f32 data (Where's
    /// condition bool; Cast from f32, i64, i32, bool or u8 to f32, or f32 to i64).
    /// An unknown dtype is a refusal: the runtime cannot check it.
    pub fn check_types(&self, node: &Node, graph: &Graph) -> Result<(), String> {
        let dt = |id: usize| graph.values[id].info.dtype;
        if let GpuOp::Index(x) = self {
            return x.check_types(node, graph);
        }
        if self.location_free() {
            return Ok(()); // no kernel reads the inputs' elements
        }
        for (i, inp) in node.inputs.iter().enumerate() {
            let Some(id) = inp else { continue };
            if self.role(i) == Role::Host {
                continue;
            }
            let name = &graph.values[*id].name;
            match (dt(*id), self.data_dtype(i)) {
                (None, _) => return Err(format!("dtype of input '{name}' unknown")),
                (Some(d), Some(want)) if d != want => {
                    return Err(format!(
                        "input '{name}' is {d}; the GPU kernel takes {want}"
                    ))
                }
                (Some(d), None) => {
                    let GpuOp::Cast { to } = self else {
                        unreachable!()
                    };
                    let ok = (*to == DType::F32
                        && matches!(
                            d,
                            DType::F32 | DType::I64 | DType::I32 | DType::Bool | DType::U8
                        ))
                        || (d == DType::F32 && *to == DType::I64);
                    if !ok {
                        return Err(format!("Cast {d} to {to} has no GPU kernel"));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}
