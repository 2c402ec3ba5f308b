//! Softmax with its element-wise neighbours in one kernel: the group making its input
//! (attention's scale and mask add) is computed as each row is loaded, and the group
//! reading its output (the NaN guard of fully masked rows) as each value is stored. The
//! row must be the last axis (`axis = -1`); the kernel takes rows of up to 1024 values and
//! the executor runs the three apart for longer rows.
//!
//! The group after must read the softmax output as one of its leaves (in one or more of
//! its members) and nothing else may read it; its other leaves must exist when the softmax
//! runs ([`Uses::ready_at`]), since the kernel runs at the softmax's place.

use super::fuse::{Fusion, Ty, Uses};
use super::op::GpuOp;
use smelt_ir::Graph;

/// One Softmax (or LogSoftmax) fused with the group before it, the group after it, or both.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxFusion {
    pub softmax: usize,
    /// 0: Softmax, 1: LogSoftmax.
    pub kind: i32,
    /// The group (index into the groups) whose root makes the softmax input.
    pub pre: Option<usize>,
    /// The group reading the softmax output, and which of its leaves that is.
    pub post: Option<(usize, usize)>,
}

impl SoftmaxFusion {
    /// The value the fused kernel writes: the group after's output, or the softmax's.
    pub fn output(&self, graph: &Graph, groups: &[Fusion]) -> Option<usize> {
        match self.post {
            Some((g, _)) => *graph.nodes[groups[g].root].outputs.first()?,
            None => *graph.nodes[self.softmax].outputs.first()?,
        }
    }
}

/// The softmax fusions of `graph` given its element-wise `groups` (`plan::fuse::plan`).
pub fn softmax_fusions(
    graph: &Graph,
    ops: &[Option<GpuOp>],
    uses: &Uses,
    groups: &[Fusion],
) -> Vec<SoftmaxFusion> {
    let mut root_of = vec![None; graph.nodes.len()];
    let mut member_of = vec![None; graph.nodes.len()];
    for (g, f) in groups.iter().enumerate() {
        root_of[f.root] = Some(g);
        for &m in &f.members {
            member_of[m] = Some(g);
        }
    }
    let mut out = Vec::new();
    for (n, node) in graph.nodes.iter().enumerate() {
        let Some(GpuOp::SoftmaxNd { axis: -1, kind, .. }) = &ops[n] else {
            continue;
        };
        if *kind > 1 || node.inputs.len() != 1 || node.outputs.len() != 1 {
            continue;
        }
        let (Some(Some(x)), Some(Some(y))) = (node.inputs.first(), node.outputs.first()) else {
            continue;
        };
        let pre = uses
            .producer(*x)
            .and_then(|p| root_of[p])
            .filter(|&g| groups[g].out == Ty::F32 && !uses.pinned(*x) && uses.readers(*x) == [n]);
        // every reader of the output in one group (the NaN guard reads it twice)
        let readers = uses.readers(*y);
        let group = readers.first().and_then(|&r| member_of[r]);
        let post = group
            .filter(|&g| !uses.pinned(*y) && readers.iter().all(|&r| member_of[r] == Some(g)))
            .and_then(|g| {
                let f = &groups[g];
                let leaf = f.leaves.iter().position(|(id, _)| id == y)?;
                let ready = f
                    .leaves
                    .iter()
                    .all(|(id, _)| id == y || uses.ready_at(*id, n));
                (f.out == Ty::F32 && ready).then_some((g, leaf))
            });
        if pre.is_some() || post.is_some() {
            out.push(SoftmaxFusion {
                softmax: n,
                kind: *kind,
                pre,
                post,
            });
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::fuse::plan;
    use smelt_core::{DType, Dim, Tensor};
    use smelt_ir::{Attr, Attributes};
    use smelt_ops::GraphBuilder;

    /// s / 8 + m -> Softmax(-1) -> Where(IsNaN(p), 0, p) -> y; and a LogSoftmax of a
    /// graph input whose output is returned (nothing to fuse).
    pub(crate) fn attention_graph() -> Graph {
        let d = |n: usize| Dim::Fixed(n);
        let mut b = GraphBuilder::new("attn");
        let s = b.placeholder("s", DType::F32, &[d(2), d(4), d(8), d(8)]);
        let m = b.placeholder("m", DType::F32, &[d(2), d(1), d(1), d(8)]);
        let eight = b.constant("eight", Tensor::scalar(8f32));
        let zero = b.constant("zero", Tensor::scalar(0f32));
        let axis = || {
            let mut a = Attributes::new();
            a.0.insert("axis".into(), Attr::Int(-1));
            a
        };
        let sc = b.op("Div", &[s, eight], Attributes::new()).unwrap();
        let sm = b.add(sc, m).unwrap();
        let p = b.op("Softmax", &[sm], axis()).unwrap();
        let nan = b.op("IsNaN", &[p], Attributes::new()).unwrap();
        let y = b.op("Where", &[nan, zero, p], Attributes::new()).unwrap();
        let l = b.op("LogSoftmax", &[s], axis()).unwrap();
        b.output(y, "y");
        b.output(l, "l");
        b.build().unwrap()
    }

    #[test]
    fn fuses_the_groups_around_an_attention_softmax() {
        let g = attention_graph();
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let uses = Uses::of(&g);
        let groups = plan(&g, &ops, &uses);
        assert_eq!(groups.len(), 2, "{groups:?}");
        let fs = softmax_fusions(&g, &ops, &uses, &groups);
        assert_eq!(fs.len(), 1, "{fs:?}");
        let f = &fs[0];
        assert_eq!(f.kind, 0);
        let (pre, (post, leaf)) = (f.pre.expect("a group before"), f.post.expect("after"));
        assert_eq!(groups[pre].label, "Div+Add");
        assert_eq!(groups[post].label, "IsNaN+Where");
        assert_eq!(
            Some(groups[post].leaves[leaf].0),
            g.nodes[f.softmax].outputs[0]
        );
        assert_eq!(f.output(&g, &groups), g.value_id("y"));
    }

    /// The NaN guard's zero made by a Constant node after the Softmax (as PyTorch exports
    /// attention): it exists from the run's start, so the group after still fuses.
    #[test]
    fn a_constant_node_after_the_softmax_is_ready() {
        let d = |n: usize| Dim::Fixed(n);
        let mut b = GraphBuilder::new("attn");
        let s = b.placeholder("s", DType::F32, &[d(2), d(8)]);
        let eight = b.constant("eight", Tensor::scalar(8f32));
        let mut a = Attributes::new();
        a.0.insert("axis".into(), Attr::Int(-1));
        let sc = b.op("Div", &[s, eight], Attributes::new()).unwrap();
        let p = b.op("Softmax", &[sc], a).unwrap();
        let nan = b.op("IsNaN", &[p], Attributes::new()).unwrap();
        let mut c = Attributes::new();
        c.0.insert("value".into(), Attr::Tensor(Tensor::scalar(0f32)));
        let zero = b.op("Constant", &[], c).unwrap();
        let y = b.op("Where", &[nan, zero, p], Attributes::new()).unwrap();
        b.output(y, "y");
        let g = b.build().unwrap();
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let uses = Uses::of(&g);
        let groups = plan(&g, &ops, &uses);
        let fs = softmax_fusions(&g, &ops, &uses, &groups);
        assert_eq!(fs.len(), 1, "{fs:?}");
        let (post, _) = fs[0].post.expect("the NaN guard fused after the softmax");
        assert_eq!(groups[post].label, "IsNaN+Where");
        assert_eq!(fs[0].output(&g, &groups), g.value_id("y"));
    }
}
