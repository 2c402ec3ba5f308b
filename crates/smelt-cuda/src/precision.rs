//! The compute precision of the GEMM-type ops (MatMul, Gemm, Conv with groups 1) on the GPU.
//!
//! Like autocast, for GEMM-type ops only: operands are rounded to the chosen type (weights,
//! i.e. constant inputs, once per executor, cached on the device; activations on every call
//! by a small kernel), cuBLAS multiplies them on tensor cores and accumulates in fp32, and
//! the output stays f32, so every other op and every value between ops is unchanged f32.
//! `F32` (the default) is the exact path: cuBLAS SGEMM, no TF32.

use smelt_core::{Error, Result};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// fp32 operands, fp32 math (no TF32): the reference path.
    #[default]
    F32,
    /// fp32 operands, multiplied as TF32 (10-bit mantissa) on tensor cores, fp32 sums
    /// (CUBLAS_COMPUTE_32F_FAST_TF32).
    Tf32,
    /// fp16 operands, fp32 accumulation (CUBLAS_COMPUTE_32F).
    F16,
    /// bf16 operands, fp32 accumulation (CUBLAS_COMPUTE_32F).
    Bf16,
}

impl Precision {
    /// "fp32", "tf32", "fp16", "bf16" (also "f32", "f16", "float16", "bfloat16", ...).
    pub fn parse(s: &str) -> Result<Precision> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" | "float" => Precision::F32,
            "tf32" => Precision::Tf32,
            "fp16" | "f16" | "float16" | "half" => Precision::F16,
            "bf16" | "bfloat16" => Precision::Bf16,
            _ => {
                return Err(Error::invalid(format!(
                    "unknown precision '{s}' (fp32, tf32, fp16, bf16)"
                )))
            }
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "fp32",
            Precision::Tf32 => "tf32",
            Precision::F16 => "fp16",
            Precision::Bf16 => "bf16",
        }
    }
    /// Whether operands are stored in 16 bits (converted before the GEMM).
    pub fn is_16bit(self) -> bool {
        matches!(self, Precision::F16 | Precision::Bf16)
    }
    /// The dtype of 16-bit operands: F16 at fp16, BF16 at bf16, None otherwise.
    pub fn storage_16bit(self) -> Option<smelt_core::DType> {
        match self {
            Precision::F16 => Some(smelt_core::DType::F16),
            Precision::Bf16 => Some(smelt_core::DType::BF16),
            _ => None,
        }
    }
    /// The unit roundoff of the operand type: 2^-24 (fp32), 2^-11 (fp16, and tf32's 10-bit
    /// mantissa), 2^-8 (bf16).
    pub fn unit_roundoff(self) -> f64 {
        match self {
            Precision::F32 => 2f64.powi(-24),
            Precision::Tf32 | Precision::F16 => 2f64.powi(-11),
            Precision::Bf16 => 2f64.powi(-8),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Precision> {
        Precision::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::Precision;
    #[test]
    fn names_round_trip() {
        for p in [
            Precision::F32,
            Precision::Tf32,
            Precision::F16,
            Precision::Bf16,
        ] {
            assert_eq!(Precision::parse(p.name()).unwrap(), p);
        }
        assert_eq!("BF16".parse::<Precision>().unwrap(), Precision::Bf16);
        assert_eq!(Precision::default(), Precision::F32);
        assert!(Precision::parse("fp8").is_err());
        assert!(Precision::F16.is_16bit() && !Precision::Tf32.is_16bit());
    }
}
