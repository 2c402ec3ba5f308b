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
//! and a tied output head reads the same embedding tensor as the input `Gather`.
//!
//! Weights of the 32-element block types stay quantized ([`Weights::Quantized`], the
//! default): each is an `ai.smelt::LinearDequantize` node on constant codes and per-block
//! parameters (see [`quantized`]), which the CPU backend fuses into the `Gemm` / `Gather`
//! that reads it (`CompressedMatMul`, `CompressedGather`, decoding a tile at a time), and
//! which decodes bit for bit to smelt-gguf's reference dequantization. The other types
//! (F16, BF16, the K-quants) are dequantized to f32 at import, as is everything with
//! [`Weights::F32`].
//!
//! Llama GGUF files store Q and K rows permuted for ggml's "normal" RoPE, which rotates
//! adjacent pairs: hence `interleaved=1`.

use crate::config::{LlamaConfig, RopeScaling};
use crate::error::Result;
use smelt_core::{f16, DType, Dim, Tensor};
use smelt_gguf::{GgmlType, GgufFile};
use smelt_ingot::{Info, StateDecl};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::builder::V;
use smelt_ops::quant::linear_dequantize::DOMAIN;
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

/// How the graph holds the file's weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Weights {
    /// Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 as `LinearDequantize` on their blocks; the rest f32.
    #[default]
    Quantized,
    /// Every weight dequantized to f32 at import.
    F32,
}

/// The parts of a `LinearDequantize` node for a tensor of a 32-element block type, `[rows,
/// cols]` with blocks along `cols`: codes repacked from ggml's order (low nibbles are the
/// first 16 elements of a block, high nibbles the last 16; Q5's fifth bits apart) into
/// smelt's (element order, little-endian bit stream), the f16 scales `d` as the `[rows,
/// cols / 32]` scale grid and, for Q4_1 / Q5_1, the f16 minimums `m` as the offset grid.
/// Returns None for other types.
///
/// Exactness: ggml computes `(q - 8) * d` (Q4_0), `(q - 16) * d` (Q5_0), `q * d` (Q8_0) and
/// `q * d + m` (Q4_1, Q5_1) in f32 from f16 `d`, `m` widened exactly. The decode node
/// computes `(c - 0) * d (+ m)` with `c` the signed code `q - 8` / `q - 16` (4 / 5 bits, two's
/// complement), the signed byte, or the unsigned `q`: the same f32 operations on the same
/// values, so the same bits.
pub struct Quantized {
    pub shape: Vec<usize>,
    pub bits: u32,
    pub signed: bool,
    pub codes: Tensor,
    pub scale: Tensor,
    pub offset: Option<Tensor>,
}

const QK: usize = 32;

