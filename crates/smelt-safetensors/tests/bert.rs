//! The BERT builder on a tiny random checkpoint written here, against a direct f64
//! evaluation of transformers' `BertModel` written below (loops over the weights, no
//! graph); and the import's errors.

use smelt_core::Tensor;
use smelt_safetensors::hf::{self, Options};
use smelt_safetensors::write::{f32_bytes, to_bytes, Entry};
use smelt_safetensors::{Dtype, Error};
use std::collections::BTreeMap;
use std::path::Path;

const VOCAB: usize = 50;
const D: usize = 16;
const HEADS: usize = 4;
const LAYERS: usize = 2;
const INTER: usize = 24;
const MAX_POS: usize = 12;
const TYPES: usize = 2;
const EPS: f64 = 1e-12;

fn config(act: &str) -> String {
    format!(
        r#"{{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": {VOCAB},
            "hidden_size": {D}, "num_hidden_layers": {LAYERS}, "num_attention_heads": {HEADS},
            "intermediate_size": {INTER}, "max_position_embeddings": {MAX_POS},
            "type_vocab_size": {TYPES}, "layer_norm_eps": {EPS:e}, "hidden_act": "{act}",
            "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1}}"#
    )
}

/// Adds a tensor: name, shape, scale of its random values, offset added to them.
type Put<'a> = &'a mut dyn FnMut(String, &[usize], f32, f32);

/// Rows of i64 ids: input_ids, attention_mask, token_type_ids.
type Rows = Vec<Vec<i64>>;

/// Deterministic values in [-scale, scale).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, scale: f32) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next(scale)).collect()
    }
}

/// Every tensor of the checkpoint, by name (under `prefix`), with its shape.
fn weights(prefix: &str) -> BTreeMap<String, (Vec<u64>, Vec<f32>)> {
    let mut r = Lcg(7);
    let mut w = BTreeMap::new();
    let mut put = |name: String, shape: &[usize], scale: f32, offset: f32| {
        let n = shape.iter().product();
        let v = r.vec(n, scale).into_iter().map(|x| x + offset).collect();
        w.insert(
            format!("{prefix}{name}"),
            (shape.iter().map(|&d| d as u64).collect(), v),
        );
    };
    put(
        "embeddings.word_embeddings.weight".into(),
        &[VOCAB, D],
        1.0,
        0.0,
    );
    put(
        "embeddings.position_embeddings.weight".into(),
        &[MAX_POS, D],
        0.5,
        0.0,
    );
    put(
        "embeddings.token_type_embeddings.weight".into(),
        &[TYPES, D],
        0.5,
        0.0,
    );
    let ln = |put: Put, at: &str| {
        put(format!("{at}.LayerNorm.weight"), &[D], 0.2, 1.0);
        put(format!("{at}.LayerNorm.bias"), &[D], 0.2, 0.0);
    };
    ln(&mut put, "embeddings");
    for l in 0..LAYERS {
        let at = format!("encoder.layer.{l}");
        for (n, o, i) in [
            ("attention.self.query", D, D),
            ("attention.self.key", D, D),
            ("attention.self.value", D, D),
            ("attention.output.dense", D, D),
            ("intermediate.dense", INTER, D),
            ("output.dense", D, INTER),
        ] {
            put(format!("{at}.{n}.weight"), &[o, i], 0.6, 0.0);
            put(format!("{at}.{n}.bias"), &[o], 0.3, 0.0);
        }
        ln(&mut put, &format!("{at}.attention.output"));
        ln(&mut put, &format!("{at}.output"));
    }
    // a tensor the encoder does not read (transformers saves this buffer)
    w.insert(
        format!("{prefix}embeddings.position_ids"),
        (vec![1, MAX_POS as u64], vec![]),
    );
    w
}

