//! Quantization ops: QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked; integer
//! and low-bit float types), DynamicQuantizeLinear, and the integer / quantized-linear
//! MatMul and Conv variants; compressed weights (`packed`: the codes and decoder;
//! `LinearDequantize` and `LutToDense`, and the lowered kernels that decode per tile or, for
//! small batches on 32-element blocks, take integer dot products on the codes).
use smelt_ir::Registry;

pub mod block_gemv;
pub mod common;
pub mod compressed_conv;
pub mod compressed_gather;
pub mod compressed_matmul;
pub mod conv_integer;
pub mod dequantize_linear;
pub mod dynamic_quantize_linear;
pub mod int_gemm;
#[cfg(test)]
pub mod int_reference;
pub mod linear_dequantize;
pub mod lowbit;
pub mod lut_to_dense;
pub mod matmul_integer;
pub mod packed;
pub mod qlinear_conv;
pub mod qlinear_matmul;
pub mod quantize_linear;

pub fn register_all(r: &mut Registry) {
    conv_integer::register(r);
    dequantize_linear::register(r);
    dynamic_quantize_linear::register(r);
    linear_dequantize::register(r);
    lut_to_dense::register(r);
    matmul_integer::register(r);
    qlinear_conv::register(r);
    qlinear_matmul::register(r);
    quantize_linear::register(r);
}