/// See [`Quantized`]. `data` is the tensor's bytes in the file.
pub fn quantized(ty: GgmlType, dims: &[usize], data: &[u8]) -> Result<Option<Quantized>> {
    let (bits, signed, has_min, block_bytes) = match ty {
        GgmlType::Q8_0 => (8, true, false, 34),
        GgmlType::Q4_0 => (4, true, false, 18),
        GgmlType::Q4_1 => (4, false, true, 20),
        GgmlType::Q5_0 => (5, true, false, 22),
        GgmlType::Q5_1 => (5, false, true, 24),
        _ => return Ok(None),
    };
    let Some(&cols) = dims.last() else {
        return Ok(None);
    };
    let n: usize = dims.iter().product();
    if cols % QK != 0 || data.len() != n / QK * block_bytes {
        return Err(crate::Error::Invalid(format!(
            "{ty} tensor {dims:?}: {} bytes, rows of {cols} are not whole blocks of {QK}",
            data.len()
        )));
    }
    let blocks = n / QK;
    let f16_at = |b: &[u8], i: usize| f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]]));
    let mut scale = Vec::with_capacity(blocks);
    let mut mins = Vec::with_capacity(if has_min { blocks } else { 0 });
    let mut q = [0u8; QK];
    let mut codes = vec![0u8; n * bits as usize / 8];
    for (bi, b) in data.chunks_exact(block_bytes).enumerate() {
        scale.push(f16_at(b, 0));
        if has_min {
            mins.push(f16_at(b, 2));
        }
        let head = if has_min { 4 } else { 2 };
        match ty {
            GgmlType::Q8_0 => {
                codes[bi * QK..(bi + 1) * QK].copy_from_slice(&b[2..34]);
                continue;
            }
            GgmlType::Q4_0 | GgmlType::Q4_1 => {
                let qs = &b[head..head + 16];
                for j in 0..16 {
                    q[j] = qs[j] & 0x0f;
                    q[j + 16] = qs[j] >> 4;
                }
            }
            _ => {
                let qh = u32::from_le_bytes([b[head], b[head + 1], b[head + 2], b[head + 3]]);
                let qs = &b[head + 4..head + 20];
                for j in 0..16 {
                    q[j] = qs[j] & 0x0f | (((qh >> j) & 1) << 4) as u8;
                    q[j + 16] = qs[j] >> 4 | (((qh >> (j + 16)) & 1) << 4) as u8;
                }
            }
        }
        // symmetric types: the code is q minus the type's zero point, in two's complement
        let zero: u8 = match ty {
            GgmlType::Q4_0 => 8,
            GgmlType::Q5_0 => 16,
            _ => 0,
        };
        let mask = (1u8 << bits) - 1;
        let out = &mut codes[bi * QK * bits as usize / 8..(bi + 1) * QK * bits as usize / 8];
        if bits == 4 {
            for (o, pair) in out.iter_mut().zip(q.chunks_exact(2)) {
                *o = (pair[0].wrapping_sub(zero) & mask) | (pair[1].wrapping_sub(zero) & mask) << 4;
            }
        } else {
            // 5 bits: 32 codes are 20 bytes, bit stream little-endian
            let mut acc = 0u64;
            let mut nbits = 0;
            let mut k = 0;
            for &v in &q {
                acc |= ((v.wrapping_sub(zero) & mask) as u64) << nbits;
                nbits += 5;
                while nbits >= 8 {
                    out[k] = acc as u8;
                    acc >>= 8;
                    nbits -= 8;
                    k += 1;
                }
            }
        }
    }
    let mut grid = dims.to_vec();
    *grid.last_mut().unwrap() = cols / QK;
    let codes_len = codes.len();
    Ok(Some(Quantized {
        shape: dims.to_vec(),
        bits,
        signed,
        codes: Tensor::from_vec(vec![codes_len], codes)?,
        scale: Tensor::from_vec(grid.clone(), scale)?,
        offset: if has_min {
            Some(Tensor::from_vec(grid, mins)?)
        } else {
            None
        },
    }))
}

/// A weight as the graph reads it: a `LinearDequantize` node on the blocks when `how` keeps
/// its type quantized (see [`quantized`]), else an f32 constant.
fn weight_value(g: &mut GraphBuilder, f: &GgufFile, name: &str, how: Weights) -> Result<V> {
    let info = f.require_tensor(name)?;
    let shape: Vec<usize> = info.shape().iter().map(|&d| d as usize).collect();
    if how == Weights::Quantized {
        if let Some(q) = quantized(info.ty(), &shape, f.data_of(info)?)? {
            let codes = g.constant(&format!("{name}.codes"), q.codes);
            let scale = g.constant(&format!("{name}.scale"), q.scale);
            let offset = q.offset.map(|o| g.constant(&format!("{name}.offset"), o));
            let a = attrs(&[
                (
                    "shape",
                    Attr::Ints(q.shape.iter().map(|&d| d as i64).collect()),
                ),
                ("bits", Attr::Int(q.bits as i64)),
                ("signed", Attr::Int(q.signed as i64)),
            ]);
            let out = g.add_node(
                "",
                DOMAIN,
                "LinearDequantize",
                &match offset {
                    Some(o) => vec![Some(codes), Some(scale), None, Some(o)],
                    None => vec![Some(codes), Some(scale)],
                },
                &[name.to_string()],
                a,
            )?;
            return Ok(out[0].expect("one output"));
        }
    }
    Ok(g.constant(name, weight(f, name)?))
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
    build_with(f, c, opts, Weights::default())
}

/// [`build`] with the weights held as `how` says.
pub fn build_with(
    f: &GgufFile,
    c: &LlamaConfig,
    opts: &BuildOptions,
    how: Weights,
) -> Result<(Graph, Info)> {
    let mut g = GraphBuilder::new(&format!("{}-decoder", c.architecture));
    g.set_opset("", OPSET);
    g.set_opset(DOMAIN, 1);
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

    let embd = weight_value(&mut g, f, "token_embd.weight", how)?;
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
            weight_value(g, f, &format!("blk.{l}.{n}.weight"), how)
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
        weight_value(&mut g, f, "output.weight", how)?
    };
    let logits = g.op("Gemm", &[hn, head], gemm_t)?;
    g.output(logits, names::LOGITS);
    for (v, name) in state_outputs {
        g.output(v, &name);
    }
    let graph = g.build()?;
    let info = Info {
        name: c.architecture.clone(),
        opsets: vec![(String::new(), OPSET), (DOMAIN.to_string(), 1)],
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
