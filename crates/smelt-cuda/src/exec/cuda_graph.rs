//! CUDA graph capture and replay for the executor (the rules are in the parent module's
//! doc): which graph inputs are uploaded first and whether a graph may be captured at all
//! ([`input_reads`]), the capture of a clean run's launches, and its replays.

use super::{Executor, Inner, Slot};
use crate::cuda::stream::Graph as CudaGraph;
use crate::cuda::tensor::GpuTensor;
use crate::plan::op::Role;
use crate::plan::GpuOp;
use smelt_core::{DType, Error, Result, Tensor};
use smelt_ir::{Attr, Graph};
use std::ops::Deref;

/// The dtypes and shapes of a run's graph inputs, in graph order.
pub(super) type Key = Vec<(DType, Vec<usize>)>;

/// A captured run: the graph, the device buffers it reads its inputs from, and where each
/// graph output is after a replay.
pub(super) struct Captured {
    pub(super) key: Key,
    graph: CudaGraph,
    inputs: Vec<(usize, GpuTensor)>,
    outputs: Vec<Out>,
    gpu_nodes: u64,
}

enum Out {
    Dev(GpuTensor),
    /// Fixed for these input shapes (computed from shapes and constants).
    Host(Tensor),
    /// A graph input passed through: the fed value.
    Input(usize),
}

impl<G: Deref<Target = Graph>> Executor<G> {
    /// Captures the node launches into a CUDA graph and launches it; on success the
    /// outputs are in `env` on the device (queued) and the graph is kept for `key`.
    pub(super) fn capture(&self, inner: &mut Inner, env: &mut [Slot], key: &Key) -> Result<()> {
        let g: &Graph = &self.graph;
        if inner.graph.take().is_some() {
            // the old graph and its tensors are gone: its blocks return to the free lists
            inner.stream.release_reserved();
        }
        let gpu0 = inner.stats.gpu_nodes;
        // the uploaded inputs, held from now on: their blocks must outlive the capture
        // (the run frees a value at its last use) since replays write them
        let inputs: Vec<(usize, GpuTensor)> = g
            .inputs
            .iter()
            .filter_map(|&i| env[i].dev.clone().map(|d| (i, d)))
            .collect();
        inner.stream.begin_capture()?;
        if let Err(e) = self.run_nodes(inner, env, true) {
            let _ = inner.stream.end_capture(false);
            return Err(e);
        }
        let graph = inner
            .stream
            .end_capture(true)?
            .ok_or_else(|| Error::invalid("cuda graph: the capture is empty"))?;
        let mut outputs = Vec::with_capacity(g.outputs.len());
        for &o in &g.outputs {
            outputs.push(if g.inputs.contains(&o) {
                Out::Input(o)
            } else if let Some(d) = &env[o].dev {
                Out::Dev(d.clone())
            } else if let Some(h) = &env[o].host {
                Out::Host(h.clone())
            } else {
                return Err(Error::invalid(format!(
                    "cuda graph: output '{}' not computed",
                    g.values[o].name
                )));
            });
        }
        inner.stream.launch_graph(&graph)?;
        inner.stats.graph_captures += 1;
        inner.graph = Some(Captured {
            key: key.clone(),
            graph,
            inputs,
            outputs,
            gpu_nodes: inner.stats.gpu_nodes - gpu0,
        });
        Ok(())
    }

