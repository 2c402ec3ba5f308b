//! Scalar factors folded into a MatMul's alpha: `MatMul(Mul(a, s), b)` is computed as
//! `s * MatMul(a, b)` (and likewise for the second operand), so the Mul runs no kernel and
//! `a` reaches the GEMM as it is (exporters scale attention's q and k by 1/sqrt(sqrt(d))
//! each this way). `s` is a constant of one f32 element and rank 0 or 1, so the Mul does
//! not change `a`'s shape; the Mul's output must be read by that MatMul only. In exact
//! arithmetic the two are equal; in f32 the scale is applied once to the sum instead of
//! to each operand element (one rounding instead of up to k).

use super::elementwise::BinaryOp;
use super::fuse::Uses;
use super::op::GpuOp;
use smelt_core::{DType, Tensor};
use smelt_ir::{Attr, Graph};

/// One MatMul with the Muls folded into it.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleFold {
    pub matmul: usize,
    /// The Mul nodes folded (one or two).
    pub muls: Vec<usize>,
    /// The MatMul's operands after folding (value ids).
    pub inputs: [usize; 2],
    /// The product of the folded scales.
    pub alpha: f32,
}

/// The folds of `graph` for GPU ops `ops`, MatMuls in graph order.
pub fn scale_folds(graph: &Graph, ops: &[Option<GpuOp>], uses: &Uses) -> Vec<ScaleFold> {
    let mut folds = Vec::new();
    for (m, node) in graph.nodes.iter().enumerate() {
        if !matches!(ops[m], Some(GpuOp::MatMul)) || node.inputs.len() != 2 {
            continue;
        }
        let (Some(a), Some(b)) = (node.inputs[0], node.inputs[1]) else {
            continue;
        };
        let mut f = ScaleFold {
            matmul: m,
            muls: Vec::new(),
            inputs: [a, b],
            alpha: 1.0,
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
            let (tensor, scale) = match (scalar(graph, *x), scalar(graph, *y)) {
                (None, Some(s)) => (*x, s),
                (Some(s), None) => (*y, s),
                _ => continue,
            };
            f.inputs[slot] = tensor;
            f.alpha *= scale;
            f.muls.push(p);
        }
        if !f.muls.is_empty() && f.alpha.is_finite() {
            folds.push(f);
        }
    }
    folds
}

/// The value of `v` when it is a constant f32 of one element and rank 0 or 1 (an
/// initializer or a Constant node's `value`).
fn scalar(graph: &Graph, v: usize) -> Option<f32> {
    let t: &Tensor = match graph.initializers.get(&v) {
        Some(t) => t,
        None => {
            let n = graph.nodes.iter().find(|n| {
                n.op_type == "Constant"
                    && n.domain.is_empty()
                    && n.outputs.first() == Some(&Some(v))
            })?;
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
        let folds = scale_folds(&g, &ops, &Uses::of(&g));
        assert_eq!(folds.len(), 1, "{folds:?}");
        let f = &folds[0];
        assert_eq!(g.nodes[f.matmul].outputs[0], g.value_id("m1"));
        assert_eq!(f.muls.len(), 2);
        assert_eq!(f.alpha, 1.5);
        assert_eq!(
            f.inputs,
            [g.value_id("x").unwrap(), g.value_id("y").unwrap()]
        );
    }
}
