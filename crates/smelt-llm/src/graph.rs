//! The Llama decoder as a portable smelt graph, built from standard ONNX ops.
//!
//! # Interface (batch 1)
//!
//! ```text
//! inputs   input_ids  i64 [seq]        the new tokens (seq >= 1: a prompt, or one token)
//!          position   i64 [1]          how many tokens the cache holds already (P)
//! outputs  logits     f32 [1, vocab]   for the last new token ([seq, vocab] with all_logits)
//! states   past_key_{l} -> present_key_{l}, past_value_{l} -> present_value_{l}
//!          f32 [1, kv_heads, max_ctx, head_dim] each, one pair per layer l
//! ```
//!
//! One graph serves prefill and decode: `seq` is symbolic. The caller keeps `P + seq <=
//! max_ctx` (the generator does).
//!
//! # One step, per layer
//!
//! ```text
//! h      = RMSNormalization(x, attn_norm)                       [S, d]
//! q,k,v  = Gemm(h, W, transB=1)                                 [S, H*D], [S, Hkv*D] x2
//! q,k    = RotaryEmbedding(., cos, sin, position_ids, interleaved=1, num_heads)
//! q      -> [1, H, S, D];  k, v -> [1, Hkv, S, D]
//! K      = TensorScatter(past_key, k, write_indices=P, axis=2)  [1, Hkv, max_ctx, D]  (state out)
//! V      = TensorScatter(past_value, v, ...)                                         (state out)
//! a      = Attention(q, K[:, :, :P+S], V[:, :, :P+S], mask)    grouped-query, [1, H, S, D]
//!            mask[i, j] = j <= P + i (bool [S, P+S]): causal over absolute positions
//! x      = x + Gemm(a -> [S, d], attn_output)
//! x      = x + Gemm(silu(Gemm(RMSNorm(x), gate)) * Gemm(RMSNorm(x), up), down)
//! ```
//!
//! then `RMSNormalization(output_norm)`, the last row (`Slice`), and the output head
//! `Gemm(h, output.weight or token_embd.weight, transB=1)`.
//!
//! # Weights
//!
//! GGUF stores a linear weight as `[out, in]` rows (its blocks run along `in`), which is
//! `Gemm`'s `B` with `transB=1`: the weights are used in their file layout, never transposed,
//! and a tied output head reads the same embedding tensor as the input `Gather`. In this first
//! step every weight is dequantized to f32 at import (`smelt_gguf::quant`, bit-exact with
//! llama.cpp's dequantization); keeping the blocks quantized as compressed-weight encodings
//! that the CPU kernels read directly is the next step (docs/llm.md).
//!
//! Llama GGUF files store Q and K rows permuted for ggml's "normal" RoPE, which rotates
//! adjacent pairs: hence `interleaved=1`.

use crate::config::{LlamaConfig, RopeScaling};
use crate::error::Result;
use smelt_core::{DType, Dim, Tensor};
use smelt_gguf::GgufFile;
use smelt_ingot::{Info, StateDecl};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::builder::V;
use smelt_ops::GraphBuilder;

/// Choices made when building the graph.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Capacity of the KV cache in tokens (prompt and generated together).
    pub max_context: usize,
    /// Output the logits of every new token (`[seq, vocab]`, for perplexity) instead of the
    /// last one only.
    pub all_logits: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            max_context: 2048,
            all_logits: false,
        }
    }
}

/// The opset the graph uses: 23 for Attention, RotaryEmbedding and RMSNormalization, 24 for
/// TensorScatter.
pub const OPSET: i64 = 24;

/// Names of the graph's inputs, outputs and states.
pub mod names {
    pub const INPUT_IDS: &str = "input_ids";
    pub const POSITION: &str = "position";
    pub const LOGITS: &str = "logits";
    pub fn past_key(l: usize) -> String {
        format!("past_key_{l}")
    }
    pub fn past_value(l: usize) -> String {
        format!("past_value_{l}")
    }
    pub fn present_key(l: usize) -> String {
        format!("present_key_{l}")
    }
    pub fn present_value(l: usize) -> String {
        format!("present_value_{l}")
    }
}

