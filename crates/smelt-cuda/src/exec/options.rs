//! The executor's options ([`ExecOptions`], with their environment defaults) and what it
//! reports ([`ExecStats`]).

use crate::cuda::alloc::AllocStats;
use crate::precision::Precision;
use crate::profile::Profile;
use smelt_core::settings;

/// What the executor has done since it was made.
#[derive(Clone, Debug, Default)]
pub struct ExecStats {
    pub runs: u64,
    /// Nodes run on the GPU and on the CPU, over all runs.
    pub gpu_nodes: u64,
    pub cpu_nodes: u64,
    /// Nodes placed on CUDA that ran on the host because every input was a small host-only
    /// integer value (shape arithmetic: at most `HOST_SIDE_ELEMENTS` elements); copying
    /// those to the device and back would cost a host wait and block CUDA graphs.
    pub host_side_nodes: u64,
    /// Nodes run inside fused element-wise kernels (counted in `gpu_nodes` too).
    pub fused_nodes: u64,
    /// Node runs that wrote their output in 16 bits for GEMM readers, or a 16-bit copy
    /// beside it (see `exec/lowp.rs`).
    pub stores_16bit: u64,
    /// Nodes placed on CUDA that ran on the CPU (see the module doc).
    pub cpu_fallbacks: u64,
    pub fallback_reasons: Vec<String>,
    pub uploads: u64,
    pub upload_bytes: u64,
    pub downloads: u64,
    pub download_bytes: u64,
    /// Bytes of constant values (weights, Constant outputs) kept on the device.
    pub weight_bytes: u64,
    /// Bytes of the 16-bit copies of weights (fp16/bf16 precision).
    pub weight_16bit_bytes: u64,
    pub alloc: AllocStats,
    pub precision: Precision,
    /// Device time of the last run from its first event to its last (see the module doc),
    /// ms.
    pub last_device_ms: Option<f64>,
    /// The part of it until the outputs were computed (before their downloads), ms: what
    /// a framework that leaves its outputs on the device would time.
    pub last_compute_ms: Option<f64>,
    /// CUDA graphs captured, runs that replayed one, and captures given up (with why).
    pub graph_captures: u64,
    pub graph_replays: u64,
    pub graph_failures: u64,
    pub graph_failure_reasons: Vec<String>,
    /// Why runs are not captured, when they are not: the model's structure (a graph input
    /// read on the host) or the last run's first host wait (a CPU node, a mid-run upload
    /// or download).
    pub graph_blocker: Option<String>,
    /// Per op type and node, when profiling.
    pub profile: Option<Profile>,
}

/// How an executor runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOptions {
    /// Operand precision of MatMul, Gemm and Conv (fp32 accumulation whatever it is).
    pub precision: Precision,
    /// Record device time per node (see `crate::profile`).
    pub profile: bool,
    /// Capture static-shape runs into CUDA graphs and replay them (see the module doc).
    pub cuda_graphs: bool,
    /// Fuse element-wise chains into generated kernels (see `crate::plan::fuse`).
    pub fuse: bool,
    /// With `profile`: also time each launch (kernel, GEMM, cuDNN conv) on its own.
    pub profile_kernels: bool,
    /// At fp16 / bf16: values read only as GEMM operands are written in 16 bits by their
    /// producers (see `exec/lowp.rs`; results are the same bits either way).
    pub store_16bit: bool,
}

impl Default for ExecOptions {
    /// fp32; profiling when `SMELT_PROFILE` is set (not "0"), per launch too when it is
    /// "kernels"; CUDA graphs unless
    /// `SMELT_NO_CUDA_GRAPH` is set, fusion unless `SMELT_NO_FUSION` is set, 16-bit stores
    /// unless `SMELT_NO_16BIT_STORE` is set (not "0").
    fn default() -> Self {
        ExecOptions {
            precision: Precision::F32,
            profile: env_flag("SMELT_PROFILE"),
            cuda_graphs: !env_flag("SMELT_NO_CUDA_GRAPH"),
            fuse: !env_flag("SMELT_NO_FUSION"),
            profile_kernels: settings::var("SMELT_PROFILE").is_some_and(|v| v == "kernels"),
            store_16bit: !env_flag("SMELT_NO_16BIT_STORE"),
        }
    }
}

/// Whether environment variable `name` (declared in `smelt_core::settings`) is set to
/// anything but "" or "0".
pub fn env_flag(name: &str) -> bool {
    settings::flag(name)
}

/// Whether environment variable `name` is set to "0" (what it names, on by default, is off).
pub fn env_flag_off(name: &str) -> bool {
    settings::flag_off(name)
}
