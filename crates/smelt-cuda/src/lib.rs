//! smelt's CUDA backend, and the GPU op layer it shares with later GPU backends.
//!
//! - [`plan`]: backend-neutral. Which ops run on a GPU, parsed once per node; their output
//!   shapes and launch plans. No device code.
//! - [`cuda`]: the CUDA side. The process's device (probed at run time: cudarc loads the
//!   driver, NVRTC and cuBLAS dynamically, so this crate builds and its tests run without a
//!   CUDA toolkit or a GPU), streams with a caching allocator and pinned staging memory,
//!   NVRTC kernels compiled once per process, cuBLAS GEMMs, and the launch of each op.
//! - [`CudaBackend`]: what placement asks (`smelt_ir::Backend`).
//! - [`Executor`]: runs a graph with the nodes placed on CUDA on the GPU and the rest on the
//!   CPU, copying tensors only where they cross devices.

pub mod backend;
pub mod cuda;
pub mod exec;
pub mod plan;
pub mod precision;
mod profile;

pub use backend::CudaBackend;
pub use cuda::alloc::AllocStats;
pub use cuda::cudnn::available as cudnn_available;
pub use cuda::device::{device, Device};
pub use cuda::stream::Stream;
pub use cuda::tensor::GpuTensor;
pub use exec::{ExecOptions, ExecStats, Executor};
pub use precision::Precision;
pub use profile::{OpTime, Profile};
