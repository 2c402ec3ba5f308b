//! `smelt convert`, and `info` on the packages it writes: metadata round-trips, a failed
//! convert leaves no file, the placement plan.

mod common;

use common::{smelt, text, Dir};
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
        (&["--state", "input=nope"], "--state"),
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
        "Conv_1     Conv     cpu (cpu)  cpu kernel",
        "nodes per device\n  cpu (cpu)      10  ",
        "transfers 0 ",
        "available devices\n  cpu (cpu)  ",
    ] {
        assert!(plan.contains(want), "missing '{want}' in:\n{plan}");
    }
}
