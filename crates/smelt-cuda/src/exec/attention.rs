//! Attention fusions in the executor (see `crate::plan::attention_fuse`): the one kernel at
//! the last member's place, or the members apart, in graph order, where it refuses the
//! inputs.

use super::fusion::{note_wait, At};
use super::{falls_back, Executor, Inner, Slot};
use crate::cuda::ops::fused_attention::{self, Groups, Operand};
use crate::profile::Recorder;
use smelt_core::{DType, Result};
use smelt_ir::Graph;
use std::ops::Deref;

impl<G: Deref<Target = Graph>> Executor<G> {
    /// Runs attention fusion k: reads q, k, v and the softmax groups' other leaves, writes
    /// the fusion's output (16-bit where the store plan says so).
    pub(super) fn run_attention_fused(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        k: usize,
        capturing: bool,
        rec: &mut Option<Recorder>,
    ) -> Result<()> {
        let (af, apart) = &self.fusion.attention[k];
        let sf = &self.fusion.softmax[af.softmax];
        let here = af.at();
        let node = &self.graph.nodes[here];
        let syncs = inner.stream.syncs();
        let scores = self.graph.nodes[af.qk].outputs.first().copied().flatten();
        let pre = sf.pre.and_then(|g| {
            let f = &self.fusion.groups[g];
            let given = f.leaves.iter().position(|(id, _)| Some(*id) == scores)?;
            Some((f, given))
        });
        let post = sf.post.map(|(g, leaf)| (&self.fusion.groups[g], leaf));
        let mut ids = vec![af.q.value, af.k.value, af.v.value];
        for (f, given) in pre.into_iter().chain(post) {
            ids.extend(f.leaves_but(given).map(|(id, _)| *id));
        }
        let out = af.output(&self.graph);
        let out16 = match out {
            Some(o) if self.lowp.store[o] => self.store_type(),
            _ => None,
        };
        let mut ins = Vec::with_capacity(ids.len());
        for &id in &ids {
            ins.push(
                self.dev_of(inner, env, id)
                    .map_err(|e| e.in_node(&node.name, "fused attention"))?,
            );
        }
        let mark = match rec {
            Some(r) => Some(r.start(&inner.stream, here)?),
            None => None,
        };
        inner.stream.set_error_code(here as i32 + 1);
        let leaves: Vec<_> = ins[3..].iter().collect();
        let groups = Groups {
            pre: if sf.pre.is_some() { pre } else { None },
            post,
        };
        let r = if sf.pre.is_some() && pre.is_none() {
            Err(smelt_core::Error::unsupported(
                "fused attention",
                "the scores are not a leaf of the group before the softmax",
            ))
        } else {
            fused_attention::run(
                &inner.stream,
                &mut inner.fused_attention,
                k,
                (
                    Operand {
                        t: &ins[0],
                        perm: af.q.perm,
                    },
                    Operand {
                        t: &ins[1],
                        perm: af.k.perm,
                    },
                    Operand {
                        t: &ins[2],
                        perm: af.v.perm,
                    },
                ),
                af.alpha,
                &groups,
                &leaves,
                af.out_transpose.map(|(_, inv)| inv),
                out16,
            )
        };
        if let (Some(r), Some(m)) = (rec.as_mut(), mark) {
            r.end(&inner.stream, m)?;
        }
        drop(leaves);
        drop(ins);
        match r {
            Ok(y) => {
                let stored16 = out16.is_some() && y.dtype() != DType::F32;
                self.keep_fused(inner, env, af.members.len(), out, y, stored16);
                if !capturing {
                    note_wait(inner, syncs, &node.name, "a fused attention");
                }
            }
            Err(e) if falls_back(&e) => {
                if inner.stats.fallback_reasons.len() < 32 {
                    inner.stats.fallback_reasons.push(format!(
                        "{} (fused attention): {e}; its nodes ran apart",
                        node.name
                    ));
                }
                for &(m, at) in apart {
                    match at {
                        At::Root(g) => self.run_fused(inner, env, g, capturing, rec)?,
                        At::Softmax(s) => self.run_softmax_fused(inner, env, s, capturing, rec)?,
                        At::None => self.run_node(inner, env, m, capturing, rec)?,
                        At::Member | At::Attention(_) => {}
                    }
                }
            }
            Err(e) => return Err(e.in_node(&node.name, "fused attention")),
        }
        // inputs read last by the fusion (those of the members run apart were freed there)
        for (m, _) in apart {
            for &i in self.graph.nodes[*m].inputs.iter().flatten() {
                if self.last_use[i] == Some(here) {
                    env[i] = Slot::default();
                }
            }
        }
        Ok(())
    }
}
