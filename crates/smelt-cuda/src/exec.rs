//! The cross-device executor: runs a graph's nodes in order, the ones placed on CUDA on
//! the GPU and the rest on the CPU (subgraph bodies of If/Loop/Scan with their node, on the
//! CPU). A value lives on the host, the device or both; it is copied only when a node on
//! the other device reads it, and the copy is kept for later readers. Weights are uploaded
//! once per executor and stay on the device.
//!
//! A node placed on CUDA whose inputs turn out at run time to be a case the kernels do not
//! take (a dtype, a broadcast form) runs on the CPU instead; [`ExecStats::cpu_fallbacks`]
//! counts those and `fallback_reasons` says why.
//!
//! Options ([`ExecOptions`]): the GEMM precision (see `crate::precision`), a per-node
//! profile (see `crate::profile`), and CUDA graphs. Every run records a CUDA event on the
//! stream after the graph inputs read on the device are uploaded, one after the outputs
//! are computed and one after they are downloaded: [`ExecStats::last_device_ms`] is the
//! device time from the first to the last (kernels, the output downloads, and any gap where
//! the stream waited for the host, such as a CPU node or an upload mid-run; not the input
//! uploads), [`ExecStats::last_compute_ms`] from the first to the second.
//!
//! CUDA graphs: a run whose previous run had the same input shapes and dtypes and was
//! clean (no host wait mid-run: no upload or download between the input uploads and the
//! output downloads, no CPU node, no fallback; no graph input read on the host anywhere)
//! is captured on the stream into a graph, which is launched; later runs with the same
//! shapes copy their inputs into the captured input buffers, replay the graph and read the
//! captured output buffers. The graph's blocks are reserved in the allocator while it
//! lives. A capture that fails runs the same inputs with plain launches and is not retried
//! for those shapes. Off with `ExecOptions::cuda_graphs = false` or `SMELT_NO_CUDA_GRAPH=1`,
//! and while profiling.

use crate::cuda::ops::{self, Input};
use crate::cuda::stream::{Event, Stream};
use crate::cuda::tensor::{device_dtype, GpuTensor};
use crate::plan::op::Role;
use crate::plan::GpuOp;
use crate::profile::Recorder;
use smelt_core::{DType, Error, Result, Tensor};
use smelt_ir::{Attr, Graph};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Mutex;

mod attention;
mod cuda_graph;
mod fusion;
mod host_side;
mod location_free;
mod lowp;
mod options;
use cuda_graph::{input_reads, Captured, Key};
use fusion::FusionPlan;
use host_side::shape_side;
pub use host_side::HOST_SIDE_ELEMENTS;
pub use options::{env_flag, env_flag_off, ExecOptions, ExecStats};

struct Inner {
    /// Dropped first: its blocks go back to the allocator before the stream goes.
    graph: Option<Captured>,
    stream: Stream,
    /// Device copies of initializers, by value id.
    weights: HashMap<usize, GpuTensor>,
    stats: ExecStats,
    recorder: Option<Recorder>,
    /// The run's events: after the input uploads, after the outputs are computed (before
    /// their downloads), after the output downloads.
    marks: (Event, Event, Event),
    /// The key of the last run when it was clean (capturable), and a key whose capture
    /// failed (not tried again).
    eligible: Option<Key>,
    refused: Option<Key>,
    /// The first node of the last plain run that made the host wait (see `graph_blocker`).
    first_wait: Option<String>,
    /// The last device copy of each small integer value computed on the host (shape
    /// arithmetic a GPU op reads as data, such as an embedding's all-zero token types),
    /// with its bytes: a later run computing the same bytes reuses the copy without an
    /// upload, so it can be captured. A copy is never changed in place; replacing one drops
    /// the captured graph, which may read it.
    small: HashMap<usize, (Vec<u8>, GpuTensor)>,
    /// The fused groups' compiled kernels.
    fused: crate::cuda::ops::fused::Kernels,
    fused_softmax: crate::cuda::ops::fused_softmax::Kernels,
    fused_attention: crate::cuda::ops::fused_attention::Kernels,
}

