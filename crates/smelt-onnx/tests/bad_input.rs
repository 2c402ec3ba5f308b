//! Malformed models never panic: truncations, byte flips, unknown ops, undefined values,
//! missing external data and wrong caller inputs are each a clear error.

use prost::Message;
use smelt_core::{Error, Tensor};
use smelt_onnx::proto::*;

fn vi(name: &str, dims: &[i64]) -> ValueInfoProto {
    use tensor_shape_proto::{dimension::Value as D, Dimension};
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(D::DimValue(d)),
                            denotation: String::new(),
                        })
                        .collect(),
                }),
            })),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}

fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: format!("n_{op}"),
        op_type: op.into(),
        ..Default::default()
    }
}

fn model(nodes: Vec<NodeProto>, init: Vec<TensorProto>) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            initializer: init,
            input: vec![vi("x", &[2, 3])],
            output: vec![vi("y", &[2, 3])],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn weights() -> TensorProto {
    TensorProto {
        dims: vec![2, 3],
        data_type: 1,
        name: "w".into(),
        float_data: vec![0.5, -1.0, 2.0, 3.5, -0.25, 1.0],
        ..Default::default()
    }
}

fn good_bytes() -> Vec<u8> {
    model(
        vec![
            node("Identity", &["x"], &["t"]),
            node("Identity", &["t"], &["y"]),
        ],
        vec![weights()],
    )
    .encode_to_vec()
}

fn input() -> Vec<(String, Tensor)> {
    vec![(
        "x".into(),
        Tensor::from_vec(vec![2, 3], vec![1f32, -2.0, 3.0, 0.5, 7.0, -1.5]).unwrap(),
    )]
}

#[test]
fn good_model_runs() {
    let m = smelt_onnx::load_bytes(&good_bytes(), None).unwrap();
    let out = smelt_cpu::run(&m.graph, input()).unwrap();
    assert_eq!(
        out[0].1.as_slice::<f32>().unwrap(),
        input()[0].1.as_slice::<f32>().unwrap()
    );
}

#[test]
fn truncation_at_every_offset_is_an_error_not_a_panic() {
    let bytes = good_bytes();
    let mut errors = 0;
    for cut in 0..bytes.len() {
        match smelt_onnx::load_bytes(&bytes[..cut], None) {
            Err(_) => errors += 1,
            // a cut at a message boundary can leave a smaller valid model: it must still run or fail cleanly
            Ok(m) => {
                let _ = smelt_cpu::run(&m.graph, input());
            }
        }
    }
    assert!(
        errors > bytes.len() / 2,
        "only {errors} of {} truncations were rejected",
        bytes.len()
    );
}

#[test]
fn byte_flips_never_panic() {
    let bytes = good_bytes();
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut b = bytes.clone();
        let i = (next() % b.len() as u64) as usize;
        b[i] ^= 1 << (next() % 8);
        if let Ok(m) = smelt_onnx::load_bytes(&b, None) {
            let _ = smelt_cpu::run(&m.graph, input());
        }
    }
}