/// Writes config.json and model.safetensors (f32 weights, or `dtype` F16 / BF16) into `dir`.
fn write_checkpoint(
    dir: &Path,
    config: &str,
    w: &BTreeMap<String, (Vec<u64>, Vec<f32>)>,
    dtype: Dtype,
) {
    std::fs::write(dir.join("config.json"), config).unwrap();
    let bytes: Vec<(String, Vec<u64>, Dtype, Vec<u8>)> = w
        .iter()
        .map(|(n, (s, v))| {
            if n.ends_with("position_ids") {
                let ids: Vec<u8> = (0..MAX_POS as i64).flat_map(|i| i.to_le_bytes()).collect();
                return (n.clone(), s.clone(), Dtype::I64, ids);
            }
            let b = match dtype {
                Dtype::F16 => v
                    .iter()
                    .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                    .collect(),
                Dtype::BF16 => v
                    .iter()
                    .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
                    .collect(),
                _ => f32_bytes(v),
            };
            (n.clone(), s.clone(), dtype, b)
        })
        .collect();
    let entries: Vec<Entry> = bytes
        .iter()
        .map(|(n, s, d, b)| Entry {
            name: n,
            dtype: *d,
            shape: s,
            data: b,
        })
        .collect();
    let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    std::fs::write(dir.join("model.safetensors"), to_bytes(&entries, &meta)).unwrap();
}

