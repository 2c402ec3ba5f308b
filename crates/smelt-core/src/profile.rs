//! Per-node profiles, shared by every executor: [`Tally`] sums each node's time over the
//! runs of a model, and [`Profile`] is what it measured, by op type and by node, with the
//! table `smelt run --profile` prints (as ONNX Runtime's profiler reports per node and per
//! op type).
//!
//! The first run is kept apart: it holds one-time work (weight uploads, packing, kernel
//! loads, page faults on mapped weights), so a profile of several runs leaves it out.

use std::collections::HashMap;

/// Time spent in one op type (or one node), over all profiled runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpTime {
    /// The op type, with " (cpu)" for nodes that ran on the CPU beside a GPU; for a node,
    /// its name.
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
    /// Per launch name (GPU kernel, "gemm f16 ..." with its shape), when launches were traced.
    pub kernels: Vec<OpTime>,
    /// How node time was measured, for the report's heading.
    pub clock: &'static str,
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
            "profile over {} run(s) (the first, with its one-time work, left out when later runs exist): \
             {:.3} ms of node time per run ({})\n",
            self.runs,
            self.total_ms() / runs,
            self.clock
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

/// Per-node sums over runs: (ms, executions, ran on the CPU beside a GPU), the first run
/// apart from the others.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    first: HashMap<usize, (f64, u64, bool)>,
    later: HashMap<usize, (f64, u64, bool)>,
    runs: u64,
}

impl Tally {
    /// Adds `ms` to node `n` in the run under way; `cpu` marks a node run on the host
    /// by an executor whose other nodes run on a device.
    pub fn add(&mut self, n: usize, ms: f64, cpu: bool) {
        let table = if self.runs == 0 {
            &mut self.first
        } else {
            &mut self.later
        };
        let e = table.entry(n).or_insert((0.0, 0, cpu));
        e.0 += ms;
        e.1 += 1;
        e.2 |= cpu;
    }

    /// Ends a run.
    pub fn end_run(&mut self) {
        self.runs += 1;
    }

    /// Runs ended so far.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// The profile of the runs after the first (of the first when it is the only one).
    /// `node(n)`: node n's name and the label of its op (its op type, or a fused group's
    /// name). `kernels`: per-launch sums, when the executor traced launches.
    pub fn profile(
        &self,
        node: impl Fn(usize) -> (String, String),
        kernels: Vec<OpTime>,
        clock: &'static str,
    ) -> Profile {
        let (table, runs) = if self.runs > 1 {
            (&self.later, self.runs - 1)
        } else {
            (&self.first, self.runs)
        };
        let mut ops: HashMap<String, OpTime> = HashMap::new();
        let mut nodes = Vec::with_capacity(table.len());
        for (&n, &(ms, count, cpu)) in table {
            let (name, label) = node(n);
            let op = if cpu { format!("{label} (cpu)") } else { label };
            let o = ops.entry(op.clone()).or_insert_with(|| OpTime {
                name: op.clone(),
                op: op.clone(),
                ..Default::default()
            });
            o.ms += ms;
            o.count += count;
            nodes.push(OpTime {
                name,
                op,
                ms,
                count,
            });
        }
        let mut ops: Vec<OpTime> = ops.into_values().collect();
        ops.sort_by(|a, b| b.ms.total_cmp(&a.ms).then_with(|| a.op.cmp(&b.op)));
        nodes.sort_by(|a, b| b.ms.total_cmp(&a.ms).then_with(|| a.name.cmp(&b.name)));
        let mut kernels = kernels;
        kernels.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Profile {
            runs,
            ops,
            nodes,
            kernels,
            clock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_run_left_out_once_later_runs_exist() {
        let mut t = Tally::default();
        t.add(0, 10.0, false); // first run: one-time work
        t.add(1, 1.0, false);
        t.end_run();
        for _ in 0..2 {
            t.add(0, 2.0, false);
            t.add(1, 3.0, true);
            t.end_run();
        }
        let names = ["conv", "relu"];
        let p = t.profile(
            |n| (names[n].to_string(), ["Conv", "Relu"][n].to_string()),
            Vec::new(),
            "host clock",
        );
        assert_eq!(p.runs, 2);
        assert_eq!(p.total_ms(), 10.0);
        assert_eq!(p.ops[0].op, "Relu (cpu)");
        assert_eq!(p.ops[0].ms, 6.0);
        assert_eq!(p.ops[1].count, 2);
        assert_eq!(p.nodes[0].name, "relu");
        let r = p.report(5);
        assert!(
            r.contains("5.000 ms of node time per run (host clock)"),
            "{r}"
        );
        assert!(r.contains("Conv"), "{r}");
    }

    #[test]
    fn a_single_run_is_its_own_profile() {
        let mut t = Tally::default();
        t.add(3, 4.5, false);
        t.end_run();
        let p = t.profile(|_| ("n".into(), "Add".into()), Vec::new(), "host clock");
        assert_eq!((p.runs, p.total_ms()), (1, 4.5));
    }
}
