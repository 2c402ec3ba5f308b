//! String ops, random generators, and attention-style ops (Attention, RotaryEmbedding).
use smelt_ir::Registry;

pub mod attention;
pub mod rotary_embedding;

pub fn register_all(r: &mut Registry) {
    attention::register(r);
    rotary_embedding::register(r);
}
