//! Fused element-wise groups in the executor (see `crate::plan::fuse`): where each node
//! stands (alone, a group's root, or a member that runs with its root), the leaves' last
//! uses moved to the root, and the run of a group, with the members run one by one when
//! the fused kernel does not take the inputs.

use super::{falls_back, Executor, Inner, Slot};
use crate::cuda::ops::fused;
use crate::plan::attention_fuse::{attention_fusions, AttentionFusion};
use crate::plan::fold::{self, MatMulFold};
use crate::plan::fuse::{self, Fusion};
use crate::plan::softmax_fuse::{softmax_fusions, SoftmaxFusion};
use crate::plan::GpuOp;
use crate::profile::Recorder;
use smelt_core::Result;
use smelt_ir::Graph;
use std::ops::Deref;

/// Where a node stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum At {
    None,
    /// The root of group k: the group runs here.
    Root(usize),
    /// A member other than the root: nothing runs here.
    Member,
    /// Softmax fusion k (see `plan::softmax_fuse`): it runs here with its groups.
    Softmax(usize),
    /// Attention fusion k (see `plan::attention_fuse`): it runs here, at its last member.
    Attention(usize),
}

pub(super) struct FusionPlan {
    pub(super) groups: Vec<Fusion>,
    /// Softmaxes run with the groups before and after them.
    pub(super) softmax: Vec<SoftmaxFusion>,
    /// Attention blocks run as one kernel (fp16 / bf16), with each member's place before
    /// it (how the members run apart when the kernel refuses the inputs).
    pub(super) attention: Vec<(AttentionFusion, Vec<(usize, At)>)>,
    pub(super) at: Vec<At>,
    /// Conv output value -> the output of the Relu fused into it (the Conv writes there).
    alias: std::collections::HashMap<usize, usize>,
    /// Per node: the nodes run inside it after its product, in order (a Conv's Relu; a
    /// MatMul's bias Add and residual Add), with the profile label.
    epilogue_of: Vec<Option<(Vec<usize>, &'static str)>>,
    /// Per MatMul node: the scalar Muls and bias Add folded into it (see `plan::fold`).
    folds: std::collections::HashMap<usize, MatMulFold>,
    /// Per node: the MatMul a folded Mul belongs to.
    folded_into: Vec<Option<usize>>,
}

impl FusionPlan {
    /// The groups of `ops` (none without `uses`: fusion off), with `last_use` moved so that every
    /// leaf lives until its group's root; a Conv whose one reader is a Relu gets
    /// `ConvAttrs::relu` set in `ops` and writes the Relu's output; a MatMul reading scalar
    /// Muls takes their scales as alpha (the Muls run no kernel; their tensor inputs live
    /// until the MatMul). At 16-bit `precision`, attention blocks become one kernel.
    pub(super) fn new(
        graph: &Graph,
        ops: &mut [Option<GpuOp>],
        uses: Option<&fuse::Uses>,
        last_use: &mut [Option<usize>],
        precision: crate::precision::Precision,
    ) -> FusionPlan {
        let pairs = match uses {
            Some(u) => fuse::conv_relu(graph, ops, u),
            None => Vec::new(),
        };
        let mut at = vec![At::None; graph.nodes.len()];
        let mut alias = std::collections::HashMap::new();
        let mut epilogue_of = vec![None; graph.nodes.len()];
        let mut masked = ops.to_vec();
        let mut folds = std::collections::HashMap::new();
        let mut folded_into = vec![None; graph.nodes.len()];
        for f in uses.map_or(Vec::new(), |u| fold::matmul_folds(graph, ops, u)) {
            for &m in &f.muls {
                masked[m] = None;
                at[m] = At::Member;
                folded_into[m] = Some(f.matmul);
            }
            if let Some((add, _)) = f.bias {
                masked[add] = None;
                at[add] = At::Member;
                let mut chain = vec![add];
                if let Some((radd, r)) = f.residual {
                    masked[radd] = None;
                    at[radd] = At::Member;
                    chain.push(radd);
                    // the residual Add runs inside the MatMul: a read last there ends there
                    last_use[r] = match last_use[r] {
                        Some(l) if l != radd => Some(l.max(f.matmul)),
                        _ => Some(f.matmul),
                    };
                }
                let end = *chain.last().unwrap_or(&add);
                let label = if chain.len() == 2 {
                    "MatMul+Add+Add"
                } else {
                    "MatMul+Add"
                };
                epilogue_of[f.matmul] = Some((chain, label));
                if let (Some(Some(y)), Some(Some(z))) = (
                    graph.nodes[f.matmul].outputs.first(),
                    graph.nodes[end].outputs.first(),
                ) {
                    alias.insert(*y, *z);
                }
            }
            for &v in &f.inputs {
                last_use[v] = Some(last_use[v].map_or(f.matmul, |l| l.max(f.matmul)));
            }
            folds.insert(f.matmul, f);
        }
        for &(c, r) in &pairs {
            if let Some(GpuOp::Conv(a)) = &mut ops[c] {
                a.relu = true;
            }
            masked[r] = None; // not also in an element-wise group
            at[r] = At::Member;
            epilogue_of[c] = Some((vec![r], "Conv+Relu"));
            if let (Some(Some(y)), Some(Some(z))) = (
                graph.nodes[c].outputs.first(),
                graph.nodes[r].outputs.first(),
            ) {
                alias.insert(*y, *z);
            }
        }
        let groups = match uses {
            Some(u) => fuse::plan(graph, &masked, u),
            None => Vec::new(),
        };
        for (k, f) in groups.iter().enumerate() {
            for &m in &f.members {
                at[m] = At::Member;
            }
            at[f.root] = At::Root(k);
            for &(leaf, _) in &f.leaves {
                last_use[leaf] = Some(last_use[leaf].map_or(f.root, |l| l.max(f.root)));
            }
        }
        let softmax = match &uses {
            Some(u) => softmax_fusions(graph, &masked, u, &groups),
            None => Vec::new(),
        };
        for (k, sf) in softmax.iter().enumerate() {
            at[sf.softmax] = At::Softmax(k);
            if let Some(g) = sf.pre {
                at[groups[g].root] = At::Member;
                for &(leaf, _) in &groups[g].leaves {
                    last_use[leaf] = Some(last_use[leaf].map_or(sf.softmax, |l| l.max(sf.softmax)));
                }
            }
            if let Some((g, _)) = sf.post {
                at[groups[g].root] = At::Member;
            }
        }
        let attention = match &uses {
            Some(u) if precision.is_16bit() => {
                attention_fusions(graph, ops, u, &folds, &groups, &softmax)
            }
            _ => Vec::new(),
        };
        let attention: Vec<(AttentionFusion, Vec<(usize, At)>)> = attention
            .into_iter()
            .enumerate()
            .map(|(k, af)| {
                let apart: Vec<(usize, At)> = af.members.iter().map(|&m| (m, at[m])).collect();
                let here = af.at();
                for &m in &af.members {
                    at[m] = At::Member;
                    // inputs from outside live until the kernel runs
                    for &i in graph.nodes[m].inputs.iter().flatten() {
                        let inside = uses
                            .and_then(|u| u.producer(i))
                            .is_some_and(|p| af.members.contains(&p));
                        if !inside {
                            last_use[i] = Some(last_use[i].map_or(here, |l| l.max(here)));
                        }
                    }
                }
                at[here] = At::Attention(k);
                (af, apart)
            })
            .collect();
        FusionPlan {
            groups,
            softmax,
            attention,
            at,
            alias,
            epilogue_of,
            folds,
            folded_into,
        }
    }

