//! Signal processing: DFT, STFT, window functions, mel filter banks.
//!
//! Also holds small float-conversion helpers shared by the ops of this crate's signal, text
//! and ml folders.
use smelt_core::{DType, Error, Result, Tensor};
use smelt_ir::Registry;

pub mod dft;
pub mod mel_weight_matrix;
pub mod stft;
pub mod windows;

pub fn register_all(r: &mut Registry) {
    dft::register(r);
    mel_weight_matrix::register(r);
    stft::register(r);
    windows::register(r);
}

/// Builds a tensor of float dtype `dtype` from f64 values (rounded to the dtype).
pub(crate) fn from_f64(dtype: DType, shape: Vec<usize>, v: Vec<f64>) -> Result<Tensor> {
    match dtype {
        DType::F64 => Tensor::from_vec(shape, v),
        DType::F32 => {
            Tensor::from_vec(shape, v.into_iter().map(|x| x as f32).collect::<Vec<f32>>())
        }
        DType::F16 => Tensor::from_vec(
            shape,
            v.into_iter()
                .map(smelt_core::f16::from_f64)
                .collect::<Vec<_>>(),
        ),
        DType::BF16 => Tensor::from_vec(
            shape,
            v.into_iter()
                .map(smelt_core::bf16::from_f64)
                .collect::<Vec<_>>(),
        ),
        d => Err(Error::dtype(d, "float tensor expected")),
    }
}

/// Builds a tensor of any numeric dtype from f64 values (integers truncate toward zero,
/// saturating at the type's range; bool is `x != 0`).
pub(crate) fn from_f64_any(dtype: DType, shape: Vec<usize>, v: Vec<f64>) -> Result<Tensor> {
    macro_rules! ints {
        ($($d:ident => $t:ty),*) => {
            match dtype {
                $(DType::$d => Tensor::from_vec(shape, v.into_iter().map(|x| x as $t).collect::<Vec<$t>>()),)*
                DType::Bool => Tensor::from_vec(shape, v.into_iter().map(|x| x != 0.0).collect::<Vec<bool>>()),
                d => from_f64(d, shape, v),
            }
        };
    }
    ints!(I8 => i8, U8 => u8, I16 => i16, U16 => u16, I32 => i32, U32 => u32, I64 => i64, U64 => u64)
}

/// Requires a float tensor (f16, bf16, f32, f64); `what` names it in the error.
pub(crate) fn ensure_float(t: &Tensor, what: &str) -> Result<()> {
    if matches!(
        t.dtype(),
        DType::F32 | DType::F64 | DType::F16 | DType::BF16
    ) {
        Ok(())
    } else {
        Err(Error::dtype(
            t.dtype(),
            format!("{what} must be a float tensor"),
        ))
    }
}
