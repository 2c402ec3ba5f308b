//! Nodes run on the host: CPU nodes (with the values their subgraph bodies capture), and
//! shape arithmetic: a node placed on CUDA whose inputs are small integer
//! values held only on the host runs on the CPU instead, so its inputs need no upload and
//! its outputs (often read on the host, as a Reshape's target) no download; either would
//! make the host wait mid-run and keep the run out of a CUDA graph.

use super::{host_of, Executor, Inner, Slot};
use crate::plan::op::Role;
use crate::plan::GpuOp;
use crate::profile::Recorder;
use smelt_core::{DType, Result, Tensor};
use smelt_ir::{Attr, EvalCtx, Graph, SubgraphRunner};
use std::collections::HashMap;
use std::ops::Deref;

/// The most input elements, in all, of a GPU-placed node that runs on the host because its
/// inputs are host-only (see [`super::ExecStats::host_side_nodes`]).
pub const HOST_SIDE_ELEMENTS: usize = 4096;

impl<G: Deref<Target = Graph>> Executor<G> {
    /// [`Executor::run_cpu`], timed for the profile.
    pub(super) fn run_cpu_timed(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        n: usize,
        rec: &mut Option<Recorder>,
    ) -> Result<Vec<Slot>> {
        let t = std::time::Instant::now();
        let outs = self.run_cpu(inner, env, n)?;
        if let Some(r) = rec {
            r.cpu(n, t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(outs)
    }

    /// Value `id`'s host copy `t` as the graph types it: f32 where its producer stored it
    /// in 16 bits for GEMM readers (see `exec/lowp.rs`) and a reader runs on the CPU.
    fn widened(&self, id: usize, t: Tensor) -> Result<Tensor> {
        if !self.lowp.holds[id] || !matches!(t.dtype(), DType::F16 | DType::BF16) {
            return Ok(t);
        }
        smelt_ops::math::cast::cast(&t, DType::F32, false)
    }

    /// Evaluates node `n` with its CPU op on host copies of its inputs (downloaded as
    /// needed). The caller counts it (a CPU node, a host-side node, or a location-free
    /// node's host value).
    pub(super) fn run_cpu(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        n: usize,
    ) -> Result<Vec<Slot>> {
        let g: &Graph = &self.graph;
        let node = &g.nodes[n];
        let mut ins = Vec::with_capacity(node.inputs.len());
        for id in &node.inputs {
            ins.push(match id {
                None => None,
                Some(id) => Some(
                    host_of(inner, env, *id)
                        .and_then(|t| self.widened(*id, t))
                        .map_err(|e| e.in_node(&node.name, &node.op_type))?,
                ),
            });
        }
        // values a subgraph body reads from this graph must be on the host
        let mut captured: HashMap<String, Tensor> = HashMap::new();
        for a in node.attrs.0.values() {
            let subs: Vec<&Graph> = match a {
                Attr::Graph(s) => vec![&**s],
                Attr::Graphs(ss) => ss.iter().map(|s| &**s).collect(),
                _ => continue,
            };
            for s in subs {
                for name in smelt_cpu::captured_names(s) {
                    if let Some(id) = g.value_id(&name) {
                        if env[id].host.is_some() || env[id].dev.is_some() {
                            captured.insert(name, host_of(inner, env, id)?);
                        }
                    }
                }
            }
        }
        let scope = CpuScope {
            captured: &captured,
        };
        let ctx = EvalCtx {
            n_outputs: node.outputs.len(),
            subgraphs: &scope,
        };
        let outs = node
            .op
            .eval(&ctx, ins)
            .map_err(|e| e.in_node(&node.name, &node.op_type))?;
        Ok(outs
            .into_iter()
            .map(|t| Slot {
                host: Some(t),
                dev: None,
            })
            .collect())
    }

    /// The value on the device, uploading (and keeping) it if needed. Constant values are
    /// uploaded once per executor.
    /// Whether node `n` (placed on CUDA) runs on the host: it reads an input as data or its
    /// outputs are only read on the host ([`shape_side`]), every input it has is an integer
    /// or bool value on the host only (shape arithmetic), with at most
    /// [`HOST_SIDE_ELEMENTS`] elements in all, and it has no subgraph.
    pub(super) fn host_side(&self, env: &[Slot], n: usize, op: &GpuOp) -> bool {
        let node = &self.graph.nodes[n];
        // an op reading no input as data (Range, ConstantOfShape) needs no upload: it
        // makes its output on the device
        let reads_data = node
            .inputs
            .iter()
            .enumerate()
            .any(|(i, id)| id.is_some() && op.role(i) == Role::Data);
        if !reads_data && !self.shape_side[n] {
            return false;
        }
        let mut elems = 0usize;
        for id in node.inputs.iter().flatten() {
            match (&env[*id].host, &env[*id].dev) {
                (Some(h), None) if !h.dtype().is_float() => elems += h.len(),
                _ => return false,
            }
        }
        elems <= HOST_SIDE_ELEMENTS
            && node.inputs.iter().any(|i| i.is_some())
            && !node
                .attrs
                .0
                .values()
                .any(|a| matches!(a, Attr::Graph(_) | Attr::Graphs(_)))
    }
}

/// Per node: whether every reader of its outputs reads them on the host (a CPU node, a GPU
/// op's host input such as Expand's or Reshape's shape, or another such node; views pass
/// it through). Such a node (ConstantOfShape feeding a shape computation) runs on the host
/// when its inputs are small host values, so its outputs need no download.
pub(super) fn shape_side(graph: &Graph, ops: &[Option<GpuOp>]) -> Vec<bool> {
    let mut readers: Vec<Vec<(usize, usize)>> = vec![Vec::new(); graph.values.len()];
    for (n, node) in graph.nodes.iter().enumerate() {
        for (i, id) in node.inputs.iter().enumerate() {
            if let Some(id) = id {
                readers[*id].push((n, i));
            }
        }
    }
    let mut side = vec![false; graph.nodes.len()];
    for (n, node) in graph.nodes.iter().enumerate().rev() {
        let mut any = false;
        let all = node.outputs.iter().flatten().all(|&o| {
            readers[o].iter().all(|&(r, i)| {
                any = true;
                match &ops[r] {
                    None => true,
                    Some(GpuOp::View(_)) if i == 0 => side[r],
                    Some(op) => op.role(i) == Role::Host || side[r],
                }
            })
        });
        side[n] = any && all && ops[n].is_some();
    }
    side
}

/// Runs subgraph bodies on the CPU with the captured values of the enclosing graph.
/// The outputs of `graph`'s Constant nodes ([`crate::plan::fuse::is_constant_node`]),
/// evaluated once: every run starts with them on the host like the initializers, so a fused
/// kernel running before a Constant node's place may read its value.
pub(super) fn constant_outputs(graph: &Graph) -> Result<Vec<(usize, Tensor)>> {
    let none = HashMap::new();
    let scope = CpuScope { captured: &none };
    let mut out = Vec::new();
    for node in graph
        .nodes
        .iter()
        .filter(|n| crate::plan::fuse::is_constant_node(n))
    {
        let ctx = EvalCtx {
            n_outputs: node.outputs.len(),
            subgraphs: &scope,
        };
        let ts = node
            .op
            .eval(&ctx, Vec::new())
            .map_err(|e| e.in_node(&node.name, &node.op_type))?;
        out.extend(
            node.outputs
                .iter()
                .zip(ts)
                .filter_map(|(o, t)| Some(((*o)?, t))),
        );
    }
    Ok(out)
}

struct CpuScope<'a> {
    captured: &'a HashMap<String, Tensor>,
}

impl SubgraphRunner for CpuScope<'_> {
    fn run(&self, sub: &Graph, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        smelt_cpu::run_body(sub, inputs, &|name: &str| self.captured.get(name).cloned())
    }
}
