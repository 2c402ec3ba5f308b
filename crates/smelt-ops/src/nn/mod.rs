//! Neural-network ops: convolutions and pooling. Shared pieces: [`spatial`] (window
//! geometry), [`im2col`] (image <-> column matrices), [`pool`] (window reductions) and
//! [`max_pool_2d`] (MaxPool's 2-D f32 path).
use smelt_ir::Registry;

pub mod average_pool;
pub mod conv;
pub mod conv_transpose;
pub mod fused_conv;
pub mod global_average_pool;
pub mod global_lp_pool;
pub mod global_max_pool;
pub mod im2col;
pub mod lp_pool;
pub mod max_pool;
pub mod max_pool_2d;
pub mod max_roi_pool;
pub mod max_unpool;
pub mod pool;
pub mod spatial;

pub fn register_all(r: &mut Registry) {
    average_pool::register(r);
    conv::register(r);
    conv_transpose::register(r);
    fused_conv::register(r);
    global_average_pool::register(r);
    global_lp_pool::register(r);
    global_max_pool::register(r);
    lp_pool::register(r);
    max_pool::register(r);
    max_roi_pool::register(r);
    max_unpool::register(r);
}
