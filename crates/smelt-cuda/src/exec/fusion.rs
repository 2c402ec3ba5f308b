//! Fused element-wise groups in the executor (see `crate::plan::fuse`): where each node
//! stands (alone, a group's root, or a member that runs with its root), the leaves' last
//! uses moved to the root, and the run of a group, with the members run one by one when
//! the fused kernel does not take the inputs.

use super::{falls_back, Executor, Inner, Slot};
use crate::cuda::ops::fused;
use crate::plan::fuse::{self, Fusion};
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
}

pub(super) struct FusionPlan {
    pub(super) groups: Vec<Fusion>,
    pub(super) at: Vec<At>,
}

impl FusionPlan {
    /// The groups of `ops` (none when `on` is false), with `last_use` moved so that every
    /// leaf lives until its group's root.
    pub(super) fn new(
        graph: &Graph,
        ops: &[Option<GpuOp>],
        on: bool,
        last_use: &mut [Option<usize>],
    ) -> FusionPlan {
        let groups = if on {
            fuse::plan(graph, ops)
        } else {
            Vec::new()
        };
        let mut at = vec![At::None; graph.nodes.len()];
        for (k, f) in groups.iter().enumerate() {
            for &m in &f.members {
                at[m] = At::Member;
            }
            at[f.root] = At::Root(k);
            for &(leaf, _) in &f.leaves {
                last_use[leaf] = Some(last_use[leaf].map_or(f.root, |l| l.max(f.root)));
            }
        }
        FusionPlan { groups, at }
    }

    /// "Fused(Add+Erf)" for a group's root, for profiles.
    pub(super) fn label(&self, n: usize) -> Option<String> {
        match self.at[n] {
            At::Root(k) => Some(format!("Fused({})", self.groups[k].label)),
            _ => None,
        }
    }
}

impl<G: Deref<Target = Graph>> Executor<G> {
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
        let r = fused::run(&inner.stream, f, &refs);
        if let (Some(r), Some(k)) = (rec.as_mut(), mark) {
            r.end(&inner.stream, k)?;
        }
        drop(refs);
        drop(leaves);
        match r {
            Ok(y) => {
                inner.stats.gpu_nodes += f.members.len() as u64;
                inner.stats.fused_nodes += f.members.len() as u64;
                if let Some(o) = root.outputs[0] {
                    if self.last_use[o].is_some() {
                        env[o] = Slot {
                            host: None,
                            dev: Some(y),
                        };
                    }
                }
                if !capturing && inner.first_wait.is_none() && inner.stream.syncs() != syncs {
                    inner.first_wait = Some(format!(
                        "node '{}' (a fused group) made the host wait (an upload mid-run)",
                        root.name
                    ));
                }
            }
            Err(e) if falls_back(&e) => {
                if inner.stats.fallback_reasons.len() < 32 {
                    inner.stats.fallback_reasons.push(format!(
                        "{} (Fused {}): {e}; its nodes ran one by one",
                        root.name, f.label
                    ));
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