/// The largest host value (bytes) kept in the executor's small-upload cache.
const SMALL_UPLOAD_BYTES: usize = 64 << 10;

pub struct Executor<G: Deref<Target = Graph>> {
    graph: G,
    /// Per node: its GPU op when it is placed on CUDA.
    ops: Vec<Option<GpuOp>>,
    /// Per value: the last node reading it (usize::MAX: a graph output; None: never read).
    last_use: Vec<Option<usize>>,
    /// Per value: the same in every run (an initializer or a Constant node's output), so
    /// its device copy is kept across runs like a weight.
    constant: Vec<bool>,
    /// The Constant nodes' outputs, put in every run's values at its start.
    constant_outputs: Vec<(usize, Tensor)>,
    /// Graph inputs read on the device (directly or through views): uploaded first.
    upload_first: Vec<usize>,
    /// Why no run of this graph can be captured (None: runs may be).
    graph_blocker: Option<String>,
    /// Per node: every output is only read on the host (see [`shape_side`]).
    shape_side: Vec<bool>,
    /// Fused element-wise groups and where each node stands.
    fusion: FusionPlan,
    /// Values written in 16 bits for their GEMM readers.
    lowp: lowp::LowpPlan,
    opts: ExecOptions,
    inner: Mutex<Inner>,
}

/// A value's copies.
#[derive(Clone, Default)]
struct Slot {
    host: Option<Tensor>,
    dev: Option<GpuTensor>,
}

impl<G: Deref<Target = Graph>> Executor<G> {
    /// An executor with the nodes where `on_gpu[k]` is true run on CUDA (a node without a
    /// GPU op stays on the CPU). Creates the model's stream: `Err` without a device.
    pub fn new(graph: G, on_gpu: &[bool]) -> Result<Executor<G>> {
        Executor::with_options(graph, on_gpu, ExecOptions::default())
    }

