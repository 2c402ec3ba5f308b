//! `smelt convert`, and `info` / `run` on the packages it writes: metadata round-trips, a
//! failed convert leaves no file, the placement plan, `--stats`, and declared states.

mod common;

use common::{node, smelt, text, vi, Dir};
use prost::Message;
use smelt_core::{npy, Tensor};
use smelt_onnx::proto::*;
use std::path::{Path, PathBuf};

fn mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/mnist_cnn")
}

fn ok(args: &[&str], cwd: &Path) -> String {
    let o = smelt(args, cwd);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?}:\n{out}\n{err}");
    out
}

fn fails(args: &[&str], cwd: &Path, want: &str) {
    let o = smelt(args, cwd);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {out}\n{err}");
    assert!(
        err.starts_with("error: ") && err.contains(want) && !err.contains("panicked"),
        "{args:?}: stderr {err:?}"
    );
}

/// Files in `dir` other than those named.
fn others(dir: &Path, known: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !known.contains(&n.as_str()))
        .collect()
}

#[test]
fn bad_convert_arguments_leave_no_file() {
    let d = Dir::new("convert-bad");
    let m = mnist().join("mnist_cnn.onnx");
    let m = m.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--state", "input=nope"],
            "state 'input': 'nope' is not a graph output",
        ),
        (&["--state", "input"], "--state 'input': expected IN=OUT"),
        (
            &["--meta", "novalue"],
            "--meta 'novalue': expected KEY=VALUE",
        ),
        (&["--meta", "a=1", "--meta", "a=2"], "given twice"),
        (&["--describe", "nope=text"], "--describe nope"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["convert", m, "-o", "out.ingot"];
        args.extend_from_slice(extra);
        fails(&args, &d.0, want);
        assert!(others(&d.0, &[]).is_empty(), "{extra:?} left files behind");
    }
    fails(
        &["convert", "missing.onnx", "-o", "x.ingot"],
        &d.0,
        "missing.onnx",
    );
    assert!(others(&d.0, &[]).is_empty());
}

#[test]
fn convert_then_info_shows_the_metadata_and_plan() {
    let d = Dir::new("convert");
    let m = mnist().join("mnist_cnn.onnx");
    let m = m.to_str().unwrap();
    let out = ok(
        &[
            "convert",
            m,
            "-o",
            "mnist.ingot",
            "--name",
            "digits",
            "--version",
            "2.1",
            "--author",
            "Ada",
            "--license",
            "MIT",
            "--description",
            "an MNIST CNN",
            "--meta",
            "dataset=mnist",
            "--meta",
            "eq=a=b",
            "--describe",
            "input=28x28 digit, normalised",
            "--describe",
            "logits=one score per digit",
        ],
        &d.0,
    );
    assert!(
        out.starts_with("wrote mnist.ingot: 1.6 MiB, ") && out.contains("tensors mapped"),
        "{out}"
    );
    assert!(
        out.contains("\npasses 10 -> 10 nodes (constants 0, declutter 0, batchnorm 0"),
        "{out}"
    );
    assert_eq!(others(&d.0, &["mnist.ingot"]), Vec::<String>::new());

    let info = ok(&["info", "mnist.ingot"], &d.0);
    for want in [
        "(1.6 MiB, ingot 1.",
        "name      digits",
        "version   2.1",
        "author    Ada",
        "license   MIT",
        "about     an MNIST CNN",
        "producer  smelt ",
        "source    onnx ir 7",
        "ai.onnx 13",
        "input                    f32[N,1,28,28]  28x28 digit, normalised",
        "logits                   f32[N,10]  one score per digit",
        "dataset                  mnist",
        "eq                       a=b",
        "1.6 MiB mapped (5 tensors)",
        "parameters 421,642 (1.6 MiB) in 8 initializers",
        "      2  Conv",
        "every op is implemented",
    ] {
        assert!(info.contains(want), "missing '{want}' in:\n{info}");
    }

    let plan = ok(
        &[
            "info",
            "mnist.ingot",
            "--plan",
            "--compute-units",
            "cpu-only",
        ],
        &d.0,
    );
    for want in [
        "plan      mnist.ingot: 10 nodes, compute units cpu-only",
        "  cpu (cpu)      10  cpu kernel; Relu 3, Conv 2, Gemm 2, MaxPool 2, Flatten 1\n",
        "nodes per device\n  cpu (cpu)      10  ",
        "transfers 0 ",
        "available devices\n  cpu (cpu)  ",
    ] {
        assert!(plan.contains(want), "missing '{want}' in:\n{plan}");
    }
    assert!(!plan.contains("fused "), "{plan}");
    // one row per (device, reason), and a note said once, not per node
    assert_eq!(plan.matches("cpu kernel").count(), 1, "{plan}");
    assert!(
        plan.lines().filter(|l| l.starts_with("note ")).count() <= 2,
        "{plan}"
    );
    let nodes = ok(
        &[
            "info",
            "mnist.ingot",
            "--plan",
            "--nodes",
            "--compute-units",
            "cpu-only",
        ],
        &d.0,
    );
    assert!(
        nodes.contains("Conv_1     Conv     cpu (cpu)  cpu kernel\n"),
        "{nodes}"
    );
    assert_eq!(nodes.matches("cpu kernel").count(), 10, "{nodes}");
}

