//! Attention written out as nodes, run as one kernel at fp16 / bf16: `MatMul(q, k^T)`
//! (with its folded scale, see `plan::fold`), the softmax fusion after it (the mask group,
//! Softmax, the NaN guard, see `plan::softmax_fuse`) and `MatMul(p, v)`, where q, k and v
//! may each be a Transpose of a rank-4 value (the heads' [b, s, h, d] -> [b, h, s, d]) and
//! the product may be read by one Transpose back ([b, h, s, d] -> [b, s, h, d]). The kernel
//! reads q, k and v through the Transposes' permutations and writes the last Transpose's
//! output, so neither the Transposes nor the scores and probabilities are materialised.
//!
//! Contract: every member's output other than the last is read inside the fusion only
//! (not a graph output, not read by a subgraph); the fused kernel runs at the last member's
//! place; when it refuses the inputs (shapes it does not take), the members run apart
//! there, in graph order.

use super::fold::MatMulFold;
use super::fuse::{Fusion, Uses};
use super::op::GpuOp;
use super::softmax_fuse::SoftmaxFusion;
use smelt_ir::Graph;
use std::collections::HashMap;

/// An operand of the fused kernel: the value read, and how the operand's logical axes
/// ([b, h, rows, cols]) map onto it: logical axis i is axis `perm[i]` of `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttnOperand {
    pub value: usize,
    pub perm: [usize; 4],
    /// The Transpose read through (it runs no kernel), if any.
    pub transpose: Option<usize>,
}

/// One attention block run as one kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionFusion {
    /// The Q·K^T MatMul node.
    pub qk: usize,
    /// Its alpha (folded scalar Muls; 1 without).
    pub alpha: f32,
    /// The softmax fusion (index into the softmax fusions) reading the scores.
    pub softmax: usize,
    /// The P·V MatMul node.
    pub pv: usize,
    /// q as [b, h, sq, d], k as [b, h, skv, d] (k^T's last two axes swapped), v as
    /// [b, h, skv, dv].
    pub q: AttnOperand,
    pub k: AttnOperand,
    pub v: AttnOperand,
    /// The Transpose after P·V whose output the kernel writes: the product's axis a goes
    /// to the output's axis `inv[a]`; none: the product itself, dense.
    pub out_transpose: Option<(usize, [usize; 4])>,
    /// Every node the fusion covers, in graph order; the kernel runs at the last.
    pub members: Vec<usize>,
}

impl AttentionFusion {
    /// The node where the kernel runs.
    pub fn at(&self) -> usize {
        *self.members.last().unwrap_or(&self.pv)
    }
    /// The value the kernel writes.
    pub fn output(&self, graph: &Graph) -> Option<usize> {
        let n = self.out_transpose.map_or(self.pv, |(t, _)| t);
        *graph.nodes[n].outputs.first()?
    }
}

/// The attention fusions of `graph` given its MatMul folds (by MatMul node), element-wise
/// groups and softmax fusions.
pub fn attention_fusions(
    graph: &Graph,
    ops: &[Option<GpuOp>],
    uses: &Uses,
    folds: &HashMap<usize, MatMulFold>,
    groups: &[Fusion],
    softmax: &[SoftmaxFusion],
) -> Vec<AttentionFusion> {
    softmax
        .iter()
        .enumerate()
        .filter_map(|(k, sf)| one(graph, ops, uses, folds, groups, k, sf))
        .collect()
}

