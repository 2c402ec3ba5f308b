//! Classical ML ops of the "ai.onnx.ml" domain.
use smelt_ir::Registry;

pub mod array_feature_extractor;
pub mod binarizer;
pub mod feature_vectorizer;
pub mod imputer;
pub mod label_encoder;
pub mod normalizer;
pub mod one_hot_encoder;
pub mod scaler;
mod tree_common;
pub mod tree_ensemble;
pub mod tree_ensemble_classifier;
pub mod tree_ensemble_regressor;

pub fn register_all(r: &mut Registry) {
    array_feature_extractor::register(r);
    binarizer::register(r);
    feature_vectorizer::register(r);
    imputer::register(r);
    label_encoder::register(r);
    normalizer::register(r);
    one_hot_encoder::register(r);
    scaler::register(r);
    tree_ensemble::register(r);
    tree_ensemble_classifier::register(r);
    tree_ensemble_regressor::register(r);
}
