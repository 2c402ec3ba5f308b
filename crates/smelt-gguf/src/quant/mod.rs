//! ggml tensor types: their numbers, block sizes and bytes per block, and reference
//! dequantizers to f32.
//!
//! A tensor of type `T` stores its elements in blocks of `T.block_size()` consecutive
//! elements along the innermost dimension (ggml's `ne[0]`), each block `T.type_size()` bytes;
//! a row (`ne[0]` elements) is therefore a whole number of blocks, and rows follow each
//! other with no padding.
//!
//! The dequantizers are the reference: plain scalar code following ggml's block layouts
//! (`ggml-common.h`) and `dequantize_row_*` (`ggml-quants.c`), operation for operation in
//! f32 (an f16 scale widened exactly, then products and sums in the order ggml writes them,
//! no fused multiply-add), so that they match llama.cpp and gguf-py bit for bit. Fast kernels
//! are tested against them. One file per family: [`float`] (F32, F16, BF16), [`legacy`]
//! (the 32-element blocks Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and [`kquant`] (the 256-element
//! super-blocks Q2_K to Q6_K and Q8_K).
//!
//! Every ggml type a GGUF file may hold is known here by number, name and size, so that any
//! file's tensors can be located; dequantizing one without a reference dequantizer (the IQ
//! and ternary types, integers) is [`Error::UnsupportedType`].

pub mod float;
pub mod kquant;
pub mod legacy;

use crate::error::{Error, Result};
use std::fmt;

/// Elements in a K-quant super-block.
pub const QK_K: usize = 256;

macro_rules! ggml_types {
    ($($v:ident = $id:literal, $block:expr, $size:expr;)*) => {
        /// A ggml tensor type, numbered as in `ggml.h` and the GGUF file.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum GgmlType { $($v = $id,)* }

        impl GgmlType {
            /// Every type known, in number order.
            pub const ALL: &'static [GgmlType] = &[$(GgmlType::$v,)*];

            /// The type with this number, if ggml defines it (numbers of removed types,
            /// such as 31 `Q4_0_4_4`, are not).
            pub fn from_id(id: u32) -> Option<GgmlType> {
                match id {
                    $($id => Some(GgmlType::$v),)*
                    _ => None,
                }
            }

            /// ggml's name: `Q4_K`, `BF16`, ...
            pub fn name(self) -> &'static str {
                match self { $(GgmlType::$v => stringify!($v),)* }
            }

            /// Elements per block.
            pub fn block_size(self) -> u64 {
                match self { $(GgmlType::$v => $block,)* }
            }

            /// Bytes per block.
            pub fn type_size(self) -> u64 {
                match self { $(GgmlType::$v => $size,)* }
            }
        }
    };
}

const K: u64 = QK_K as u64;

ggml_types! {
    F32 = 0, 1, 4;
    F16 = 1, 1, 2;
    Q4_0 = 2, 32, 2 + 16;
    Q4_1 = 3, 32, 2 + 2 + 16;
    Q5_0 = 6, 32, 2 + 4 + 16;
    Q5_1 = 7, 32, 2 + 2 + 4 + 16;
    Q8_0 = 8, 32, 2 + 32;
    Q8_1 = 9, 32, 4 + 4 + 32;
    Q2_K = 10, K, 2 + 2 + K / 16 + K / 4;
    Q3_K = 11, K, 2 + K / 4 + K / 8 + 12;
    Q4_K = 12, K, 2 + 2 + 12 + K / 2;
    Q5_K = 13, K, 2 + 2 + 12 + K / 2 + K / 8;
    Q6_K = 14, K, 2 + K / 2 + K / 4 + K / 16;
    Q8_K = 15, K, 4 + K + K / 8;
    IQ2_XXS = 16, K, 2 + K / 4;
    IQ2_XS = 17, K, 2 + K / 4 + K / 32;
    IQ3_XXS = 18, K, 2 + K / 4 + K / 8;
    IQ1_S = 19, K, 2 + K / 8 + K / 16;
    IQ4_NL = 20, 32, 2 + 16;
    IQ3_S = 21, K, 2 + K / 4 + K / 8 + K / 32 + 4;
    IQ2_S = 22, K, 2 + K / 4 + K / 16;
    IQ4_XS = 23, K, 2 + 2 + K / 2 + K / 64;
    I8 = 24, 1, 1;
    I16 = 25, 1, 2;
    I32 = 26, 1, 4;
    I64 = 27, 1, 8;
    F64 = 28, 1, 8;
    IQ1_M = 29, K, K / 8 + K / 16 + K / 32;
    BF16 = 30, 1, 2;
    TQ1_0 = 34, K, 2 + 4 * 13;
    TQ2_0 = 35, K, 2 + 64;
    MXFP4 = 39, 32, 1 + 16;
    NVFP4 = 40, 64, 4 + 32;
    Q1_0 = 41, 128, 2 + 16;
}

