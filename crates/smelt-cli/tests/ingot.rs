//! `smelt convert`: a failed convert leaves no file.

mod common;

use common::{smelt, text, Dir};
use std::path::{Path, PathBuf};

fn mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/mnist_cnn")
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
