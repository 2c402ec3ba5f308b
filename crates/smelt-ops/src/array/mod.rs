//! Op family: shape and data-movement ops (reshape, transpose, gather/scatter, pad, ...).
//! Shared helpers live in `common`.
use smelt_ir::Registry;

pub mod common;

pub mod concat;
pub mod expand;
pub mod flatten;
pub mod gather;
pub mod gather_elements;
pub mod gather_nd;
pub mod pad;
pub mod reshape;
pub mod scatter_elements;
pub mod scatter_nd;
pub mod slice;
pub mod split;
pub mod squeeze;
pub mod tile;
pub mod transpose;
pub mod unsqueeze;

pub fn register_all(r: &mut Registry) {
    concat::register(r);
    expand::register(r);
    flatten::register(r);
    gather::register(r);
    gather_elements::register(r);
    gather_nd::register(r);
    pad::register(r);
    reshape::register(r);
    scatter_elements::register(r);
    scatter_nd::register(r);
    slice::register(r);
    split::register(r);
    squeeze::register(r);
    tile::register(r);
    transpose::register(r);
    unsqueeze::register(r);
}
