//! Op family: see each file.
use smelt_ir::Registry;

pub fn register_all(r: &mut Registry) {
    let _ = r;
}
