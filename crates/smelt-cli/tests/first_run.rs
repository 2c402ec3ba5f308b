//! What a new user meets in the first hour: files of other formats named for what they are,
//! one wording for a missing file, `--dim` checked and defaulted dims reported, options a
//! CPU-only run ignores warned about, packages written with the umask's permissions, and
//! weights held in Constant nodes counted.

mod common;

use common::{node, smelt, text, vi, Dir};
use prost::Message;
use smelt_onnx::proto::*;

/// x: f32[n, ?, 4] -> y = x + c, where c: f32[4] is a Constant node (as PP-OCR keeps its
/// weights); the second dim is unnamed.
fn model() -> Vec<u8> {
    let mut c = node("Constant", &[], &["c"]);
    c.attribute = vec![AttributeProto {
        name: "value".into(),
        r#type: attr_type::TENSOR,
        t: Some(TensorProto {
            dims: vec![4],
            data_type: 1,
            float_data: vec![0.5, -1.0, 2.0, 0.25],
            ..Default::default()
        }),
        ..Default::default()
    }];
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: vec![c, node("Add", &["x", "c"], &["y"])],
            name: "g".into(),
            input: vec![vi("x", 1, &["n", "", "4"])],
            output: vec![vi("y", 1, &["n", "", "4"])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn fails(args: &[&str], d: &Dir) -> String {
    let o = smelt(args, &d.0);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {out}\n{err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    err
}

fn succeeds(args: &[&str], d: &Dir) -> (String, String) {
    let o = smelt(args, &d.0);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{args:?}: {out}\n{err}");
    (out, err)
}

#[test]
fn other_formats_are_named_not_parsed_as_onnx() {
    let d = Dir::new("formats");
    std::fs::write(d.p("m.gguf"), b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0").unwrap();
    let json = br#"{"__metadata__":{}}"#;
    let mut st = (json.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(json);
    std::fs::write(d.p("m.safetensors"), st).unwrap();
    for cmd in ["convert", "info", "run"] {
        let err = fails(&[cmd, "m.gguf"], &d);
        assert!(
            err.contains("m.gguf is a GGUF file")
                && err
                    .contains("smelt reads ONNX (.onnx) models, .ingot packages and Hugging Face"),
            "{cmd} m.gguf: {err}"
        );
        assert!(!err.contains("wire type"), "{err}");
        // a safetensors file is read as a checkpoint: without its config.json, that is named
        let err = fails(&[cmd, "m.safetensors"], &d);
        assert!(
            err.contains("config.json: no such file (a safetensors checkpoint is imported with"),
            "{cmd} m.safetensors: {err}"
        );
        assert!(!err.contains("wire type"), "{err}");
    }
    assert!(!d.p("m.ingot").exists());
}

#[test]
fn a_missing_file_reads_the_same_everywhere() {
    let d = Dir::new("missing");
    std::fs::write(d.p("m.onnx"), model()).unwrap();
    for args in [
        &["run", "gone.onnx"][..],
        &["info", "gone.onnx"],
        &["info", "gone.onnx", "--plan"],
        &["convert", "gone.onnx"],
        &["compare", "gone.onnx", "m.onnx"],
        &["compress", "gone.onnx", "-o", "x.ingot", "--mode", "linear"],
        &["run", "m.onnx", "--input", "x=gone.npy"],
    ] {
        let err = fails(args, &d);
        assert!(err.contains("gone."), "{args:?}: {err}");
        assert!(
            err.trim_end().ends_with(": no such file"),
            "{args:?}: {err}"
        );
        for leak in [
            "io:",
            "os error",
            "model format:",
            "No such file or directory",
        ] {
            assert!(!err.contains(leak), "{args:?}: '{leak}' in {err}");
        }
    }
    // a malformed .npy is named as such, not as a model format problem
    std::fs::write(d.p("bad.npy"), b"not numpy, but long enough for a header").unwrap();
    let err = fails(&["run", "m.onnx", "--input", "x=bad.npy"], &d);
    assert!(err.contains("bad.npy: not an npy file"), "{err}");
    assert!(!err.contains("model format"), "{err}");
    // bad arguments: clap's usage error, status 2 (documented in the README)
    let o = smelt(&["run", "m.onnx", "--no-such-option"], &d.0);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn dims_are_checked_and_defaulted_ones_named() {
    let d = Dir::new("dims");
    std::fs::write(d.p("m.onnx"), model()).unwrap();
    let err = fails(&["run", "m.onnx", "--random", "--dim", "foo=3"], &d);
    assert!(
        err.contains("--dim foo=3: the model's inputs and states have no dimension 'foo'")
            && err.contains("'?', 'n'"),
        "{err}"
    );
    let (out, err) = succeeds(&["run", "m.onnx", "--random", "--no-save"], &d);
    assert!(
        err.contains("unnamed (?), 'n' set to 1: size them with --dim NAME=N (--dim '?=N'"),
        "{err}"
    );
    assert!(out.contains("f32[1,1,4]"), "{out}");
    let (out, err) = succeeds(
        &[
            "run",
            "m.onnx",
            "--random",
            "--no-save",
            "--dim",
            "n=2",
            "--dim",
            "?=3",
        ],
        &d,
    );
    assert!(out.contains("f32[2,3,4]"), "{out}");
    assert!(!err.contains("set to 1"), "{err}");
}

#[test]
fn options_a_cpu_run_ignores_are_warned_about() {
    let d = Dir::new("ignored");
    std::fs::write(d.p("m.onnx"), model()).unwrap();
    let base = ["run", "m.onnx", "--random", "--no-save"];
    let (_, err) = succeeds(&base, &d);
    assert!(!err.contains("warning"), "{err}");
    if smelt::available_devices()
        .iter()
        .any(|dev| dev.kind != smelt::DeviceKind::Cpu)
    {
        println!("skipped: a GPU is present, so the GPU options are used");
        return;
    }
    for (extra, want) in [
        (
            &["--precision", "fp16"][..],
            "warning: --precision fp16 has no effect",
        ),
        (
            &["--compute-units", "gpu"],
            "warning: --compute-units cpu-and-gpu: no GPU is used",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let (_, err) = succeeds(&args, &d);
        assert!(err.contains(want), "{extra:?}: {err}");
    }
}

#[test]
fn a_cpu_run_is_profiled_per_node_and_op_type() {
    let d = Dir::new("profile");
    std::fs::write(d.p("m.onnx"), model()).unwrap();
    let (out, err) = succeeds(
        &[
            "run",
            "m.onnx",
            "--random",
            "--no-save",
            "--profile",
            "--repeat",
            "3",
        ],
        &d,
    );
    assert!(!err.contains("warning"), "{err}");
    assert!(out.contains("profile over 3 run(s)"), "{out}");
    assert!(out.contains("(CPU: host clock)"), "{out}");
    assert!(out.contains(" nodes:") && out.contains("Add"), "{out}");
}

#[test]
fn threads_are_set_and_reported() {
    let d = Dir::new("threads");
    std::fs::write(d.p("m.onnx"), model()).unwrap();
    for n in ["1", "3"] {
        let (out, _) = succeeds(
            &["run", "m.onnx", "--random", "--no-save", "--threads", n],
            &d,
        );
        assert!(out.contains(&format!("on the CPU ({n} threads)")), "{out}");
    }
    let o = smelt(&["run", "m.onnx", "--random", "--threads", "0"], &d.0);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn constant_node_weights_are_counted() {
    let d = Dir::new("constants");
    std::fs::write(d.p("m.onnx"), model()).unwrap();
    let (out, _) = succeeds(&["info", "m.onnx"], &d);
    assert!(
        out.contains("weights   0 B mapped (0 tensors), 16 B copied (1 tensors)"),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn packages_take_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let d = Dir::new("umask");
    std::fs::write(d.p("m.onnx"), model()).unwrap();
    let bin = env!("CARGO_BIN_EXE_smelt");
    for (umask, mode) in [("022", 0o644), ("077", 0o600), ("002", 0o664)] {
        let out = format!("m{umask}.ingot");
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" convert m.onnx -o {out}"
            ))
            .arg(bin)
            .current_dir(&d.0)
            .status()
            .unwrap();
        assert!(st.success());
        let got = std::fs::metadata(d.p(&out)).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "umask {umask}: mode {got:o}");
    }
}

/// x: f32[2, 5] -> x * clip(x + 3, 0, 6) / 6, HardSwish written out.
fn hardswish_model() -> Vec<u8> {
    let scalar = |name: &str, v: f32| TensorProto {
        dims: vec![],
        data_type: 1,
        name: name.into(),
        float_data: vec![v],
        ..Default::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: vec![
                node("Add", &["x", "three"], &["a"]),
                node("Clip", &["a", "zero", "six"], &["c"]),
                node("Mul", &["x", "c"], &["m"]),
                node("Div", &["m", "six"], &["y"]),
            ],
            name: "g".into(),
            initializer: vec![
                scalar("three", 3.0),
                scalar("zero", 0.0),
                scalar("six", 6.0),
            ],
            input: vec![vi("x", 1, &["2", "5"])],
            output: vec![vi("y", 1, &["2", "5"])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn the_plan_names_what_the_passes_fused() {
    let d = Dir::new("fused");
    std::fs::write(d.p("hs.onnx"), hardswish_model()).unwrap();
    let (out, _) = succeeds(&["convert", "hs.onnx"], &d);
    assert!(out.contains("passes 4 -> 1 nodes ("), "{out}");
    let (plan, _) = succeeds(&["info", "hs.ingot", "--plan", "--nodes"], &d);
    assert!(plan.contains("fused     hardswish 1 "), "{plan}");
    assert!(
        plan.contains("Div_y.hardswish") || plan.contains(".hardswish  HardSwish"),
        "{plan}"
    );
    // the package computes what the model does
    let o = smelt(
        &["compare", "hs.onnx", "hs.ingot", "--random", "--count", "3"],
        &d.0,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("cosine 1.000000"), "{out}");
    // --keep-graph keeps the four nodes
    let (out, _) = succeeds(
        &["convert", "hs.onnx", "-o", "kept.ingot", "--keep-graph"],
        &d,
    );
    assert!(out.contains("passes none (--keep-graph)"), "{out}");
    let (plan, _) = succeeds(&["info", "kept.ingot", "--plan"], &d);
    assert!(
        plan.contains("kept.ingot: 4 nodes") && !plan.contains("fused "),
        "{plan}"
    );
}