/// erf by Simpson's rule on 2/sqrt(pi) exp(-t^2) (error far below 1e-9 here).
fn erf(x: f64) -> f64 {
    let n = 2000;
    let h = x / n as f64;
    let f = |t: f64| (-t * t).exp();
    let mut s = f(0.0) + f(x);
    for i in 1..n {
        s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
}

/// transformers' BertModel forward, last_hidden_state, in f64. `w` holds the f32 weights
/// as the file stores them (rounded through `round` first, for 16-bit files).
fn reference(
    w: &BTreeMap<String, (Vec<u64>, Vec<f32>)>,
    round: impl Fn(f32) -> f32,
    act: &str,
    ids: &[Vec<i64>],
    mask: &[Vec<i64>],
    types: &[Vec<i64>],
) -> Vec<f64> {
    let g = |n: &str| -> Vec<f64> { w[n].1.iter().map(|&x| round(x) as f64).collect() };
    let layer_norm = |x: &mut [f64], at: &str| {
        let (gamma, beta) = (
            g(&format!("{at}.LayerNorm.weight")),
            g(&format!("{at}.LayerNorm.bias")),
        );
        for row in x.chunks_mut(D) {
            let mean = row.iter().sum::<f64>() / D as f64;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / D as f64;
            for (i, v) in row.iter_mut().enumerate() {
                *v = (*v - mean) / (var + EPS).sqrt() * gamma[i] + beta[i];
            }
        }
    };
    // y[r, o] = sum_i x[r, i] W[o, i] + b[o]
    let linear = |x: &[f64], name: &str, out: usize, inp: usize| -> Vec<f64> {
        let (wt, b) = (g(&format!("{name}.weight")), g(&format!("{name}.bias")));
        x.chunks(inp)
            .flat_map(|row| {
                (0..out)
                    .map(|o| b[o] + (0..inp).map(|i| row[i] * wt[o * inp + i]).sum::<f64>())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (batch, seq) = (ids.len(), ids[0].len());
    let (word, pos, tt) = (
        g("embeddings.word_embeddings.weight"),
        g("embeddings.position_embeddings.weight"),
        g("embeddings.token_type_embeddings.weight"),
    );
    let mut x = vec![0f64; batch * seq * D];
    for b in 0..batch {
        for s in 0..seq {
            for i in 0..D {
                x[(b * seq + s) * D + i] = word[ids[b][s] as usize * D + i]
                    + pos[s * D + i]
                    + tt[types[b][s] as usize * D + i];
            }
        }
    }
    layer_norm(&mut x, "embeddings");
    let hd = D / HEADS;
    for l in 0..LAYERS {
        let at = format!("encoder.layer.{l}");
        let q = linear(&x, &format!("{at}.attention.self.query"), D, D);
        let k = linear(&x, &format!("{at}.attention.self.key"), D, D);
        let v = linear(&x, &format!("{at}.attention.self.value"), D, D);
        let mut ctx = vec![0f64; batch * seq * D];
        for b in 0..batch {
            for h in 0..HEADS {
                for i in 0..seq {
                    let qi = &q[(b * seq + i) * D + h * hd..][..hd];
                    let scores: Vec<f64> = (0..seq)
                        .map(|j| {
                            let kj = &k[(b * seq + j) * D + h * hd..][..hd];
                            let dot: f64 = qi.iter().zip(kj).map(|(a, c)| a * c).sum();
                            dot / (hd as f64).sqrt() + (1.0 - mask[b][j] as f64) * f32::MIN as f64
                        })
                        .collect();
                    let m = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for j in 0..seq {
                        for t in 0..hd {
                            ctx[(b * seq + i) * D + h * hd + t] +=
                                e[j] / z * v[(b * seq + j) * D + h * hd + t];
                        }
                    }
                }
            }
        }
        let o = linear(&ctx, &format!("{at}.attention.output.dense"), D, D);
        x.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
        layer_norm(&mut x, &format!("{at}.attention.output"));
        let mut inter = linear(&x, &format!("{at}.intermediate.dense"), INTER, D);
        for y in inter.iter_mut() {
            *y = match act {
                "gelu" => 0.5 * *y * (1.0 + erf(*y / std::f64::consts::SQRT_2)),
                "relu" => y.max(0.0),
                _ => {
                    let c = (2.0 / std::f64::consts::PI).sqrt();
                    0.5 * *y * (1.0 + (c * (*y + 0.044715 * *y * *y * *y)).tanh())
                }
            };
        }
        let o = linear(&inter, &format!("{at}.output.dense"), D, INTER);
        x.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
        layer_norm(&mut x, &format!("{at}.output"));
    }
    x
}

fn i64_tensor(rows: &[Vec<i64>]) -> Tensor {
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(vec![rows.len(), rows[0].len()], flat).unwrap()
}

/// Imports the checkpoint in `dir`, runs it (as built, and after the portable passes) and
/// returns the largest difference to the reference.
fn run_and_compare(
    dir: &Path,
    opts: &Options,
    expect: &[f64],
    feeds: Vec<(String, Tensor)>,
) -> f64 {
    let (graph, info) = hf::import(dir, opts).unwrap();
    assert_eq!(info.source, "safetensors");
    let mut optimized = graph.clone();
    smelt_passes::optimize(&mut optimized).unwrap();
    let mut worst = 0f64;
    for g in [&graph, &optimized] {
        let out = smelt_cpu::run(g, feeds.clone()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "last_hidden_state");
        let y = &out[0].1;
        let (b, s) = (feeds[0].1.shape()[0], feeds[0].1.shape()[1]);
        assert_eq!(y.shape(), &[b, s, D]);
        let y = y.as_slice::<f32>().unwrap();
        assert_eq!(y.len(), expect.len());
        for (a, e) in y.iter().zip(expect) {
            worst = worst.max((*a as f64 - e).abs());
        }
    }
    eprintln!("{}: max |smelt - reference| = {worst:.2e}", dir.display());
    worst
}

fn inputs() -> (Rows, Rows, Rows) {
    // the second sequence is padded after 3 tokens; the third has no token at all
    let ids = vec![
        vec![1, 17, 42, 8, 2, 49, 0],
        vec![1, 5, 2, 0, 0, 0, 0],
        vec![0, 0, 0, 0, 0, 0, 0],
    ];
    let mask = vec![vec![1; 7], vec![1, 1, 1, 0, 0, 0, 0], vec![0; 7]];
    let types = vec![
        vec![0, 0, 0, 1, 1, 1, 1],
        vec![0, 1, 1, 0, 0, 0, 0],
        vec![0; 7],
    ];
    (ids, mask, types)
}

#[test]
fn tiny_bert_matches_the_reference() {
    let (ids, mask, types) = inputs();
    let zeros: Vec<Vec<i64>> = types.iter().map(|r| vec![0; r.len()]).collect();
    for act in ["gelu", "relu", "gelu_new"] {
        let dir = tempfile::tempdir().unwrap();
        let w = weights("");
        write_checkpoint(dir.path(), &config(act), &w, Dtype::F32);
        let feeds = vec![
            ("input_ids".to_string(), i64_tensor(&ids)),
            ("attention_mask".to_string(), i64_tensor(&mask)),
        ];
        // without token_type_ids every token is of type 0
        let expect = reference(&w, |x| x, act, &ids, &mask, &zeros);
        let worst = run_and_compare(dir.path(), &Options::default(), &expect, feeds.clone());
        assert!(worst < 1e-5, "{act}: max |smelt - reference| = {worst}");
        let mut feeds = feeds;
        feeds.push(("token_type_ids".to_string(), i64_tensor(&types)));
        let expect = reference(&w, |x| x, act, &ids, &mask, &types);
        let opts = Options {
            token_type_ids: true,
        };
        let worst = run_and_compare(dir.path(), &opts, &expect, feeds);
        assert!(
            worst < 1e-5,
            "{act} with token types: max |smelt - reference| = {worst}"
        );
    }
}

#[test]
fn task_checkpoints_and_16_bit_weights() {
    let (ids, mask, _) = inputs();
    let zeros: Vec<Vec<i64>> = ids.iter().map(|r| vec![0; r.len()]).collect();
    let feeds = vec![
        ("input_ids".to_string(), i64_tensor(&ids)),
        ("attention_mask".to_string(), i64_tensor(&mask)),
    ];
    // a BertForMaskedLM checkpoint: the encoder under "bert.", BF16 weights, given as the file
    let dir = tempfile::tempdir().unwrap();
    let w = weights("bert.");
    let cfg = config("gelu").replace("BertModel", "BertForMaskedLM");
    write_checkpoint(dir.path(), &cfg, &w, Dtype::BF16);
    let unprefixed: BTreeMap<_, _> = w
        .iter()
        .map(|(k, v)| (k.trim_start_matches("bert.").to_string(), v.clone()))
        .collect();
    let round = |x: f32| half::bf16::from_f32(x).to_f32();
    let expect = reference(&unprefixed, round, "gelu", &ids, &mask, &zeros);
    let file = dir.path().join("model.safetensors");
    let worst = run_and_compare(&file, &Options::default(), &expect, feeds.clone());
    assert!(worst < 1e-5, "bf16: {worst}");
    // F16
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path(), &config("gelu"), &unprefixed, Dtype::F16);
    let round = |x: f32| half::f16::from_f32(x).to_f32();
    let expect = reference(&unprefixed, round, "gelu", &ids, &mask, &zeros);
    let worst = run_and_compare(dir.path(), &Options::default(), &expect, feeds);
    assert!(worst < 1e-5, "f16: {worst}");
}

fn import_err(config: &str, w: &BTreeMap<String, (Vec<u64>, Vec<f32>)>) -> String {
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path(), config, w, Dtype::F32);
    match hf::import(dir.path(), &Options::default()) {
        Ok(_) => panic!("imported a bad checkpoint"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unsupported_and_broken_checkpoints_are_named() {
    let w = weights("");
    let e = import_err(&config("gelu").replace("\"bert\"", "\"gpt2\""), &w);
    assert_eq!(e, "unsupported model_type 'gpt2' (supported: bert)");
    let e = import_err(&config("gelu").replace("BertModel", "BertLMHeadModel"), &w);
    assert!(
        e.starts_with("unsupported architecture 'BertLMHeadModel' (supported: BertModel,"),
        "{e}"
    );
    let e = import_err(&config("swish"), &w);
    assert!(e.starts_with("unsupported hidden_act 'swish'"), "{e}");
    let e = import_err(&config("gelu").replace("absolute", "relative_key"), &w);
    assert!(e.contains("position_embedding_type 'relative_key'"), "{e}");
    let e = import_err(
        &config("gelu").replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5"),
        &w,
    );
    assert!(
        e.contains("key 'num_attention_heads' is 5, which does not divide hidden_size 16"),
        "{e}"
    );
    let e = import_err(&config("gelu").replace("\"hidden_size\": 16,", ""), &w);
    assert!(
        e.contains("config.json: key 'hidden_size' is missing"),
        "{e}"
    );
    let e = import_err("{\"model_type\": ", &w);
    assert!(e.contains("config.json: not valid JSON"), "{e}");

    let mut missing = w.clone();
    missing.remove("encoder.layer.1.output.dense.bias");
    let e = import_err(&config("gelu"), &missing);
    assert_eq!(e, "no tensor named 'encoder.layer.1.output.dense.bias'");
    let mut wrong = w.clone();
    wrong.insert(
        "encoder.layer.0.intermediate.dense.weight".into(),
        (vec![D as u64, INTER as u64], vec![0.0; D * INTER]),
    );
    let e = import_err(&config("gelu"), &wrong);
    assert_eq!(
        e,
        "tensor 'encoder.layer.0.intermediate.dense.weight': shape [16, 24], the config implies [24, 16]"
    );
    let mut ints = w.clone();
    ints.remove("embeddings.position_ids");
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path(), &config("gelu"), &ints, Dtype::F32);
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let e = hf::import(dir.path(), &Options::default()).unwrap_err();
    assert!(
        matches!(e, Error::BadConfig { .. }) && e.to_string().contains("config.json: no such file"),
        "{e}"
    );
}
