//! Op family: shape and data-movement ops (reshape, transpose, gather/scatter, pad, ...).
//! Shared helpers live in `common`.
use smelt_ir::Registry;

pub mod common;

pub mod center_crop_pad;
pub mod col2im;
pub mod compress;
pub mod concat;
pub mod constant;
pub mod constant_of_shape;
pub mod depth_to_space;
pub mod expand;
pub mod eye_like;
pub mod flatten;
pub mod gather;
pub mod gather_elements;
pub mod gather_nd;
pub mod non_zero;
pub mod one_hot;
pub mod pad;
pub mod range;
pub mod reshape;
pub mod reverse_sequence;
pub mod scatter_elements;
pub mod scatter_nd;
pub mod shape;
pub mod size;
pub mod slice;
pub mod space_to_depth;
pub mod split;
pub mod squeeze;
pub mod tile;
pub mod transpose;
pub mod trilu;
pub mod unique;
pub mod unsqueeze;

pub fn register_all(r: &mut Registry) {
    center_crop_pad::register(r);
    col2im::register(r);
    compress::register(r);
    concat::register(r);
    constant::register(r);
    constant_of_shape::register(r);
    depth_to_space::register(r);
    expand::register(r);
    eye_like::register(r);
    flatten::register(r);
    gather::register(r);
    gather_elements::register(r);
    gather_nd::register(r);
    non_zero::register(r);
    one_hot::register(r);
    pad::register(r);
    range::register(r);
    reshape::register(r);
    reverse_sequence::register(r);
    scatter_elements::register(r);
    scatter_nd::register(r);
    shape::register(r);
    size::register(r);
    slice::register(r);
    space_to_depth::register(r);
    split::register(r);
    squeeze::register(r);
    tile::register(r);
    transpose::register(r);
    trilu::register(r);
    unique::register(r);
    unsqueeze::register(r);
}