    /// Where the executor keeps node output `o`: the fused Relu's output for a Conv's.
    pub(super) fn output_slot(&self, o: usize) -> usize {
        self.alias.get(&o).copied().unwrap_or(o)
    }
    /// The scalar Muls and bias Add folded into MatMul node `n`.
    pub(super) fn fold_of(&self, n: usize) -> Option<&MatMulFold> {
        self.folds.get(&n)
    }
    /// Whether node `r` reads value `v` as a fused attention's q, k or v operand: the
    /// Transpose read through, or the product (or a scalar Mul folded into it) reading it
    /// directly.
    pub(super) fn attention_operand(&self, r: usize, v: usize) -> bool {
        self.attention.iter().any(|(a, _)| {
            [&a.q, &a.k, &a.v].iter().any(|o| {
                o.value == v
                    && match o.transpose {
                        Some(t) => t == r,
                        None => r == a.qk || r == a.pv || self.folded_into[r] == Some(a.qk),
                    }
            })
        })
    }
    /// Whether node `r` reads value `v` as an f32 leaf of an element-wise group that runs
    /// as its own kernel (not inside a softmax or attention fusion), which reads a leaf
    /// stored in 16 bits as well (see `cuda::ops::fused::run`).
    pub(super) fn group_leaf(&self, r: usize, v: usize) -> bool {
        self.groups.iter().enumerate().any(|(g, f)| {
            self.at[f.root] == At::Root(g)
                && f.members.contains(&r)
                && f.leaves.contains(&(v, fuse::Ty::F32))
        })
    }
    /// The fold whose residual Add is node `r`.
    pub(super) fn residual_fold(&self, r: usize) -> Option<&MatMulFold> {
        self.folds
            .values()
            .find(|f| f.residual.is_some_and(|(add, _)| add == r))
    }
    /// The value a MatMul folded with its bias (and residual) Add writes: the last Add's
    /// output.
    pub(super) fn fold_output(&self, graph: &Graph, f: &MatMulFold) -> Option<usize> {
        let (add, _) = f.residual.or(f.bias)?;
        graph.nodes[add].outputs.first().copied().flatten()
    }
    /// The MatMul that folded Mul node `n` belongs to.
    pub(super) fn folded_into(&self, n: usize) -> Option<usize> {
        self.folded_into[n]
    }
    /// The nodes run inside node `n` after its product, in order: a Conv's Relu; a
    /// MatMul's bias Add and residual Add (empty for none).
    pub(super) fn epilogue_of(&self, n: usize) -> &[usize] {
        self.epilogue_of[n].as_ref().map_or(&[], |(e, _)| e)
    }