#[test]
fn unknown_op_names_node_and_op() {
    let b = model(vec![node("NoSuchOp", &["x"], &["y"])], vec![]).encode_to_vec();
    let e = smelt_onnx::load_bytes(&b, None).unwrap_err();
    assert!(e.is_unsupported(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("n_NoSuchOp") && msg.contains("NoSuchOp"),
        "{msg}"
    );
}

#[test]
fn undefined_input_names_node_and_value() {
    let b = model(vec![node("Identity", &["nowhere"], &["y"])], vec![]).encode_to_vec();
    let msg = smelt_onnx::load_bytes(&b, None).unwrap_err().to_string();
    assert!(
        msg.contains("n_Identity") && msg.contains("nowhere"),
        "{msg}"
    );
}

#[test]
fn raw_data_size_mismatch_is_an_error() {
    let mut w = weights();
    w.float_data.clear();
    w.raw_data = vec![0u8; 7];
    w.dims = vec![1 << 40, 1 << 30]; // absurd shape must not allocate
    let b = model(vec![node("Identity", &["x"], &["y"])], vec![w]).encode_to_vec();
    let msg = smelt_onnx::load_bytes(&b, None).unwrap_err().to_string();
    assert!(msg.contains("'w'"), "{msg}");
}

#[test]
fn missing_external_data_names_the_file() {
    let dir = std::env::temp_dir().join(format!("smelt_ext_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = weights();
    w.float_data.clear();
    w.data_location = 1;
    w.external_data = vec![StringStringEntryProto {
        key: "location".into(),
        value: "weights.bin".into(),
    }];
    let b = model(vec![node("Identity", &["x"], &["y"])], vec![w.clone()]).encode_to_vec();
    let msg = smelt_onnx::load_bytes(&b, Some(&dir))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("weights.bin") && msg.contains("'w'"), "{msg}");
    // present, the data loads
    let raw: Vec<u8> = weights()
        .float_data
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    std::fs::write(dir.join("weights.bin"), &raw).unwrap();
    let m = smelt_onnx::load_bytes(&b, Some(&dir)).unwrap();
    let t = m.graph.initializers.values().next().unwrap();
    assert_eq!(t.as_slice::<f32>().unwrap(), &weights().float_data[..]);
    // escaping the model folder is refused
    w.external_data[0].value = "../etc/passwd".into();
    let b = model(vec![node("Identity", &["x"], &["y"])], vec![w]).encode_to_vec();
    assert!(smelt_onnx::load_bytes(&b, Some(&dir)).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn wrong_caller_inputs_are_clear_errors() {
    let m = smelt_onnx::load_bytes(&good_bytes(), None).unwrap();
    let t = input().remove(0).1;
    let e = smelt_cpu::run(&m.graph, vec![("nope".into(), t.clone())]).unwrap_err();
    assert!(
        matches!(&e, Error::Input { name, .. } if name == "nope"),
        "{e}"
    );
    let bad_dtype = Tensor::from_vec(vec![2, 3], vec![1i64; 6]).unwrap();
    let e = smelt_cpu::run(&m.graph, vec![("x".into(), bad_dtype)]).unwrap_err();
    assert!(e.to_string().contains("dtype"), "{e}");
    let bad_shape = t.reshape(vec![3, 2]).unwrap();
    let e = smelt_cpu::run(&m.graph, vec![("x".into(), bad_shape)]).unwrap_err();
    assert!(e.to_string().contains("shape"), "{e}");
    let e = smelt_cpu::run(&m.graph, vec![]).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
}

#[test]
fn huge_int4_shape_without_data_is_an_error_not_an_allocation() {
    // dims [2^40] of int4 with the (empty) int32_data path: nothing may be sized by the dims
    let t = TensorProto {
        dims: vec![1 << 40],
        data_type: 22,
        name: "w".into(),
        ..Default::default()
    };
    let e = smelt_onnx::tensor_from_proto(&t, None).unwrap_err();
    assert!(e.to_string().contains("elements"), "{e}");
    let t = TensorProto {
        dims: vec![i64::MAX, 2, 1],
        ..t
    };
    assert!(smelt_onnx::tensor_from_proto(&t, None).is_err());
}

fn sparse(dims: Vec<i64>, indices: Vec<i64>) -> SparseTensorProto {
    SparseTensorProto {
        values: Some(TensorProto {
            dims: vec![1],
            data_type: 1,
            name: "s".into(),
            float_data: vec![1.0],
            ..Default::default()
        }),
        indices: Some(TensorProto {
            dims: vec![indices.len() as i64],
            data_type: 7,
            int64_data: indices,
            ..Default::default()
        }),
        dims,
    }
}

fn load_sparse(s: SparseTensorProto) -> Result<smelt_onnx::Model, Error> {
    let mut m = model(vec![node("Identity", &["x"], &["y"])], vec![]);
    m.graph.as_mut().unwrap().sparse_initializer = vec![s];
    smelt_onnx::load_bytes(&m.encode_to_vec(), None)
}

#[test]
fn sparse_tensor_dense_size_is_bounded() {
    // a 1-value sparse tensor whose dense form would be 2^40 floats
    let e = load_sparse(sparse(vec![1 << 40], vec![0])).unwrap_err();
    assert!(e.to_string().contains("would densify"), "{e}");
    // dims whose product overflows
    let e = load_sparse(sparse(vec![1 << 40, 1 << 40], vec![0, 0])).unwrap_err();
    assert!(e.to_string().contains("would densify"), "{e}");
    // a coordinate past its dim, and one so large the offset would overflow
    for idx in [vec![0, 5], vec![i64::MAX, 0], vec![-1, 0]] {
        let e = load_sparse(sparse(vec![4, 4], idx)).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
    }
    assert!(load_sparse(sparse(vec![4, 4], vec![3, 3])).is_ok());
}

#[test]
fn declared_shape_with_too_many_elements_is_an_error() {
    // Flatten's shape inference multiplied these declared dims and overflowed
    let mut m = model(vec![node("Flatten", &["x"], &["y"])], vec![]);
    m.graph.as_mut().unwrap().input = vec![vi("x", &[4, 1 << 40, 1 << 40])];
    let e = smelt_onnx::load_bytes(&m.encode_to_vec(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("'x'") && e.contains("elements"), "{e}");
    // an empty initializer whose other dims overflow
    let w = TensorProto {
        dims: vec![0, 1 << 40, 1 << 40],
        data_type: 1,
        name: "w".into(),
        ..Default::default()
    };
    let m = model(vec![node("Flatten", &["w"], &["y"])], vec![w]);
    assert!(smelt_onnx::load_bytes(&m.encode_to_vec(), None).is_err());
}
