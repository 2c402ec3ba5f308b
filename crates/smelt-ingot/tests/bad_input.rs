//! Malformed packages, crafted one defect at a time from a valid one: each gives a clear
//! error naming what and where, never a panic and never an allocation sized by the file.

use prost::Message;
use smelt_core::{DType, Dim, Tensor};
use smelt_ingot::header::{kind, Header, Section, MAJOR, MINOR, SECTION_ALIGN};
use smelt_ingot::proto::{self, Manifest};
use smelt_ingot::{from_bytes, Info, LoadOptions, StateDecl};
use smelt_ops::GraphBuilder;
use std::sync::Arc;

/// x[N,8] -> MatMul(w[8,16]) -> Add(b[16]) -> Relu, with a scalar state-like pair.
fn model() -> (smelt_ir::Graph, Info) {
    let mut b = GraphBuilder::new("tiny");
    let x = b.placeholder("x", DType::F32, &[Dim::Sym("N".into()), Dim::Fixed(8)]);
    let w = b.constant(
        "w",
        Tensor::from_vec(
            vec![8, 16],
            (0..128).map(|i| (i as f32 - 64.0) / 50.0).collect(),
        )
        .unwrap(),
    );
    let bias = b.constant(
        "b",
        Tensor::from_vec(vec![16], (0..16).map(|i| i as f32 / 7.0).collect()).unwrap(),
    );
    let y = b.matmul(x, w).unwrap();
    let y = b.add(y, bias).unwrap();
    let y = b.relu(y).unwrap();
    b.output(y, "y");
    let info = Info {
        name: "tiny".into(),
        opsets: vec![(String::new(), 21)],
        ..Default::default()
    };
    (b.build().unwrap(), info)
}

fn valid() -> Vec<u8> {
    let (g, i) = model();
    smelt_ingot::to_bytes(&g, &i).unwrap()
}

/// Splits a package into its manifest and weights section.
fn split(b: &[u8]) -> (Manifest, Vec<u8>) {
    let h = Header::decode(b).unwrap();
    let m = h.section(kind::MANIFEST).unwrap().unwrap();
    let w = h.section(kind::WEIGHTS).unwrap().unwrap();
    let man = Manifest::decode(&b[m.offset as usize..(m.offset + m.length) as usize]).unwrap();
    (
        man,
        b[w.offset as usize..(w.offset + w.length) as usize].to_vec(),
    )
}

/// Writes a manifest and weights as a package with valid checksums and layout.
fn pack(m: &Manifest, weights: &[u8], major: u16) -> Vec<u8> {
    let mb = m.encode_to_vec();
    let moff = Header::encoded_len(2) as u64;
    let woff = (moff + mb.len() as u64).div_ceil(SECTION_ALIGN) * SECTION_ALIGN;
    let h = Header {
        major,
        minor: MINOR,
        file_len: woff + weights.len() as u64,
        sections: vec![
            Section {
                kind: kind::MANIFEST,
                flags: 0,
                offset: moff,
                length: mb.len() as u64,
                crc32: crc32fast::hash(&mb),
            },
            Section {
                kind: kind::WEIGHTS,
                flags: 0,
                offset: woff,
                length: weights.len() as u64,
                crc32: 0,
            },
        ],
    };
    let mut out = h.encode();
    out.extend_from_slice(&mb);
    out.resize(woff as usize, 0);
    out.extend_from_slice(weights);
    out
}

fn load_err(b: Vec<u8>) -> String {
    match from_bytes(Arc::new(b), &LoadOptions::default()) {
        Ok(_) => panic!("a malformed package loaded"),
        Err(e) => e.to_string(),
    }
}

/// The initializer named `name` of the main graph.
fn init<'a>(m: &'a mut Manifest, name: &str) -> &'a mut proto::TensorDef {
    m.graph
        .as_mut()
        .unwrap()
        .initializers
        .iter_mut()
        .find(|t| t.name == name)
        .unwrap()
}

#[test]
fn the_valid_package_loads_and_runs() {
    let p = from_bytes(Arc::new(valid()), &LoadOptions::default()).unwrap();
    assert_eq!(p.stats.mapped_tensors, 1, "w (512 bytes) is a mapped blob");
    assert_eq!(p.stats.copied_tensors, 1, "b (64 bytes) is inline");
    let (g, _) = model();
    let x = Tensor::from_vec(vec![3, 8], (0..24).map(|i| (i as f32).cos()).collect()).unwrap();
    let want = smelt_cpu::run(&g, vec![("x".into(), x.clone())]).unwrap();
    let got = smelt_cpu::run(&p.graph, vec![("x".into(), x)]).unwrap();
    assert_eq!(got, want);
    // the re-packer itself makes valid files
    let (m, w) = split(&valid());
    from_bytes(Arc::new(pack(&m, &w, MAJOR)), &LoadOptions::default()).unwrap();
}

