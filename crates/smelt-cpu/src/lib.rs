//! The CPU backend: evaluates a [`Graph`] node by node with each op's CPU kernel.
//!
//! Buffers are released as soon as their last reader has run (lifetimes computed once per
//! [`Plan`]), so peak memory follows the graph's live set, not its total size.

pub mod lower;
pub mod memory;

use memory::{Buffer, MemoryPlan};
use smelt_core::profile::Tally;
use smelt_core::{Error, Result, Tensor, ValueInfo};
use smelt_ir::{EvalCtx, Graph, SubgraphRunner};
use std::ops::Deref;

/// A graph prepared for repeated runs: value lifetimes and input checks. `G` is how the
/// graph is held: borrowed (`&Graph`) or shared (`Arc<Graph>`).
pub struct Plan<G: Deref<Target = Graph>> {
    graph: G,
    /// For each value, the index of the last node reading it (usize::MAX: a graph output;
    /// None: never read, dropped as soon as produced).
    last_use: Vec<Option<usize>>,
}

impl<G: Deref<Target = Graph>> Plan<G> {
    pub fn new(graph: G) -> Plan<G> {
        let mut last_use: Vec<Option<usize>> = vec![None; graph.values.len()];
        for (n, node) in graph.nodes.iter().enumerate() {
            for i in node.inputs.iter().flatten() {
                last_use[*i] = Some(n);
            }
            // values captured by subgraphs stay alive while the node runs
            for a in node.attrs.0.values() {
                let subs: Vec<&Graph> = match a {
                    smelt_ir::Attr::Graph(g) => vec![&**g],
                    smelt_ir::Attr::Graphs(gs) => gs.iter().map(|g| &**g).collect(),
                    _ => vec![],
                };
                for s in subs {
                    for name in captured_names(s) {
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
        Plan { graph, last_use }
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Runs the graph on named inputs; returns the outputs in graph order, with their names.
    pub fn run(&self, inputs: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>> {
        self.run_scoped(inputs, &|_| None, true, None, None)
    }

    /// Runs the graph and adds each node's host time to `tally` (one run of it). A subgraph
    /// body's time counts in the If / Loop / Scan node that runs it.
    pub fn run_profiled(
        &self,
        inputs: Vec<(String, Tensor)>,
        tally: &mut Tally,
    ) -> Result<Vec<(String, Tensor)>> {
        let outs = self.run_scoped(inputs, &|_| None, true, None, Some(tally));
        if outs.is_ok() {
            tally.end_run();
        }
        outs
    }

    /// Runs the graph and also returns the memory plan of its intermediates: each one's real
    /// size in this run, its lifetime, and their placement in one arena.
    pub fn run_with_memory_plan(
        &self,
        inputs: Vec<(String, Tensor)>,
    ) -> Result<(Vec<(String, Tensor)>, MemoryPlan)> {
        let mut trace = Vec::new();
        let outs = self.run_scoped(inputs, &|_| None, true, Some(&mut trace), None)?;
        let end = self.graph.nodes.len();
        let last = |id: usize, first: usize| match self.last_use[id] {
            Some(usize::MAX) => end,
            Some(l) => l,
            None => first,
        };
        // a view (Reshape, Identity, ...) shares its source's buffer and extends its life
        let mut root: std::collections::HashMap<usize, usize> = Default::default();
        let mut buffers: Vec<Buffer> = Vec::new();
        for t in trace {
            match t.alias_of {
                None => {
                    root.insert(t.value, buffers.len());
                    buffers.push(Buffer {
                        value: self.graph.values[t.value].name.clone(),
                        bytes: t.bytes as u64,
                        first: t.node,
                        last: last(t.value, t.node),
                    });
                }
                Some(src) => {
                    if let Some(&r) = root.get(&src) {
                        root.insert(t.value, r);
                        buffers[r].last = buffers[r].last.max(last(t.value, t.node));
                    }
                }
            }
        }
        Ok((outs, MemoryPlan::new(buffers)))
    }

    /// Runs the graph as a subgraph body: captured values resolve through `outer`, and
    /// input types are not checked against the declared ones (loop-carried types may
    /// differ). Other executors use this to run If/Loop/Scan bodies on the CPU.
    pub fn run_in_scope(
        &self,
        inputs: Vec<(String, Tensor)>,
        outer: &(dyn Fn(&str) -> Option<Tensor> + Sync),
    ) -> Result<Vec<(String, Tensor)>> {
        self.run_scoped(inputs, outer, false, None, None)
    }

    /// `check`: enforce declared input types (off for subgraph bodies, whose loop-carried
    /// types may legitimately differ from the declared ones).
    fn run_scoped(
        &self,
        inputs: Vec<(String, Tensor)>,
        outer: &(dyn Fn(&str) -> Option<Tensor> + Sync),
        check: bool,
        mut trace: Option<&mut Vec<Traced>>,
        mut tally: Option<&mut Tally>,
    ) -> Result<Vec<(String, Tensor)>> {
        let g: &Graph = &self.graph;
        let mut env: Vec<Option<Tensor>> = vec![None; g.values.len()];
        for (id, t) in &g.initializers {
            env[*id] = Some(t.clone());
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
            if check {
                check_input(&name, &g.values[id].info, &t)?;
            }
            env[id] = Some(t);
        }
        for &id in &g.inputs {
            if env[id].is_none() {
                return Err(Error::Input {
                    name: g.values[id].name.clone(),
                    msg: "missing".into(),
                });
            }
        }
        for &id in &g.captures {
            let name = &g.values[id].name;
            env[id] = Some(outer(name).ok_or_else(|| {
                Error::invalid(format!(
                    "graph '{}': captured value '{name}' not found in enclosing scope",
                    g.name
                ))
            })?);
        }
        for (n, node) in g.nodes.iter().enumerate() {
            let ins: Vec<Option<Tensor>> = node
                .inputs
                .iter()
                .map(|i| {
                    i.map(|i| {
                        env[i].clone().ok_or_else(|| {
                            Error::invalid(format!("value '{}' not computed", g.values[i].name))
                        })
                    })
                    .transpose()
                })
                .collect::<Result<_>>()
                .map_err(|e| e.in_node(&node.name, &node.op_type))?;
            // Inputs read for the last time are dropped before the op runs, so an op that
            // owns the only reference may reuse the buffer in place.
            for i in node.inputs.iter().flatten() {
                if self.last_use[*i] == Some(n) {
                    env[*i] = None;
                }
            }
            // for the memory trace: which input values' storage this node was given
            let in_data: Vec<(usize, *const smelt_core::Data)> = match trace {
                Some(_) => node
                    .inputs
                    .iter()
                    .zip(&ins)
                    .filter_map(|(i, t)| Some((*i.as_ref()?, t.as_ref()?.data() as *const _)))
                    .collect(),
                None => Vec::new(),
            };
            let scope = Scope {
                env: &env,
                graph: g,
                outer,
            };
            let ctx = EvalCtx {
                n_outputs: node.outputs.len(),
                subgraphs: &scope,
            };
            let start = tally.is_some().then(std::time::Instant::now);
            let outs = node
                .op
                .eval(&ctx, ins)
                .map_err(|e| e.in_node(&node.name, &node.op_type))?;
            if let (Some(t), Some(s)) = (tally.as_deref_mut(), start) {
                t.add(n, s.elapsed().as_secs_f64() * 1e3, false);
            }
            node.check_output_count(outs.len())?;
            for (o, t) in node.outputs.iter().zip(outs) {
                if let Some(o) = o {
                    if let Some(tr) = trace.as_deref_mut() {
                        let ptr = t.data() as *const smelt_core::Data;
                        let alias_of = in_data.iter().find(|(_, p)| *p == ptr).map(|(v, _)| *v);
                        if !t.is_mapped() {
                            tr.push(Traced {
                                value: *o,
                                bytes: t.byte_size(),
                                node: n,
                                alias_of,
                            });
                        }
                    }
                    if self.last_use[*o].is_some() {
                        env[*o] = Some(t);
                    }
                }
            }
        }
        g.outputs
            .iter()
            .map(|&o| {
                let t = env[o].clone().ok_or_else(|| {
                    Error::invalid(format!("graph output '{}' not computed", g.values[o].name))
                })?;
                Ok((g.values[o].name.clone(), t))
            })
            .collect()
    }
}

/// One value produced during a traced run.
struct Traced {
    value: usize,
    bytes: usize,
    node: usize,
    /// The input value whose storage the output shares (a view), if any.
    alias_of: Option<usize>,
}

/// Names a subgraph reads from enclosing scopes (its own captures and those of nested bodies).
pub fn captured_names(g: &Graph) -> Vec<String> {
    let mut v: Vec<String> = g
        .captures
        .iter()
        .map(|&c| g.values[c].name.clone())
        .collect();
    for n in &g.nodes {
        for a in n.attrs.0.values() {
            match a {
                smelt_ir::Attr::Graph(s) => v.extend(captured_names(s)),
                smelt_ir::Attr::Graphs(ss) => ss.iter().for_each(|s| v.extend(captured_names(s))),
                _ => {}
            }
        }
    }
    v
}

/// Checks a caller's tensor against the declared type of a graph input.
pub fn check_input(name: &str, info: &ValueInfo, t: &Tensor) -> Result<()> {
    if let Some(d) = info.dtype {
        if d != t.dtype() {
            return Err(Error::Input {
                name: name.into(),
                msg: format!("expected dtype {d}, got {}", t.dtype()),
            });
        }
    }
    if let Some(shape) = &info.shape {
        let bad = shape.len() != t.rank()
            || shape
                .iter()
                .zip(t.shape())
                .any(|(d, &n)| d.fixed().is_some_and(|f| f != n));
        if bad {
            return Err(Error::Input {
                name: name.into(),
                msg: format!("expected shape {}, got {:?}", info, t.shape()),
            });
        }
    }
    Ok(())
}

struct Scope<'a> {
    env: &'a [Option<Tensor>],
    graph: &'a Graph,
    outer: &'a (dyn Fn(&str) -> Option<Tensor> + Sync),
}

/// Runs subgraph body `sub` on the CPU: `inputs` in its input order, captured names
/// resolved by `outer`; the outputs in its output order. Every executor's If/Loop/Scan
/// bodies run through this.
pub fn run_body(
    sub: &Graph,
    inputs: Vec<Tensor>,
    outer: &(dyn Fn(&str) -> Option<Tensor> + Sync),
) -> Result<Vec<Tensor>> {
    if inputs.len() != sub.inputs.len() {
        return Err(Error::invalid(format!(
            "subgraph '{}' takes {} inputs, given {}",
            sub.name,
            sub.inputs.len(),
            inputs.len()
        )));
    }
    let named = sub
        .inputs
        .iter()
        .zip(inputs)
        .map(|(&i, t)| (sub.values[i].name.clone(), t))
        .collect();
    Ok(Plan::new(sub)
        .run_in_scope(named, outer)?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

impl SubgraphRunner for Scope<'_> {
    fn run(&self, sub: &Graph, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let lookup = |name: &str| -> Option<Tensor> {
            match self
                .graph
                .value_id(name)
                .and_then(|id| self.env[id].clone())
            {
                Some(t) => Some(t),
                None => (self.outer)(name),
            }
        };
        run_body(sub, inputs, &lookup)
    }
}

/// Runs `graph` once on named inputs.
pub fn run(graph: &Graph, inputs: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>> {
    Plan::new(graph).run(inputs)
}

/// The CPU backend as placement sees it: it runs every node the op registry could build.
pub struct CpuBackend;

impl smelt_ir::Backend for CpuBackend {
    fn device(&self) -> smelt_ir::DeviceInfo {
        smelt_ir::DeviceInfo {
            kind: smelt_ir::DeviceKind::Cpu,
            backend: "cpu".into(),
            name: cpu_name(),
        }
    }
    fn supports(&self, _node: &smelt_ir::Node, _graph: &Graph) -> smelt_ir::Support {
        smelt_ir::Support::Yes
    }
}

/// "model name, N threads" from the OS where it says, else the architecture.
fn cpu_name() -> String {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{model}, {threads} threads")
}