impl GgmlType {
    /// The number stored in the file.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Whether [`dequantize`] takes this type.
    pub fn can_dequantize(self) -> bool {
        use GgmlType::*;
        matches!(
            self,
            F32 | F16
                | BF16
                | Q4_0
                | Q4_1
                | Q5_0
                | Q5_1
                | Q8_0
                | Q2_K
                | Q3_K
                | Q4_K
                | Q5_K
                | Q6_K
                | Q8_K
        )
    }

    /// Bytes that `n` elements take, or `None` when `n` is not a whole number of blocks or
    /// the size overflows.
    pub fn bytes_for(self, n: u64) -> Option<u64> {
        if !n.is_multiple_of(self.block_size()) {
            return None;
        }
        (n / self.block_size()).checked_mul(self.type_size())
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The types [`dequantize`] takes, for messages.
pub(crate) fn supported_names() -> String {
    let names: Vec<&str> = GgmlType::ALL
        .iter()
        .filter(|t| t.can_dequantize())
        .map(|t| t.name())
        .collect();
    names.join(", ")
}

/// Dequantizes `data`, the bytes of `out.len()` elements of type `ty` (a whole number of
/// blocks, exactly `ty.bytes_for(out.len())` bytes), into `out`.
pub fn dequantize(ty: GgmlType, data: &[u8], out: &mut [f32]) -> Result<()> {
    let n = out.len() as u64;
    if ty.bytes_for(n) != Some(data.len() as u64) {
        return Err(size_mismatch(ty, n, data.len()));
    }
    use GgmlType::*;
    match ty {
        F32 => float::f32(data, out),
        F16 => float::f16(data, out),
        BF16 => float::bf16(data, out),
        Q4_0 => legacy::q4_0(data, out),
        Q4_1 => legacy::q4_1(data, out),
        Q5_0 => legacy::q5_0(data, out),
        Q5_1 => legacy::q5_1(data, out),
        Q8_0 => legacy::q8_0(data, out),
        Q2_K => kquant::q2_k(data, out),
        Q3_K => kquant::q3_k(data, out),
        Q4_K => kquant::q4_k(data, out),
        Q5_K => kquant::q5_k(data, out),
        Q6_K => kquant::q6_k(data, out),
        Q8_K => kquant::q8_k(data, out),
        _ => return Err(Error::UnsupportedType { ty }),
    }
    Ok(())
}

/// Dequantizes `data`, the bytes of `n` elements of type `ty`, into a new vector. The sizes
/// are checked before anything is allocated.
pub fn dequantize_to_vec(ty: GgmlType, data: &[u8], n: u64) -> Result<Vec<f32>> {
    if !ty.can_dequantize() {
        return Err(Error::UnsupportedType { ty });
    }
    if ty.bytes_for(n) != Some(data.len() as u64) {
        return Err(size_mismatch(ty, n, data.len()));
    }
    let mut out = vec![0f32; n as usize];
    dequantize(ty, data, &mut out)?;
    Ok(out)
}

fn size_mismatch(ty: GgmlType, n: u64, got: usize) -> Error {
    Error::SizeMismatch {
        ty,
        elements: n,
        expected: match ty.bytes_for(n) {
            Some(b) => format!("expected {b} bytes"),
            None => format!("not a whole number of {}-element blocks", ty.block_size()),
        },
        got: got as u64,
    }
}

/// An f16 stored little-endian at `b[i..i + 2]`, widened exactly to f32.
#[inline]
pub(crate) fn f16_at(b: &[u8], i: usize) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32()
}
