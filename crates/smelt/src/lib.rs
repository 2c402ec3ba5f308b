//! smelt: the public facade.
//!
//! ```no_run
//! use smelt::{Config, ComputeUnits, Model, Tensor};
//! let model = Model::load("vad.ingot", Config { compute_units: ComputeUnits::All, ..Config::default() })?;
//! let mut state = model.new_state()?;
//! let chunk = Tensor::from_vec(vec![1, 512], vec![0.01f32; 512])?;
//! let sr = Tensor::scalar(16000i64);
//! let out = model.predict_with_state(&[("input", chunk), ("sr", sr)], &mut state)?;
//! println!("{:?}", out[0].as_slice::<f32>()?);
//! # Ok::<(), smelt::Error>(())
//! ```

pub mod compress;
pub mod convert;
pub mod format;
mod gpu;
pub mod model;
pub mod placement;

pub use compress::compress_file;
pub use convert::{convert, ConvertOptions};
pub use format::ModelFormat;
pub use model::{is_ingot, Config, Feature, Model, Outputs, State, StateInfo};
pub use placement::{available_devices, ComputeUnits, Placement};
pub use smelt_compress as compression;
pub use smelt_core::{DType, Dim, Error, Result, Tensor, ValueInfo};
pub use smelt_cpu::{lower as cpu_lower, run, Plan};
pub use smelt_cuda::{ExecStats as GpuStats, Precision, Profile};
pub use smelt_ingot as ingot;
pub use smelt_ingot::{Info, StateDecl};
pub use smelt_ir::{DeviceInfo, DeviceKind, Graph};
pub use smelt_onnx as onnx;
pub use smelt_ops::{registry, GraphBuilder};
pub use smelt_passes as passes;