#[test]
fn future_major_version_is_refused() {
    let (m, w) = split(&valid());
    let e = load_err(pack(&m, &w, MAJOR + 1));
    assert!(e.contains("newer smelt"), "{e}");
}

#[test]
fn blob_out_of_bounds_names_the_tensor() {
    let (mut m, w) = split(&valid());
    init(&mut m, "w").blob.as_mut().unwrap().offset = 1 << 40;
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(
        e.contains("tensor 'w'") && e.contains("weights section"),
        "{e}"
    );
}

#[test]
fn absurd_shape_is_refused_without_allocating() {
    let (mut m, w) = split(&valid());
    init(&mut m, "w").shape = vec![1 << 40, 1 << 30];
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(e.contains("tensor 'w'") && e.contains("overflows"), "{e}");
    let (mut m, w) = split(&valid());
    init(&mut m, "b").shape = vec![1 << 40];
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(e.contains("tensor 'b'") && e.contains("inline"), "{e}");
}

#[test]
fn shape_and_length_disagreeing_is_refused() {
    let (mut m, w) = split(&valid());
    init(&mut m, "w").shape = vec![8, 17];
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(e.contains("tensor 'w'") && e.contains("blob holds"), "{e}");
}

#[test]
fn unknown_encoding_and_dtype_are_named() {
    let (mut m, w) = split(&valid());
    init(&mut m, "w").encoding = 77;
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(e.contains("tensor 'w'") && e.contains("encoding 77"), "{e}");
    let (mut m, w) = split(&valid());
    init(&mut m, "w").dtype = 999;
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(
        e.contains("tensor 'w'") && e.contains("dtype code 999"),
        "{e}"
    );
}

#[test]
fn undefined_value_and_unknown_op_are_named() {
    let (mut m, w) = split(&valid());
    m.graph.as_mut().unwrap().nodes[0].inputs[0] = "nowhere".into();
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(e.contains("'nowhere' is not defined"), "{e}");
    let (mut m, w) = split(&valid());
    m.graph.as_mut().unwrap().nodes[1].op_type = "Frobnicate".into();
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(e.contains("Frobnicate"), "{e}");
}

#[test]
fn a_state_must_pair_an_input_with_an_output() {
    let (mut m, w) = split(&valid());
    m.states.push(proto::StateDef {
        name: "s".into(),
        input: "x".into(),
        output: "not_an_output".into(),
        description: String::new(),
    });
    let e = load_err(pack(&m, &w, MAJOR));
    assert!(
        e.contains("state 's'") && e.contains("not a graph output"),
        "{e}"
    );
}

#[test]
fn flipped_weight_byte_fails_the_checksum_unless_unverified() {
    let mut b = valid();
    let (m, _) = split(&b);
    let off = init(&mut m.clone(), "w").blob.as_ref().unwrap().offset;
    let h = Header::decode(&b).unwrap();
    let wstart = h.section(kind::WEIGHTS).unwrap().unwrap().offset + off;
    b[wstart as usize + 5] ^= 0x40;
    let e = load_err(b.clone());
    assert!(e.contains("tensor 'w'") && e.contains("checksum"), "{e}");
    let unverified = LoadOptions {
        verify_weights: false,
    };
    assert!(from_bytes(Arc::new(b), &unverified).is_ok());
}

#[test]
fn states_and_metadata_round_trip() {
    let (g, mut info) = model();
    info.version = "1.2".into();
    info.metadata = vec![("k".into(), "v".into())];
    info.descriptions.insert("x".into(), "features".into());
    let bytes = smelt_ingot::to_bytes(&g, &info).unwrap();
    let p = from_bytes(Arc::new(bytes), &LoadOptions::default()).unwrap();
    assert_eq!(p.info, info);
    info.states.push(StateDecl {
        name: "s".into(),
        input: "x".into(),
        output: "y".into(),
        description: String::new(),
    });
    // x is [N,8], y [N,16]: not one state
    let mut g = g;
    let y = g.value_id("y").unwrap();
    g.values[y].info =
        smelt_core::ValueInfo::new(DType::F32, vec![Dim::Sym("N".into()), Dim::Fixed(16)]);
    let bytes = smelt_ingot::to_bytes(&g, &info).unwrap();
    let e = load_err(bytes);
    assert!(
        e.contains("state 's'") && e.contains("different shapes"),
        "{e}"
    );
}

#[test]
fn atomic_write_leaves_nothing_on_failure() {
    let dir = std::env::temp_dir().join(format!("smelt-ingot-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (g, i) = model();
    // the rename fails: a directory stands where the file should go
    let target = dir.join("m.ingot");
    std::fs::create_dir_all(&target).unwrap();
    assert!(smelt_ingot::write(&target, &g, &i, &mut |_, _| {}).is_err());
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "only the directory remains: {left:?}");
    std::fs::remove_dir_all(&target).unwrap();
    smelt_ingot::write(&target, &g, &i, &mut |_, _| {}).unwrap();
    assert!(target.is_file());
    std::fs::remove_dir_all(dir).ok();
}
