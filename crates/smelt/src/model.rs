//! The runtime API, in Core ML's shape: load a model once with a [`Config`], then call
//! [`Model::predict`] (or [`Model::predict_with_state`] for stateful models) from any number
//! of threads. `Model` is `Send + Sync`; each prediction has its own buffers.

use crate::format::ModelFormat;
use crate::placement::{self, ComputeUnits, Placement};
use smelt_core::{Dim, Error, Result, Tensor, ValueInfo};
use smelt_cuda::Precision;
use smelt_ingot::{Info, LoadOptions, LoadStats};
use smelt_ir::Graph;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How a model is loaded.
#[derive(Clone, Debug)]
pub struct Config {
    pub compute_units: ComputeUnits,
    /// Check every weight blob's checksum while loading an `.ingot` (see [`LoadOptions`]).
    pub verify_weights: bool,
    /// Keep compressed weights compressed on the CPU: fuse their decode into the MatMul,
    /// Gemm, Conv or Gather that reads them (see `smelt_cpu::lower`). Off: decode each
    /// weight whole on every run (the reference path).
    pub fuse_compressed: bool,
    /// With `fuse_compressed`: decode each compressed weight once at load into an f32
    /// constant on the CPU (also `SMELT_DECODE_AT_LOAD=1`). Runs cost what the f32 model's
    /// do; the weights take f32 memory. Off: they stay compressed, decoded per tile.
    pub decode_at_load: bool,
    /// Run the CPU's lowering fusions (a Conv with the residual Add and activation after
    /// it as one `ai.smelt::FusedConv`, see `smelt_passes::lower`). Off (also
    /// `SMELT_NO_FUSE=1`): every node runs as its own op, to compare speed or results.
    pub fuse_ops: bool,
    /// Run the portable passes (`smelt_passes::optimize`: constant folding, BatchNorm
    /// folding, fusions, ...) when loading a model that is not a package (ONNX,
    /// safetensors), as `smelt convert` does before it saves one. An `.ingot` is run as it
    /// was saved. Off: the graph runs as imported.
    pub optimize: bool,
    /// Operand precision of MatMul, Gemm and Conv on a GPU (fp32 accumulation, f32
    /// outputs, every other op f32; see `smelt_cuda::Precision`). The CPU always computes
    /// in fp32. Default: `F32`, the exact path.
    pub precision: Precision,
    /// Record each node's time (also `SMELT_PROFILE=1`): device time on the GPU (turns CUDA
    /// graphs off), host time on the CPU. Read it with [`Model::profile`]. On the CPU,
    /// profiled predictions of one model run one at a time.
    pub profile: bool,
    /// Capture static-shape GPU runs into CUDA graphs and replay them (also off with
    /// `SMELT_NO_CUDA_GRAPH=1`).
    pub cuda_graphs: bool,
    /// CPU threads for this model's predictions: `None` uses the process-wide pool (one
    /// thread per core, or `RAYON_NUM_THREADS`); `Some(n)` gives the model a pool of its own
    /// of `n` threads (`Some(1)`: single-threaded).
    pub threads: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            compute_units: ComputeUnits::All,
            verify_weights: true,
            fuse_compressed: true,
            decode_at_load: false,
            fuse_ops: true,
            optimize: true,
            precision: Precision::F32,
            profile: false,
            cuda_graphs: true,
            threads: None,
        }
    }
}

/// A model input or output as callers see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub name: String,
    pub info: ValueInfo,
    pub description: String,
}

/// A declared state: fed to graph input `input`, updated from graph output `output`.
#[derive(Clone, Debug, PartialEq)]
pub struct StateInfo {
    pub name: String,
    pub input: String,
    pub output: String,
    pub info: ValueInfo,
    pub description: String,
}

/// The values of a model's states between predictions. Made by [`Model::new_state`] (zeros);
/// belongs to the model that made it.
#[derive(Clone, Debug)]
pub struct State {
    model: u64,
    values: Vec<Tensor>,
    names: Vec<String>,
}

