//! Per-node GPU profile (`ExecOptions::profile`, `SMELT_PROFILE=1`): CUDA events recorded on
//! the stream before and after each GPU node's launches give its device time (the event
//! pair brackets everything the node queued: kernels, cuBLAS, its input conversions, and an
//! upload it waited for); a CPU node's time is host wall-clock. Times are summed over the
//! profiled runs. Profiling turns CUDA graphs off (events per node cannot be replayed).
//!
//! With `SMELT_PROFILE=kernels` (`ExecOptions::profile_kernels`) the stream also brackets
//! each launch (kernel, cuBLAS GEMM with its shape, cuDNN conv) with its own events
//! ([`KernelTrace`]), and the profile adds time per launch name.

use crate::cuda::stream::{Event, Stream};
use smelt_core::Result;
use smelt_ir::Graph;
use std::collections::HashMap;

/// Time spent in one op type (or one node), over all profiled runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpTime {
    /// The op type, with " (cpu)" for nodes that ran on the CPU; for a node, its name.
    pub name: String,
    pub op: String,
    pub ms: f64,
    /// Node executions counted.
    pub count: u64,
}

/// What a profile measured, by op type and by node (both sorted by time, largest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub runs: u64,
    pub ops: Vec<OpTime>,
    pub nodes: Vec<OpTime>,
    /// Per launch name (kernel, "gemm f16 ..." with its shape), when kernels were traced.
    pub kernels: Vec<OpTime>,
}

impl Profile {
    /// The sum of all node times.
    pub fn total_ms(&self) -> f64 {
        self.ops.iter().map(|o| o.ms).sum()
    }

    /// A table of op types (total, count, share, per run) and the `top` slowest nodes.
    pub fn report(&self, top: usize) -> String {
        let total = self.total_ms().max(1e-12);
        let runs = self.runs.max(1) as f64;
        let mut s = format!(
            "profile over {} run(s) (the first, with its one-time uploads, left out when later runs exist): \
             {:.3} ms of node time per run (GPU: device events; cpu: host clock)\n",
            self.runs,
            self.total_ms() / runs
        );
        s += &format!(
            "  {:<28} {:>12} {:>8} {:>7} {:>12}\n",
            "op", "total ms", "count", "share", "ms per run"
        );
        for o in &self.ops {
            s += &format!(
                "  {:<28} {:>12.3} {:>8} {:>6.1}% {:>12.4}\n",
                o.op,
                o.ms,
                o.count,
                100.0 * o.ms / total,
                o.ms / runs
            );
        }
        s += &format!("  top {} nodes:\n", top.min(self.nodes.len()));
        for o in self.nodes.iter().take(top) {
            s += &format!(
                "  {:<40} {:<20} {:>10.4} ms per run {:>6.1}%\n",
                o.name,
                o.op,
                o.ms / runs,
                100.0 * o.ms / total
            );
        }
        if !self.kernels.is_empty() {
            let sum: f64 = self.kernels.iter().map(|o| o.ms).sum();
            s += &format!(
                "  launches: {:.3} ms per run; top {}:\n",
                sum / runs,
                top.min(self.kernels.len())
            );
            for o in self.kernels.iter().take(top) {
                s += &format!(
                    "  {:<64} {:>8.1} us per run {:>6} per run {:>6.1}%\n",
                    o.name,
                    1e3 * o.ms / runs,
                    o.count / self.runs.max(1),
                    100.0 * o.ms / sum.max(1e-12)
                );
            }
        }
        s
    }
}

/// The stream's side of kernel tracing: an event pair per launch of the current run, reused
/// from run to run.
#[derive(Default)]
pub(crate) struct KernelTrace {
    events: Vec<(Event, Event)>,
    pending: Vec<String>,
}

impl KernelTrace {
    /// Records the start of launch `name`; returns its pair's index for `end`.
    pub(crate) fn start(&mut self, s: &Stream, name: String) -> Result<usize> {
        let k = self.pending.len();
        if k == self.events.len() {
            self.events.push((s.event()?, s.event()?));
        }
        s.record(&self.events[k].0)?;
        self.pending.push(name);
        Ok(k)
    }
    pub(crate) fn end(&self, s: &Stream, k: usize) -> Result<()> {
        s.record(&self.events[k].1)
    }
    /// After the stream is synchronised: this run's (name, ms) per launch.
    fn drain(&mut self) -> Result<Vec<(String, f64)>> {
        let names = std::mem::take(&mut self.pending);
        names
            .into_iter()
            .enumerate()
            .map(|(k, n)| Ok((n, self.events[k].0.ms_to(&self.events[k].1)? as f64)))
            .collect()
    }
    fn clear(&mut self) {
        self.pending.clear();
    }
}

