//! Neighbours folded into a MatMul's GEMM.
//!
//! Scalar factors into alpha: `MatMul(Mul(a, s), b)` is computed as `s * MatMul(a, b)`
//! (and likewise for the second operand), so the Mul runs no kernel and `a` reaches the
//! GEMM as it is (exporters scale attention's q and k by 1/sqrt(sqrt(d)) each this way).
//! `s` is a constant of one f32 element and rank 0 or 1, so the Mul does not change `a`'s
//! shape; the Mul's output must be read by that MatMul only. In exact arithmetic the two
//! are equal; in f32 the scale is applied once to the sum instead of to each operand
//! element (one rounding instead of up to k).
//!
//! A bias Add into the GEMM's epilogue: `Add(MatMul(a, w), c)` with `w` a constant
//! [K, N] and `c` a constant f32 [N] (a linear layer), the MatMul's output read by that Add
//! only: the GEMM writes the Add's output with the bias added (cuBLASLt's bias epilogue).
//!
//! A residual Add after that into the GEMM's C: `Add(Add(MatMul(a, w), c), r)` (a
//! transformer's sublayer output plus its input), the bias Add's output read by that Add
//! only and `r` computed before the MatMul: the GEMM computes `a w + r` (beta = 1, C = r)
//! and its epilogue adds the bias. `r` must have the output's shape and be f32 (checked
//! when it runs). The sums' order differs from the graph's (one rounding of each).

use super::elementwise::BinaryOp;
use super::fuse::{is_constant_node, Uses};
use super::op::GpuOp;
use smelt_core::{DType, Tensor};
use smelt_ir::{Attr, Graph};

/// One MatMul with the nodes folded into it.
#[derive(Clone, Debug, PartialEq)]
pub struct MatMulFold {
    pub matmul: usize,
    /// The scalar Mul nodes folded into alpha (none to two).
    pub muls: Vec<usize>,
    /// The MatMul's operands after folding (value ids).
    pub inputs: [usize; 2],
    /// The product of the folded scales.
    pub alpha: f32,
    /// The bias Add folded into the epilogue and its bias value; the GEMM writes the Add's
    /// output.
    pub bias: Option<(usize, usize)>,
    /// The residual Add after the bias Add and its other input: the GEMM writes the
    /// residual Add's output (only with a bias).
    pub residual: Option<(usize, usize)>,
}

/// The folds of `graph` for GPU ops `ops`, MatMuls in graph order.
pub fn matmul_folds(graph: &Graph, ops: &[Option<GpuOp>], uses: &Uses) -> Vec<MatMulFold> {
    let mut folds = Vec::new();
    for (m, node) in graph.nodes.iter().enumerate() {
        if !matches!(ops[m], Some(GpuOp::MatMul)) || node.inputs.len() != 2 {
            continue;
        }
        let (Some(a), Some(b)) = (node.inputs[0], node.inputs[1]) else {
            continue;
        };
        let mut f = MatMulFold {
            matmul: m,
            muls: Vec::new(),
            inputs: [a, b],
            alpha: 1.0,
            bias: None,
            residual: None,
        };
        for slot in 0..2 {
            let v = f.inputs[slot];
            if a == b || uses.pinned(v) || uses.readers(v) != [m] {
                continue;
            }
            let Some(p) = uses.producer(v) else {
                continue;
            };
            if !matches!(ops[p], Some(GpuOp::Binary(BinaryOp::Mul))) {
                continue;
            }
            let pn = &graph.nodes[p];
            let (Some(Some(x)), Some(Some(y))) = (pn.inputs.first(), pn.inputs.get(1)) else {
                continue;
            };
            let (tensor, scale) = match (scalar(graph, uses, *x), scalar(graph, uses, *y)) {
                (None, Some(s)) => (*x, s),
                (Some(s), None) => (*y, s),
                _ => continue,
            };
            f.inputs[slot] = tensor;
            f.alpha *= scale;
            f.muls.push(p);
        }
        if !f.alpha.is_finite() {
            continue;
        }
        f.bias = bias_add(graph, ops, uses, m, f.inputs[1]);
        if let Some((add, _)) = f.bias {
            f.residual = residual_add(graph, ops, uses, m, add);
        }
        if !f.muls.is_empty() || f.bias.is_some() {
            folds.push(f);
        }
    }
    folds
}

