//! The runtime's bridge to the GPU executor: a model whose placement put nodes on CUDA
//! runs through `smelt_cuda::Executor` (those nodes on the GPU, the rest on the CPU,
//! copies at device boundaries); a model with every node on the CPU never touches it.

use crate::model::{Config, Model};
use crate::placement::Placement;
use smelt_core::Result;
use smelt_ir::Graph;
use std::sync::Arc;

pub(crate) type GpuExecutor = smelt_cuda::Executor<Arc<Graph>>;

/// The executor for `placement`, or `None` when no node is placed on CUDA.
pub(crate) fn executor(
    graph: &Arc<Graph>,
    placement: &Placement,
    config: &Config,
) -> Result<Option<GpuExecutor>> {
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
    let defaults = smelt_cuda::ExecOptions::default();
    let opts = smelt_cuda::ExecOptions {
        precision: config.precision,
        profile: config.profile || defaults.profile,
        cuda_graphs: config.cuda_graphs && defaults.cuda_graphs,
        fuse: defaults.fuse,
        profile_kernels: defaults.profile_kernels,
        store_16bit: defaults.store_16bit,
    };
    smelt_cuda::Executor::with_options(graph.clone(), &on_gpu, opts).map(Some)
}

impl Model {
    /// What the GPU executor has done (transfers, fallbacks, device memory), if the model
    /// runs on a GPU.
    pub fn gpu_stats(&self) -> Option<smelt_cuda::ExecStats> {
        self.gpu.as_ref().map(|g| g.stats())
    }
}
