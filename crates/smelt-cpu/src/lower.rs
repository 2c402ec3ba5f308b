//! Lowering for the CPU: the portable graph rewritten into the form this backend runs.
//!
//! Compressed weights stay compressed. A decode node (`ai.smelt::LinearDequantize`,
//! `ai.smelt::LutToDense`, ONNX `DequantizeLinear` of a constant int8/uint8 tensor to f32,
//! or the exporters' spelling of it, `Mul(Cast(int8/uint8 constant to f32), f32 constant
//! scale)`) whose inputs are all constants is folded into the ops that read its output as
//! a weight:
//!
//! | reader | slot | becomes |
//! |---|---|---|
//! | MatMul, W 2-D | B | `CompressedMatMul` (`[K, N]` weight) |
//! | Gemm, transA = 0, C absent or `[N]` / `[1, N]` | B | `CompressedMatMul` (either layout) |
//! | Conv | W | `CompressedConv` |
//! | ai.smelt FusedConv | W | `CompressedConv` with the FusedConv's epilogue |
//! | Gather, axis 0 | data | `CompressedGather` |
//!
//! Those kernels decode a tile at a time, so the float weight never exists whole. A decode
//! node with any other reader stays and runs as before (for those readers only). The lowered
//! graph is built at load time and never saved.
//!
//! [`lower_dense`] instead decodes each such weight once, here, into an f32 constant (the
//! decode node and its Cast dropped): the run then costs what the f32 model costs, and the
//! weight takes f32 memory. A weight read only by Gathers (an embedding table) stays
//! compressed there too: a Gather decodes only the rows it reads.

use smelt_core::{DType, Result, Tensor};
use smelt_ir::{Attributes, Graph, Node, Op, ValueId};
use smelt_ops::nn::conv::Conv;
use smelt_ops::nn::fused_conv::{self, ConvEpilogue};
use smelt_ops::quant::compressed_conv::CompressedConv;
use smelt_ops::quant::compressed_gather::CompressedGather;
use smelt_ops::quant::compressed_matmul::CompressedMatMul;
use smelt_ops::quant::linear_dequantize::LinearDequantize;
use smelt_ops::quant::lut_to_dense::LutToDense;
use smelt_ops::quant::packed::Packed;
use smelt_passes::lower::conv_epilogue::{candidates, Candidate};
use std::collections::HashSet;
use std::sync::Arc;

/// What lowering did, for `smelt info` and tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lowering {
    /// The Convs the `conv_epilogue` fusion looked at, and what it made of each
    /// ([`fuse_ops`]).
    pub conv_epilogues: Vec<Candidate>,
    /// Readers turned into kernels on compressed weights.
    pub fused: usize,
    /// Decode nodes removed (every reader fused, or decoded at load).
    pub removed: usize,
    /// Weights decoded to f32 constants at load ([`lower_dense`]).
    pub decoded: usize,
}

/// The weight a decode node produces, when its inputs are constants and the output is f32.
fn packed_of(g: &Graph, n: &Node) -> Option<Packed> {
    // every input given is a constant; an omitted optional input (a zero point left out
    // before an offset) stays None
    let consts: Vec<Option<Tensor>> = n
        .inputs
        .iter()
        .map(|i| match i {
            None => Some(None),
            Some(id) => g.initializers.get(id).cloned().map(Some),
        })
        .collect::<Option<Vec<_>>>()?;
    match (n.domain.as_str(), n.op_type.as_str()) {
        ("ai.smelt", "LinearDequantize") => {
            let op = LinearDequantize::from_attrs(&n.attrs).ok()?;
            (op.to == DType::F32).then_some(())?;
            op.packed(&consts).ok()
        }
        ("ai.smelt", "LutToDense") => {
            let op = LutToDense::from_attrs(&n.attrs).ok()?;
            (op.to == DType::F32).then_some(())?;
            op.packed(&consts).ok()
        }
        ("", "DequantizeLinear") => onnx_dequantize(n, &consts),
        _ => None,
    }
}