/// The Add reading MatMul `m`'s output (and nothing else reading it) with a constant f32
/// bias [N], `w` (the MatMul's second operand) a constant [K, N]: (Add node, bias value).
fn bias_add(
    graph: &Graph,
    ops: &[Option<GpuOp>],
    uses: &Uses,
    m: usize,
    w: usize,
) -> Option<(usize, usize)> {
    let n_cols = match initializer(graph, uses, w) {
        Some((_, t)) if t.rank() == 2 => t.shape()[1],
        _ => return None,
    };
    let (add, c) = sole_add_reader(graph, ops, uses, m)?;
    let (c, t) = initializer(graph, uses, c)?;
    (t.dtype() == DType::F32 && t.shape() == [n_cols]).then_some((add, c))
}

/// The Add reading bias Add `add`'s output (and nothing else reading it) with another
/// input `r` available before MatMul `m` runs (a graph input, a constant or an earlier
/// node's output): (Add node, r).
fn residual_add(
    graph: &Graph,
    ops: &[Option<GpuOp>],
    uses: &Uses,
    m: usize,
    add: usize,
) -> Option<(usize, usize)> {
    let (radd, r) = sole_add_reader(graph, ops, uses, add)?;
    uses.ready_at(r, m).then_some((radd, r))
}

/// Where node `n` has one output, not a graph output, read by one GPU Add only, with
/// another value as its other input: (that Add, the other input).
fn sole_add_reader(
    graph: &Graph,
    ops: &[Option<GpuOp>],
    uses: &Uses,
    n: usize,
) -> Option<(usize, usize)> {
    let y = (*graph.nodes[n].outputs.first()?)?;
    if uses.pinned(y) || uses.readers(y).len() != 1 || graph.nodes[n].outputs.len() != 1 {
        return None;
    }
    let add = uses.readers(y)[0];
    let an = &graph.nodes[add];
    if !matches!(ops[add], Some(GpuOp::Binary(BinaryOp::Add)))
        || an.inputs.len() != 2
        || an.outputs.first().copied().flatten().is_none()
    {
        return None;
    }
    match (an.inputs[0], an.inputs[1]) {
        (Some(p), Some(q)) if p == y && q != y => Some((add, q)),
        (Some(p), Some(q)) if q == y && p != y => Some((add, p)),
        _ => None,
    }
}

/// The initializer `v` is, directly or through Identity nodes (exporters put those
/// between a shared initializer, such as the zero biases of a freshly made model, and
/// each reader): its value id and tensor.
fn initializer<'g>(graph: &'g Graph, uses: &Uses, mut v: usize) -> Option<(usize, &'g Tensor)> {
    for _ in 0..8 {
        if let Some(t) = graph.initializers.get(&v) {
            return Some((v, t));
        }
        let n = &graph.nodes[uses.producer(v)?];
        if n.op_type != "Identity" || !n.domain.is_empty() {
            return None;
        }
        v = (*n.inputs.first()?)?;
    }
    None
}

