//! `smelt info --plan`: the placement a loaded model got. What holds for every node (why no
//! GPU is used) once, then one line per device and reason with the node count and op types
//! (with `--nodes`, one line per top-level node: its name, op type, the device chosen as
//! "backend (kind)" and the reason), then the nodes per device, the number of tensors that
//! cross between devices, and every device this build can run on (marking those the compute
//! units exclude). Subgraph bodies run where their If/Loop/Scan node runs.

use smelt::{ComputeUnits, DeviceInfo, Model};
use std::path::Path;

/// The name `--compute-units` takes for `u`.
pub fn units_name(u: ComputeUnits) -> &'static str {
    match u {
        ComputeUnits::CpuOnly => "cpu-only",
        ComputeUnits::CpuAndGpu => "cpu-and-gpu",
        ComputeUnits::All => "all",
    }
}

/// "cpu (cpu)", "cuda (gpu)".
pub fn device_label(d: &DeviceInfo) -> String {
    format!("{} ({})", d.backend, d.kind)
}

pub fn print(path: &Path, model: &Model, every_node: bool) {
    let p = model.placement();
    println!(
        "plan      {}: {} nodes, compute units {}",
        path.display(),
        p.nodes.len(),
        units_name(p.compute_units)
    );
    for n in &p.notes {
        println!("note      {n}");
    }
    // the nodes the fusion pass made, by the rule that made each
    let rules = p
        .nodes
        .iter()
        .filter_map(|a| smelt::passes::fuse::made_by(&a.node));
    let fused = op_histogram(rules, 8);
    if !fused.is_empty() {
        println!("fused     {fused} (smelt convert's fuse pass; the node names end in the rule)");
    }
    print_cpu_lowering(model.lowering(), every_node);
    let device = |i: usize| {
        p.devices
            .get(i)
            .map_or_else(|| "none".to_string(), device_label)
    };
    let wd = p
        .devices
        .iter()
        .map(|d| device_label(d).len())
        .max()
        .unwrap_or(0)
        .max(6);
    if every_node {
        let wn = p
            .nodes
            .iter()
            .map(|a| a.node.len())
            .max()
            .unwrap_or(0)
            .clamp(4, 40);
        let wo = p
            .nodes
            .iter()
            .map(|a| a.op_type.len())
            .max()
            .unwrap_or(0)
            .clamp(2, 24);
        println!(
            "  {:<wn$}  {:<wo$}  {:<wd$}  reason",
            "node", "op", "device"
        );
        for a in &p.nodes {
            println!(
                "  {:<wn$}  {:<wo$}  {:<wd$}  {}",
                a.node,
                a.op_type,
                device(a.device),
                a.reason
            );
        }
    } else {
        // one row per (device, reason): the node count and the op types it holds
        println!(
            "  {:<wd$}  {:>6}  reason; ops (--nodes lists every node)",
            "device", "nodes"
        );
        for (d, reason, members) in p.groups() {
            println!(
                "  {:<wd$}  {:>6}  {reason}; {}",
                device(d),
                members.len(),
                op_histogram(members.iter().map(|&k| p.nodes[k].op_type.as_str()), 8)
            );
        }
    }
    println!("nodes per device");
    for (d, n) in p.counts() {
        println!("  {:<wd$}  {n:>6}  {}", device_label(&d), d.name);
    }
    println!("transfers {} tensor(s) cross between devices", p.transfers);
    println!("available devices");
    for d in smelt::available_devices() {
        let excluded = if p.compute_units.allows(d.kind) {
            String::new()
        } else {
            format!("  (excluded by {})", units_name(p.compute_units))
        };
        println!("  {:<wd$}  {}{excluded}", device_label(&d), d.name);
    }
}

/// The CPU's lowered graph: the fused nodes by pattern, and the candidates refused with
/// the reason (all of them with `--nodes`, else the first few).
fn print_cpu_lowering(l: &smelt::cpu_lower::Lowering, every_node: bool) {
    if l.fused > 0 {
        println!(
            "cpu lower {} reader(s) of compressed weights decode them per tile ({} decode node(s) removed)",
            l.fused, l.removed
        );
    }
    let fused = l
        .conv_epilogues
        .iter()
        .filter_map(|c| c.outcome.as_deref().ok());
    let fused = op_histogram(fused, 8);
    if !fused.is_empty() {
        println!(
            "cpu lower FusedConv: {fused} (rule conv_epilogue; node names end in .conv_epilogue)"
        );
    }
    let refused: Vec<_> = l
        .conv_epilogues
        .iter()
        .filter_map(|c| c.outcome.as_ref().err().map(|why| (&c.conv, why)))
        .collect();
    let shown = if every_node { refused.len() } else { 3 };
    for (conv, why) in refused.iter().take(shown) {
        println!("cpu lower refused {conv}: {why}");
    }
    if refused.len() > shown {
        println!(
            "cpu lower refused {} more (--nodes lists them)",
            refused.len() - shown
        );
    }
}

/// "Conv 120, Add 80, ... (+3 more)": op types by count, most first (ties by name), at most
/// `max` of them.
pub fn op_histogram<'a>(ops: impl Iterator<Item = &'a str>, max: usize) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for op in ops {
        match counts.iter_mut().find(|(o, _)| *o == op) {
            Some(c) => c.1 += 1,
            None => counts.push((op, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut s: Vec<String> = counts
        .iter()
        .take(max)
        .map(|(o, n)| format!("{o} {n}"))
        .collect();
    if counts.len() > max {
        s.push(format!("(+{} more)", counts.len() - max));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn histograms_list_the_most_frequent_ops_first() {
        let ops = ["Add", "Conv", "Relu", "Conv", "Add", "Conv", "Mul"];
        assert_eq!(
            super::op_histogram(ops.into_iter(), 2),
            "Conv 3, Add 2, (+2 more)"
        );
        assert_eq!(super::op_histogram(["Mul"].into_iter(), 8), "Mul 1");
    }
}