impl State {
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.values[i])
    }
    /// Replaces a state's value; its dtype and shape must stay the same.
    pub fn set(&mut self, name: &str, t: Tensor) -> Result<()> {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::invalid(format!("no state named '{name}'")))?;
        let cur = &self.values[i];
        if cur.dtype() != t.dtype() || cur.shape() != t.shape() {
            return Err(Error::Input {
                name: name.into(),
                msg: format!(
                    "state is {} {:?}, given {} {:?}",
                    cur.dtype(),
                    cur.shape(),
                    t.dtype(),
                    t.shape()
                ),
            });
        }
        self.values[i] = t;
        Ok(())
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Named outputs of one prediction, in the model's output order.
#[derive(Clone, Debug)]
pub struct Outputs(pub Vec<(String, Tensor)>);

impl Outputs {
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.0.iter().map(|(n, t)| (n.as_str(), t))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<usize> for Outputs {
    type Output = Tensor;
    fn index(&self, i: usize) -> &Tensor {
        &self.0[i].1
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A loaded model, ready to predict.
pub struct Model {
    id: u64,
    /// The graph as loaded (portable form).
    graph: Arc<Graph>,
    /// The CPU's lowered form of it.
    plan: smelt_cpu::Plan<Arc<Graph>>,
    lowering: smelt_cpu::lower::Lowering,
    /// Runs the model when placement put nodes on a GPU (over the portable graph).
    pub(crate) gpu: Option<crate::gpu::GpuExecutor>,
    info: Info,
    placement: Placement,
    inputs: Vec<Feature>,
    outputs: Vec<Feature>,
    states: Vec<StateInfo>,
    load_stats: LoadStats,
    /// The model's own CPU thread pool (`Config::threads`); `None`: the global one.
    pool: Option<rayon::ThreadPool>,
    /// Per-node host times of CPU runs, when profiling (`Config::profile`).
    cpu_profile: Option<std::sync::Mutex<smelt_core::profile::Tally>>,
}

/// Whether a file is an `.ingot` package (by its magic bytes).
pub fn is_ingot(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == smelt_ingot::header::MAGIC
}

/// The bytes and count of the tensors a graph holds in memory: its initializers and the
/// tensors in node attributes (Constant values; PP-OCR keeps every weight there), subgraphs
/// included.
fn held_tensors(g: &Graph) -> (u64, usize) {
    use smelt_ir::Attr;
    let mut bytes: u64 = g.weight_bytes() as u64;
    let mut count = g.initializers.len();
    for n in &g.nodes {
        for a in n.attrs.0.values() {
            let (b, c) = match a {
                Attr::Tensor(t) => (t.byte_size() as u64, 1),
                Attr::Tensors(ts) => (ts.iter().map(|t| t.byte_size() as u64).sum(), ts.len()),
                Attr::Graph(sub) => held_tensors(sub),
                Attr::Graphs(subs) => subs
                    .iter()
                    .map(|s| held_tensors(s))
                    .fold((0, 0), |x, y| (x.0 + y.0, x.1 + y.1)),
                _ => (0, 0),
            };
            bytes += b;
            count += c;
        }
    }
    (bytes, count)
}

impl Model {
    /// Loads an `.ingot` package (weights mapped, used in place), an `.onnx` model or a
    /// Hugging Face safetensors checkpoint (its folder, or the `.safetensors` file with
    /// `config.json` beside it; weights copied), told apart by their first bytes; another
    /// format (GGUF, a PyTorch checkpoint, ...) is an `Error::Unsupported` naming it.
    pub fn load(path: impl AsRef<Path>, config: Config) -> Result<Model> {
        let path = path.as_ref();
        let format = crate::format::detect_supported(path)?;
        if format == ModelFormat::Ingot || path.extension().is_some_and(|e| e == "ingot") {
            let p = smelt_ingot::open(
                path,
                &LoadOptions {
                    verify_weights: config.verify_weights,
                },
            )?;
            Model::new(p.graph, p.info, p.stats, &config)
        } else if format == ModelFormat::Safetensors {
            let (mut graph, info) =
                smelt_safetensors::hf::import(path, &smelt_safetensors::hf::Options::default())?;
            if config.optimize {
                smelt_passes::optimize(&mut graph)?;
            }
            let (copied_bytes, copied_tensors) = held_tensors(&graph);
            let stats = LoadStats {
                copied_bytes,
                copied_tensors,
                ..Default::default()
            };
            Model::new(graph, info, stats, &config)
        } else {
            let mut m = smelt_onnx::load_path(path)?;
            if config.optimize {
                smelt_passes::optimize(&mut m.graph)?;
            }
            let (copied_bytes, copied_tensors) = held_tensors(&m.graph);
            let stats = LoadStats {
                file_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
                copied_bytes,
                copied_tensors,
                ..Default::default()
            };
            let info = crate::convert::onnx_info(&m, path);
            Model::new(m.graph, info, stats, &config)
        }
    }

    /// A model from a graph built in code (e.g. with `GraphBuilder`) and its info.
    pub fn from_graph(graph: Graph, info: Info, config: Config) -> Result<Model> {
        Model::new(graph, info, LoadStats::default(), &config)
    }

    fn new(graph: Graph, info: Info, load_stats: LoadStats, config: &Config) -> Result<Model> {
        smelt_ingot::read::check_states(&info, &graph)?;
        let dense = config.decode_at_load || smelt_core::settings::flag("SMELT_DECODE_AT_LOAD");
        // the CPU's copy: fused ops first, then compressed weights read in place by the
        // (fused) ops that read them
        let mut cpu_graph = graph.clone();
        let conv_epilogues = if config.fuse_ops && !smelt_core::settings::flag("SMELT_NO_FUSE") {
            smelt_cpu::lower::fuse_ops(&mut cpu_graph)?
        } else {
            Vec::new()
        };
        let (lowered, mut lowering) = if config.fuse_compressed && dense {
            smelt_cpu::lower::lower_dense(&cpu_graph)?
        } else if config.fuse_compressed {
            smelt_cpu::lower::lower(&cpu_graph)?
        } else {
            (cpu_graph, Default::default())
        };
        lowering.conv_epilogues = conv_epilogues;
        let backends = placement::backends();
        let mut placement = placement::place(&graph, config.compute_units, &backends);
        // a GPU runs its own lowered copy of the graph, with compressed weights decoded once
        // at load (smelt_passes::lower::decode) rather than on the CPU and copied on every run
        let mut gpu_graph = None;
        if placement.uses_gpu() && config.fuse_compressed {
            let mut g = graph.clone();
            if smelt_passes::Pass::run(&smelt_passes::lower::decode::DecodeWeights, &mut g)? > 0 {
                placement = placement::place(&g, config.compute_units, &backends);
                gpu_graph = Some(Arc::new(g));
            }
        }
        if !placement.complete() {
            let a = placement.nodes.iter().find(|a| a.device == usize::MAX);
            return Err(Error::invalid(format!(
                "no backend allowed by {:?} can run node '{}': {}",
                config.compute_units,
                a.map_or("", |a| &a.node),
                a.map_or("", |a| &a.reason)
            )));
        }
        let state_in: Vec<&str> = info.states.iter().map(|s| s.input.as_str()).collect();
        let state_out: Vec<&str> = info.states.iter().map(|s| s.output.as_str()).collect();
        let feature = |id: usize| Feature {
            name: graph.values[id].name.clone(),
            info: graph.values[id].info.clone(),
            description: info
                .descriptions
                .get(&graph.values[id].name)
                .cloned()
                .unwrap_or_default(),
        };
        let inputs = graph
            .inputs
            .iter()
            .filter(|&&i| !state_in.contains(&graph.values[i].name.as_str()))
            .map(|&i| feature(i))
            .collect();
        let outputs = graph
            .outputs
            .iter()
            .filter(|&&o| !state_out.contains(&graph.values[o].name.as_str()))
            .map(|&o| feature(o))
            .collect();
        let states = info
            .states
            .iter()
            .map(|s| StateInfo {
                name: s.name.clone(),
                input: s.input.clone(),
                output: s.output.clone(),
                info: graph
                    .value_id(&s.input)
                    .map(|i| graph.values[i].info.clone())
                    .unwrap_or_default(),
                description: s.description.clone(),
            })
            .collect();
        let pool = match config.threads {
            None => None,
            Some(0) => return Err(Error::invalid("Config::threads must be at least 1")),
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("smelt-cpu-{i}"))
                    .build()
                    .map_err(|e| Error::invalid(format!("making a pool of {n} threads: {e}")))?,
            ),
        };
        let graph = Arc::new(graph);
        let gpu_graph = gpu_graph.unwrap_or_else(|| graph.clone());
        let profile = config.profile || smelt_core::settings::flag("SMELT_PROFILE");
        Ok(Model {
            cpu_profile: profile.then(Default::default),
            pool,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            gpu: crate::gpu::executor(&gpu_graph, &placement, config)?,
            plan: smelt_cpu::Plan::new(Arc::new(lowered)),
            graph,
            lowering,
            info,
            placement,
            inputs,
            outputs,
            states,
            load_stats,
        })
    }

    /// The inputs a caller feeds (state inputs excluded).
    pub fn inputs(&self) -> &[Feature] {
        &self.inputs
    }
    /// The outputs a prediction returns (state outputs excluded).
    pub fn outputs(&self) -> &[Feature] {
        &self.outputs
    }
    pub fn states(&self) -> &[StateInfo] {
        &self.states
    }
    /// Name, version, author, license, description, user metadata, opsets.
    pub fn metadata(&self) -> &Info {
        &self.info
    }
    /// The per-node profile of the predictions so far, when profiling is on
    /// (`Config::profile` or `SMELT_PROFILE`): from the GPU executor when the model runs
    /// there, else the CPU's host times over its lowered graph (fused nodes under their
    /// own op type). `None` when profiling is off or nothing has run.
    pub fn profile(&self) -> Option<smelt_core::profile::Profile> {
        if let Some(g) = &self.gpu {
            return g.stats().profile;
        }
        let t = self.cpu_profile.as_ref()?;
        let t = t.lock().unwrap_or_else(|p| p.into_inner());
        if t.runs() == 0 {
            return None;
        }
        let g = self.plan.graph();
        Some(t.profile(
            |n| (g.nodes[n].name.clone(), g.nodes[n].op_type.clone()),
            Vec::new(),
            "CPU: host clock",
        ))
    }

    pub fn placement(&self) -> &Placement {
        &self.placement
    }
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
    /// What loading did with the weights (mapped or copied bytes).
    pub fn load_stats(&self) -> &LoadStats {
        &self.load_stats
    }
    /// The number of CPU threads a prediction may use.
    pub fn threads(&self) -> usize {
        self.pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
    }
    /// What CPU lowering did (readers of compressed weights fused into tiled kernels).
    pub fn lowering(&self) -> &smelt_cpu::lower::Lowering {
        &self.lowering
    }

    /// Runs the model on named inputs. A model with declared states needs
    /// [`Model::predict_with_state`].
    pub fn predict(&self, inputs: &[(&str, Tensor)]) -> Result<Outputs> {
        if !self.states.is_empty() {
            return Err(Error::invalid(format!(
                "model '{}' declares states ({}): use predict_with_state",
                self.info.name,
                self.states
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.run(inputs, None)
    }

    /// Zero-filled states; symbolic and unknown dimensions are taken as 1 (a batch of one;
    /// see [`Model::new_state_with`]).
    pub fn new_state(&self) -> Result<State> {
        self.new_state_with(&[])
    }

    /// Zero-filled states with sizes for symbolic dimensions (`[("batch", 4)]`); other
    /// symbolic and unknown dimensions are 1.
    pub fn new_state_with(&self, dims: &[(&str, usize)]) -> Result<State> {
        let mut values = Vec::with_capacity(self.states.len());
        for s in &self.states {
            let dtype = s.info.dtype.ok_or_else(|| {
                Error::invalid(format!("state '{}' has no declared dtype", s.name))
            })?;
            let shape = s.info.shape.as_ref().ok_or_else(|| {
                Error::invalid(format!("state '{}' has no declared shape", s.name))
            })?;
            let shape: Vec<usize> = shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => Ok(*n),
                    Dim::Sym(name) => {
                        Ok(dims.iter().find(|(k, _)| k == name).map_or(1, |(_, v)| *v))
                    }
                    Dim::Unknown => Ok(1),
                })
                .collect::<Result<_>>()?;
            values.push(Tensor::zeros(dtype, shape));
        }
        Ok(State {
            model: self.id,
            values,
            names: self.states.iter().map(|s| s.name.clone()).collect(),
        })
    }

    /// Runs the model with its states fed from `state`, which is then updated in place from
    /// the state outputs. Returns the other outputs.
    pub fn predict_with_state(
        &self,
        inputs: &[(&str, Tensor)],
        state: &mut State,
    ) -> Result<Outputs> {
        if state.model != self.id {
            return Err(Error::invalid(
                "this State was made by another model: use this model's new_state()",
            ));
        }
        self.run(inputs, Some(state))
    }

    /// Runs once (states, if any, start from `state` or zeros and are not updated) and returns
    /// the memory plan of the intermediates: real sizes, lifetimes and arena placement.
    pub fn memory_plan(
        &self,
        inputs: &[(&str, Tensor)],
        state: Option<&State>,
    ) -> Result<smelt_cpu::memory::MemoryPlan> {
        let fresh;
        let st = match state {
            Some(s) => s,
            None => {
                fresh = self.new_state()?;
                &fresh
            }
        };
        let feed = self.feed(inputs, Some(st))?;
        let plan = || self.plan.run_with_memory_plan(feed);
        Ok(match &self.pool {
            Some(pool) => pool.install(plan)?.1,
            None => plan()?.1,
        })
    }

    fn feed(
        &self,
        inputs: &[(&str, Tensor)],
        state: Option<&State>,
    ) -> Result<Vec<(String, Tensor)>> {
        let mut feed: Vec<(String, Tensor)> = Vec::with_capacity(inputs.len() + self.states.len());
        for (n, t) in inputs {
            if self.states.iter().any(|s| s.input == *n) {
                return Err(Error::Input {
                    name: n.to_string(),
                    msg: "is a state: it is fed from the State, not passed as an input".into(),
                });
            }
            feed.push((n.to_string(), t.clone()));
        }
        if let Some(st) = state {
            for (s, t) in self.states.iter().zip(&st.values) {
                feed.push((s.input.clone(), t.clone()));
            }
        }
        Ok(feed)
    }

    fn run(&self, inputs: &[(&str, Tensor)], state: Option<&mut State>) -> Result<Outputs> {
        match &self.pool {
            Some(pool) => pool.install(|| self.run_here(inputs, state)),
            None => self.run_here(inputs, state),
        }
    }

    fn run_here(&self, inputs: &[(&str, Tensor)], state: Option<&mut State>) -> Result<Outputs> {
        let feed = self.feed(inputs, state.as_deref())?;
        let outs = match &self.gpu {
            Some(g) => g.run(feed)?,
            None => match &self.cpu_profile {
                Some(t) => {
                    let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
                    self.plan.run_profiled(feed, &mut t)?
                }
                None => self.plan.run(feed)?,
            },
        };
        let mut result = Vec::with_capacity(self.outputs.len());
        let mut new_states: Vec<Option<Tensor>> = vec![None; self.states.len()];
        for (name, t) in outs {
            match self.states.iter().position(|s| s.output == name) {
                Some(k) => new_states[k] = Some(t),
                None => result.push((name, t)),
            }
        }
        if let Some(st) = state {
            for (k, t) in new_states.into_iter().enumerate() {
                let t = t.ok_or_else(|| {
                    Error::invalid(format!("state output '{}' missing", self.states[k].output))
                })?;
                if t.dtype() != st.values[k].dtype() || t.shape() != st.values[k].shape() {
                    return Err(Error::invalid(format!(
                        "state '{}': output '{}' is {} {:?}, the state is {} {:?}",
                        self.states[k].name,
                        self.states[k].output,
                        t.dtype(),
                        t.shape(),
                        st.values[k].dtype(),
                        st.values[k].shape()
                    )));
                }
                st.values[k] = t;
            }
        }
        Ok(Outputs(result))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Model>();
        check::<super::State>();
    }
}