    /// A run of the captured graph: inputs into its buffers, launch, outputs back.
    pub(super) fn replay(&self, inner: &mut Inner, env: &[Slot]) -> Result<Vec<(String, Tensor)>> {
        let g: &Graph = &self.graph;
        let c = inner.graph.as_ref().expect("a captured graph");
        for (id, buf) in &c.inputs {
            let h = env[*id].host.as_ref().expect("fed");
            inner.stream.upload_into(h, buf)?;
            inner.stats.uploads += 1;
            inner.stats.upload_bytes += buf.byte_size() as u64;
        }
        inner.stream.record(&inner.marks.0)?;
        inner.stream.launch_graph(&c.graph)?;
        inner.stream.record(&inner.marks.1)?;
        let mut result = Vec::with_capacity(g.outputs.len());
        for (&o, out) in g.outputs.iter().zip(&c.outputs) {
            let t = match out {
                Out::Dev(d) => {
                    inner.stats.downloads += 1;
                    inner.stats.download_bytes += d.byte_size() as u64;
                    inner.stream.download(d)?
                }
                Out::Host(h) => h.clone(),
                Out::Input(i) => env[*i].host.clone().expect("fed"),
            };
            result.push((g.values[o].name.clone(), t));
        }
        inner.stats.graph_replays += 1;
        inner.stats.gpu_nodes += c.gpu_nodes;
        self.finish(inner)?;
        Ok(result)
    }
}

/// The graph inputs read on the device (by a GPU op's data input, directly or through a
/// chain of views), and why a CUDA graph may not be captured (None: it may): a graph input
/// read on the host (by a CPU node, a GPU op's host input, or a view's shape input), or a
/// graph output that is a host-only view of one (a replay could not see the new value).
pub(super) fn input_reads(graph: &Graph, ops: &[Option<GpuOp>]) -> (Vec<usize>, Option<String>) {
    let mut on_dev = vec![false; graph.values.len()];
    let mut on_host = vec![false; graph.values.len()];
    // the first node (in graph order) found reading each value on the host
    let mut host_reader: Vec<Option<usize>> = vec![None; graph.values.len()];
    for (n, node) in graph.nodes.iter().enumerate().rev() {
        for (i, id) in node.inputs.iter().enumerate() {
            let Some(id) = *id else { continue };
            match &ops[n] {
                Some(GpuOp::View(_)) => {
                    if i == 0 {
                        on_dev[id] |= node.outputs.iter().flatten().any(|&o| on_dev[o]);
                    } else {
                        on_host[id] = true;
                        host_reader[id] = Some(n);
                    }
                }
                Some(op) if op.location_free() => {}
                Some(op) => match op.role(i) {
                    Role::Data => on_dev[id] = true,
                    Role::Host => {
                        on_host[id] = true;
                        host_reader[id] = Some(n);
                    }
                },
                None => {
                    on_host[id] = true;
                    host_reader[id] = Some(n);
                }
            }
        }
        if ops[n].is_none()
            && node
                .attrs
                .0
                .values()
                .any(|a| matches!(a, Attr::Graph(_) | Attr::Graphs(_)))
        {
            // a subgraph may read any input: no graphs
            graph.inputs.iter().for_each(|&i| {
                on_host[i] = true;
                host_reader[i] = Some(n);
            });
        }
    }
    // a graph output that is a view of an input left on the host: a replay (which reads
    // outputs from device buffers or fixed host values) would miss the new value
    let mut host_view = vec![false; graph.values.len()];
    for &i in &graph.inputs {
        host_view[i] = !on_dev[i];
    }
    for (n, node) in graph.nodes.iter().enumerate() {
        if let (Some(GpuOp::View(_)), Some(Some(x))) = (&ops[n], node.inputs.first()) {
            for &o in node.outputs.iter().flatten() {
                host_view[o] = host_view[*x];
            }
        }
    }
    let upload = graph
        .inputs
        .iter()
        .copied()
        .filter(|&i| on_dev[i])
        .collect();
    let name = |n: usize| {
        let nd = &graph.nodes[n];
        format!("node '{}' ({})", nd.name, nd.op_type)
    };
    let blocker = if let Some(&i) = graph.inputs.iter().find(|&&i| on_host[i]) {
        Some(format!(
            "graph input '{}' is read on the host by {}",
            graph.values[i].name,
            host_reader[i].map_or("a node".into(), name)
        ))
    } else {
        graph
            .outputs
            .iter()
            .find(|&&o| host_view[o] && !graph.inputs.contains(&o))
            .map(|&o| {
                format!(
                    "graph output '{}' is a host-only view of a graph input",
                    graph.values[o].name
                )
            })
    };
    (upload, blocker)
}
