//! Loss ops (ONNX training-era ops that inference graphs also carry).
use smelt_ir::Registry;

pub mod nll;
pub mod softmax_cross_entropy;

pub fn register_all(r: &mut Registry) {
    nll::register(r);
    softmax_cross_entropy::register(r);
}
