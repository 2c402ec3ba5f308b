//! Control flow and pass-through ops.
use smelt_ir::Registry;

pub mod identity;
pub mod if_op;
pub mod loop_op;
pub mod optional;
pub mod scan;
mod tensor_util;

pub fn register_all(r: &mut Registry) {
    identity::register(r);
    if_op::register(r);
    loop_op::register(r);
    optional::register(r);
    scan::register(r);
}
