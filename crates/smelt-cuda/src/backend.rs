//! The CUDA backend as placement sees it: a node is supported when its op has a GPU op
//! ([`GpuOp::from_node`]) and its declared dtypes are ones the kernels run.

use crate::cuda::device::device;
use crate::plan::GpuOp;
use smelt_ir::{Backend, DeviceInfo, DeviceKind, Graph, Node, Support};

pub struct CudaBackend {
    info: DeviceInfo,
}

impl CudaBackend {
    /// The backend of this process's CUDA device, or why there is none (no driver, no
    /// device, a library missing).
    pub fn new() -> Result<CudaBackend, String> {
        let d = device()?;
        Ok(CudaBackend {
            info: DeviceInfo {
                kind: DeviceKind::Gpu,
                backend: "cuda".into(),
                name: d.describe(),
            },
        })
    }
}

/// Whether `node` can run on a GPU backend of this crate, or why not.
pub fn gpu_support(node: &Node, graph: &Graph) -> Support {
    let op = match GpuOp::from_node(node) {
        Ok(op) => op,
        Err(why) => return Support::No(why),
    };
    match op.check_types(node, graph) {
        Ok(()) => Support::Yes,
        Err(why) => Support::No(why),
    }
}

impl Backend for CudaBackend {
    fn device(&self) -> DeviceInfo {
        self.info.clone()
    }
    fn supports(&self, node: &Node, graph: &Graph) -> Support {
        gpu_support(node, graph)
    }
}
