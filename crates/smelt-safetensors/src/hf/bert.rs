//! BERT encoders (transformers' `BertModel`) as a portable smelt graph of standard ONNX ops.
//!
//! # Interface
//!
//! ```text
//! inputs   input_ids          i64 [batch, seq]   token ids, < vocab_size
//!          attention_mask     i64 [batch, seq]   1: a token, 0: padding
//!          token_type_ids     i64 [batch, seq]   with Options::token_type_ids only (else all 0)
//! outputs  last_hidden_state  f32 [batch, seq, hidden]
//! ```
//!
//! `seq <= max_position_embeddings`. The pooler (if the checkpoint has one) is not built.
//!
//! # The graph (d = hidden, H heads of D = d / H, rows R = batch * seq)
//!
//! ```text
//! x    = Gather(word, input_ids) + Gather(position, Range(0, seq))
//!        + Gather(token_type, token_type_ids)                         [batch, seq, d]
//! x    = LayerNormalization(x) -> Reshape [R, d]
//! bias = Unsqueeze((1 - Cast(attention_mask, f32)) * f32::MIN, [1, 2])   [batch, 1, 1, seq]
//! per layer:
//!   q, k, v = Gemm(x, W, b, transB=1)                                 [R, d]
//!   q, v -> [batch, H, seq, D];  k -> [batch, H, D, seq]
//!   p    = Softmax(MatMul(q * D^-1/2, k) + bias, axis=-1)             [batch, H, seq, seq]
//!   a    = MatMul(p, v) -> [R, d]
//!   x    = LayerNormalization(x + Gemm(a, attention.output.dense))
//!   x    = LayerNormalization(x + Gemm(act(Gemm(x, intermediate.dense)), output.dense))
//! last_hidden_state = Reshape(x, [batch, seq, d])
//! ```
//!
//! Linear weights are used in their file layout (`[out, in]`: Gemm's `B` with `transB=1`).
//! The attention bias is transformers' extended mask (`(1 - mask) * finfo(float32).min`), so
//! a padded key gets weight 0 and a sequence with no token at all attends uniformly, as
//! there. `act` is `hidden_act`: `gelu` (erf), `gelu_new` / `gelu_pytorch_tanh` (tanh
//! approximation) or `relu`. Weights stored as F16, BF16 or F64 are widened to f32.

use super::{HfConfig, Options};
use crate::error::{Error, Result};
use crate::SafeTensorsFile;
use smelt_core::{DType, Dim, Tensor};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::builder::V;
use smelt_ops::GraphBuilder;

/// The opset the graph uses (Gelu is opset 20).
pub const OPSET: i64 = 21;

/// The `architectures` a checkpoint of `model_type` `bert` may name: classes whose encoder
/// is a `BertModel` (under the prefix `bert.` in all but `BertModel`).
pub const SUPPORTED_ARCHITECTURES: &[&str] = &[
    "BertModel",
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
    "BertForMultipleChoice",
    "BertForNextSentencePrediction",
];

/// Names of the graph's inputs and output.
pub mod names {
    pub const INPUT_IDS: &str = "input_ids";
    pub const ATTENTION_MASK: &str = "attention_mask";
    pub const TOKEN_TYPE_IDS: &str = "token_type_ids";
    pub const LAST_HIDDEN_STATE: &str = "last_hidden_state";
}

/// The feed-forward activation (`hidden_act`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `x * Phi(x)` with the exact normal CDF (erf).
    Gelu,
    /// The tanh approximation of GELU.
    GeluTanh,
    Relu,
}

/// The encoder's hyperparameters, from `config.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate_size: usize,
    pub max_positions: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub activation: Activation,
}

