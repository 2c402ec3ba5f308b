//! Quantization ops: QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked; integer
//! and low-bit float types), DynamicQuantizeLinear, and the integer / quantized-linear
//! MatMul and Conv variants.
use smelt_ir::Registry;

pub mod common;
pub mod conv_integer;
pub mod dequantize_linear;
pub mod dynamic_quantize_linear;
pub mod lowbit;
pub mod matmul_integer;
pub mod qlinear_conv;
pub mod qlinear_matmul;
pub mod quantize_linear;

pub fn register_all(r: &mut Registry) {
    conv_integer::register(r);
    dequantize_linear::register(r);
    dynamic_quantize_linear::register(r);
    matmul_integer::register(r);
    qlinear_conv::register(r);
    qlinear_matmul::register(r);
    quantize_linear::register(r);
}
