//! Normalization ops: softmax family, batch/instance/layer/group/RMS/Lp/mean-variance
//! normalization, LRN, Dropout (inference).
use smelt_ir::Registry;

pub mod common;
pub mod batchnorm;
pub mod groupnorm;
pub mod layernorm;
pub mod softmax;

pub fn register_all(r: &mut Registry) {
    softmax::register(r);
    layernorm::register(r);
    batchnorm::register(r);
    groupnorm::register(r);
}