impl BertConfig {
    /// Reads the encoder's keys. A `model_type` other than `bert`, an architecture not in
    /// [`SUPPORTED_ARCHITECTURES`], a decoder, a relative position embedding or an unknown
    /// `hidden_act` is [`Error::UnsupportedModel`] naming it.
    pub fn from_hf(c: &HfConfig) -> Result<BertConfig> {
        let unsupported = |what, found: &str, supported: &[&str]| Error::UnsupportedModel {
            what,
            found: found.to_string(),
            supported: supported.join(", "),
        };
        let mt = c.model_type()?;
        if mt != "bert" {
            return Err(unsupported("model_type", mt, &["bert"]));
        }
        for a in c.architectures()? {
            if !SUPPORTED_ARCHITECTURES.contains(&a) {
                return Err(unsupported("architecture", a, SUPPORTED_ARCHITECTURES));
            }
        }
        if c.bool_or("is_decoder", false)? {
            return Err(unsupported(
                "BERT variant",
                "is_decoder = true",
                &["encoders"],
            ));
        }
        let pe = c.str_opt("position_embedding_type")?.unwrap_or("absolute");
        if pe != "absolute" {
            return Err(unsupported("position_embedding_type", pe, &["absolute"]));
        }
        let act = c.str_opt("hidden_act")?.unwrap_or("gelu");
        let activation = match act {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(unsupported(
                    "hidden_act",
                    other,
                    &["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"],
                ))
            }
        };
        let hidden_size = c.size("hidden_size")?;
        let heads = c.size("num_attention_heads")?;
        if hidden_size % heads != 0 {
            return Err(Error::ConfigKey {
                path: c.path().to_path_buf(),
                key: "num_attention_heads".into(),
                reason: format!("is {heads}, which does not divide hidden_size {hidden_size}"),
            });
        }
        let layer_norm_eps = c.float_or("layer_norm_eps", 1e-12)?;
        if layer_norm_eps < 0.0 {
            return Err(Error::ConfigKey {
                path: c.path().to_path_buf(),
                key: "layer_norm_eps".into(),
                reason: format!("is {layer_norm_eps}, not a non-negative number"),
            });
        }
        Ok(BertConfig {
            vocab_size: c.size("vocab_size")?,
            hidden_size,
            layers: c.size("num_hidden_layers")?,
            heads,
            intermediate_size: c.size("intermediate_size")?,
            max_positions: c.size("max_position_embeddings")?,
            type_vocab_size: c.size_or("type_vocab_size", 2)?,
            layer_norm_eps,
            activation,
        })
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.heads
    }
}

/// Reads the weights of `c` from `w`, each checked for presence and shape.
struct Weights<'a> {
    w: &'a SafeTensorsFile,
    /// `""` for a `BertModel` checkpoint, `"bert."` for the task classes.
    prefix: &'static str,
}

impl Weights<'_> {
    /// The f32 tensor `prefix + name`, which must have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        let info = self.w.require(&full)?;
        let expected: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        if info.shape() != expected {
            return Err(Error::WrongShape {
                tensor: full,
                expected,
                got: info.shape().to_vec(),
            });
        }
        let v = self.w.to_f32(&full)?;
        Ok(Tensor::from_vec(shape.to_vec(), v)?)
    }

    /// A LayerNorm's (weight, bias): `LayerNorm.weight` / `.bias`, or the older
    /// `LayerNorm.gamma` / `.beta`.
    fn layer_norm(&self, at: &str, d: usize) -> Result<(Tensor, Tensor)> {
        let old = self
            .w
            .tensor(&format!("{}{at}.LayerNorm.weight", self.prefix))
            .is_none()
            && self
                .w
                .tensor(&format!("{}{at}.LayerNorm.gamma", self.prefix))
                .is_some();
        let (g, b) = if old {
            ("gamma", "beta")
        } else {
            ("weight", "bias")
        };
        Ok((
            self.get(&format!("{at}.LayerNorm.{g}"), &[d])?,
            self.get(&format!("{at}.LayerNorm.{b}"), &[d])?,
        ))
    }
}

fn ints(v: &[i64]) -> Tensor {
    Tensor::from_vec(vec![v.len()], v.to_vec()).expect("1-D")
}

fn attrs(list: &[(&str, Attr)]) -> Attributes {
    list.iter()
        .fold(Attributes::new(), |a, (n, v)| a.with(n, v.clone()))
}

