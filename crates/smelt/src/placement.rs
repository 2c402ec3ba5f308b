//! Placement: which backend runs each node. Backends are asked in order of preference
//! (neural accelerator, GPU, CPU) among those the chosen compute units allow; the first that
//! supports a node gets it, and the plan records why each node went where it did.

use smelt_ir::{Backend, DeviceInfo, DeviceKind, Graph, Support};
use std::sync::Arc;

/// Which compute units a model may use (Core ML's MLComputeUnits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ComputeUnits {
    CpuOnly,
    CpuAndGpu,
    /// Every unit smelt has a backend for.
    #[default]
    All,
}

impl ComputeUnits {
    pub fn allows(self, k: DeviceKind) -> bool {
        match self {
            ComputeUnits::CpuOnly => k == DeviceKind::Cpu,
            ComputeUnits::CpuAndGpu => k != DeviceKind::Npu,
            ComputeUnits::All => true,
        }
    }
}

impl std::str::FromStr for ComputeUnits {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "cpu" | "cpuonly" => Ok(ComputeUnits::CpuOnly),
            "cpuandgpu" | "gpu" => Ok(ComputeUnits::CpuAndGpu),
            "all" => Ok(ComputeUnits::All),
            _ => Err(format!(
                "unknown compute units '{s}' (cpu-only, cpu-and-gpu, all)"
            )),
        }
    }
}

/// The backends compiled into this build that found their device, most preferred first
/// (the CPU last: it runs every op).
pub fn backends() -> Vec<Arc<dyn Backend>> {
    let mut v: Vec<Arc<dyn Backend>> = Vec::new();
    if let Ok(cuda) = smelt_cuda::CudaBackend::new() {
        v.push(Arc::new(cuda));
    }
    v.push(Arc::new(smelt_cpu::CpuBackend));
    v
}

/// The devices smelt can run on here.
pub fn available_devices() -> Vec<DeviceInfo> {
    backends().iter().map(|b| b.device()).collect()
}

/// One node's placement.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub node: String,
    pub op_type: String,
    /// Index into [`Placement::devices`].
    pub device: usize,
    pub reason: String,
}

/// Where every top-level node runs. Subgraph bodies run where their If/Loop/Scan node runs.
#[derive(Clone, Debug)]
pub struct Placement {
    pub compute_units: ComputeUnits,
    pub devices: Vec<DeviceInfo>,
    pub nodes: Vec<Assignment>,
    /// Number of tensors that cross between devices (0 with one device).
    pub transfers: usize,
    /// What holds for every node, said once: why no GPU is used ("no GPU backend in this
    /// build found a device", "CpuOnly excludes cuda (gpu)").
    pub notes: Vec<String>,
}

/// Nodes pinned to the CPU by name or op type: `SMELT_FORCE_CPU=Conv,node_12`.
fn forced_cpu() -> Vec<String> {
    smelt_core::settings::var("SMELT_FORCE_CPU")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub fn place(graph: &Graph, units: ComputeUnits, backends: &[Arc<dyn Backend>]) -> Placement {
    let allowed: Vec<(usize, &Arc<dyn Backend>)> = backends
        .iter()
        .filter(|b| units.allows(b.device().kind))
        .enumerate()
        .collect();
    let devices: Vec<DeviceInfo> = allowed.iter().map(|(_, b)| b.device()).collect();
    let excluded: Vec<String> = backends
        .iter()
        .map(|b| b.device())
        .filter(|d| !units.allows(d.kind))
        .map(|d| format!("{} ({})", d.backend, d.kind))
        .collect();
    let forced = forced_cpu();
    let mut nodes = Vec::with_capacity(graph.nodes.len());
    for n in &graph.nodes {
        let mut declined: Vec<String> = Vec::new();
        let mut chosen = None;
        let pinned = forced.iter().any(|f| f == &n.name || f == &n.op_type);
        for (i, b) in &allowed {
            let d = &devices[*i];
            if pinned && d.kind != DeviceKind::Cpu {
                declined.push(format!(
                    "{}: pinned to the cpu by SMELT_FORCE_CPU",
                    d.backend
                ));
                continue;
            }
            match b.supports(n, graph) {
                Support::Yes => {
                    chosen = Some(*i);
                    break;
                }
                Support::No(why) => declined.push(format!("{}: {why}", d.backend)),
            }
        }
        let (device, reason) = match chosen {
            Some(i) => {
                let r = if declined.is_empty() {
                    format!("{} kernel", devices[i].backend)
                } else {
                    format!("{} kernel; {}", devices[i].backend, declined.join("; "))
                };
                (i, r)
            }
            // the CPU supports every op the registry can build, so this is unreachable
            // unless a build leaves the CPU out; say so rather than guess
            None => (usize::MAX, format!("no backend: {}", declined.join("; "))),
        };
        nodes.push(Assignment {
            node: n.name.clone(),
            op_type: n.op_type.clone(),
            device,
            reason,
        });
    }
    // a value crosses devices when its producer and a consumer are placed apart
    let mut producer = vec![usize::MAX; graph.values.len()];
    for (k, n) in graph.nodes.iter().enumerate() {
        for o in n.outputs.iter().flatten() {
            producer[*o] = nodes[k].device;
        }
    }
    let mut transfers = 0;
    for (k, n) in graph.nodes.iter().enumerate() {
        for i in n.inputs.iter().flatten() {
            if producer[*i] != usize::MAX && producer[*i] != nodes[k].device {
                transfers += 1;
            }
        }
    }
    let mut notes = Vec::new();
    if !excluded.is_empty() {
        notes.push(format!("{units:?} excludes {}", excluded.join(", ")));
    }
    if !backends.iter().any(|b| b.device().kind != DeviceKind::Cpu) {
        notes.push("no GPU backend in this build found a device".to_string());
    }
    Placement {
        compute_units: units,
        devices,
        nodes,
        transfers,
        notes,
    }
}

impl Placement {
    /// Nodes per device, in device order.
    pub fn counts(&self) -> Vec<(DeviceInfo, usize)> {
        self.devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                (
                    d.clone(),
                    self.nodes.iter().filter(|a| a.device == i).count(),
                )
            })
            .collect()
    }
    /// Nodes grouped by device and reason, in order of first appearance: (device index,
    /// reason, the nodes' indices). A model of 860 nodes on the CPU is one group.
    pub fn groups(&self) -> Vec<(usize, &str, Vec<usize>)> {
        let mut groups: Vec<(usize, &str, Vec<usize>)> = Vec::new();
        for (k, a) in self.nodes.iter().enumerate() {
            match groups
                .iter_mut()
                .find(|(d, r, _)| *d == a.device && *r == a.reason)
            {
                Some(g) => g.2.push(k),
                None => groups.push((a.device, &a.reason, vec![k])),
            }
        }
        groups
    }
    /// Whether any node runs on a device other than a CPU.
    pub fn uses_gpu(&self) -> bool {
        self.nodes.iter().any(|a| {
            self.devices
                .get(a.device)
                .is_some_and(|d| d.kind != DeviceKind::Cpu)
        })
    }
    /// Whether every node found a backend.
    pub fn complete(&self) -> bool {
        self.nodes.iter().all(|a| a.device != usize::MAX)
    }
}
