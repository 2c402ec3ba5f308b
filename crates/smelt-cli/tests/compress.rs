//! `smelt compress` end to end on the MNIST CNN of the golden cases: options of the other
//! mode, unsupported op types and selections that compress nothing are errors that leave no
//! file; with sample inputs (`--random`, `--calibration`) the output error is printed and a
//! low output SNR warns, naming the weights that cost most.

mod common;

use common::{golden, smelt, text, Dir};
use std::process::Output;

/// `smelt compress` of the MNIST CNN into `d/out.ingot` with `args` after the paths.
fn compress(d: &Dir, args: &[&str]) -> Output {
    let model = golden("mnist_cnn").join("mnist_cnn.onnx");
    let out = d.p("out.ingot");
    let mut all = vec![
        "compress",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    smelt(&all, &d.0)
}

/// Runs `args`, expects exit status 1, an error containing every `want`, and no file.
fn refused(d: &Dir, args: &[&str], want: &[&str]) {
    let o = compress(d, args);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {out}\n{err}");
    for w in want {
        assert!(err.contains(w), "{args:?}: no '{w}' in: {err}");
    }
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(!d.p("out.ingot").exists(), "{args:?}: a file was written");
}

#[test]
fn options_of_the_other_mode_are_errors() {
    let d = Dir::new("compress-opts");
    let lin = ["--mode", "linear"];
    let pal = ["--mode", "palettize"];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            [&lin[..], &["--nbits", "3"]].concat(),
            vec!["--nbits is for --mode palettize", "--dtype int8|int4"],
        ),
        (
            [&lin[..], &["--method", "uniform"]].concat(),
            vec!["--method is for --mode palettize"],
        ),
        (
            [&lin[..], &["--group-size", "8"]].concat(),
            vec!["--group-size is for --mode palettize"],
        ),
        (
            [&pal[..], &["--dtype", "int4"]].concat(),
            vec!["--dtype is for --mode linear", "--nbits 1..8"],
        ),
        (
            [&pal[..], &["--block-size", "16"]].concat(),
            vec!["--block-size is for --mode linear"],
        ),
        (
            [&pal[..], &["--symmetric"]].concat(),
            vec!["--symmetric is for --mode linear"],
        ),
        (
            [&pal[..], &["--affine"]].concat(),
            vec!["--affine is for --mode linear"],
        ),
        // options of a granularity not chosen
        (
            [&lin[..], &["--block-size", "16"]].concat(),
            vec!["--block-size is for --granularity per-block"],
        ),
        (
            [&pal[..], &["--group-size", "8"]].concat(),
            vec!["--group-size is for --granularity per-grouped-channel"],
        ),
        // a threshold with nothing to measure
        (
            [&lin[..], &["--warn-snr", "30"]].concat(),
            vec!["--warn-snr needs inputs to measure on: --random or --calibration"],
        ),
    ];
    for (args, want) in &cases {
        refused(&d, args, want);
    }
    // the same options with their own mode and granularity are fine
    for args in [
        &[
            "--mode",
            "linear",
            "--dtype",
            "int4",
            "--granularity",
            "per-block",
            "--block-size",
            "16",
        ][..],
        &["--mode", "palettize", "--nbits", "3", "--method", "uniform"],
        &[
            "--mode",
            "palettize",
            "--granularity",
            "per-grouped-channel",
            "--group-size",
            "8",
        ],
    ] {
        let o = compress(&d, args);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {out}\n{err}");
        std::fs::remove_file(d.p("out.ingot")).unwrap();
    }
}

