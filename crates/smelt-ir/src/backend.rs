//! What a backend tells the runtime's placement step: which device it drives and, per node,
//! whether it can run it (and if not, why). Execution stays with each backend crate.

use crate::{Graph, Node};

/// The kind of compute unit a backend drives, in Core ML's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKind {
    Cpu,
    Gpu,
    /// A neural accelerator (Core ML's Neural Engine).
    Npu,
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Gpu => "gpu",
            DeviceKind::Npu => "npu",
        })
    }
}

/// A device a backend can run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub kind: DeviceKind,
    /// The backend that drives it ("cpu", "cuda", "wgpu").
    pub backend: String,
    /// What the hardware calls itself ("AMD EPYC 7B13, 2 threads").
    pub name: String,
}

/// A backend's answer for one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    Yes,
    /// Not supported, with the reason (printed by `smelt info --plan`).
    No(String),
}

pub trait Backend: Send + Sync {
    fn device(&self) -> DeviceInfo;
    /// Whether this backend can run `node` of `graph` (its op, dtypes and attributes).
    fn supports(&self, node: &Node, graph: &Graph) -> Support;
}
