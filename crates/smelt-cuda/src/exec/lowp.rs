//! 16-bit activations for GEMM operands (fp16 / bf16 precision). MatMul and Gemm convert
//! each f32 operand to 16 bits before the GEMM; a value whose every reader, directly or
//! through views (Reshape, Flatten, Squeeze, Unsqueeze, Identity), is such an operand can
//! be written in 16 bits by its producer instead, which saves the conversion pass and half
//! the producer's stores. Producers that do: a fused element-wise group with an f32 result,
//! a fused softmax (attention's probabilities), a fused attention (its output, read by the
//! output projection), a Transpose (the attention heads' layout changes) and a MatMul
//! folded with its bias Add (cuBLASLt adds the bias rounded to 16 bits and rounds the f32
//! sum once). Besides GEMM operands, a
//! fused attention's q, k and v count as such readers (the kernel rounds them to 16 bits),
//! and so do the f32 leaves of an element-wise group run as its own kernel, which widens
//! a 16-bit leaf as it reads it (BERT: the FFN's first GEMM writes f16 for the GELU group).
//! Such a leaf is no longer the f32 value: the group computes on its 16-bit rounding. When
//! the group falls back to its members, its 16-bit leaves are widened first.
//! The rounding is the one the reader's conversion would do, so results are bit for bit
//! those without it, except after a GEMM written in 16 bits: its bias is rounded to 16
//! bits first, and cuBLASLt may pick another algorithm for that output type.
//!
//! A scalar Mul folded into a MatMul (see `plan::fold`) passes its input to the MatMul,
//! so it counts as the MatMul reading that input.
//!
//! Readers take either form (`ops::linalg::operand` passes a tensor of the precision's
//! 16-bit type through), so a producer that runs its f32 way (a fused group's fallback to
//! its members) stays correct; a reader that falls back to the CPU gets the value widened
//! to f32 on download.

use super::fusion::{At, FusionPlan};
use crate::plan::fuse::Uses;
use crate::plan::op::{GpuOp, Role};
use smelt_ir::Graph;

/// Per value: whether its producer writes it in 16 bits, whether it may hold 16-bit
/// storage (those values and their views), and whether its producer (a LayerNorm, whose
/// output is also read by others: the residual) writes a 16-bit copy beside it for the
/// GEMMs reading it next.
pub(super) struct LowpPlan {
    pub(super) store: Vec<bool>,
    pub(super) holds: Vec<bool>,
    pub(super) copy: Vec<bool>,
    /// Stored in 16 bits only when one of its producer's inputs arrives in 16 bits (an
    /// element-wise group in a chain of 16-bit convs).
    pub(super) when_16bit_in: Vec<bool>,
}

impl LowpPlan {
    pub(super) fn none(values: usize) -> LowpPlan {
        LowpPlan {
            store: vec![false; values],
            holds: vec![false; values],
            copy: vec![false; values],
            when_16bit_in: vec![false; values],
        }
    }