fn one(
    graph: &Graph,
    ops: &[Option<GpuOp>],
    uses: &Uses,
    folds: &HashMap<usize, MatMulFold>,
    groups: &[Fusion],
    k: usize,
    sf: &SoftmaxFusion,
) -> Option<AttentionFusion> {
    if sf.kind != 0 {
        return None;
    }
    let sm = &graph.nodes[sf.softmax];
    // the scores: the pre group's leaf made by a MatMul, or the softmax input
    let (scores, readers_in): (usize, Vec<usize>) = match sf.pre {
        Some(g) => {
            let f = &groups[g];
            let s = f.leaves.iter().map(|(id, _)| *id).find(|&id| {
                uses.producer(id)
                    .is_some_and(|p| matches!(ops[p], Some(GpuOp::MatMul)))
            })?;
            (s, f.members.clone())
        }
        None => ((*sm.inputs.first()?)?, vec![sf.softmax]),
    };
    if uses.pinned(scores) || !uses.readers(scores).iter().all(|r| readers_in.contains(r)) {
        return None;
    }
    let qk = uses.producer(scores)?;
    if !matches!(ops[qk], Some(GpuOp::MatMul)) {
        return None;
    }
    let fold = folds.get(&qk);
    if fold.is_some_and(|f| f.bias.is_some()) {
        return None;
    }
    let qk_in = match fold {
        Some(f) => f.inputs,
        None => {
            let n = &graph.nodes[qk];
            [(*n.inputs.first()?)?, (*n.inputs.get(1)?)?]
        }
    };
    // the probabilities, read by the P·V MatMul only, as its first operand
    let p = sf.output(graph, groups)?;
    if uses.pinned(p) || uses.readers(p).len() != 1 {
        return None;
    }
    let pv = uses.readers(p)[0];
    let pn = &graph.nodes[pv];
    if !matches!(ops[pv], Some(GpuOp::MatMul))
        || folds.contains_key(&pv)
        || pn.inputs.len() != 2
        || pn.inputs[0] != Some(p)
        || pn.inputs[1] == Some(p)
    {
        return None;
    }
    let v_in = (*pn.inputs.get(1)?)?;
    let mut members = Vec::new();
    // q and k are read by the MatMul itself or by the scalar Muls folded into it
    let mut qk_readers = vec![qk];
    qk_readers.extend(fold.map_or(&[][..], |f| &f.muls));
    let q = operand(
        graph,
        ops,
        uses,
        qk_in[0],
        &qk_readers,
        [0, 1, 2, 3],
        &mut members,
    )?;
    let k_op = operand(
        graph,
        ops,
        uses,
        qk_in[1],
        &qk_readers,
        [0, 1, 3, 2],
        &mut members,
    )?;
    let v = operand(graph, ops, uses, v_in, &[pv], [0, 1, 2, 3], &mut members)?;
    if [&q, &k_op, &v]
        .iter()
        .any(|o| o.value == scores || o.value == p)
    {
        return None;
    }
    // the product, read back by one Transpose
    let o = (*pn.outputs.first()?)?;
    let out_transpose = match uses.readers(o) {
        [t] if !uses.pinned(o) => match transpose_perm(graph, ops, *t) {
            Some(perm) => {
                let mut inv = [0usize; 4];
                for (i, &a) in perm.iter().enumerate() {
                    inv[a] = i;
                }
                members.push(*t);
                Some((*t, inv))
            }
            None => None,
        },
        _ => None,
    };
    members.push(qk);
    if let Some(f) = fold {
        members.extend(&f.muls);
    }
    if let Some(g) = sf.pre {
        members.extend(&groups[g].members);
    }
    members.push(sf.softmax);
    if let Some((g, _)) = sf.post {
        members.extend(&groups[g].members);
    }
    members.push(pv);
    members.sort_unstable();
    members.dedup();
    Some(AttentionFusion {
        qk,
        alpha: fold.map_or(1.0, |f| f.alpha),
        softmax: k,
        pv,
        q,
        k: k_op,
        v,
        out_transpose,
        members,
    })
}

/// An operand `v` of a MatMul, its logical axes taken from `v`'s through `swap`
/// (identity, or the last two swapped for k^T): through a rank-4 Transpose whose output
/// only `readers` read (the MatMul, its folded Muls; the Transpose is added to `members`),
/// else `v` itself.
fn operand(
    graph: &Graph,
    ops: &[Option<GpuOp>],
    uses: &Uses,
    v: usize,
    readers: &[usize],
    swap: [usize; 4],
    members: &mut Vec<usize>,
) -> Option<AttnOperand> {
    let through = uses
        .producer(v)
        .filter(|_| !uses.pinned(v) && uses.readers(v).iter().all(|r| readers.contains(r)))
        .and_then(|t| Some((t, transpose_perm(graph, ops, t)?)));
    Some(match through {
        Some((t, perm)) => {
            members.push(t);
            AttnOperand {
                value: (*graph.nodes[t].inputs.first()?)?,
                perm: swap.map(|i| perm[i]),
                transpose: Some(t),
            }
        }
        None => AttnOperand {
            value: v,
            perm: swap,
            transpose: None,
        },
    })
}

