//! The `smelt` binary end to end on a small model written here: outputs, saved .npy files,
//! `info`, and a clear error with exit status 1 for each kind of bad input.

mod common;

use common::{node, smelt, text, vi, Dir};
use prost::Message;
use smelt_core::{npy, Tensor};
use smelt_onnx::proto::*;
use std::path::Path;

/// x: f32[batch, 3] -> "y/out:0" (Identity); ids: i64[2, seq] -> ids_out (Identity); one
/// initializer of 6 floats; metadata.
fn model(extra_op: Option<&str>) -> Vec<u8> {
    let mut nodes = vec![
        node("Identity", &["x"], &["y/out:0"]),
        node("Identity", &["ids"], &["ids_out"]),
    ];
    if let Some(op) = extra_op {
        nodes.push(node(op, &["x"], &["z"]));
    }
    ModelProto {
        ir_version: 8,
        producer_name: "cli-test".into(),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        metadata_props: vec![StringStringEntryProto {
            key: "labels".into(),
            value: "a\nb".into(),
        }],
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            initializer: vec![TensorProto {
                dims: vec![2, 3],
                data_type: 1,
                name: "w".into(),
                float_data: vec![1.0; 6],
                ..Default::default()
            }],
            input: vec![vi("x", 1, &["batch", "3"]), vi("ids", 7, &["2", "seq"])],
            output: vec![
                vi("y/out:0", 1, &["batch", "3"]),
                vi("ids_out", 7, &["2", "seq"]),
            ],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn run_with_files_and_random_inputs_saves_outputs() {
    let d = Dir::new("run");
    std::fs::write(d.p("m.onnx"), model(None)).unwrap();
    let x = Tensor::from_vec(vec![2, 3], vec![1.5f32, -2.0, 3.0, 0.25, 7.0, -1.0]).unwrap();
    npy::write(d.p("x.npy"), &x).unwrap();
    let o = smelt(
        &[
            "run",
            "m.onnx",
            "--input",
            "x=x.npy",
            "--random",
            "--dim",
            "seq=5",
            "--output-dir",
            "outs",
        ],
        &d.0,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("y/out:0") && out.contains("f32[2,3]") && out.contains("min -2 max 7"),
        "{out}"
    );
    assert!(out.contains("ids_out") && out.contains("i64[2,5]"), "{out}");
    assert_eq!(npy::read(d.p("outs/y_out_0.npy")).unwrap(), x);
    let ids = npy::read(d.p("outs/ids_out.npy")).unwrap();
    assert_eq!(ids.shape(), &[2, 5]);
    // Same seed, same random inputs.
    let o = smelt(
        &[
            "run", "m.onnx", "--input", "x=x.npy", "--random", "--dim", "seq=5", "-o", "outs2",
        ],
        &d.0,
    );
    assert!(o.status.success());
    assert_eq!(npy::read(d.p("outs2/ids_out.npy")).unwrap(), ids);
}

/// Both paths of `info`: a model smelt loads (through `smelt::Model`) and one with an op not
/// implemented (read from the ModelProto, the missing op marked).
#[test]
fn info_lists_io_opsets_params_and_missing_ops() {
    let d = Dir::new("info");
    std::fs::write(d.p("m.onnx"), model(None)).unwrap();
    std::fs::write(d.p("missing.onnx"), model(Some("NoSuchOp"))).unwrap();
    for (file, nodes, extra) in [
        ("m.onnx", 2, "every op is implemented"),
        ("missing.onnx", 3, "NoSuchOp   (not implemented)"),
    ] {
        let o = smelt(&["info", file], &d.0);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}\n{err}");
        for want in [
            "source    onnx ir 8, from cli-test",
            "opsets    ai.onnx 17",
            "  x                        f32[batch,3]",
            "  ids                      i64[2,seq]",
            "  labels                   a b",
            "parameters 6 (24 B) in 1 initializers",
            &format!("ops       {nodes} nodes"),
            "      2  Identity",
            extra,
        ] {
            assert!(out.contains(want), "{file}: missing '{want}' in:\n{out}");
        }
    }
}

#[test]
fn errors_exit_1_with_a_message() {
    let d = Dir::new("err");
    std::fs::write(d.p("m.onnx"), model(None)).unwrap();
    std::fs::write(d.p("bad.onnx"), b"\x08\x01\x12\xffnot a model").unwrap();
    std::fs::write(d.p("trunc.npy"), b"\x93NUMPY\x01\x00\x40\x00{'descr'").unwrap();
    npy::write(
        d.p("x.npy"),
        &Tensor::from_vec(vec![2, 3], vec![1f32; 6]).unwrap(),
    )
    .unwrap();
    npy::write(
        d.p("xi.npy"),
        &Tensor::from_vec(vec![2, 3], vec![1i32; 6]).unwrap(),
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["run", "missing.onnx"], "missing.onnx"),
        (&["run", "bad.onnx", "--random"], "not a valid ONNX"),
        (&["info", "bad.onnx"], "not a valid ONNX"),
        (&["run", "m.onnx"], "missing input(s)"),
        (
            &["run", "m.onnx", "--input", "nope=x.npy", "--random"],
            "no input 'nope'",
        ),
        (
            &["run", "m.onnx", "--input", "x=trunc.npy", "--random"],
            "truncated",
        ),
        (
            &["run", "m.onnx", "--input", "x=none.npy", "--random"],
            "none.npy",
        ),
        (&["run", "m.onnx", "--input", "x=xi.npy", "--random"], "x"),
        (
            &[
                "run", "m.onnx", "--input", "x=x.npy", "--input", "x=x.npy", "--random",
            ],
            "twice",
        ),
        (&["run", "m.onnx", "--random", "--dim", "seq"], "NAME=N"),
        (
            &["run", "m.onnx", "--random", "--dim", "batch=99999999999"],
            "too large",
        ),
    ];
    for (args, want) in cases {
        let o = smelt(args, &d.0);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {out}\n{err}");
        // notes and warnings may come first; the error is the last line, and the only one
        let last = err.lines().last().unwrap_or("");
        assert!(
            last.starts_with("error: ") && last.contains(want),
            "{args:?}: stderr {err:?}"
        );
        assert_eq!(err.matches("error: ").count(), 1, "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("internal error"),
            "{args:?}: {err}"
        );
    }
    let o = smelt(&["frobnicate"], &d.0);
    assert_eq!(o.status.code(), Some(2));
}

/// The README's first command: PP-OCRv4 reads the text line cut from scikit-image's page.png.
#[test]
fn demo_reads_the_page_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = smelt(&["demo"], &root);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("text:   Region-based segmentation\n"), "{out}");
}