/// An .ingot runs like the .onnx it came from; `--stats` reports load and memory.
#[test]
fn ingot_runs_like_its_onnx_with_stats() {
    let d = Dir::new("run-ingot");
    let m = mnist().join("mnist_cnn.onnx");
    let m = m.to_str().unwrap();
    ok(&["convert", m, "-o", "mnist.ingot"], &d.0);
    let x = mnist().join("in_input.npy");
    let x = format!("input={}", x.display());
    // The package and the ONNX model give the same logits on real digits.
    let run = ok(
        &[
            "run",
            "mnist.ingot",
            "-i",
            &x,
            "-o",
            "a",
            "--stats",
            "--repeat",
            "2",
        ],
        &d.0,
    );
    for want in [
        "weights 1.6 MiB mapped (5 tensors), 424 B copied (3 tensors)",
        "memory    after load: VmRSS ",
        "memory    after run:  VmRSS ",
        "RssAnon ",
        "RssFile ",
        "memory    peak:       VmHWM ",
        "latency over 2 runs: median ",
        "ran 10 nodes on the CPU",
    ] {
        assert!(run.contains(want), "missing '{want}' in:\n{run}");
    }
    ok(&["run", m, "-i", &x, "-o", "b"], &d.0);
    let got = npy::read(d.p("a/logits.npy")).unwrap();
    assert_eq!(got, npy::read(d.p("b/logits.npy")).unwrap());
    let want = npy::read(mnist().join("out_logits.npy")).unwrap();
    let (g, w) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
    assert!(g.iter().zip(&w).all(|(a, b)| (a - b).abs() < 1e-3), "{g:?}");

    // --random fills inputs from the package's declared types.
    let run = ok(
        &[
            "run",
            "mnist.ingot",
            "--random",
            "--dim",
            "N=3",
            "--no-save",
        ],
        &d.0,
    );
    assert!(
        run.contains("output logits                   f32[3,10]"),
        "{run}"
    );
}

/// h' = h + x, y = Identity(h'): with `--state h=h_next` the sum carries over between runs.
fn accumulator() -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: vec![
                node("Add", &["h", "x"], &["h_next"]),
                node("Identity", &["h_next"], &["y"]),
            ],
            name: "acc".into(),
            input: vec![vi("x", 1, &["1", "2"]), vi("h", 1, &["1", "2"])],
            output: vec![vi("y", 1, &["1", "2"]), vi("h_next", 1, &["1", "2"])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn states_start_at_zero_and_carry_over() {
    let d = Dir::new("state");
    std::fs::write(d.p("acc.onnx"), accumulator()).unwrap();
    let x = Tensor::from_vec(vec![1, 2], vec![1.5f32, -2.0]).unwrap();
    npy::write(d.p("x.npy"), &x).unwrap();
    ok(
        &[
            "convert",
            "acc.onnx",
            "--state",
            "h=h_next",
            "--describe",
            "x=step",
        ],
        &d.0,
    );
    let info = ok(&["info", "acc.ingot"], &d.0);
    assert!(
        info.contains(
            "states\n  h                        f32[1,2]  fed to 'h', updated from 'h_next'"
        ),
        "{info}"
    );
    assert!(!info.contains("  h_next                   "), "{info}");
    // One run, then two more: the state ends at 3x; y is the first run's output, x.
    let run = ok(&["run", "acc.ingot", "-i", "x.npy", "--repeat", "2"], &d.0);
    assert!(
        run.contains("output y                        f32[1,2]  min -2 max 1.5"),
        "{run}"
    );
    assert!(
        run.contains("state  h                        f32[1,2]  min -6 max 4.5"),
        "{run}"
    );
    assert_eq!(npy::read(d.p("out/y.npy")).unwrap(), x);
    fails(
        &["run", "acc.ingot", "-i", "x=x.npy", "-i", "h=x.npy"],
        &d.0,
        "'h' is a state input",
    );
    // The ONNX model has no declared states: h is an ordinary input there.
    fails(
        &["run", "acc.onnx", "-i", "x=x.npy"],
        &d.0,
        "missing input(s): h f32[1,2]",
    );
    let o = smelt(&["info", "acc.ingot", "--compute-units", "npu"], &d.0);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
}
