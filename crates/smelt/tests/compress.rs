//! `smelt compress` end to end on the MNIST CNN: every mode writes a package that loads, has
//! its compressed readers fused by the CPU lowering, agrees with fp32 on the golden digits,
//! and shrinks with the bits chosen. Bad options and weights give clear errors.

mod common;

use common::*;
use smelt::compression::palettize::Method;
use smelt::compression::{Granularity, Mode, Options};
use smelt::{Config, Model, Tensor};

/// A fresh scratch folder for one test (removed by the test when it is done).
fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("smelt-compress{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The first output of the fp32 model of case `c` on `feed`.
fn fp32_output(c: &Case, feed: &[(&str, Tensor)]) -> Tensor {
    Model::load(model_path(c), Config::default())
        .unwrap()
        .predict(feed)
        .unwrap()[0]
        .clone()
}

fn top1(t: &Tensor) -> Vec<usize> {
    let v = t.as_slice::<f32>().unwrap();
    v.chunks(10)
        .map(|r| (0..10).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap())
        .collect()
}

#[test]
fn every_mode_packages_runs_fused_and_agrees_with_fp32() {
    let c = case("mnist_cnn");
    let inputs = case_inputs(&c);
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let want = top1(&fp32_output(&c, &feed));
    let dir = scratch("");
    let modes = [
        (
            "int8 per-channel",
            Mode::Linear {
                bits: 8,
                symmetric: true,
                granularity: Granularity::PerChannel,
            },
            16,
            3.5,
        ),
        (
            "int8 affine per-tensor",
            Mode::Linear {
                bits: 8,
                symmetric: false,
                granularity: Granularity::PerTensor,
            },
            16,
            3.5,
        ),
        (
            "int4 per-block 32",
            Mode::Linear {
                bits: 4,
                symmetric: true,
                granularity: Granularity::PerBlock(32),
            },
            16,
            5.5,
        ),
        (
            "palettize 4-bit grouped 16",
            Mode::Palettize {
                bits: 4,
                method: Method::KMeans,
                granularity: Granularity::PerGroupedChannel(16),
            },
            16,
            7.0,
        ),
        (
            "palettize 2-bit",
            Mode::Palettize {
                bits: 2,
                method: Method::KMeans,
                granularity: Granularity::PerTensor,
            },
            15,
            12.0,
        ),
        (
            "palettize 3-bit uniform",
            Mode::Palettize {
                bits: 3,
                method: Method::Uniform,
                granularity: Granularity::PerTensor,
            },
            14,
            9.0,
        ),
    ];
    let size32 = std::fs::metadata(model_path(&c)).unwrap().len() as f64;
    for (what, mode, min_agree, min_ratio) in modes {
        let pkg = dir.join("m.ingot");
        let (report, _) = smelt::compress_file(
            &model_path(&c),
            &pkg,
            &Options::new(mode),
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_eq!(
            report.tensors.len(),
            2,
            "{what}: c2.w and f1.w are over the threshold"
        );
        assert_eq!(
            report.skipped.len(),
            2,
            "{what}: c1.w and f2.w are under it"
        );
        let ratio = size32 / std::fs::metadata(&pkg).unwrap().len() as f64;
        assert!(ratio >= min_ratio, "{what}: file only {ratio:.2}x smaller");
        let m = Model::load(&pkg, Config::default()).unwrap();
        assert_eq!(
            m.lowering().fused,
            2,
            "{what}: the Conv and the Gemm read compressed weights"
        );
        assert_eq!(m.lowering().removed, 2, "{what}: no decode node is left");
        let got = top1(&m.predict(&feed).unwrap()[0]);
        let agree = got.iter().zip(&want).filter(|(a, b)| a == b).count();
        println!(
            "{what}: {ratio:.2}x smaller, top-1 agrees on {agree}/16, weight SNR {:.1} / {:.1} dB",
            report.tensors[0].snr_db, report.tensors[1].snr_db
        );
        assert!(agree >= min_agree, "{what}: top-1 agrees on {agree}/16");
        // the reference path (whole-weight decode) gives the same classes
        let r = Model::load(
            &pkg,
            Config {
                fuse_compressed: false,
                ..Config::default()
            },
        )
        .unwrap();
        assert_eq!(
            top1(&r.predict(&feed).unwrap()[0]),
            got,
            "{what}: fused vs reference"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_options_and_weights_are_clear_errors() {
    let c = case("mnist_cnn");
    let dir = scratch("-bad");
    let pkg = dir.join("bad.ingot");
    let e = smelt::compress_file(
        &model_path(&c),
        &pkg,
        &Options::new(Mode::Linear {
            bits: 3,
            symmetric: true,
            granularity: Granularity::PerTensor,
        }),
        &mut |_, _, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("4 or 8 bits"), "{e}");
    assert!(!pkg.exists(), "no file is left after an error");
    // a block that does not divide the input axis falls back to per-channel, and says so
    let (report, _) = smelt::compress_file(
        &model_path(&c),
        &pkg,
        &Options::new(Mode::Linear {
            bits: 8,
            symmetric: true,
            granularity: Granularity::PerBlock(100),
        }),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert!(
        report
            .tensors
            .iter()
            .any(|t| t.note.contains("does not divide")),
        "{report:?}"
    );
    // a non-finite weight is named
    let mut g = smelt::onnx::load_path(&model_path(&c)).unwrap().graph;
    let id = g.value_id("f1.w").unwrap();
    let w = &g.initializers[&id];
    let mut v = w.as_slice::<f32>().unwrap().to_vec();
    v[7] = f32::NAN;
    g.initializers
        .insert(id, Tensor::from_vec(w.shape().to_vec(), v).unwrap());
    let e = smelt::compression::compress(
        &g,
        &Options::new(Mode::Linear {
            bits: 8,
            symmetric: true,
            granularity: Granularity::PerChannel,
        }),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("'f1.w' has a non-finite value at element 7"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// SNR in dB of `b` against `a`.
fn snr(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());
    let s: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum();
    let e: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    10.0 * (s / e).log10()
}

#[test]
fn calibration_lowers_the_output_error() {
    let c = case("mnist_cnn");
    let inputs = case_inputs(&c);
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let want = fp32_output(&c, &feed);
    let dir = scratch("-cal");
    let mut out = Vec::new();
    for mode in [
        Mode::Linear {
            bits: 4,
            symmetric: true,
            granularity: Granularity::PerBlock(32),
        },
        Mode::Palettize {
            bits: 2,
            method: Method::KMeans,
            granularity: Granularity::PerTensor,
        },
    ] {
        for calibrated in [false, true] {
            let mut o = Options::new(mode);
            if calibrated {
                o.calibration = vec![inputs.clone()];
            }
            let pkg = dir.join("cal.ingot");
            let (report, _) =
                smelt::compress_file(&model_path(&c), &pkg, &o, &mut |_, _, _| {}).unwrap();
            // only the Gemm weight has a Gram matrix (Conv weights round plainly)
            let noted: Vec<bool> = report
                .tensors
                .iter()
                .map(|t| t.note.contains("calibrated"))
                .collect();
            assert_eq!(noted, [false, calibrated], "{mode:?}");
            let got = Model::load(&pkg, Config::default())
                .unwrap()
                .predict(&feed)
                .unwrap()[0]
                .clone();
            out.push(snr(&want, &got));
        }
        let (plain, cal) = (out[out.len() - 2], out[out.len() - 1]);
        println!("{mode:?}: logits SNR {plain:.2} dB plain, {cal:.2} dB calibrated");
        assert!(cal > plain + 1.0, "{mode:?}: {cal} vs {plain}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn malformed_compressed_weights_are_clear_errors() {
    // a package whose decode node disagrees with its codes: no panic, an error naming it
    let c = case("mnist_cnn");
    let dir = scratch("-mal");
    let g = smelt::onnx::load_path(&model_path(&c)).unwrap().graph;
    let (mut g, _) = smelt::compression::compress(
        &g,
        &Options::new(Mode::Palettize {
            bits: 4,
            method: Method::KMeans,
            granularity: Granularity::PerTensor,
        }),
        &mut |_, _| {},
    )
    .unwrap();
    // cut the Gemm weight's indices in half
    let id = g.value_id("f1.w.indices").unwrap();
    let t = &g.initializers[&id];
    let half: Vec<u8> = t.as_slice::<u8>().unwrap()[..t.len() / 2].to_vec();
    g.initializers
        .insert(id, Tensor::from_vec(vec![half.len()], half).unwrap());
    let info = smelt::Info::default();
    let pkg = dir.join("bad.ingot");
    smelt::ingot::write(&pkg, &g, &info, &mut |_, _| {}).unwrap();
    let inputs = case_inputs(&c);
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    for fuse in [true, false] {
        let r = Model::load(
            &pkg,
            Config {
                fuse_compressed: fuse,
                ..Config::default()
            },
        )
        .and_then(|m| m.predict(&feed).map(|_| ()));
        let e = r
            .expect_err("a truncated code stream must not run")
            .to_string();
        assert!(
            e.contains("f1.w") && e.contains("codes hold"),
            "fuse {fuse}: {e}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn weights_held_in_constant_nodes_are_compressed_too() {
    // PP-OCR's classifier keeps its weights in Constant nodes
    let c = case("ocr_cls");
    let inputs = case_inputs(&c);
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let want = fp32_output(&c, &feed);
    let dir = scratch("-const");
    let pkg = dir.join("cls.ingot");
    let mode = Mode::Linear {
        bits: 8,
        symmetric: true,
        granularity: Granularity::PerChannel,
    };
    let (report, _) = smelt::compress_file(
        &model_path(&c),
        &pkg,
        &Options::new(mode),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert!(
        !report.tensors.is_empty(),
        "no Constant-node weight was compressed"
    );
    let m = Model::load(&pkg, Config::default()).unwrap();
    assert!(
        m.lowering().fused >= report.tensors.len() / 2,
        "{:?}",
        m.lowering()
    );
    let got = m.predict(&feed).unwrap()[0].clone();
    let s = snr(&want, &got);
    println!(
        "ocr_cls int8: {} weights, output SNR {s:.1} dB",
        report.tensors.len()
    );
    assert!(s > 30.0, "output SNR {s}");
    std::fs::remove_dir_all(dir).ok();
}

/// The GPU's lowering decodes compressed weights once: every `ai.smelt` decode of a constant
/// becomes a constant, and the graph computes exactly what the compressed one does (the
/// same decode, run once instead of per prediction).
#[test]
fn decoding_once_for_a_device_keeps_the_outputs() {
    use smelt::passes::{lower::decode::DecodeWeights, Pass};
    let c = case("mnist_cnn");
    let g = smelt::onnx::load_path(&model_path(&c)).unwrap().graph;
    for mode in [
        Mode::Palettize {
            bits: 4,
            method: Method::KMeans,
            granularity: Granularity::PerTensor,
        },
        Mode::Linear {
            bits: 8,
            symmetric: true,
            granularity: Granularity::PerChannel,
        },
    ] {
        let (compressed, _) =
            smelt::compression::compress(&g, &Options::new(mode.clone()), &mut |_, _| {}).unwrap();
        let decodes = |g: &smelt::Graph| g.nodes.iter().filter(|n| n.domain == "ai.smelt").count();
        assert!(decodes(&compressed) >= 2, "{mode:?}");
        let mut lowered = compressed.clone();
        let n = DecodeWeights.run(&mut lowered).unwrap();
        assert_eq!(
            (n, decodes(&lowered)),
            (decodes(&compressed), 0),
            "{mode:?}"
        );
        let feed = case_inputs(&c);
        let want = smelt::run(&compressed, feed.clone()).unwrap();
        let got = smelt::run(&lowered, feed).unwrap();
        for ((wn, w), (gn, t)) in want.iter().zip(&got) {
            assert_eq!(wn, gn);
            assert_eq!(w, t, "{mode:?}: {wn} differs after decoding once");
        }
    }
}
