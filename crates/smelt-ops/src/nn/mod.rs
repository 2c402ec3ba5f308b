//! Neural-network ops: convolutions and pooling. Shared pieces: [`spatial`] (window
//! geometry), [`im2col`] (image <-> column matrices) and [`pool`] (window reductions).
use smelt_ir::Registry;

pub mod conv;
pub mod conv_transpose;
pub mod im2col;
pub mod spatial;

pub fn register_all(r: &mut Registry) {
    conv::register(r);
    conv_transpose::register(r);
}