fn ints(v: &[i64]) -> Tensor {
    Tensor::from_vec(vec![v.len()], v.to_vec()).expect("1-D")
}

fn scalar(v: i64) -> Tensor {
    Tensor::from_vec(vec![], vec![v]).expect("scalar")
}

fn attrs(list: &[(&str, Attr)]) -> Attributes {
    list.iter()
        .fold(Attributes::new(), |a, (n, v)| a.with(n, v.clone()))
}

/// The RoPE tables `[max_context, rope_dims / 2]`: cos and sin of `p * base^(-2i/dims)`
/// (divided by the file's `rope_freqs.weight` factors when present, and the position by a
/// linear scaling factor), computed in f64 and rounded once.
pub fn rope_tables(
    c: &LlamaConfig,
    max_context: usize,
    freq_factors: Option<&[f32]>,
) -> (Tensor, Tensor) {
    let half = c.rope_dims / 2;
    let pos_scale = match c.rope_scaling {
        RopeScaling::None => 1.0,
        RopeScaling::Linear { factor } => 1.0 / factor,
    };
    let mut cos = Vec::with_capacity(max_context * half);
    let mut sin = Vec::with_capacity(max_context * half);
    for p in 0..max_context {
        for i in 0..half {
            let mut freq = c.rope_base.powf(-2.0 * i as f64 / c.rope_dims as f64);
            if let Some(f) = freq_factors {
                freq /= f[i] as f64;
            }
            let a = p as f64 * pos_scale * freq;
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    (
        Tensor::from_vec(vec![max_context, half], cos).expect("table"),
        Tensor::from_vec(vec![max_context, half], sin).expect("table"),
    )
}

/// A weight dequantized to f32, in the file's outermost-first shape.
fn weight(f: &GgufFile, name: &str) -> Result<Tensor> {
    let info = f.require_tensor(name)?;
    let shape: Vec<usize> = info.shape().iter().map(|&d| d as usize).collect();
    let data = f.dequantize(name)?;
    Ok(Tensor::from_vec(shape, data)?)
}

/// Builds the decoder graph of `c` from the tensors of `f`, and the package info declaring
/// its KV-cache states.
pub fn build(f: &GgufFile, c: &LlamaConfig, opts: &BuildOptions) -> Result<(Graph, Info)> {
    let mut g = GraphBuilder::new(&format!("{}-decoder", c.architecture));
    g.set_opset("", OPSET);
    let (h, hkv, d) = (c.heads as i64, c.kv_heads as i64, c.head_dim as i64);
    let cap = opts.max_context;

    let ids = g.placeholder(names::INPUT_IDS, DType::I64, &[Dim::Sym("seq".into())]);
    let position = g.placeholder(names::POSITION, DType::I64, &[Dim::Fixed(1)]);

    // positions of the new tokens: P + [0, S)  ([S], and [1, S] for RotaryEmbedding)
    let zero = g.constant("zero", scalar(0));
    let one = g.constant("one", scalar(1));
    let seq_1 = g.op("Shape", &[ids], Attributes::new())?; // [1]: S
    let seq = g.op("Squeeze", &[seq_1], Attributes::new())?; // scalar S
    let steps = g.op("Range", &[zero, seq, one], Attributes::new())?;
    let pos = g.add(steps, position)?; // [S]
    let axis0 = g.constant("axis0", ints(&[0]));
    let axis1 = g.constant("axis1", ints(&[1]));
    let pos_ids = g.op("Unsqueeze", &[pos, axis0], Attributes::new())?; // [1, S]
                                                                        // total length T = P + S, the keys attended: j in [0, T), mask[i, j] = j <= P + i
    let total = g.add(position, seq_1)?; // [1]
    let total_s = g.op("Squeeze", &[total], Attributes::new())?;
    let keys = g.op("Range", &[zero, total_s, one], Attributes::new())?; // [T]
    let keys_row = g.op("Unsqueeze", &[keys, axis0], Attributes::new())?; // [1, T]
    let pos_col = g.op("Unsqueeze", &[pos, axis1], Attributes::new())?; // [S, 1]
    let mask = g.op("LessOrEqual", &[keys_row, pos_col], Attributes::new())?; // [S, T]
    let axis2 = g.constant("axis2", ints(&[2]));

    let freq_factors = match f.tensor("rope_freqs.weight") {
        Some(_) => Some(f.dequantize("rope_freqs.weight")?),
        None => None,
    };
    let (cos, sin) = rope_tables(c, cap, freq_factors.as_deref());
    let cos = g.constant("rope_cos", cos);
    let sin = g.constant("rope_sin", sin);

    let embd = g.constant("token_embd.weight", weight(f, "token_embd.weight")?);
    let mut x = g.op("Gather", &[embd, ids], attrs(&[("axis", Attr::Int(0))]))?; // [S, dim]

    let shape_q = g.constant("shape_q", ints(&[1, -1, h, d]));
    let shape_kv = g.constant("shape_kv", ints(&[1, -1, hkv, d]));
    let shape_3d = g.constant("shape_3d", ints(&[1, -1, h * d]));
    let shape_3d_kv = g.constant("shape_3d_kv", ints(&[1, -1, hkv * d]));
    let shape_rows = g.constant("shape_rows", ints(&[-1, h * d]));
    let heads_first = [0i64, 2, 1, 3];
    let rms = attrs(&[("epsilon", Attr::Float(c.rms_eps)), ("axis", Attr::Int(-1))]);
    let gemm_t = attrs(&[("transB", Attr::Int(1))]);

    let mut states = Vec::new();
    let mut state_outputs = Vec::new();
    for l in 0..c.layers {
        let w = |g: &mut GraphBuilder, n: &str| -> Result<V> {
            let name = format!("blk.{l}.{n}.weight");
            Ok(g.constant(&name, weight(f, &name)?))
        };
        let rope = |g: &mut GraphBuilder, t: V, heads: i64, shape: V| -> Result<V> {
            let t3 = g.op("Reshape", &[t, shape], Attributes::new())?;
            let a = attrs(&[
                ("interleaved", Attr::Int(1)),
                ("num_heads", Attr::Int(heads)),
                ("rotary_embedding_dim", Attr::Int(c.rope_dims as i64)),
            ]);
            Ok(g.op("RotaryEmbedding", &[t3, cos, sin, pos_ids], a)?)
        };

        // attention
        let norm = w(&mut g, "attn_norm")?;
        let hn = g.op("RMSNormalization", &[x, norm], rms.clone())?;
        let (wq, wk, wv) = (
            w(&mut g, "attn_q")?,
            w(&mut g, "attn_k")?,
            w(&mut g, "attn_v")?,
        );
        let q = g.op("Gemm", &[hn, wq], gemm_t.clone())?;
        let k = g.op("Gemm", &[hn, wk], gemm_t.clone())?;
        let v = g.op("Gemm", &[hn, wv], gemm_t.clone())?;
        let q = rope(&mut g, q, h, shape_3d)?;
        let k = rope(&mut g, k, hkv, shape_3d_kv)?;
        let q = g.reshape_v(q, shape_q)?;
        let q = g.transpose(q, &heads_first)?; // [1, H, S, D]
        let k = g.reshape_v(k, shape_kv)?;
        let k = g.transpose(k, &heads_first)?; // [1, Hkv, S, D]
        let v = g.reshape_v(v, shape_kv)?;
        let v = g.transpose(v, &heads_first)?;

        let cache_dims = [
            Dim::Fixed(1),
            Dim::Fixed(c.kv_heads),
            Dim::Fixed(cap),
            Dim::Fixed(c.head_dim),
        ];
        let mut cache =
            |g: &mut GraphBuilder, past: String, present: String, new: V| -> Result<V> {
                let p = g.placeholder(&past, DType::F32, &cache_dims);
                let out = g.add_node(
                    &format!("cache_write_{present}"),
                    "",
                    "TensorScatter",
                    &[Some(p), Some(new), Some(position)],
                    std::slice::from_ref(&present),
                    attrs(&[("axis", Attr::Int(2))]),
                )?[0]
                    .expect("named output");
                states.push(StateDecl {
                    name: past.clone(),
                    input: past,
                    output: present.clone(),
                    description: format!(
                        "KV cache, f32 [1, {hkv}, {cap}, {d}]: rows [0, position) are filled"
                    ),
                });
                state_outputs.push((out, present));
                // the filled rows, [1, Hkv, T, D]
                let start = zero_1(g)?;
                Ok(g.op("Slice", &[out, start, total, axis2], Attributes::new())?)
            };
        let kc = cache(&mut g, names::past_key(l), names::present_key(l), k)?;
        let vc = cache(&mut g, names::past_value(l), names::present_value(l), v)?;
        let a = g.op("Attention", &[q, kc, vc, mask], Attributes::new())?; // [1, H, S, D]
        let a = g.transpose(a, &heads_first)?; // [1, S, H, D]
        let a = g.reshape_v(a, shape_rows)?; // [S, H*D]
        let wo = w(&mut g, "attn_output")?;
        let o = g.op("Gemm", &[a, wo], gemm_t.clone())?;
        x = g.add(x, o)?;

        // SwiGLU MLP
        let norm = w(&mut g, "ffn_norm")?;
        let hn = g.op("RMSNormalization", &[x, norm], rms.clone())?;
        let (wg, wu, wd) = (
            w(&mut g, "ffn_gate")?,
            w(&mut g, "ffn_up")?,
            w(&mut g, "ffn_down")?,
        );
        let gate = g.op("Gemm", &[hn, wg], gemm_t.clone())?;
        let up = g.op("Gemm", &[hn, wu], gemm_t.clone())?;
        let sg = g.sigmoid(gate)?;
        let silu = g.mul(gate, sg)?;
        let prod = g.mul(silu, up)?;
        let down = g.op("Gemm", &[prod, wd], gemm_t.clone())?;
        x = g.add(x, down)?;
    }

    let norm = g.constant("output_norm.weight", weight(f, "output_norm.weight")?);
    let mut hn = g.op("RMSNormalization", &[x, norm], rms)?;
    if !opts.all_logits {
        let last = g.constant("last", ints(&[-1]));
        let end = g.constant("end", ints(&[i64::MAX]));
        hn = g.op("Slice", &[hn, last, end, axis0], Attributes::new())?; // [1, dim]
    }
    let head = if c.tied_embeddings {
        embd
    } else {
        g.constant("output.weight", weight(f, "output.weight")?)
    };
    let logits = g.op("Gemm", &[hn, head], gemm_t)?;
    g.output(logits, names::LOGITS);
    for (v, name) in state_outputs {
        g.output(v, &name);
    }
    let graph = g.build()?;
    let info = Info {
        name: c.architecture.clone(),
        opsets: vec![(String::new(), OPSET)],
        states,
        source: "gguf".into(),
        producer: format!("smelt-llm {}", env!("CARGO_PKG_VERSION")),
        ..Default::default()
    };
    Ok((graph, info))
}

/// The constant `[0]` (a Slice start), shared.
fn zero_1(g: &mut GraphBuilder) -> Result<V> {
    Ok(match g.find("zero_1") {
        Some(v) => v,
        None => g.constant("zero_1", ints(&[0])),
    })
}

trait ReshapeV {
    fn reshape_v(&mut self, x: V, shape: V) -> Result<V>;
}

impl ReshapeV for GraphBuilder {
    fn reshape_v(&mut self, x: V, shape: V) -> Result<V> {
        Ok(self.op("Reshape", &[x, shape], Attributes::new())?)
    }
}
