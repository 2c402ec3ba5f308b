//! String ops, random generators, and attention-style ops (Attention, RotaryEmbedding).
use smelt_ir::Registry;

pub mod attention;
pub mod bernoulli;
pub mod multinomial;
pub mod random;
pub mod regex_full_match;
pub mod rotary_embedding;
pub mod string_concat;
pub mod string_normalizer;
pub mod string_split;

pub fn register_all(r: &mut Registry) {
    attention::register(r);
    bernoulli::register(r);
    multinomial::register(r);
    random::register(r);
    regex_full_match::register(r);
    rotary_embedding::register(r);
    string_concat::register(r);
    string_normalizer::register(r);
    string_split::register(r);
}