    /// "Fused(Add+Erf)" for a group's root, "Conv+Relu" for a Conv with its Relu, for
    /// profiles.
    pub(super) fn label(&self, n: usize) -> Option<String> {
        match self.at[n] {
            At::Root(k) => Some(format!("Fused({})", self.groups[k].label)),
            At::Softmax(k) => {
                let sf = &self.softmax[k];
                let group = |g: usize| format!("Fused({})", self.groups[g].label);
                let mut parts: Vec<String> = sf.pre.map(group).into_iter().collect();
                parts.push("Softmax".into());
                parts.extend(sf.post.map(|(g, _)| group(g)));
                Some(parts.join("+"))
            }
            At::Attention(_) => Some("FusedAttention".to_string()),
            _ => self.epilogue_of[n].as_ref().map(|(_, l)| l.to_string()),
        }
    }
}

/// Notes node `name` (a `what`) as the run's first host wait when the stream synchronised
/// since its count was `syncs` (a plain run, not a capture).
pub(super) fn note_wait(inner: &mut Inner, syncs: u64, name: &str, what: &str) {
    if inner.first_wait.is_none() && inner.stream.syncs() != syncs {
        inner.first_wait = Some(format!(
            "node '{name}' ({what}) made the host wait (an upload mid-run)"
        ));
    }
}

impl<G: Deref<Target = Graph>> Executor<G> {
    /// A fused kernel's output `y`, covering `members` nodes: counts them (and its 16-bit
    /// store, `stored16`) and keeps `y` as value `out` where something reads it later.
    pub(super) fn keep_fused(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        members: usize,
        out: Option<usize>,
        y: crate::cuda::tensor::GpuTensor,
        stored16: bool,
    ) {
        inner.stats.gpu_nodes += members as u64;
        inner.stats.fused_nodes += members as u64;
        if stored16 {
            inner.stats.stores_16bit += 1;
        }
        if let Some(o) = out.filter(|&o| self.last_use[o].is_some()) {
            env[o] = Slot {
                host: None,
                dev: Some(y),
            };
        }
    }

