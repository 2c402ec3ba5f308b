//! Core types shared by every smelt crate: element types ([`DType`]), host tensors
//! ([`Tensor`]), symbolic shapes ([`Dim`], [`ValueInfo`]), the error type ([`Error`]) and the
//! environment variables smelt reads ([`settings`]).

pub mod dtype;
pub mod error;
pub mod npy;
pub mod profile;
pub mod settings;
pub mod shape;
pub mod tensor;

pub use dtype::{DType, Elem};
pub use error::{Error, Result};
pub use half::{bf16, f16};
pub use shape::{broadcast_shapes, check_dims, check_shape, Dim, ValueInfo};
pub use tensor::{Data, Tensor};
