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

use smelt_core::profile::Tally;
pub use smelt_core::profile::{OpTime, Profile};

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
    /// Per node sums, the first run (one-time uploads, 16-bit weight copies, kernel loads)
    /// kept apart.
    tally: Tally,
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
        self.tally.add(n, ms, true);
    }
    /// After the stream is synchronised: reads this run's event pairs (and the stream's
    /// launch trace).
    pub(crate) fn finish_run(&mut self, s: &Stream) -> Result<()> {
        if let Some(launches) = s.with_trace(|t| t.drain()) {
            for (name, ms) in launches? {
                if self.tally.runs() > 0 {
                    let e = self.kernels.entry(name).or_default();
                    e.0 += ms;
                    e.1 += 1;
                }
            }
        }
        for (n, k) in std::mem::take(&mut self.pending) {
            let ms = self.events[k].0.ms_to(&self.events[k].1)? as f64;
            self.tally.add(n, ms, false);
        }
        self.tally.end_run();
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
        let kernels = self
            .kernels
            .iter()
            .map(|(name, &(ms, count))| OpTime {
                name: name.clone(),
                op: name.clone(),
                ms,
                count,
            })
            .collect();
        self.tally.profile(
            |n| {
                let node = &g.nodes[n];
                let op = label(n).unwrap_or_else(|| node.op_type.clone());
                (node.name.clone(), op)
            },
            kernels,
            "GPU: device events; cpu: host clock",
        )
    }
}