    /// [`Executor::new`] with options.
    pub fn with_options(graph: G, on_gpu: &[bool], opts: ExecOptions) -> Result<Executor<G>> {
        let mut stream = Stream::new()?;
        stream.precision = opts.precision;
        stream.set_tracing(opts.profile && opts.profile_kernels);
        let mut ops: Vec<Option<GpuOp>> = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(k, n)| {
                if on_gpu.get(k).copied().unwrap_or(false) {
                    GpuOp::from_node(n).ok()
                } else {
                    None
                }
            })
            .collect();
        let mut last_use = lifetimes(&graph);
        let store_16bit = opts.precision.is_16bit() && opts.store_16bit;
        // how values are read, for the fusion plan and the 16-bit stores
        let uses = (opts.fuse || store_16bit).then(|| crate::plan::fuse::Uses::of(&graph));
        let fused_uses = uses.as_ref().filter(|_| opts.fuse);
        let fusion = FusionPlan::new(&graph, &mut ops, fused_uses, &mut last_use, opts.precision);
        let lowp = match &uses {
            Some(u) if store_16bit => lowp::LowpPlan::new(&graph, &ops, &fusion, u),
            _ => lowp::LowpPlan::none(graph.values.len()),
        };
        let shape_side = shape_side(&graph, &ops);
        let mut constant = vec![false; graph.values.len()];
        for id in graph.initializers.keys() {
            constant[*id] = true;
        }
        for (n, op) in graph.nodes.iter().zip(&ops) {
            let constant_view = matches!(op, Some(GpuOp::View(_)))
                && n.inputs.iter().flatten().all(|&i| constant[i]);
            // Constant nodes, and views (Identity, Reshape, ...) of constants, such as the
            // Identity nodes exporters put between shared weights and their readers: kept
            // on the device across runs instead of uploaded per run
            if constant_view || crate::plan::fuse::is_constant_node(n) {
                n.outputs.iter().flatten().for_each(|&o| constant[o] = true);
            }
        }
        let constant_outputs = host_side::constant_outputs(&graph)?;
        let (upload_first, graph_blocker) = input_reads(&graph, &ops);
        let marks = (stream.event()?, stream.event()?, stream.event()?);
        Ok(Executor {
            graph,
            ops,
            last_use,
            constant,
            constant_outputs,
            upload_first,
            graph_blocker,
            shape_side,
            fusion,
            lowp,
            inner: Mutex::new(Inner {
                graph: None,
                stream,
                weights: HashMap::new(),
                stats: ExecStats {
                    precision: opts.precision,
                    ..Default::default()
                },
                recorder: opts.profile.then(Recorder::default),
                marks,
                eligible: None,
                refused: None,
                first_wait: None,
                small: HashMap::new(),
                fused: Default::default(),
                fused_softmax: Default::default(),
                fused_attention: Default::default(),
            }),
            opts,
        })
    }

    pub fn options(&self) -> &ExecOptions {
        &self.opts
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }
    /// How many nodes run on the GPU.
    pub fn gpu_node_count(&self) -> usize {
        self.ops.iter().filter(|o| o.is_some()).count()
    }
    pub fn stats(&self) -> ExecStats {
        let inner = self.inner.lock().unwrap();
        let mut s = inner.stats.clone();
        s.alloc = inner.stream.stats();
        s.weight_16bit_bytes = inner.stream.lowp_bytes();
        s.profile = inner
            .recorder
            .as_ref()
            .map(|r| r.profile(&self.graph, |n| self.fusion.label(n)));
        s.graph_blocker = if !self.opts.cuda_graphs {
            Some("CUDA graphs are turned off".into())
        } else if inner.recorder.is_some() {
            Some("profiling runs are not captured".into())
        } else if let Some(b) = &self.graph_blocker {
            Some(b.clone())
        } else if inner.graph.is_some() {
            None
        } else {
            inner.first_wait.clone()
        };
        s
    }
    /// The device this executor runs on ("NVIDIA H200 (sm_90, 139.8 GiB)").
    pub fn device_name(&self) -> String {
        self.inner.lock().unwrap().stream.device().describe()
    }

    /// Runs the graph on named host inputs; returns the outputs in graph order on the host.
    /// Predictions on one executor are serialised (one stream per model instance).
    pub fn run(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>> {
        let mut guard = self.inner.lock().unwrap();
        let inner = &mut *guard;
        inner.stream.bind()?;
        let g: &Graph = &self.graph;
        let mut env = self.feed(inputs)?;
        let key: Key = g
            .inputs
            .iter()
            .map(|&i| {
                let h = env[i].host.as_ref().expect("fed");
                (h.dtype(), h.shape().to_vec())
            })
            .collect();
        inner.stats.runs += 1;
        if inner.graph.as_ref().is_some_and(|c| c.key == key) {
            return self.replay(inner, &env);
        }
        for &id in &self.upload_first {
            if env[id]
                .host
                .as_ref()
                .is_some_and(|h| device_dtype(h.dtype()))
            {
                self.dev_of(inner, &mut env, id)?;
            }
        }
        inner.stream.record(&inner.marks.0)?;
        let capture = self.opts.cuda_graphs
            && self.graph_blocker.is_none()
            && inner.recorder.is_none()
            && inner.eligible.as_ref() == Some(&key)
            && inner.refused.as_ref() != Some(&key);
        if capture {
            let saved = env.clone();
            if let Err(e) = self.capture(inner, &mut env, &key) {
                inner.stats.graph_failures += 1;
                if inner.stats.graph_failure_reasons.len() < 8 {
                    inner.stats.graph_failure_reasons.push(e.to_string());
                }
                inner.refused = Some(key.clone());
                inner.eligible = None;
                // a weight first converted inside the failed capture was never converted
                inner.stream.clear_lowp();
                env = saved;
                self.run_nodes(inner, &mut env, false)?;
            }
        } else {
            let before = (
                inner.stream.syncs(),
                inner.stats.cpu_nodes,
                inner.stats.cpu_fallbacks,
            );
            if let Err(e) = self.run_nodes(inner, &mut env, false) {
                if let Some(r) = &mut inner.recorder {
                    r.abandon(&inner.stream);
                }
                return Err(e);
            }
            let after = (
                inner.stream.syncs(),
                inner.stats.cpu_nodes,
                inner.stats.cpu_fallbacks,
            );
            inner.eligible = (before == after).then_some(key);
        }
        inner.stream.record(&inner.marks.1)?;
        let mut result = Vec::with_capacity(g.outputs.len());
        for &o in &g.outputs {
            let t = host_of(inner, &mut env, o)
                .map_err(|e| Error::invalid(format!("graph output '{}': {e}", g.values[o].name)))?;
            result.push((g.values[o].name.clone(), t));
        }
        self.finish(inner)?;
        Ok(result)
    }

    /// The run's values with the initializers and the checked inputs on the host.
    fn feed(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<Slot>> {
        let g: &Graph = &self.graph;
        let mut env: Vec<Slot> = vec![Slot::default(); g.values.len()];
        for (id, t) in g
            .initializers
            .iter()
            .chain(self.constant_outputs.iter().map(|(id, t)| (id, t)))
        {
            env[*id].host = Some(t.clone());
        }
        for (name, t) in inputs {
            let id = g
                .value_id(&name)
                .filter(|id| g.inputs.contains(id))
                .ok_or_else(|| Error::Input {
                    name: name.clone(),
                    msg: format!(
                        "not an input of graph '{}' (inputs: {})",
                        g.name,
                        g.input_names().join(", ")
                    ),
                })?;
            smelt_cpu::check_input(&name, &g.values[id].info, &t)?;
            env[id].host = Some(t);
        }
        for &id in &g.inputs {
            if env[id].host.is_none() {
                return Err(Error::Input {
                    name: g.values[id].name.clone(),
                    msg: "missing".into(),
                });
            }
        }
        Ok(env)
    }

    /// Records the end event, waits for the stream, reads the run's device time (and the
    /// profile's events).
    fn finish(&self, inner: &mut Inner) -> Result<()> {
        inner.stream.record(&inner.marks.2)?;
        inner.stream.sync()?;
        inner.stream.clear_last_act();
        if let Some(code) = inner.stream.take_error()? {
            if let Some(r) = &mut inner.recorder {
                r.abandon(&inner.stream);
            }
            let node = usize::try_from(code - 1)
                .ok()
                .and_then(|n| self.graph.nodes.get(n));
            let what = "an index out of range for its axis (checked on the GPU)";
            return Err(match node {
                Some(nd) => Error::invalid(what).in_node(&nd.name, &nd.op_type),
                None => Error::invalid(format!("{what}; error code {code}")),
            });
        }
        inner.stats.last_device_ms = Some(inner.marks.0.ms_to(&inner.marks.2)? as f64);
        inner.stats.last_compute_ms = Some(inner.marks.0.ms_to(&inner.marks.1)? as f64);
        if let Some(r) = &mut inner.recorder {
            r.finish_run(&inner.stream)?;
        }
        Ok(())
    }

    /// Runs every node in order. `capturing`: a node that would run on the CPU is an error
    /// (the capture is then abandoned).
    fn run_nodes(&self, inner: &mut Inner, env: &mut [Slot], capturing: bool) -> Result<()> {
        let mut rec = inner.recorder.take();
        let r = self.run_nodes_with(inner, env, capturing, &mut rec);
        inner.recorder = rec;
        r
    }

    fn run_nodes_with(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        capturing: bool,
        rec: &mut Option<Recorder>,
    ) -> Result<()> {
        let g: &Graph = &self.graph;
        if !capturing {
            inner.first_wait = None;
        }
        for n in 0..g.nodes.len() {
            match self.fusion.at[n] {
                // a fused member runs with its group, at the group's root
                fusion::At::Member => continue,
                fusion::At::Root(k) => self.run_fused(inner, env, k, capturing, rec)?,
                fusion::At::Softmax(k) => self.run_softmax_fused(inner, env, k, capturing, rec)?,
                fusion::At::Attention(k) => {
                    self.run_attention_fused(inner, env, k, capturing, rec)?
                }
                fusion::At::None => self.run_node(inner, env, n, capturing, rec)?,
            }
        }
        Ok(())
    }

    /// Runs node `n` on its device (or the CPU), frees its inputs at their last use and
    /// keeps its outputs that are read later.
    fn run_node(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        n: usize,
        capturing: bool,
        rec: &mut Option<Recorder>,
    ) -> Result<()> {
        let node = &self.graph.nodes[n];
        let waits = |i: &Inner| (i.stream.syncs(), i.stats.cpu_nodes, i.stats.cpu_fallbacks);
        let before = waits(inner);
        let mut fell_back = false;
        let outs = match &self.ops[n] {
            Some(op) if op.location_free() => {
                inner.stats.gpu_nodes += 1;
                self.run_location_free(inner, env, n, op)?
            }
            Some(op) if self.host_side(env, n, op) => {
                inner.stats.host_side_nodes += 1;
                self.run_cpu_timed(inner, env, n, rec)?
            }
            Some(op) => {
                let mark = match rec {
                    Some(r) => Some(r.start(&inner.stream, n)?),
                    None => None,
                };
                inner.stream.set_error_code(n as i32 + 1);
                let r = self.run_gpu(inner, env, n, op);
                if let (Some(r), Some(k)) = (rec.as_mut(), mark) {
                    r.end(&inner.stream, k)?;
                }
                match r {
                    Ok(outs) => {
                        inner.stats.gpu_nodes += 1;
                        // the Relu ran inside the Conv, the bias and residual Adds inside
                        // the MatMul
                        let e = self.fusion.epilogue_of(n).len() as u64;
                        inner.stats.gpu_nodes += e;
                        inner.stats.fused_nodes += e;
                        if let Some(f) = self.fusion.fold_of(n) {
                            // the scalar Muls ran as the GEMM's alpha
                            inner.stats.gpu_nodes += f.muls.len() as u64;
                            inner.stats.fused_nodes += f.muls.len() as u64;
                        }
                        outs.into_iter()
                            .map(|t| Slot {
                                host: None,
                                dev: Some(t),
                            })
                            .collect()
                    }
                    Err(e) if falls_back(&e) && !capturing => {
                        fell_back = true;
                        inner.stats.cpu_fallbacks += 1;
                        if inner.stats.fallback_reasons.len() < 32 {
                            inner
                                .stats
                                .fallback_reasons
                                .push(format!("{} ({}): {e}", node.name, node.op_type));
                        }
                        if let Some(f) = self.fusion.fold_of(n) {
                            // the folded Muls' outputs, which the CPU MatMul reads
                            for &m in &f.muls {
                                inner.stats.cpu_nodes += 1;
                                let outs = self.run_cpu_timed(inner, env, m, rec)?;
                                for (o, t) in self.graph.nodes[m].outputs.iter().zip(outs) {
                                    if let Some(o) = o {
                                        env[*o] = t;
                                    }
                                }
                            }
                        }
                        inner.stats.cpu_nodes += 1;
                        self.run_cpu_timed(inner, env, n, rec)?
                    }
                    Err(e) => return Err(e.in_node(&node.name, &node.op_type)),
                }
            }
            None if capturing => {
                return Err(Error::invalid(format!(
                    "cuda graph: node '{}' ({}) runs on the CPU",
                    node.name, node.op_type
                )))
            }
            None => {
                inner.stats.cpu_nodes += 1;
                self.run_cpu_timed(inner, env, n, rec)?
            }
        };
        for i in node.inputs.iter().flatten() {
            if self.last_use[*i] == Some(n) {
                env[*i] = Slot::default();
            }
        }
        if !capturing && inner.first_wait.is_none() && waits(inner) != before {
            inner.first_wait = Some(format!(
                "node '{}' ({}) made the host wait (a CPU node, or an upload or download mid-run)",
                node.name, node.op_type
            ));
        }
        node.check_output_count(outs.len())?;
        for (o, t) in node.outputs.iter().zip(outs) {
            if let Some(o) = o {
                // a Conv fused with its Relu writes the Relu's output (unless it ran on the
                // CPU, without the Relu: the Relu then runs below)
                let o = if fell_back {
                    *o
                } else {
                    self.fusion.output_slot(*o)
                };
                if self.last_use[o].is_some() {
                    env[o] = t;
                }
            }
        }
        if fell_back {
            for &r in self.fusion.epilogue_of(n) {
                self.run_node(inner, env, r, capturing, rec)?;
            }
        }
        if let Some(f) = self.fusion.fold_of(n) {
            // what the folded Muls passed on and the folded residual are read last here
            // (after the epilogue nodes when they ran apart)
            for &i in f.inputs.iter().chain(f.residual.as_ref().map(|(_, r)| r)) {
                if self.last_use[i] == Some(n) {
                    env[i] = Slot::default();
                }
            }
        }
        Ok(())
    }

    fn run_gpu(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        n: usize,
        op: &GpuOp,
    ) -> Result<Vec<GpuTensor>> {
        let node = &self.graph.nodes[n];
        if let Some(f) = self.fusion.fold_of(n) {
            let a = self.dev_of(inner, env, f.inputs[0])?;
            let b = self.dev_of(inner, env, f.inputs[1])?;
            let c = match f.bias {
                Some((_, c)) => Some(self.dev_of(inner, env, c)?),
                None => None,
            };
            let r = match f.residual {
                Some((_, r)) => Some(self.dev_of(inner, env, r)?),
                None => None,
            };
            // the fold writes its last Add's output, in 16 bits for 16-bit readers
            let out16 = self
                .fusion
                .fold_output(&self.graph, f)
                .filter(|&z| self.lowp.store[z])
                .and_then(|_| self.store_type());
            let y = ops::matmul_folded(&inner.stream, a, b, f.alpha, c, r, out16)?;
            if y.dtype() != DType::F32 {
                inner.stats.stores_16bit += 1;
            }
            return Ok(vec![y]);
        }
        let mut ins = Vec::with_capacity(node.inputs.len());
        for (i, id) in node.inputs.iter().enumerate() {
            ins.push(match id {
                None => None,
                Some(id) => Some(match op.role(i) {
                    Role::Data => Input::Dev(self.dev_of(inner, env, *id)?),
                    Role::Host => Input::Host(host_of(inner, env, *id)?),
                }),
            });
        }
        if let Some(Some(v)) = node.outputs.first() {
            // a LayerNorm writes 16 bits only, or a 16-bit copy beside its f32 output
            let norm = match (self.store_type(), self.lowp.store[*v], self.lowp.copy[*v]) {
                (Some(d), true, _) => Some(ops::NormOut::Only16(d)),
                (Some(d), false, true) => Some(ops::NormOut::F32And16(d)),
                _ => None,
            };
            if let Some(out) = norm.filter(|_| matches!(op, GpuOp::LayerNorm { .. })) {
                if let Some(outs) =
                    ops::run_norm_16bit(&inner.stream, op, &ins, node.outputs.len(), out)?
                {
                    inner.stats.stores_16bit += 1;
                    return Ok(outs);
                }
            }
            // (a Conv fused with its Relu writes the Relu's output)
            if self.lowp.store[self.fusion.output_slot(*v)] {
                if let Some(y) = ops::run_16bit(&inner.stream, op, &ins)? {
                    if y.dtype() != DType::F32 {
                        inner.stats.stores_16bit += 1;
                    }
                    return Ok(vec![y]);
                }
            }
        }
        ops::run(&inner.stream, op, &ins, node.outputs.len())
    }

    /// The 16-bit type values are stored in for GEMM readers (see `exec/lowp.rs`).
    fn store_type(&self) -> Option<DType> {
        self.opts.precision.storage_16bit()
    }

    fn dev_of(&self, inner: &mut Inner, env: &mut [Slot], id: usize) -> Result<GpuTensor> {
        if let Some(d) = &env[id].dev {
            return Ok(d.clone());
        }
        if let Some(w) = inner.weights.get(&id) {
            env[id].dev = Some(w.clone());
            return Ok(w.clone());
        }
        let h = env[id].host.as_ref().ok_or_else(|| {
            Error::invalid(format!(
                "value '{}' not computed",
                self.graph.values[id].name
            ))
        })?;
        if !device_dtype(h.dtype()) {
            return Err(Error::dtype(h.dtype(), "a CUDA device tensor"));
        }
        // a small integer value computed on the host (not a graph input, whose device
        // copy a CUDA graph's replays overwrite): reuse the last device copy of equal bytes
        let small = (!self.constant[id]
            && !h.dtype().is_float()
            && h.byte_size() <= SMALL_UPLOAD_BYTES
            && !self.graph.inputs.contains(&id))
        .then(|| h.le_bytes().map(|b| b.to_vec()))
        .transpose()?;
        if let (Some(bytes), Some((held, d))) = (&small, inner.small.get(&id)) {
            if held == bytes && d.dtype() == h.dtype() && d.shape() == h.shape() {
                let d = d.clone();
                env[id].dev = Some(d.clone());
                return Ok(d);
            }
        }
        let d = inner.stream.upload(h)?;
        if let Some(bytes) = small {
            if inner.small.insert(id, (bytes, d.clone())).is_some() {
                // the copy it replaces may be read by the captured graph: drop that too
                if inner.graph.take().is_some() {
                    inner.stream.release_reserved();
                }
            }
        }
        let bytes = d.byte_size() as u64;
        if self.constant[id] {
            inner.stream.mark_constant(&d);
            inner.weights.insert(id, d.clone());
            inner.stats.weight_bytes += bytes;
        }
        inner.stats.uploads += 1;
        inner.stats.upload_bytes += bytes;
        env[id].dev = Some(d.clone());
        Ok(d)
    }
}

/// The value on the host, downloading (and keeping) it if needed.
fn host_of(inner: &mut Inner, env: &mut [Slot], id: usize) -> Result<Tensor> {
    if let Some(h) = &env[id].host {
        return Ok(h.clone());
    }
    let d = env[id]
        .dev
        .as_ref()
        .ok_or_else(|| Error::invalid(format!("value {id} not computed")))?;
    let h = inner.stream.download(d)?;
    inner.stats.downloads += 1;
    inner.stats.download_bytes += d.byte_size() as u64;
    env[id].host = Some(h.clone());
    Ok(h)
}

/// Whether a GPU op's error means "run this node on the CPU" rather than a failure: an
/// unsupported case, or a planning error (the CPU op then gives the reference answer or
/// the reference error). Failures of the device itself (`Error::Device`) are errors.
fn falls_back(e: &Error) -> bool {
    match e {
        Error::Device { .. } => false,
        Error::Invalid(_) | Error::Shape(_) => true,
        e => e.is_unsupported(),
    }
}

/// Per value, the last node that reads it (captures of subgraph bodies included).
fn lifetimes(graph: &Graph) -> Vec<Option<usize>> {
    let mut last_use: Vec<Option<usize>> = vec![None; graph.values.len()];
    for (n, node) in graph.nodes.iter().enumerate() {
        for i in node.inputs.iter().flatten() {
            last_use[*i] = Some(n);
        }
        for a in node.attrs.0.values() {
            let subs: Vec<&Graph> = match a {
                Attr::Graph(g) => vec![&**g],
                Attr::Graphs(gs) => gs.iter().map(|g| &**g).collect(),
                _ => vec![],
            };
            for s in subs {
                for name in smelt_cpu::captured_names(s) {
                    if let Some(id) = graph.value_id(&name) {
                        last_use[id] = Some(last_use[id].map_or(n, |l| l.max(n)));
                    }
                }
            }
        }
    }
    for &o in &graph.outputs {
        last_use[o] = Some(usize::MAX);
    }
    last_use
}