    /// The plan for `graph` (read as `uses` says) with GPU ops `ops` (None: on the CPU)
    /// and fusion `fusion`.
    pub(super) fn new(
        graph: &Graph,
        ops: &[Option<GpuOp>],
        fusion: &FusionPlan,
        uses: &Uses,
    ) -> LowpPlan {
        let mut p = LowpPlan::none(graph.values.len());
        for (n, node) in graph.nodes.iter().enumerate() {
            let Some(Some(mut v)) = node.outputs.first().copied() else {
                continue;
            };
            let writes_16bit = match fusion.at[n] {
                At::Root(k) => fusion.groups[k].out == crate::plan::fuse::Ty::F32,
                At::Member => false,
                // a MatMul folded with its bias (and residual) Add writes the last Add's
                // output
                At::None => match fusion.fold_of(n) {
                    Some(f) => match fusion.fold_output(graph, f) {
                        Some(o) => {
                            v = o;
                            true
                        }
                        None => false,
                    },
                    // a Conv (with its Relu) writes 16 bits where it runs on cuDNN with
                    // 16-bit data (large convs, see `conv_dnn`), else f32
                    None if matches!(ops[n], Some(GpuOp::Conv(_))) => {
                        v = fusion.output_slot(v);
                        true
                    }
                    None => matches!(ops[n], Some(GpuOp::Transpose { .. })),
                },
                At::Attention(k) => match fusion.attention[k].0.output(graph) {
                    // the fused attention writes its last member's output
                    Some(o) => {
                        v = o;
                        true
                    }
                    None => false,
                },
                At::Softmax(k) => match fusion.softmax[k].output(graph, &fusion.groups) {
                    // a fused softmax writes its group after's output
                    Some(o) => {
                        v = o;
                        true
                    }
                    None => false,
                },
            };
            let v = &v;
            if matches!(ops[n], Some(GpuOp::LayerNorm { .. }))
                && fusion.at[n] == At::None
                && uses.readers(*v).iter().any(|&r| {
                    matches!(ops[r], Some(GpuOp::MatMul | GpuOp::Gemm(_)))
                        && fusion.at[r] == At::None
                })
            {
                p.copy[*v] = true;
            }
            // group leaves, LayerNorm inputs and convs only after a GEMM or a conv (other
            // producers keep their f32 readers' bits)
            let conv = matches!(ops[n], Some(GpuOp::Conv(_))) && fusion.at[n] == At::None;
            let after_gemm = fusion.fold_of(n).is_some() && fusion.at[n] == At::None;
            let readers = Readers {
                widening: after_gemm || conv,
                residual: false,
                convs: conv,
            };
            let mut views = Vec::new();
            if writes_16bit && readers.all(graph, ops, fusion, uses, *v, &p.store, &mut views) {
                p.mark(*v, &views);
                continue;
            }
            // a group with a leaf that may come in 16 bits (from a conv, or a group after
            // one), read by convs, groups and GEMMs: 16 bits when such a leaf does at run
            // time (a ResNet block's residual Add and Relu)
            if let At::Root(k) = fusion.at[n] {
                let f = &fusion.groups[k];
                let chained = readers_16_in(f, &p.holds);
                let readers = Readers {
                    widening: true,
                    residual: false,
                    convs: true,
                };
                views.clear();
                if writes_16bit
                    && chained
                    && readers.all(graph, ops, fusion, uses, *v, &p.store, &mut views)
                {
                    p.mark(*v, &views);
                    p.when_16bit_in[*v] = true;
                }
            }
        }
        // then LayerNorms whose every reader takes 16 bits, the folded GEMMs reading the
        // output as their residual having been given 16-bit outputs above, write 16 bits
        // only (the residual stream of a post-norm transformer)
        for (n, node) in graph.nodes.iter().enumerate() {
            let Some(Some(v)) = node.outputs.first().copied() else {
                continue;
            };
            let stats_read = node.outputs[1..]
                .iter()
                .flatten()
                .any(|&o| uses.pinned(o) || !uses.readers(o).is_empty());
            if !matches!(ops[n], Some(GpuOp::LayerNorm { .. }))
                || fusion.at[n] != At::None
                || stats_read
            {
                continue;
            }
            let readers = Readers {
                widening: false,
                residual: true,
                convs: false,
            };
            let mut views = Vec::new();
            if readers.all(graph, ops, fusion, uses, v, &p.store, &mut views) {
                p.mark(v, &views);
                p.copy[v] = false;
            }
        }
        p
    }

    /// Value `v` written in 16 bits, its `views` holding them.
    fn mark(&mut self, v: usize, views: &[usize]) {
        self.store[v] = true;
        self.holds[v] = true;
        for &w in views {
            self.holds[w] = true;
        }
    }
}

/// The readers that take a 16-bit value besides GEMM operands and fused attentions' q, k
/// and v.
#[derive(Clone, Copy)]
struct Readers {
    /// The f32 leaves of element-wise groups run as their own kernel and LayerNorms'
    /// inputs, which widen the value as they read it.
    widening: bool,
    /// The residual of a MatMul folded with its Adds whose output is stored in 16 bits
    /// (per `store`): cuBLASLt reads it as C in D's type.
    residual: bool,
    /// A Conv's input x (a large conv runs on cuDNN with 16-bit data, others widen it).
    convs: bool,
}

/// Whether an f32 leaf of group `f` may hold 16 bits.
fn readers_16_in(f: &crate::plan::fuse::Fusion, holds: &[bool]) -> bool {
    f.leaves
        .iter()
        .any(|&(id, t)| t == crate::plan::fuse::Ty::F32 && holds[id])
}

