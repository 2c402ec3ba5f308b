//! `smelt compare`: an .onnx model against its .ingot package (identical outputs), and small
//! models written here whose outputs differ by a known amount, in shape, or in integers.

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

/// x: f32[2, 3] -> y, ids: i64[4] -> ids_out, through the nodes given; `scale` is a scalar
/// initializer the nodes may use.
fn model(nodes: Vec<NodeProto>, y_dims: &[&str]) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            initializer: vec![TensorProto {
                dims: vec![],
                data_type: 1,
                name: "scale".into(),
                float_data: vec![1.1],
                ..Default::default()
            }],
            input: vec![vi("x", 1, &["2", "3"]), vi("ids", 7, &["4"])],
            output: vec![vi("y", 1, y_dims), vi("ids_out", 7, &["4"])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn onnx_against_its_ingot_is_identical() {
    let d = Dir::new("compare-mnist");
    let m = mnist();
    let onnx = m.join("mnist_cnn.onnx");
    let onnx = onnx.to_str().unwrap();
    ok(&["convert", onnx, "-o", "m.ingot"], &d.0);
    let input = m.join("in_input.npy");
    let out = ok(
        &[
            "compare",
            onnx,
            "m.ingot",
            "--input",
            &format!("input={}", input.display()),
        ],
        &d.0,
    );
    assert_eq!(
        out.trim(),
        "logits  f32[16,10]  snr inf dB  cosine 1.000000  max abs 0  top-1 agree 16/16 (100.0%)"
    );
    // the same through --data, which skips out_logits.npy
    let out2 = ok(
        &["compare", onnx, "m.ingot", "--data", m.to_str().unwrap()],
        &d.0,
    );
    assert_eq!(out, out2);
    // labels: the reference's own classes, one changed
    let reference = npy::read(m.join("out_logits.npy")).unwrap();
    let v = reference.to_f64_vec().unwrap();
    let mut labels: Vec<i64> = v
        .chunks(10)
        .map(|r| (0..10).max_by(|&i, &j| r[i].total_cmp(&r[j])).unwrap() as i64)
        .collect();
    labels[0] = (labels[0] + 1) % 10;
    npy::write(
        d.p("labels.npy"),
        &Tensor::from_vec(vec![16], labels).unwrap(),
    )
    .unwrap();
    let out = ok(
        &[
            "compare",
            onnx,
            "m.ingot",
            "--data",
            m.to_str().unwrap(),
            "--labels",
            "labels.npy",
        ],
        &d.0,
    );
    assert!(
        out.contains("top-1 agree 16/16 (100.0%)  accuracy A 15/16 (93.8%) B 15/16 (93.8%)"),
        "{out}"
    );
    // random inputs over several seeds
    let out = ok(
        &[
            "compare", onnx, "m.ingot", "--random", "--count", "3", "--dim", "N=2",
        ],
        &d.0,
    );
    assert!(out.contains("3 runs, seeds 0..=2"), "{out}");
    assert!(out.contains("logits  f32[2,10]  snr inf dB"), "{out}");
    assert!(out.contains("top-1 agree 6/6 (100.0%)"), "{out}");
}

#[test]
fn known_differences() {
    let d = Dir::new("compare-small");
    let a = model(
        vec![
            node("Identity", &["x"], &["y"]),
            node("Identity", &["ids"], &["ids_out"]),
        ],
        &["2", "3"],
    );
    let b = model(
        vec![
            node("Mul", &["x", "scale"], &["y"]),
            node("Abs", &["ids"], &["ids_out"]),
        ],
        &["2", "3"],
    );
    std::fs::write(d.p("a.onnx"), a).unwrap();
    std::fs::write(d.p("b.onnx"), b).unwrap();
    let x = Tensor::from_vec(vec![2, 3], vec![1.0f32, -2.0, 0.5, 4.0, 0.0, -1.0]).unwrap();
    npy::write(d.p("x.npy"), &x).unwrap();
    let ids = Tensor::from_vec(vec![4], vec![1i64, -2, 3, -4]).unwrap();
    npy::write(d.p("in_ids.npy"), &ids).unwrap();
    // y = 1.1 x: the noise is 1% of the signal (20 dB), the direction unchanged; the top-1
    // classes of each row stay. ids: two of four are negative.
    let out = ok(&["compare", "a.onnx", "b.onnx", "--data", "."], &d.0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("y        f32[2,3]  snr 20.00 dB  cosine 1.000000  max abs 0.4")
            && lines[0].ends_with("top-1 agree 2/2 (100.0%)"),
        "{out}"
    );
    assert_eq!(lines[1], "ids_out  i64[4]    exact 2/4 (50.0%)  max abs 8");
    // --top1 on a rank-1 output: one row
    let out = ok(
        &["compare", "a.onnx", "b.onnx", "--data", ".", "--top1"],
        &d.0,
    );
    assert!(
        out.contains("exact 2/4 (50.0%)  max abs 8  top-1 agree 0/1"),
        "{out}"
    );

    // a shape that differs is an error naming the output
    let c = model(
        vec![
            node("Transpose", &["x"], &["y"]),
            node("Identity", &["ids"], &["ids_out"]),
        ],
        &["3", "2"],
    );
    std::fs::write(d.p("c.onnx"), c).unwrap();
    let o = smelt(&["compare", "a.onnx", "c.onnx", "--data", "."], &d.0);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.starts_with("error: ")
            && err.contains("output 'y': A gives f32[2,3] but B gives f32[3,2]"),
        "{err}"
    );
}
