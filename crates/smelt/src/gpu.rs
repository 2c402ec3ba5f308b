//! The runtime's bridge to the GPU executor: a model whose placement put nodes on CUDA
//! runs through `smelt_cuda::Executor` (those nodes on the GPU, the rest on the CPU,
//! copies at device boundaries); a model with every node on the CPU never touches it.

use crate::model::Model;
use crate::placement::Placement;
use smelt_core::Result;
use smelt_ir::Graph;
use std::sync::Arc;

pub(crate) type GpuExecutor = smelt_cuda::Executor<Arc<Graph>>;

/// The executor for `placement`, or `None` when no node is placed on CUDA.
pub(crate) fn executor(graph: &Arc<Graph>, placement: &Placement) -> Result<Option<GpuExecutor>> {
    let on_gpu: Vec<bool> = placement
        .nodes
        .iter()
        .map(|a| {
            placement
                .devices
                .get(a.device)
                .is_some_and(|d| d.backend == "cuda")
        })
        .collect();
    if !on_gpu.contains(&true) {
        return Ok(None);
    }
    smelt_cuda::Executor::new(graph.clone(), &on_gpu).map(Some)
}

impl Model {
    /// What the GPU executor has done (transfers, fallbacks, device memory), if the model
    /// runs on a GPU.
    pub fn gpu_stats(&self) -> Option<smelt_cuda::ExecStats> {
        self.gpu.as_ref().map(|g| g.stats())
    }
}