/// `Mul(Cast(q), scale)` with q a constant int8 / uint8 tensor cast to f32, read only by
/// this Mul, and scale a constant f32 tensor broadcasting over q per axis or block: the
/// weight, and the Cast node to drop with the Mul.
fn cast_mul(g: &Graph, n: &Node, links: &Links) -> Option<(Packed, usize)> {
    let (a, b) = (n.inputs.first().copied()??, n.inputs.get(1).copied()??);
    let (cv, sv) = if g.initializers.contains_key(&b) {
        (a, b)
    } else {
        (b, a)
    };
    let scale = g.initializers.get(&sv)?;
    let ci = links.producer[cv]?;
    let cast = &g.nodes[ci];
    if cast.op_type != "Cast" || !cast.domain.is_empty() || cast.attrs.int("to").ok()? != Some(1) {
        return None;
    }
    if links.readers[cv].len() != 1 || g.outputs.contains(&cv) {
        return None;
    }
    let q = g.initializers.get(&cast.inputs.first().copied()??)?;
    let signed = match q.dtype() {
        DType::I8 => true,
        DType::U8 => false,
        _ => return None,
    };
    let rank = q.shape().len();
    if scale.dtype() != DType::F32 || rank == 0 || scale.shape().len() > rank {
        return None;
    }
    // the scale's shape, right-aligned to q's rank, is the parameter grid
    let mut grid = vec![1usize; rank - scale.shape().len()];
    grid.extend(scale.shape());
    let s = scale.reshape(grid.clone()).ok()?;
    Some((
        Packed::linear(q.shape(), 8, signed, q.clone(), &s, None).ok()?,
        ci,
    ))
}

/// ONNX DequantizeLinear of an int8 / uint8 constant with f32 scales, per tensor or per axis.
fn onnx_dequantize(n: &Node, c: &[Option<Tensor>]) -> Option<Packed> {
    let x = c.first()?.as_ref()?;
    let scale = c.get(1)?.as_ref()?;
    let zero = c.get(2).and_then(|z| z.as_ref());
    let signed = match x.dtype() {
        DType::I8 => true,
        DType::U8 => false,
        _ => return None,
    };
    let out = n.attrs.int("output_dtype").ok()?.unwrap_or(0);
    if scale.dtype() != DType::F32 || !(out == 0 || out == 1) || x.shape().is_empty() {
        return None;
    }
    if n.attrs.int("block_size").ok()?.unwrap_or(0) != 0 {
        return None;
    }
    let rank = x.shape().len();
    let mut grid = vec![1usize; rank];
    if scale.len() != 1 {
        let axis = n.attrs.int("axis").ok()?.unwrap_or(1);
        let axis = smelt_ops::util::norm_axis(axis, rank).ok()?;
        if scale.shape().len() != 1 || scale.len() != x.shape()[axis] {
            return None;
        }
        grid[axis] = scale.len();
    }
    let reshape = |t: &Tensor| t.reshape(grid.clone()).ok();
    let scale = reshape(scale)?;
    let zero = match zero {
        Some(z) if z.dtype() == x.dtype() && z.len() == scale.len() => Some(reshape(z)?),
        Some(_) => return None,
        None => None,
    };
    Packed::linear(x.shape(), 8, signed, x.clone(), &scale, zero.as_ref()).ok()
}