/// The value of `v` when it is a constant f32 of one element and rank 0 or 1 (an
/// initializer or a Constant node's `value`).
fn scalar(graph: &Graph, uses: &Uses, v: usize) -> Option<f32> {
    let t: &Tensor = match initializer(graph, uses, v) {
        Some((_, t)) => t,
        None => {
            let n = &graph.nodes[uses.producer(v)?];
            if !is_constant_node(n) {
                return None;
            }
            match n.attrs.0.get("value") {
                Some(Attr::Tensor(t)) => t,
                _ => return None,
            }
        }
    };
    if t.dtype() != DType::F32 || t.len() != 1 || t.rank() > 1 {
        return None;
    }
    t.as_slice::<f32>().ok().map(|s| s[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use smelt_core::Dim;
    use smelt_ir::Attributes;
    use smelt_ops::GraphBuilder;

    #[test]
    fn folds_scalar_muls_read_only_by_a_matmul() {
        let mut b = GraphBuilder::new("fold");
        let x = b.placeholder("x", DType::F32, &[Dim::Fixed(4), Dim::Fixed(8)]);
        let y = b.placeholder("y", DType::F32, &[Dim::Fixed(8), Dim::Fixed(3)]);
        let s = b.constant("s", Tensor::scalar(0.5f32));
        let t = b.constant("t", Tensor::scalar(3.0f32));
        let v = b.constant("v", Tensor::from_vec(vec![8], vec![2f32; 8]).unwrap());
        let xs = b.mul(x, s).unwrap();
        let ys = b.mul(t, y).unwrap();
        let m1 = b.op("MatMul", &[xs, ys], Attributes::new()).unwrap();
        // not folded: a vector factor; a scaled value also read elsewhere
        let xv = b.mul(x, v).unwrap();
        let m2 = b.op("MatMul", &[xv, y], Attributes::new()).unwrap();
        let x4 = b.mul(x, t).unwrap();
        let m3 = b.op("MatMul", &[x4, y], Attributes::new()).unwrap();
        b.output(m1, "m1");
        b.output(m2, "m2");
        b.output(m3, "m3");
        b.output(x4, "x4");
        let g = b.build().unwrap();
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let folds = matmul_folds(&g, &ops, &Uses::of(&g));
        assert_eq!(folds.len(), 1, "{folds:?}");
        let f = &folds[0];
        assert_eq!(g.nodes[f.matmul].outputs[0], g.value_id("m1"));
        assert_eq!(f.muls.len(), 2);
        assert_eq!(f.alpha, 1.5);
        assert_eq!(
            f.inputs,
            [g.value_id("x").unwrap(), g.value_id("y").unwrap()]
        );
        assert_eq!(f.bias, None, "y is not a constant");
    }

    #[test]
    fn folds_a_constant_bias_add_of_a_linear_layer() {
        let mut b = GraphBuilder::new("linear");
        let x = b.placeholder("x", DType::F32, &[Dim::Fixed(4), Dim::Fixed(8)]);
        let w = b.constant("w", Tensor::from_vec(vec![8, 3], vec![1f32; 24]).unwrap());
        let c = b.constant("c", Tensor::from_vec(vec![3], vec![1f32; 3]).unwrap());
        let c1 = b.constant("c1", Tensor::from_vec(vec![1], vec![1f32]).unwrap());
        let m = b.op("MatMul", &[x, w], Attributes::new()).unwrap();
        // the bias through an Identity, as exporters share initializers
        let ci = b.op("Identity", &[c], Attributes::new()).unwrap();
        let y = b.add(ci, m).unwrap();
        // not folded: a bias of one value (it broadcasts, it is not one per column)
        let m2 = b.op("MatMul", &[x, w], Attributes::new()).unwrap();
        let y2 = b.add(m2, c1).unwrap();
        b.output(y, "y");
        b.output(y2, "y2");
        let g = b.build().unwrap();
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let folds = matmul_folds(&g, &ops, &Uses::of(&g));
        assert_eq!(folds.len(), 1, "{folds:?}");
        let f = &folds[0];
        let (add, bias) = f.bias.expect("a bias");
        assert_eq!(g.nodes[add].outputs[0], g.value_id("y"));
        assert_eq!(Some(bias), g.value_id("c"));
        assert!(f.muls.is_empty() && f.alpha == 1.0);
        assert_eq!(f.residual, None, "y is a graph output");
    }

    /// x -> MatMul(x, w) + c + x -> LayerNorm-like reader: the residual Add folds; not
    /// when the residual is computed after the MatMul, or when the biased sum is also
    /// read elsewhere.
    #[test]
    fn folds_a_residual_add_after_the_bias() {
        let mut b = GraphBuilder::new("residual");
        let x = b.placeholder("x", DType::F32, &[Dim::Fixed(4), Dim::Fixed(8)]);
        let w = b.constant("w", Tensor::from_vec(vec![8, 8], vec![1f32; 64]).unwrap());
        let c = b.constant("c", Tensor::from_vec(vec![8], vec![1f32; 8]).unwrap());
        let m = b.op("MatMul", &[x, w], Attributes::new()).unwrap();
        let yb = b.add(m, c).unwrap();
        let y = b.add(x, yb).unwrap();
        // the residual made after the MatMul: not folded
        let m2 = b.op("MatMul", &[y, w], Attributes::new()).unwrap();
        let late = b.relu(y).unwrap();
        let yb2 = b.add(m2, c).unwrap();
        let y2 = b.add(yb2, late).unwrap();
        // the biased sum also an output: not folded
        let m3 = b.op("MatMul", &[y2, w], Attributes::new()).unwrap();
        let yb3 = b.add(m3, c).unwrap();
        let y3 = b.add(yb3, x).unwrap();
        b.output(y3, "y3");
        b.output(yb3, "yb3");
        let g = b.build().unwrap();
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let uses = Uses::of(&g);
        let folds = matmul_folds(&g, &ops, &uses);
        assert_eq!(folds.len(), 3, "{folds:?}");
        let (radd, r) = folds[0].residual.expect("the first residual folds");
        assert_eq!(Some(r), g.value_id("x"));
        assert_eq!(g.nodes[radd].outputs[0], Some(y.0));
        let late_node = uses.producer(late.0).unwrap();
        assert!(late_node > folds[1].matmul);
        assert_eq!(
            folds[1].residual, None,
            "the residual comes after the MatMul"
        );
        assert_eq!(folds[2].residual, None, "the biased sum is a graph output");
        assert!(folds.iter().all(|f| f.bias.is_some()));
    }
}