/// The executor's side: event pairs reused from run to run, and sums per node.
#[derive(Default)]
pub(crate) struct Recorder {
    events: Vec<(Event, Event)>,
    /// This run's (node, event pair) of GPU nodes, in order.
    pending: Vec<(usize, usize)>,
    /// Per node: (ms, executions, ran on the CPU).
    per_node: HashMap<usize, (f64, u64, bool)>,
    /// The first run's share of `per_node`: it holds one-time work (weight uploads, 16-bit
    /// weight copies, kernel loads), so the profile leaves it out once later runs exist.
    first: HashMap<usize, (f64, u64, bool)>,
    runs: u64,
    /// Per launch name: (ms, launches), from the second run on.
    kernels: HashMap<String, (f64, u64)>,
}

impl Recorder {
    /// Records the start event of GPU node `n`; returns the pair's index for `end`.
    pub(crate) fn start(&mut self, s: &Stream, n: usize) -> Result<usize> {
        let k = self.pending.len();
        if k == self.events.len() {
            self.events.push((s.event()?, s.event()?));
        }
        s.record(&self.events[k].0)?;
        self.pending.push((n, k));
        Ok(k)
    }
    pub(crate) fn end(&mut self, s: &Stream, k: usize) -> Result<()> {
        s.record(&self.events[k].1)
    }
    /// A CPU node's host time.
    pub(crate) fn cpu(&mut self, n: usize, ms: f64) {
        let table = if self.runs == 0 {
            &mut self.first
        } else {
            &mut self.per_node
        };
        let e = table.entry(n).or_insert((0.0, 0, true));
        e.0 += ms;
        e.1 += 1;
        e.2 = true;
    }
    /// After the stream is synchronised: reads this run's event pairs (and the stream's
    /// launch trace).
    pub(crate) fn finish_run(&mut self, s: &Stream) -> Result<()> {
        if let Some(launches) = s.with_trace(|t| t.drain()) {
            for (name, ms) in launches? {
                if self.runs > 0 {
                    let e = self.kernels.entry(name).or_default();
                    e.0 += ms;
                    e.1 += 1;
                }
            }
        }
        for (n, k) in std::mem::take(&mut self.pending) {
            let ms = self.events[k].0.ms_to(&self.events[k].1)? as f64;
            let table = if self.runs == 0 {
                &mut self.first
            } else {
                &mut self.per_node
            };
            let e = table.entry(n).or_insert((0.0, 0, false));
            e.0 += ms;
            e.1 += 1;
        }
        self.runs += 1;
        Ok(())
    }
    /// A run that failed: forget its pending pairs.
    pub(crate) fn abandon(&mut self, s: &Stream) {
        self.pending.clear();
        s.with_trace(|t| t.clear());
    }

    /// The runs after the first (all runs when there was only one).
    /// `label(n)`: a name for node n's op other than its op type (a fused group's).
    pub(crate) fn profile(&self, g: &Graph, label: impl Fn(usize) -> Option<String>) -> Profile {
        let mut ops: HashMap<String, OpTime> = HashMap::new();
        let mut nodes = Vec::new();
        let (table, runs) = if self.runs > 1 {
            (&self.per_node, self.runs - 1)
        } else {
            (&self.first, self.runs)
        };
        for (&n, &(ms, count, cpu)) in table {
            let node = &g.nodes[n];
            let op_type = label(n).unwrap_or_else(|| node.op_type.clone());
            let op = if cpu {
                format!("{op_type} (cpu)")
            } else {
                op_type
            };
            let o = ops.entry(op.clone()).or_insert_with(|| OpTime {
                name: op.clone(),
                op: op.clone(),
                ..Default::default()
            });
            o.ms += ms;
            o.count += count;
            nodes.push(OpTime {
                name: node.name.clone(),
                op,
                ms,
                count,
            });
        }
        let mut ops: Vec<OpTime> = ops.into_values().collect();
        ops.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        nodes.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        let mut kernels: Vec<OpTime> = self
            .kernels
            .iter()
            .map(|(name, &(ms, count))| OpTime {
                name: name.clone(),
                op: name.clone(),
                ms,
                count,
            })
            .collect();
        kernels.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Profile {
            runs,
            ops,
            nodes,
            kernels,
        }
    }
}