/// A fused reader: its kernel, op type and inputs.
type Fused = (Arc<dyn Op>, &'static str, Vec<Option<ValueId>>);

/// The kernel that replaces reader `r` of weight `w` in input slot `slot`, with its inputs.
fn fused_reader(g: &Graph, r: &Node, slot: usize, w: &Arc<Packed>) -> Option<Fused> {
    let a: &Attributes = &r.attrs;
    let int = |k: &str, d: i64| a.int_or(k, d).ok();
    let float = |k: &str, d: f32| a.float_or(k, d).ok();
    match (r.domain.as_str(), r.op_type.as_str(), slot) {
        ("", "MatMul", 1) if w.shape.len() == 2 => {
            let op = CompressedMatMul::new(w.clone(), false, 1.0, 0.0).ok()?;
            Some((Arc::new(op), "CompressedMatMul", vec![r.inputs[0]]))
        }
        ("", "Gemm", 1) if w.shape.len() == 2 && int("transA", 0)? == 0 => {
            let trans_b = int("transB", 0)? != 0;
            let n = if trans_b { w.shape[0] } else { w.shape[1] };
            let c = r.inputs.get(2).copied().flatten();
            if let Some(c) = c {
                let s = g.values[c].info.concrete_shape()?;
                if !(s == [n] || s == [1, n]) {
                    return None;
                }
            }
            let op = CompressedMatMul::new(
                w.clone(),
                trans_b,
                float("alpha", 1.0)?,
                float("beta", 1.0)?,
            )
            .ok()?;
            Some((Arc::new(op), "CompressedMatMul", vec![r.inputs[0], c]))
        }
        ("", "Conv", 1) => {
            let op = CompressedConv {
                conv: Conv::from_attrs(a).ok()?,
                w: w.clone(),
                epilogue: ConvEpilogue::default(),
            };
            let b = r.inputs.get(2).copied().flatten();
            Some((Arc::new(op), "CompressedConv", vec![r.inputs[0], b]))
        }
        (fused_conv::DOMAIN, fused_conv::OP_TYPE, 1) => {
            let op = CompressedConv {
                conv: Conv::from_attrs(a).ok()?,
                w: w.clone(),
                epilogue: ConvEpilogue::from_attrs(a).ok()?,
            };
            let input = |s: usize| r.inputs.get(s).copied().flatten();
            Some((
                Arc::new(op),
                "CompressedConv",
                vec![r.inputs[0], input(2), input(3)],
            ))
        }
        ("", "Gather", 0) if int("axis", 0)? == 0 => {
            let op = CompressedGather { w: w.clone() };
            Some((Arc::new(op), "CompressedGather", vec![r.inputs[1]]))
        }
        _ => None,
    }
}

/// Values read by subgraph bodies (by name): their producers are left alone.
fn captured(g: &Graph) -> HashSet<String> {
    crate::captured_names(g).into_iter().collect()
}

/// Who writes and who reads each value of a graph (node indices, in graph order; a node
/// reading a value twice is listed once).
struct Links {
    producer: Vec<Option<usize>>,
    readers: Vec<Vec<usize>>,
}

impl Links {
    fn of(g: &Graph) -> Links {
        let mut producer = vec![None; g.values.len()];
        let mut readers: Vec<Vec<usize>> = vec![Vec::new(); g.values.len()];
        for (i, n) in g.nodes.iter().enumerate() {
            for o in n.outputs.iter().flatten() {
                producer[*o] = Some(i);
            }
            for v in n.inputs.iter().flatten() {
                if readers[*v].last() != Some(&i) {
                    readers[*v].push(i);
                }
            }
        }
        Links { producer, readers }
    }
}

/// Runs the lowering fusions the CPU takes (`smelt_passes::lower::cpu`: a Conv with the
/// residual Add and activation after it -> `ai.smelt::FusedConv`) on `g`; returns what the
/// Conv fusion decided for each candidate. Run before [`lower`], which then reads a
/// FusedConv's compressed weight in place.
pub fn fuse_ops(g: &mut Graph) -> Result<Vec<Candidate>> {
    let seen = candidates(g);
    smelt_passes::run(g, &smelt_passes::lower::cpu())?;
    Ok(seen)
}

/// Lowers `g` for the CPU (see the module doc), compressed weights kept compressed. Returns
/// the graph to run and what changed.
pub fn lower(g: &Graph) -> Result<(Graph, Lowering)> {
    lower_with(g, false)
}

/// Lowers `g` for the CPU with every constant compressed weight decoded once, now, into an
/// f32 constant (see the module doc).
pub fn lower_dense(g: &Graph) -> Result<(Graph, Lowering)> {
    lower_with(g, true)
}

fn lower_with(g: &Graph, dense: bool) -> Result<(Graph, Lowering)> {
    let mut out = g.clone();
    let mut stats = Lowering::default();
    let captured = captured(g);
    let mut drop: HashSet<usize> = HashSet::new();
    let links = Links::of(g);
    for (di, dn) in g.nodes.iter().enumerate() {
        let Some(Some(wv)) = dn.outputs.first().copied() else {
            continue;
        };
        if g.outputs.contains(&wv) || captured.contains(&g.values[wv].name) {
            continue;
        }
        let (packed, also) = match packed_of(g, dn) {
            Some(p) => (p, None),
            None if dn.op_type == "Mul" && dn.domain.is_empty() => match cast_mul(g, dn, &links) {
                Some((p, cast)) => (p, Some(cast)),
                None => continue,
            },
            None => continue,
        };
        // a table only gathered from stays compressed: Gather decodes just the rows it reads
        let gathered = links.readers[wv]
            .iter()
            .all(|&ri| g.nodes[ri].op_type == "Gather" && g.nodes[ri].domain.is_empty());
        if dense && !gathered {
            let t = Tensor::from_vec(packed.shape.clone(), packed.decode_all())?;
            out.initializers.insert(wv, t);
            drop.insert(di);
            drop.extend(also);
            stats.decoded += 1;
            stats.removed += 1;
            continue;
        }
        let w = Arc::new(packed);
        let mut kept_reader = false;
        for &ri in &links.readers[wv] {
            let rn = &g.nodes[ri];
            let slots: Vec<usize> = (0..rn.inputs.len())
                .filter(|&s| rn.inputs[s] == Some(wv))
                .collect();
            match (slots.len(), fused_reader(g, rn, slots[0], &w)) {
                (1, Some((op, op_type, inputs))) => {
                    let n = &mut out.nodes[ri];
                    n.op = op;
                    n.op_type = op_type.to_string();
                    n.domain = "ai.smelt".into();
                    n.inputs = inputs;
                    stats.fused += 1;
                }
                _ => kept_reader = true,
            }
        }
        if !kept_reader {
            drop.insert(di);
            drop.extend(also);
            stats.removed += 1;
        }
    }
    let mut i = 0;
    out.nodes.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
    smelt_ir::verify(&out)?;
    Ok((out, stats))
}
