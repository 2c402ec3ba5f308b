//! Element-wise math: unary math and activations, broadcasting binary arithmetic, comparisons
//! and logic, variadic Sum/Mean/Max/Min, Clip, Where, Cast/CastLike. Shared kernels
//! (broadcasting, in-place reuse, element traits) live in `kernels.rs`; f32 kernels that compute
//! in f32 within a stated error, dispatched by CPU features, in `fast_f32.rs`.
use smelt_ir::Registry;

pub mod activation;
pub mod arith;
pub mod bitwise;
pub mod cast;
pub mod clip;
pub mod compare;
pub mod fast_f32;
pub mod kernels;
pub mod lowbit;
pub mod pow;
pub mod prelu;
pub mod unary;
pub mod variadic;
pub mod where_op;

pub fn register_all(r: &mut Registry) {
    unary::register(r);
    activation::register(r);
    arith::register(r);
    pow::register(r);
    bitwise::register(r);
    compare::register(r);
    variadic::register(r);
    clip::register(r);
    where_op::register(r);
    prelu::register(r);
    cast::register(r);
}