impl Readers {
    /// Whether every reader of `v` (through views, whose outputs go to `views`) is a GPU
    /// MatMul or Gemm reading it as input 0 or 1, a fused attention reading it as q, k or
    /// v, or one of the readers `self` allows, with no graph output or subgraph read among
    /// them.
    #[allow(clippy::too_many_arguments)]
    fn all(
        self,
        graph: &Graph,
        ops: &[Option<GpuOp>],
        fusion: &FusionPlan,
        uses: &Uses,
        v: usize,
        store: &[bool],
        views: &mut Vec<usize>,
    ) -> bool {
        if uses.pinned(v) || uses.readers(v).is_empty() {
            return false;
        }
        uses.readers(v).iter().all(|&r| {
            let node = &graph.nodes[r];
            if let Some(m) = fusion.folded_into(r) {
                // a scalar Mul folded into MatMul m's alpha: m reads v itself
                return fusion.fold_of(m).is_some_and(|f| f.inputs.contains(&v));
            }
            if fusion.attention_operand(r, v) || (self.widening && fusion.group_leaf(r, v)) {
                return true;
            }
            if self.residual {
                if let Some(f) = fusion.residual_fold(r) {
                    return f.residual == Some((r, v))
                        && fusion.fold_output(graph, f).is_some_and(|o| store[o])
                        && node.inputs.iter().filter(|&&i| i == Some(v)).count() == 1;
                }
            }
            if fusion.at[r] != At::None {
                return false;
            }
            let slots: Vec<usize> = (0..node.inputs.len())
                .filter(|&i| node.inputs[i] == Some(v))
                .collect();
            match &ops[r] {
                Some(GpuOp::MatMul) => slots.iter().all(|&i| i < 2),
                Some(GpuOp::Gemm(_)) => slots.iter().all(|&i| i < 2),
                Some(GpuOp::LayerNorm { .. }) => self.widening && slots == [0],
                Some(GpuOp::Conv(_)) => self.convs && slots == [0],
                Some(op @ GpuOp::View(_)) => {
                    let data_only = slots.iter().all(|&i| i == 0 && op.role(i) == Role::Data);
                    match node.outputs.first() {
                        Some(Some(w)) if data_only => {
                            views.push(*w);
                            self.all(graph, ops, fusion, uses, *w, store, views)
                        }
                        _ => false,
                    }
                }
                _ => false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::attention_fuse::tests::bert_attention;
    use crate::precision::Precision;
    use smelt_core::Tensor;

    /// The first outputs of `g`'s `op` nodes, in graph order.
    fn made_by(g: &Graph, op: &str) -> Vec<usize> {
        g.nodes
            .iter()
            .filter(|n| n.op_type == op)
            .map(|n| n.outputs[0].unwrap())
            .collect()
    }

    /// The plan of BERT's attention block at `p` with fusion on.
    fn plan_at(g: &Graph, p: Precision) -> (FusionPlan, LowpPlan) {
        let mut ops: Vec<Option<GpuOp>> =
            g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let uses = Uses::of(g);
        let mut last_use = super::super::lifetimes(g);
        let fusion = FusionPlan::new(g, &mut ops, Some(&uses), &mut last_use, p);
        let lowp = LowpPlan::new(g, &ops, &fusion, &uses);
        (fusion, lowp)
    }

    /// At fp16 the attention block runs as one kernel, and the three projections (MatMul
    /// with its bias Add folded) write their outputs (the Adds') in 16 bits for it, with
    /// the Reshapes viewing them; the block's output, a graph output through a Reshape,
    /// stays f32. At fp32 there is neither.
    #[test]
    fn projections_feeding_a_fused_attention_store_16_bits() {
        let w = || Tensor::from_vec(vec![8, 8], vec![0.5f32; 64]).unwrap();
        let g = bert_attention(2, 5, 2, 4, [w(), w(), w()], false);
        // Add(MatMul(x, w), c) with c a constant: the projections' bias Adds
        let adds: Vec<usize> = g
            .nodes
            .iter()
            .filter(|n| n.op_type == "Add")
            .filter(|n| n.inputs[1].is_some_and(|c| g.initializers.contains_key(&c)))
            .map(|n| n.outputs[0].unwrap())
            .collect();
        assert_eq!(adds.len(), 3, "the projections' bias Adds");
        let (fusion, lowp) = plan_at(&g, Precision::F16);
        assert_eq!(fusion.attention.len(), 1, "one attention fusion");
        for &a in &adds {
            assert!(lowp.store[a], "{} not stored in 16 bits", g.values[a].name);
            let view = g
                .nodes
                .iter()
                .find(|n| n.inputs.first() == Some(&Some(a)))
                .unwrap();
            assert!(
                lowp.holds[view.outputs[0].unwrap()],
                "its Reshape holds 16 bits"
            );
        }
        let y = g.value_id("y").unwrap();
        assert!(
            !lowp.store[y] && !lowp.holds[y],
            "the graph output stays f32"
        );
        let (fusion, lowp) = plan_at(&g, Precision::F32);
        assert!(fusion.attention.is_empty());
        assert!(adds.iter().all(|&a| !lowp.store[a]));
    }

    /// x -> MatMul w1 + b1 (folded) -> exact GELU (one group) -> MatMul w2 -> y, and
    /// x2 -> Transpose -> Erf group -> MatMul w3 -> y2: at fp16 the folded GEMM's output
    /// (the bias Add's) is stored in 16 bits for the group, the Transpose's is not (only
    /// GEMMs get group readers); both groups store 16 bits for their GEMMs. (The executor
    /// makes this plan at fp16 / bf16 only.)
    #[test]
    fn a_folded_gemm_feeding_a_group_stores_16_bits() {
        use smelt_core::{DType, Dim};
        use smelt_ir::Attributes;
        use smelt_ops::builder::V;
        use smelt_ops::GraphBuilder;
        let d = |n: usize| Dim::Fixed(n);
        let t = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            Tensor::from_vec(
                shape.to_vec(),
                (0..n)
                    .map(|i| (i % 7) as f32 * 0.1 - 0.3)
                    .collect::<Vec<f32>>(),
            )
            .unwrap()
        };
        let mut b = GraphBuilder::new("ffn");
        let x = b.placeholder("x", DType::F32, &[d(2), d(3), d(8)]);
        let x2 = b.placeholder("x2", DType::F32, &[d(8), d(6)]);
        let w1 = b.constant("w1", t(&[8, 16]));
        let b1 = b.constant("b1", t(&[16]));
        let w2 = b.constant("w2", t(&[16, 4]));
        let w3 = b.constant("w3", t(&[8, 4]));
        let sqrt2 = b.constant("sqrt2", Tensor::scalar(std::f32::consts::SQRT_2));
        let one = b.constant("one", Tensor::scalar(1f32));
        let op =
            |b: &mut GraphBuilder, t: &str, ins: &[V]| b.op(t, ins, Attributes::new()).unwrap();
        let m = op(&mut b, "MatMul", &[x, w1]);
        let h = b.add(m, b1).unwrap();
        let dv = op(&mut b, "Div", &[h, sqrt2]);
        let e = op(&mut b, "Erf", &[dv]);
        let a = b.add(e, one).unwrap();
        let gl = b.mul(h, a).unwrap();
        let y = op(&mut b, "MatMul", &[gl, w2]);
        let tr = op(&mut b, "Transpose", &[x2]);
        let e2 = op(&mut b, "Erf", &[tr]);
        let s2 = b.add(e2, tr).unwrap();
        let y2 = op(&mut b, "MatMul", &[s2, w3]);
        b.output(y, "y");
        b.output(y2, "y2");
        let g = b.build().unwrap();
        let (_, lowp) = plan_at(&g, Precision::F16);
        // the bias Add (its second input a constant) and the Transpose
        let h_id = g
            .nodes
            .iter()
            .find(|n| {
                n.op_type == "Add" && n.inputs[1].is_some_and(|c| g.initializers.contains_key(&c))
            })
            .and_then(|n| n.outputs[0])
            .unwrap();
        let tr_id = made_by(&g, "Transpose")[0];
        assert!(
            lowp.store[h_id],
            "the folded GEMM's output in 16 bits for the GELU group"
        );
        assert!(!lowp.store[tr_id], "a Transpose feeding a group stays f32");
        // the groups' outputs: the values the second-layer MatMuls read first
        let group_outs: Vec<usize> = g
            .nodes
            .iter()
            .filter(|n| n.op_type == "MatMul" && n.inputs[0] != g.value_id("x"))
            .map(|n| n.inputs[0].unwrap())
            .collect();
        assert_eq!(group_outs.len(), 2, "the two groups' outputs");
        assert!(
            group_outs.iter().all(|&v| lowp.store[v]),
            "the groups store 16 bits for their GEMMs"
        );
    }

    /// x -> LN0 -> (h @ w + c + h -> LN) twice -> y: at fp16 the residual stream is 16-bit
    /// (both folded GEMMs' outputs and LN0's, LN1's), the last LayerNorm's output (a graph
    /// output) is f32.
    #[test]
    fn a_post_norm_residual_stream_stores_16_bits() {
        use smelt_core::{DType, Dim};
        use smelt_ir::Attributes;
        use smelt_ops::GraphBuilder;
        let t = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            Tensor::from_vec(
                shape.to_vec(),
                (0..n).map(|i| (i % 5) as f32 * 0.1).collect::<Vec<f32>>(),
            )
            .unwrap()
        };
        let mut b = GraphBuilder::new("post_norm");
        let x = b.placeholder("x", DType::F32, &[Dim::Fixed(3), Dim::Fixed(8)]);
        let mut h = x;
        for i in 0..3 {
            if i > 0 {
                let w = b.constant(&format!("w{i}"), t(&[8, 8]));
                let c = b.constant(&format!("c{i}"), t(&[8]));
                let m = b.op("MatMul", &[h, w], Attributes::new()).unwrap();
                let mb = b.add(m, c).unwrap();
                h = b.add(mb, h).unwrap();
            }
            let gamma = b.constant(&format!("g{i}"), t(&[8]));
            h = b
                .op("LayerNormalization", &[h, gamma], Attributes::new())
                .unwrap();
        }
        b.output(h, "y");
        let g = b.build().unwrap();
        let (_, lowp) = plan_at(&g, Precision::F16);
        let y = g.value_id("y").unwrap();
        // the values in graph order: LN outputs and fold outputs (the residual Adds')
        let ln_out = made_by(&g, "LayerNormalization");
        assert_eq!(ln_out.len(), 3);
        assert!(
            lowp.store[ln_out[0]] && lowp.store[ln_out[1]],
            "LN0 and LN1 write 16 bits"
        );
        assert!(
            !lowp.store[ln_out[2]] && ln_out[2] == y,
            "the output LayerNorm writes f32"
        );
        let adds = made_by(&g, "Add");
        // bias Add, residual Add per fold: the residual Adds' outputs are the folds'
        assert!(
            lowp.store[adds[1]] && lowp.store[adds[3]],
            "the folded GEMMs write 16 bits"
        );
        assert!(
            !lowp.copy[ln_out[0]] && !lowp.copy[ln_out[1]],
            "no f32 output, no copy"
        );
    }

    /// x -> Conv + Relu -> h; Conv -> y1; Relu(y1 + h) -> r; Conv -> y; MaxPool(h) -> m:
    /// at fp16 the convs feeding convs and the group may write 16 bits (h, y1), the group
    /// too when a leaf comes in 16 bits (r); y (a graph output) and a value a MaxPool reads
    /// do not.
    #[test]
    fn a_conv_chain_may_store_16_bits() {
        use smelt_core::{DType, Dim};
        use smelt_ir::{Attr, Attributes};
        use smelt_ops::GraphBuilder;
        let mut b = GraphBuilder::new("conv_chain");
        let d = Dim::Fixed;
        let x = b.placeholder("x", DType::F32, &[d(1), d(4), d(6), d(6)]);
        let pads = Attributes::new().with("pads", Attr::Ints(vec![1, 1, 1, 1]));
        let conv = |b: &mut GraphBuilder, v, i: usize| {
            let w = b.constant(
                &format!("w{i}"),
                Tensor::from_vec(vec![4, 4, 3, 3], vec![0.1f32; 144]).unwrap(),
            );
            b.op("Conv", &[v, w], pads.clone()).unwrap()
        };
        let a = conv(&mut b, x, 0);
        let h = b.op("Relu", &[a], Attributes::new()).unwrap();
        let y1 = conv(&mut b, h, 1);
        let s = b.add(y1, h).unwrap();
        let r = b.op("Relu", &[s], Attributes::new()).unwrap();
        let y = conv(&mut b, r, 2);
        let k = Attributes::new().with("kernel_shape", Attr::Ints(vec![2, 2]));
        let c3 = conv(&mut b, x, 3);
        let m = b.op("MaxPool", &[c3], k).unwrap();
        b.output(y, "y");
        b.output(m, "m");
        let g = b.build().unwrap();
        let (_, lowp) = plan_at(&g, Precision::F16);
        let (relu_out, conv_out) = (made_by(&g, "Relu"), made_by(&g, "Conv"));
        let (h, r) = (relu_out[0], relu_out[1]);
        let (y1, y, c3) = (conv_out[1], conv_out[2], conv_out[3]);
        assert!(
            lowp.store[h] && !lowp.when_16bit_in[h],
            "conv + Relu -> conv and group"
        );
        assert!(lowp.store[y1], "conv -> group");
        assert!(
            lowp.store[r] && lowp.when_16bit_in[r],
            "the group, when a leaf is 16-bit"
        );
        assert!(!lowp.store[y], "a graph output");
        assert!(!lowp.store[c3], "read by a MaxPool");
    }
}