/// The permutation of Transpose node `t` when it has 4 axes (a missing `perm` reverses
/// them; the input's rank must then be declared).
fn transpose_perm(graph: &Graph, ops: &[Option<GpuOp>], t: usize) -> Option<[usize; 4]> {
    let Some(GpuOp::Transpose { perm }) = &ops[t] else {
        return None;
    };
    let perm: Vec<i64> = match perm {
        Some(p) => p.clone(),
        None => {
            let x = (*graph.nodes[t].inputs.first()?)?;
            let rank = graph.values[x].info.shape.as_ref()?.len();
            (0..rank as i64).rev().collect()
        }
    };
    let p: Vec<usize> = perm
        .iter()
        .map(|&a| usize::try_from(a).ok().filter(|&a| a < 4))
        .collect::<Option<_>>()?;
    let mut seen = [false; 4];
    for &a in &p {
        seen[a] = true;
    }
    (p.len() == 4 && seen.iter().all(|&s| s)).then(|| [p[0], p[1], p[2], p[3]])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::fold::matmul_folds;
    use crate::plan::fuse::plan;
    use crate::plan::softmax_fuse::softmax_fusions;
    use smelt_core::{DType, Dim, Tensor};
    use smelt_ir::{Attr, Attributes};
    use smelt_ops::builder::V;
    use smelt_ops::GraphBuilder;

    /// A BERT-style attention block: x [b, s, h*d] -> q, k, v projections (MatMul + bias),
    /// Reshape [b, s, h, d], Transposes to [b, h, s, d] (k to [b, h, d, s]), q and k each
    /// scaled by a scalar Mul, scores + Where(m, 0, -inf) (m bool [b, 1, 1, s]: a key
    /// kept), Softmax, the NaN guard (rows with no key kept), P·V,
    /// Transpose back, Reshape [b, s, h*d] -> y; `also_scores` also returns the scores (the
    /// fusion must then not form).
    pub(crate) fn bert_attention(
        b: usize,
        s: usize,
        h: usize,
        d: usize,
        weights: [Tensor; 3],
        also_scores: bool,
    ) -> Graph {
        let dim = |n: usize| Dim::Fixed(n);
        let mut g = GraphBuilder::new("bert_attention");
        let x = g.placeholder("x", DType::F32, &[dim(b), dim(s), dim(h * d)]);
        let m = g.placeholder("m", DType::Bool, &[dim(b), dim(1), dim(1), dim(s)]);
        let ninf = g.constant("ninf", Tensor::scalar(f32::NEG_INFINITY));
        let heads = g.constant(
            "heads",
            Tensor::from_vec(vec![4], vec![b as i64, s as i64, h as i64, d as i64]).unwrap(),
        );
        let merged = g.constant(
            "merged",
            Tensor::from_vec(vec![3], vec![b as i64, s as i64, (h * d) as i64]).unwrap(),
        );
        let scale = g.constant("scale", Tensor::scalar(1.0 / (d as f32).sqrt().sqrt()));
        let zero = g.constant("zero", Tensor::scalar(0f32));
        let perm = |p: &[i64]| {
            let mut a = Attributes::new();
            a.0.insert("perm".into(), Attr::Ints(p.to_vec()));
            a
        };
        let op = |g: &mut GraphBuilder, t: &str, ins: &[V], a: Attributes| g.op(t, ins, a).unwrap();
        let mut proj = Vec::new();
        for (i, w) in weights.into_iter().enumerate() {
            let w = g.constant(&format!("w{i}"), w);
            let c = g.constant(
                &format!("c{i}"),
                Tensor::from_vec(vec![h * d], vec![0.1f32 * i as f32; h * d]).unwrap(),
            );
            let mm = op(&mut g, "MatMul", &[x, w], Attributes::new());
            let y = g.add(mm, c).unwrap();
            proj.push(op(&mut g, "Reshape", &[y, heads], Attributes::new()));
        }
        let q = op(&mut g, "Transpose", &[proj[0]], perm(&[0, 2, 1, 3]));
        let kt = op(&mut g, "Transpose", &[proj[1]], perm(&[0, 2, 3, 1]));
        let v = op(&mut g, "Transpose", &[proj[2]], perm(&[0, 2, 1, 3]));
        let qs = g.mul(q, scale).unwrap();
        let ks = g.mul(kt, scale).unwrap();
        let sc = op(&mut g, "MatMul", &[qs, ks], Attributes::new());
        let bias = op(&mut g, "Where", &[m, zero, ninf], Attributes::new());
        let sm = g.add(sc, bias).unwrap();
        let mut axis = Attributes::new();
        axis.0.insert("axis".into(), Attr::Int(-1));
        let p = g.op("Softmax", &[sm], axis).unwrap();
        let nan = op(&mut g, "IsNaN", &[p], Attributes::new());
        let pg = op(&mut g, "Where", &[nan, zero, p], Attributes::new());
        let o = op(&mut g, "MatMul", &[pg, v], Attributes::new());
        let ot = op(&mut g, "Transpose", &[o], perm(&[0, 2, 1, 3]));
        let y = op(&mut g, "Reshape", &[ot, merged], Attributes::new());
        g.output(y, "y");
        if also_scores {
            g.output(sc, "scores");
        }
        g.build().unwrap()
    }

    fn fusions(g: &Graph) -> Vec<AttentionFusion> {
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let uses = Uses::of(g);
        let folds: HashMap<usize, MatMulFold> = matmul_folds(g, &ops, &uses)
            .into_iter()
            .map(|f| (f.matmul, f))
            .collect();
        let mut masked = ops.clone();
        for f in folds.values() {
            for &m in &f.muls {
                masked[m] = None;
            }
            if let Some((add, _)) = f.bias {
                masked[add] = None;
            }
        }
        let groups = plan(g, &masked, &uses);
        let sf = softmax_fusions(g, &masked, &uses, &groups);
        attention_fusions(g, &ops, &uses, &folds, &groups, &sf)
    }

    #[test]
    fn fuses_a_bert_attention_block() {
        let w = || Tensor::from_vec(vec![8, 8], vec![0.5f32; 64]).unwrap();
        let g = bert_attention(2, 5, 2, 4, [w(), w(), w()], false);
        let fs = fusions(&g);
        assert_eq!(fs.len(), 1, "{fs:?}");
        let f = &fs[0];
        let node = |n: usize| g.nodes[n].op_type.as_str();
        assert_eq!((node(f.qk), node(f.pv)), ("MatMul", "MatMul"));
        assert!((f.alpha - 0.5).abs() < 1e-6, "the two scales: {}", f.alpha);
        // q: [b, s, h, d] read as [b, h, s, d]; k^T [b, h, d, s] read as [b, h, s, d]
        assert_eq!(f.q.perm, [0, 2, 1, 3]);
        assert_eq!(f.k.perm, [0, 2, 1, 3]);
        assert_eq!(f.v.perm, [0, 2, 1, 3]);
        for o in [&f.q, &f.k, &f.v] {
            assert_eq!(node(o.transpose.unwrap()), "Transpose");
            assert_eq!(node(Uses::of(&g).producer(o.value).unwrap()), "Reshape");
        }
        let (t, inv) = f.out_transpose.expect("the Transpose back");
        assert_eq!(node(t), "Transpose");
        assert_eq!(inv, [0, 2, 1, 3]);
        // 4 Transposes, 2 MatMuls, 2 Muls, the mask's Where and Add, Softmax, IsNaN, Where
        assert_eq!(f.members.len(), 13, "{:?}", f.members);
        assert_eq!(f.at(), t);
        assert_eq!(f.output(&g), g.nodes[t].outputs[0]);
    }

    #[test]
    fn scores_read_elsewhere_do_not_fuse() {
        let w = || Tensor::from_vec(vec![8, 8], vec![0.5f32; 64]).unwrap();
        let g = bert_attention(2, 5, 2, 4, [w(), w(), w()], true);
        assert!(fusions(&g).is_empty());
    }

    #[test]
    fn transpose_perms_need_four_distinct_axes() {
        let mut g = GraphBuilder::new("t");
        let x = g.placeholder("x", DType::F32, &vec![Dim::Fixed(2); 4]);
        let mut a = Attributes::new();
        a.0.insert("perm".into(), Attr::Ints(vec![0, 2, 2, 3]));
        let bad = g.op("Transpose", &[x], a).unwrap();
        let rev = g.op("Transpose", &[x], Attributes::new()).unwrap();
        g.output(bad, "bad");
        g.output(rev, "rev");
        let g = g.build().unwrap();
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let p: Vec<Option<[usize; 4]>> = (0..2).map(|t| transpose_perm(&g, &ops, t)).collect();
        assert_eq!(p, [None, Some([3, 2, 1, 0])]);
    }
}
