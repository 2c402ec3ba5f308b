//! The CUDA side of the backend: device, memory, streams, kernels and launches.

pub mod alloc;
pub mod cudnn;
pub mod device;
pub(crate) mod lt;
pub mod ops;
pub mod stream;
pub mod tensor;
