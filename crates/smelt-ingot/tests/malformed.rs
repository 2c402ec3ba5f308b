//! Malformed packages found by fuzzing `from_bytes`: each is an error, never a panic or an
//! allocation sized by the file's claims.

use smelt_ingot::header::{kind, Header, Section, MAJOR, MINOR};
use smelt_ingot::proto::{self, dim_def::Kind};
use smelt_ingot::{from_bytes, LoadOptions};
use std::sync::Arc;

/// A file holding `m` as its manifest and no weights.
fn package(m: &proto::Manifest) -> Vec<u8> {
    let manifest = prost::Message::encode_to_vec(m);
    let off = Header::encoded_len(1) as u64;
    let h = Header {
        major: MAJOR,
        minor: MINOR,
        file_len: off + manifest.len() as u64,
        sections: vec![Section {
            kind: kind::MANIFEST,
            flags: 0,
            offset: off,
            length: manifest.len() as u64,
            crc32: crc32fast::hash(&manifest),
        }],
    };
    let mut b = h.encode();
    b.extend_from_slice(&manifest);
    b
}

fn io(name: &str, dims: &[u64]) -> proto::IoDef {
    proto::IoDef {
        name: name.into(),
        r#type: Some(proto::ValueType {
            dtype: 1,
            has_shape: true,
            dims: dims
                .iter()
                .map(|&d| proto::DimDef {
                    kind: Some(Kind::Fixed(d)),
                })
                .collect(),
        }),
        description: String::new(),
    }
}

fn one_node(op: &str, x_dims: &[u64]) -> proto::Manifest {
    proto::Manifest {
        opsets: vec![proto::Opset {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(proto::GraphDef {
            name: "g".into(),
            inputs: vec![io("x", x_dims)],
            outputs: vec![io("y", &[])],
            nodes: vec![proto::NodeDef {
                name: "n".into(),
                op_type: op.into(),
                inputs: vec!["x".into()],
                outputs: vec!["y".into()],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn load(m: &proto::Manifest) -> smelt_core::Result<smelt_ingot::Package> {
    from_bytes(Arc::new(package(m)), &LoadOptions::default())
}

#[test]
fn sane_package_loads() {
    let p = load(&one_node("Flatten", &[4, 5, 6])).unwrap();
    assert_eq!(p.graph.nodes.len(), 1);
}

#[test]
fn declared_shape_with_too_many_elements_is_an_error() {
    // Flatten's shape inference multiplied these dims and overflowed
    let e = load(&one_node("Flatten", &[4, 1 << 40, 1 << 40]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("input 'x'") && e.contains("elements"), "{e}");
    // a zero dim does not make the others acceptable
    assert!(load(&one_node("Flatten", &[0, 1 << 40, 1 << 40])).is_err());
}
