//! Linear algebra: the shared GEMM kernel ([`blas`]) and MatMul, Gemm, Einsum, Det.
use smelt_ir::Registry;

pub mod blas;
pub mod det;
pub mod einsum;
pub mod gemm;
pub mod matmul;

pub fn register_all(r: &mut Registry) {
    det::register(r);
    einsum::register(r);
    gemm::register(r);
    matmul::register(r);
}