#[test]
fn unsupported_ops_and_empty_selections_are_errors() {
    let d = Dir::new("compress-empty");
    refused(
        &d,
        &["--mode", "linear", "--ops", "Conv,Foo"],
        &["--ops Foo", "Conv, ConvTranspose, MatMul, Gemm, Gather"],
    );
    // the model reads its weights with Conv and Gemm only
    refused(
        &d,
        &["--mode", "linear", "--ops", "ConvTranspose,MatMul"],
        &[
            "no weight was compressed",
            "the model has no ConvTranspose, MatMul weight (float weights are read by Conv, Gemm)",
            "4 weights read by ops not in --ops",
        ],
    );
    // every weight is under the threshold
    refused(
        &d,
        &["--mode", "palettize", "--weight-threshold", "10000000"],
        &[
            "no weight was compressed",
            "4 weights below --weight-threshold 10000000 (the largest has",
        ],
    );
    // the two large weights skipped, the two small ones under the threshold
    refused(
        &d,
        &["--mode", "linear", "--skip", "c2.w,f1.w"],
        &[
            "no weight was compressed",
            "2 weights below --weight-threshold 2048",
            "2 weights in --skip",
        ],
    );
}

#[test]
fn a_skip_name_that_matches_nothing_warns() {
    let d = Dir::new("compress-skip");
    let o = compress(&d, &["--mode", "linear", "--skip", "c2.w,nosuch"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("compressed 1 weights (3 left alone)"), "{out}");
    assert!(
        err.contains("warning: --skip nosuch: no weight nor node reading one has this name"),
        "{err}"
    );
    assert!(!err.contains("c2.w:"), "{err}");
}

#[test]
fn output_accuracy_is_measured_and_a_low_snr_warns() {
    let d = Dir::new("compress-acc");
    // int8: the logits stay close; no warning
    let o = compress(&d, &["--mode", "linear", "--random", "--seed", "3"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("output accuracy on random inputs (seed 3), on the CPU:"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("output  logits"))
        .unwrap_or("");
    assert!(
        line.contains("f32[1,10]  snr ") && line.contains("cosine 0.99"),
        "{out}"
    );
    // both compressed weights measured alone
    assert_eq!(
        out.lines().filter(|l| l.starts_with("alone ")).count(),
        2,
        "{out}"
    );
    assert!(!err.contains("warning"), "{err}");
    assert!(d.p("out.ingot").exists());
    // 2-bit palettization: far from the original, and c2.w costs most
    let o = compress(&d, &["--mode", "palettize", "--nbits", "2", "--random"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        err.contains(
            "warning: the compressed model's output is far from the original's: 'logits' snr "
        ),
        "{err}"
    );
    assert!(err.contains("(under --warn-snr 15 dB)"), "{err}");
    assert!(err.contains("the weights that cost most: c2.w ("), "{err}");
    // a threshold of its own
    let o = compress(&d, &["--mode", "linear", "--random", "--warn-snr", "200"]);
    let (_, err) = text(&o);
    assert!(err.contains("(under --warn-snr 200 dB)"), "{err}");
    // the real digits, through --calibration
    let cal = golden("mnist_cnn");
    let o = compress(
        &d,
        &[
            "--mode",
            "linear",
            "--dtype",
            "int4",
            "--granularity",
            "per-block",
            "--calibration",
            cal.to_str().unwrap(),
        ],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("output accuracy on the first 16 rows of --calibration, on the CPU:"),
        "{out}"
    );
    assert!(out.contains("top-1 agree "), "{out}");
    // no inputs: one hint
    let o = compress(&d, &["--mode", "linear"]);
    let (out, err) = text(&o);
    assert!(!out.contains("output accuracy"), "{out}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("hint: ")).count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("--random") && err.contains("--calibration"),
        "{err}"
    );
}

#[test]
fn random_inputs_are_sized_by_dim() {
    let d = Dir::new("compress-dim");
    // the MNIST input is f32[N,1,28,28] with a named batch dim or fixed
    let o = compress(&d, &["--mode", "linear", "--random", "--dim", "nosuch=3"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains("--dim nosuch=3"), "{err}");
    // --seed and --dim need --random
    let o = compress(&d, &["--mode", "linear", "--seed", "1"]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
}
