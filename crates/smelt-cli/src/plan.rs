//! `smelt info --plan`: the placement a loaded model got. One line per top-level node (its
//! name, op type, the device chosen as "backend (kind)" and the reason), then the nodes per
//! device, the number of tensors that cross between devices, and every device this build
//! can run on (marking those the compute units exclude). Subgraph bodies run where their
//! If/Loop/Scan node runs.

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

pub fn print(path: &Path, model: &Model) {
    let p = model.placement();
    println!(
        "plan      {}: {} nodes, compute units {}",
        path.display(),
        p.nodes.len(),
        units_name(p.compute_units)
    );
    let device = |i: usize| {
        p.devices
            .get(i)
            .map_or_else(|| "none".to_string(), device_label)
    };
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
    let wd = p
        .devices
        .iter()
        .map(|d| device_label(d).len())
        .max()
        .unwrap_or(0)
        .max(6);
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