/// Builds the encoder graph of `c` from the weights of `w` (see the module doc).
pub fn build(w: &SafeTensorsFile, c: &BertConfig, opts: &Options) -> Result<Graph> {
    let weights = Weights {
        w,
        prefix: if w.tensor("embeddings.word_embeddings.weight").is_none()
            && w.tensor("bert.embeddings.word_embeddings.weight").is_some()
        {
            "bert."
        } else {
            ""
        },
    };
    let (d, h, hd) = (c.hidden_size, c.heads as i64, c.head_dim() as i64);
    let mut g = GraphBuilder::new("bert-encoder");
    g.set_opset("", OPSET);

    let batch_seq = [Dim::Sym("batch".into()), Dim::Sym("seq".into())];
    let ids = g.placeholder(names::INPUT_IDS, DType::I64, &batch_seq);
    let mask = g.placeholder(names::ATTENTION_MASK, DType::I64, &batch_seq);
    let token_types = opts
        .token_type_ids
        .then(|| g.placeholder(names::TOKEN_TYPE_IDS, DType::I64, &batch_seq));

    // [batch, seq] and the scalar seq
    let shape_bs = g.op("Shape", &[ids], Attributes::new())?;
    let one_s = g.constant("one_scalar", Tensor::scalar(1i64));
    let zero_s = g.constant("zero_scalar", Tensor::scalar(0i64));
    let seq = g.op(
        "Gather",
        &[shape_bs, one_s],
        attrs(&[("axis", Attr::Int(0))]),
    )?;
    let positions = g.op("Range", &[zero_s, seq, one_s], Attributes::new())?; // [seq]

    // embeddings
    let gather0 = attrs(&[("axis", Attr::Int(0))]);
    let word = g.constant(
        "embeddings.word_embeddings.weight",
        weights.get("embeddings.word_embeddings.weight", &[c.vocab_size, d])?,
    );
    let pos = g.constant(
        "embeddings.position_embeddings.weight",
        weights.get(
            "embeddings.position_embeddings.weight",
            &[c.max_positions, d],
        )?,
    );
    let types = weights.get(
        "embeddings.token_type_embeddings.weight",
        &[c.type_vocab_size, d],
    )?;
    let we = g.op("Gather", &[word, ids], gather0.clone())?; // [batch, seq, d]
    let pe = g.op("Gather", &[pos, positions], gather0.clone())?; // [seq, d]
    let mut x = g.add(we, pe)?;
    let te = match token_types {
        Some(tt) => {
            let table = g.constant("embeddings.token_type_embeddings.weight", types);
            g.op("Gather", &[table, tt], gather0)? // [batch, seq, d]
        }
        None => {
            // every token of type 0: row 0 of the table, broadcast
            let row0 = types.as_slice::<f32>()?[..d].to_vec();
            g.constant(
                "embeddings.token_type_embeddings.row0",
                Tensor::from_vec(vec![d], row0)?,
            )
        }
    };
    x = g.add(x, te)?;
    let ln = attrs(&[
        ("axis", Attr::Int(-1)),
        ("epsilon", Attr::Float(c.layer_norm_eps as f32)),
    ]);
    let layer_norm = |g: &mut GraphBuilder, x: V, at: &str| -> Result<V> {
        let (gamma, beta) = weights.layer_norm(at, d)?;
        let gamma = g.constant(&format!("{}{at}.LayerNorm.weight", weights.prefix), gamma);
        let beta = g.constant(&format!("{}{at}.LayerNorm.bias", weights.prefix), beta);
        Ok(g.op("LayerNormalization", &[x, gamma, beta], ln.clone())?)
    };
    let x = layer_norm(&mut g, x, "embeddings")?;
    let mut x = g.reshape(x, &[-1, d as i64])?; // [R, d]

    // the attention bias, [batch, 1, 1, seq]
    let maskf = g.op(
        "Cast",
        &[mask],
        attrs(&[("to", Attr::Int(DType::F32.to_onnx()))]),
    )?;
    let one_f = g.constant("one_f32", Tensor::scalar(1f32));
    let min_f = g.constant("f32_min", Tensor::scalar(f32::MIN));
    let inv = g.sub(one_f, maskf)?;
    let bias = g.mul(inv, min_f)?;
    let axes12 = g.constant("axes_1_2", ints(&[1, 2]));
    let bias = g.op("Unsqueeze", &[bias, axes12], Attributes::new())?;

    // [batch, seq, H, D] and [batch, seq, d], from the input's shape
    let hd_c = g.constant("heads_head_dim", ints(&[h, hd]));
    let shape_heads = g.concat(&[shape_bs, hd_c], 0)?;
    let d_c = g.constant("hidden", ints(&[d as i64]));
    let shape_out = g.concat(&[shape_bs, d_c], 0)?;
    let scale = g.constant(
        "attention_scale",
        Tensor::scalar((1.0 / (hd as f64).sqrt()) as f32),
    );
    let gemm_t = attrs(&[("transB", Attr::Int(1))]);
    let heads = |g: &mut GraphBuilder, t: V, perm: &[i64]| -> Result<V> {
        let t = g.op("Reshape", &[t, shape_heads], Attributes::new())?;
        Ok(g.transpose(t, perm)?)
    };

    for l in 0..c.layers {
        let at = format!("encoder.layer.{l}");
        let linear = |g: &mut GraphBuilder, x: V, name: &str, out: usize, inp: usize| {
            let wn = format!("{at}.{name}.weight");
            let bn = format!("{at}.{name}.bias");
            let wt = g.constant(
                &format!("{}{wn}", weights.prefix),
                weights.get(&wn, &[out, inp])?,
            );
            let bt = g.constant(
                &format!("{}{bn}", weights.prefix),
                weights.get(&bn, &[out])?,
            );
            Ok::<V, Error>(g.op("Gemm", &[x, wt, bt], gemm_t.clone())?)
        };
        // self-attention
        let q = linear(&mut g, x, "attention.self.query", d, d)?;
        let k = linear(&mut g, x, "attention.self.key", d, d)?;
        let v = linear(&mut g, x, "attention.self.value", d, d)?;
        let q = g.mul(q, scale)?;
        let q = heads(&mut g, q, &[0, 2, 1, 3])?; // [batch, H, seq, D]
        let k = heads(&mut g, k, &[0, 2, 3, 1])?; // [batch, H, D, seq]
        let v = heads(&mut g, v, &[0, 2, 1, 3])?; // [batch, H, seq, D]
        let s = g.matmul(q, k)?; // [batch, H, seq, seq]
        let s = g.add(s, bias)?;
        let p = g.softmax(s, -1)?;
        let a = g.matmul(p, v)?; // [batch, H, seq, D]
        let a = g.transpose(a, &[0, 2, 1, 3])?; // [batch, seq, H, D]
        let a = g.reshape(a, &[-1, d as i64])?; // [R, d]
        let o = linear(&mut g, a, "attention.output.dense", d, d)?;
        let r = g.add(o, x)?;
        x = layer_norm(&mut g, r, &format!("{at}.attention.output"))?;

        // feed-forward
        let i = linear(&mut g, x, "intermediate.dense", c.intermediate_size, d)?;
        let i = match c.activation {
            Activation::Gelu => g.op("Gelu", &[i], Attributes::new())?,
            Activation::GeluTanh => g.op(
                "Gelu",
                &[i],
                attrs(&[("approximate", Attr::String("tanh".into()))]),
            )?,
            Activation::Relu => g.relu(i)?,
        };
        let o = linear(&mut g, i, "output.dense", d, c.intermediate_size)?;
        let r = g.add(o, x)?;
        x = layer_norm(&mut g, r, &format!("{at}.output"))?;
    }
    let out = g.op("Reshape", &[x, shape_out], Attributes::new())?;
    g.output(out, names::LAST_HIDDEN_STATE);
    Ok(g.build()?)
}