    /// Runs group k at its root: one kernel over the leaves; on an input the kernel does
    /// not take, the members one by one.
    pub(super) fn run_fused(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        k: usize,
        capturing: bool,
        rec: &mut Option<Recorder>,
    ) -> Result<()> {
        let f = &self.fusion.groups[k];
        let root = &self.graph.nodes[f.root];
        let syncs = inner.stream.syncs();
        let mut leaves = Vec::with_capacity(f.leaves.len());
        for &(id, _) in &f.leaves {
            leaves.push(
                self.dev_of(inner, env, id)
                    .map_err(|e| e.in_node(&root.name, &root.op_type))?,
            );
        }
        let mark = match rec {
            Some(r) => Some(r.start(&inner.stream, f.root)?),
            None => None,
        };
        inner.stream.set_error_code(f.root as i32 + 1);
        let refs: Vec<_> = leaves.iter().collect();
        // a group in a chain of 16-bit convs writes 16 bits when a leaf came in 16 bits
        let out16 = match root.outputs[0] {
            Some(o) if self.lowp.store[o] => self
                .store_type()
                .filter(|&d| !self.lowp.when_16bit_in[o] || refs.iter().any(|x| x.dtype() == d)),
            _ => None,
        };
        let r = fused::run(&inner.stream, &mut inner.fused, k, f, &refs, out16);
        if let (Some(r), Some(k)) = (rec.as_mut(), mark) {
            r.end(&inner.stream, k)?;
        }
        drop(refs);
        drop(leaves);
        match r {
            Ok(y) => {
                let stored16 = y.dtype() != fused::dtype(f.out);
                self.keep_fused(inner, env, f.members.len(), root.outputs[0], y, stored16);
                if !capturing {
                    note_wait(inner, syncs, &root.name, "a fused group");
                }
            }
            Err(e) if falls_back(&e) => {
                if inner.stats.fallback_reasons.len() < 32 {
                    inner.stats.fallback_reasons.push(format!(
                        "{} (Fused {}): {e}; its nodes ran one by one",
                        root.name, f.label
                    ));
                }
                // the members take f32: a leaf stored in 16 bits for the group is widened
                for &(id, ty) in &f.leaves {
                    let narrow = env[id]
                        .dev
                        .as_ref()
                        .filter(|d| ty == fuse::Ty::F32 && d.dtype() != smelt_core::DType::F32);
                    if let Some(d) = narrow.filter(|_| self.lowp.holds[id]) {
                        let w = crate::cuda::ops::widen(&inner.stream, d)
                            .map_err(|e| e.in_node(&root.name, &root.op_type))?;
                        env[id].dev = Some(w);
                    }
                }
                for &m in &f.members {
                    self.run_node(inner, env, m, capturing, rec)?;
                }
            }
            Err(e) => return Err(e.in_node(&root.name, &format!("Fused({})", f.label))),
        }
        for &(leaf, _) in &f.leaves {
            if self.last_use[leaf] == Some(f.root) {
                env[leaf] = Slot::default();
            }
        }
        Ok(())
    }
}

impl<G: Deref<Target = Graph>> Executor<G> {
    /// Runs softmax fusion k at its Softmax node: one kernel over the group before's
    /// leaves (or the softmax input) and the group after's other leaves; on inputs the
    /// kernel does not take, the group before, the Softmax and the group after apart.
    pub(super) fn run_softmax_fused(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        k: usize,
        capturing: bool,
        rec: &mut Option<Recorder>,
    ) -> Result<()> {
        let sf = &self.fusion.softmax[k];
        let node = &self.graph.nodes[sf.softmax];
        let pre = sf.pre.map(|g| &self.fusion.groups[g]);
        let post = sf.post.map(|(g, leaf)| (&self.fusion.groups[g], leaf));
        let mut ids: Vec<usize> = match pre {
            Some(f) => f.leaves.iter().map(|(id, _)| *id).collect(),
            None => node.inputs.iter().flatten().copied().collect(),
        };
        if let Some((f, given)) = post {
            ids.extend(f.leaves_but(given).map(|(id, _)| *id));
        }
        let out = sf.output(&self.graph, &self.fusion.groups);
        let out16 = match out {
            Some(o) if self.lowp.store[o] => self.store_type(),
            _ => None,
        };
        let mut leaves = Vec::with_capacity(ids.len());
        for &id in &ids {
            leaves.push(
                self.dev_of(inner, env, id)
                    .map_err(|e| e.in_node(&node.name, &node.op_type))?,
            );
        }
        let mark = match rec {
            Some(r) => Some(r.start(&inner.stream, sf.softmax)?),
            None => None,
        };
        inner.stream.set_error_code(sf.softmax as i32 + 1);
        let refs: Vec<_> = leaves.iter().collect();
        let r = crate::cuda::ops::fused_softmax::run(
            &inner.stream,
            &mut inner.fused_softmax,
            k,
            sf.kind,
            pre,
            post,
            &refs,
            out16,
        );
        if let (Some(r), Some(m)) = (rec.as_mut(), mark) {
            r.end(&inner.stream, m)?;
        }
        drop(refs);
        drop(leaves);
        match r {
            Ok(y) => {
                let members = 1
                    + pre.map_or(0, |f| f.members.len())
                    + post.map_or(0, |(f, _)| f.members.len());
                let stored16 = out16.is_some() && y.dtype() != smelt_core::DType::F32;
                self.keep_fused(inner, env, members, out, y, stored16);
            }
            Err(e) if falls_back(&e) => {
                if inner.stats.fallback_reasons.len() < 32 {
                    inner.stats.fallback_reasons.push(format!(
                        "{} (fused softmax): {e}; its groups and the Softmax ran apart",
                        node.name
                    ));
                }
                if let Some(g) = sf.pre {
                    self.run_fused(inner, env, g, capturing, rec)?;
                }
                self.run_node(inner, env, sf.softmax, capturing, rec)?;
                if let Some((g, _)) = sf.post {
                    self.run_fused(inner, env, g, capturing, rec)?;
                }
                return Ok(());
            }
            Err(e) => return Err(e.in_node(&node.name, "fused softmax")),
        }
        for &id in &ids {
            if self.last_use[id] == Some(sf.softmax) {
                env[id] = Slot::default();
            }
        }
        Ok(())
    }
}
