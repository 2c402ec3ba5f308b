//! Control flow and pass-through ops.
use smelt_ir::Registry;

pub mod identity;

pub fn register_all(r: &mut Registry) {
    identity::register(r);
}
