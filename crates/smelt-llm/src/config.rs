//! The hyper-parameters of a decoder, read from GGUF metadata.

use crate::error::{Error, Result};
use smelt_gguf::Gguf;

/// The architectures [`LlamaConfig::from_gguf`] accepts (`general.architecture`).
pub const SUPPORTED: &[&str] = &["llama"];

/// How RoPE positions are scaled (`{arch}.rope.scaling.type`).
#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    None,
    /// Positions divided by `factor` (`rope.scaling.factor`).
    Linear {
        factor: f64,
    },
}

/// A Llama-family decoder: the shapes and constants the graph is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    pub architecture: String,
    /// Decoder blocks (`block_count`).
    pub layers: usize,
    /// Hidden size (`embedding_length`).
    pub dim: usize,
    /// MLP inner size (`feed_forward_length`).
    pub ffn_dim: usize,
    pub heads: usize,
    pub kv_heads: usize,
    /// `dim / heads`.
    pub head_dim: usize,
    /// Features of each head RoPE rotates (`rope.dimension_count`, default `head_dim`).
    pub rope_dims: usize,
    pub rope_base: f64,
    pub rope_scaling: RopeScaling,
    pub rms_eps: f32,
    /// The context the model was trained for (`context_length`).
    pub train_context: usize,
    pub vocab: usize,
    /// The output head reuses the token embedding (no `output.weight` tensor).
    pub tied_embeddings: bool,
}

impl LlamaConfig {
    /// Reads the config; an architecture not in [`SUPPORTED`] is
    /// [`Error::UnsupportedArchitecture`] naming it.
    pub fn from_gguf(g: &Gguf) -> Result<LlamaConfig> {
        let arch = g.architecture()?.to_string();
        if !SUPPORTED.contains(&arch.as_str()) {
            return Err(Error::UnsupportedArchitecture(arch));
        }
        let key = |k: &str| format!("{arch}.{k}");
        let uint = |k: &str| -> Result<usize> { Ok(g.get_uint(&key(k))? as usize) };
        let uint_or = |k: &str, d: usize| -> Result<usize> {
            if g.get(&key(k)).is_some() {
                uint(k)
            } else {
                Ok(d)
            }
        };
        let layers = uint("block_count")?;
        let dim = uint("embedding_length")?;
        let heads = uint("attention.head_count")?;
        let kv_heads = uint_or("attention.head_count_kv", heads)?;
        if heads == 0 || kv_heads == 0 || dim % heads != 0 || heads % kv_heads != 0 {
            return Err(Error::Invalid(format!(
                "{arch}: {heads} heads, {kv_heads} KV heads and width {dim} do not fit \
                 (width a multiple of heads, heads a multiple of KV heads)"
            )));
        }
        let head_dim = dim / heads;
        let rope_dims = uint_or("rope.dimension_count", head_dim)?;
        if rope_dims > head_dim || rope_dims % 2 != 0 {
            return Err(Error::Invalid(format!(
                "{arch}: rope.dimension_count {rope_dims} must be even and at most the head size {head_dim}"
            )));
        }
        let rope_base = match g.get(&key("rope.freq_base")) {
            Some(_) => g.get_float(&key("rope.freq_base"))?,
            None => 10000.0,
        };
        let rope_scaling = match g.get(&key("rope.scaling.type")) {
            None => RopeScaling::None,
            Some(_) => match g.get_str(&key("rope.scaling.type"))? {
                "none" => RopeScaling::None,
                "linear" => RopeScaling::Linear {
                    factor: g.get_float(&key("rope.scaling.factor"))?,
                },
                other => {
                    return Err(Error::Unsupported(format!(
                        "{arch}: RoPE scaling '{other}' is not supported yet (none, linear)"
                    )))
                }
            },
        };
        let rms_eps = g.get_float(&key("attention.layer_norm_rms_epsilon"))? as f32;
        let embd = g.require_tensor("token_embd.weight")?;
        let eshape = embd.shape();
        if eshape.len() != 2 || eshape[1] as usize != dim {
            return Err(Error::Invalid(format!(
                "token_embd.weight has shape {eshape:?}, expected [vocab, {dim}]"
            )));
        }
        Ok(LlamaConfig {
            layers,
            dim,
            ffn_dim: uint("feed_forward_length")?,
            heads,
            kv_heads,
            head_dim,
            rope_dims,
            rope_base,
            rope_scaling,
            rms_eps,
            train_context: uint_or("context_length", 2048)?,
            vocab: eshape[0] as usize,
            tied_embeddings: g.tensor("output.weight").is_none(),
            architecture: arch,
        })
    }
}
