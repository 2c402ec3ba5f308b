//! The reader on good files (every dtype read back) and malformed ones: each is an error
//! that names the tensor or the header part, never a panic. Files are built byte by byte.

use smelt_core::DType;
use smelt_safetensors::write::{to_bytes, Entry};
use smelt_safetensors::{Dtype, Error, SafeTensors, SafeTensorsFile, MAX_HEADER_LEN};
use std::collections::BTreeMap;

/// A file with header `json` (unpadded) and `data`.
fn file(json: &str, data: &[u8]) -> Vec<u8> {
    let mut b = (json.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(json.as_bytes());
    b.extend_from_slice(data);
    b
}

fn err(bytes: &[u8]) -> Error {
    match SafeTensors::parse(bytes) {
        Ok(_) => panic!("parsed a malformed file"),
        Err(e) => e,
    }
}

/// A file holding one tensor of every dtype, with metadata.
fn every_dtype() -> Vec<u8> {
    let f32s: Vec<u8> = [1.5f32, -2.0, 3.25, 0.0, 7.0, -0.5]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let f16s: Vec<u8> = [1.0f32, -0.5]
        .iter()
        .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
        .collect();
    let bf16s: Vec<u8> = [3.0f32, -4.0]
        .iter()
        .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
        .collect();
    let f64s: Vec<u8> = [0.25f64].iter().flat_map(|x| x.to_le_bytes()).collect();
    let i64s: Vec<u8> = [-3i64, 1 << 40]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let i32s: Vec<u8> = [-7i32, 9].iter().flat_map(|x| x.to_le_bytes()).collect();
    let entries = [
        Entry {
            name: "f32",
            dtype: Dtype::F32,
            shape: &[2, 3],
            data: &f32s,
        },
        Entry {
            name: "f16",
            dtype: Dtype::F16,
            shape: &[2],
            data: &f16s,
        },
        Entry {
            name: "bf16",
            dtype: Dtype::BF16,
            shape: &[2],
            data: &bf16s,
        },
        Entry {
            name: "f64",
            dtype: Dtype::F64,
            shape: &[],
            data: &f64s,
        },
        Entry {
            name: "i64",
            dtype: Dtype::I64,
            shape: &[2],
            data: &i64s,
        },
        Entry {
            name: "i32",
            dtype: Dtype::I32,
            shape: &[1, 2],
            data: &i32s,
        },
        Entry {
            name: "i8",
            dtype: Dtype::I8,
            shape: &[3],
            data: &[0xff, 0x7f, 0x80],
        },
        Entry {
            name: "u8",
            dtype: Dtype::U8,
            shape: &[2],
            data: &[200, 1],
        },
        Entry {
            name: "bool",
            dtype: Dtype::Bool,
            shape: &[3],
            data: &[1, 0, 1],
        },
        Entry {
            name: "empty",
            dtype: Dtype::F32,
            shape: &[0, 4],
            data: &[],
        },
    ];
    let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    to_bytes(&entries, &meta)
}

#[test]
fn every_dtype_reads_back() {
    let b = every_dtype();
    let st = SafeTensors::parse(&b).unwrap();
    assert_eq!(st.metadata()["format"], "pt");
    let names: Vec<&str> = st.tensors().iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        ["f32", "f16", "bf16", "f64", "i64", "i32", "i8", "u8", "bool", "empty"]
    );
    let t = |n: &str| st.require(n).unwrap().to_tensor(&b).unwrap();
    let f = t("f32");
    assert_eq!((f.dtype(), f.shape()), (DType::F32, &[2usize, 3][..]));
    assert_eq!(
        f.as_slice::<f32>().unwrap(),
        &[1.5, -2.0, 3.25, 0.0, 7.0, -0.5]
    );
    assert_eq!(t("f16").dtype(), DType::F16);
    assert_eq!(st.require("f16").unwrap().to_f32(&b).unwrap(), [1.0, -0.5]);
    assert_eq!(st.require("bf16").unwrap().to_f32(&b).unwrap(), [3.0, -4.0]);
    assert_eq!(st.require("f64").unwrap().to_f32(&b).unwrap(), [0.25]);
    assert_eq!(t("f64").shape(), &[] as &[usize]);
    assert_eq!(t("i64").as_slice::<i64>().unwrap(), &[-3, 1 << 40]);
    assert_eq!(t("i32").as_slice::<i32>().unwrap(), &[-7, 9]);
    assert_eq!(t("i8").as_slice::<i8>().unwrap(), &[-1, 127, -128]);
    assert_eq!(t("u8").as_slice::<u8>().unwrap(), &[200, 1]);
    assert_eq!(t("bool").as_slice::<bool>().unwrap(), &[true, false, true]);
    assert_eq!(t("empty").shape(), &[0, 4]);
    // integers are not weights
    let e = st.require("i64").unwrap().to_f32(&b).unwrap_err();
    assert!(e.to_string().contains("'i64'"), "{e}");
    assert!(matches!(st.require("nope"), Err(Error::NoSuchTensor(_))));
}

#[test]
fn a_mapped_file_reads_like_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    std::fs::write(&p, every_dtype()).unwrap();
    let f = SafeTensorsFile::open(&p).unwrap();
    assert_eq!(f.to_f32("f32").unwrap()[2], 3.25);
    std::fs::write(&p, b"").unwrap();
    assert!(matches!(
        SafeTensorsFile::open(&p),
        Err(Error::TooShort { len: 0 })
    ));
    let e = SafeTensorsFile::open(dir.path().join("absent")).unwrap_err();
    assert!(e.to_string().contains("absent: no such file"), "{e}");
}

#[test]
fn every_truncation_is_an_error() {
    let b = every_dtype();
    for n in 0..b.len() {
        assert!(
            SafeTensors::parse(&b[..n]).is_err(),
            "prefix of {n} bytes parsed"
        );
    }
    // and one byte too many is a hole at the end
    let mut long = b.clone();
    long.push(0);
    assert!(matches!(err(&long), Error::Hole { .. }));
}

#[test]
fn header_length_is_checked_before_reading() {
    assert!(matches!(err(b"\x01\x00"), Error::TooShort { len: 2 }));
    let mut b = (MAX_HEADER_LEN + 1).to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    assert!(matches!(err(&b), Error::HeaderTooLong { .. }));
    let mut b = u64::MAX.to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    assert!(matches!(err(&b), Error::HeaderTooLong { .. }));
    let mut b = 100u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    let e = err(&b);
    assert!(
        matches!(
            e,
            Error::HeaderPastEnd {
                len: 100,
                file_len: 10
            }
        ),
        "{e}"
    );
}

#[test]
fn header_text_must_be_a_json_object() {
    assert!(matches!(err(&file("{\"a\":", b"")), Error::BadJson { .. }));
    let e = err(&file("{\"a\": {\"dtype\": \"F32\",}}", b""));
    assert!(matches!(e, Error::BadJson { line: 1, .. }), "{e}");
    assert!(matches!(err(&file("[1, 2]", b"")), Error::HeaderNotObject));
    assert!(matches!(err(&file("", b"")), Error::HeaderNotObject));
    let mut b = 3u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"{\xff}");
    assert!(matches!(err(&b), Error::HeaderNotUtf8 { offset: 1 }));
    // nesting past serde_json's recursion limit
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(err(&file(&deep, b"")), Error::BadJson { .. }));
    // an empty header with no data is a valid empty file, spaces allowed after it
    assert!(SafeTensors::parse(&file("{}   ", b""))
        .unwrap()
        .tensors()
        .is_empty());
}

#[test]
fn entries_are_checked_and_named() {
    let one = |entry: &str, data: &[u8]| err(&file(&format!("{{\"w\": {entry}}}"), data));
    let msg = |e: Error| e.to_string();

    let e = one(
        r#"{"dtype": "F31", "shape": [1], "data_offsets": [0, 4]}"#,
        &[0; 4],
    );
    assert!(matches!(&e, Error::UnknownDtype { tensor, dtype } if tensor == "w" && dtype == "F31"));
    assert!(msg(e).contains("known: BOOL"));
    let e = one(r#"{"shape": [1], "data_offsets": [0, 4]}"#, &[0; 4]);
    assert!(msg(e).contains("tensor 'w': no 'dtype' field"));
    let e = one(
        r#"{"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}"#,
        &[0; 4],
    );
    assert!(msg(e).contains("'shape' is not an array"));
    let e = one(
        r#"{"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}"#,
        &[0; 4],
    );
    assert!(matches!(e, Error::BadEntry { .. }));
    let e = one(
        r#"{"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}"#,
        &[0; 4],
    );
    assert!(msg(e).contains("'data_offsets' is not two"));
    let e = one(
        r#"{"dtype": 3, "shape": [1], "data_offsets": [0, 4]}"#,
        &[0; 4],
    );
    assert!(msg(e).contains("'dtype' is a number"));
    let e = one("7", &[]);
    assert!(msg(e).contains("the entry is a number"));

    // shape and dtype against the range
    let e = one(
        r#"{"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}"#,
        &[0; 4],
    );
    assert!(
        matches!(
            e,
            Error::SizeMismatch {
                expected: 8,
                got: 4,
                ..
            }
        ),
        "{e}"
    );
    let e = one(
        r#"{"dtype": "BF16", "shape": [3], "data_offsets": [0, 4]}"#,
        &[0; 4],
    );
    assert!(msg(e).contains("shape [3] of BF16 needs 6 bytes, data_offsets give 4"));
    let huge = format!(
        r#"{{"dtype": "F64", "shape": [{}, {}], "data_offsets": [0, 4]}}"#,
        u64::MAX / 2,
        3
    );
    assert!(matches!(one(&huge, &[0; 4]), Error::ShapeOverflow { .. }));
    // a zero dimension makes any shape empty: valid, and reading it never panics
    let b = file(
        r#"{"w": {"dtype": "U8", "shape": [0, 18446744073709551615], "data_offsets": [0, 0]}}"#,
        &[],
    );
    let st = SafeTensors::parse(&b).unwrap();
    let _ = st.require("w").unwrap().to_tensor(&b);

    // offsets
    let e = one(
        r#"{"dtype": "U8", "shape": [4], "data_offsets": [0, 8]}"#,
        &[0; 4],
    );
    assert!(
        matches!(
            e,
            Error::OutOfRange {
                end: 8,
                data_len: 4,
                ..
            }
        ),
        "{e}"
    );
    let e = one(
        r#"{"dtype": "U8", "shape": [4], "data_offsets": [18446744073709551615, 3]}"#,
        &[0; 4],
    );
    assert!(matches!(e, Error::ReversedOffsets { .. }), "{e}");
    let e = one(
        r#"{"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}"#,
        &[0; 4],
    );
    assert!(matches!(e, Error::Hole { start: 0, end: 2 }), "{e}");
}

#[test]
fn ranges_must_tile_the_data() {
    let two = |a: (u64, u64), b: (u64, u64), data: usize| {
        let json = format!(
            r#"{{"a": {{"dtype": "U8", "shape": [{}], "data_offsets": [{}, {}]}},
                "b": {{"dtype": "U8", "shape": [{}], "data_offsets": [{}, {}]}}}}"#,
            a.1 - a.0,
            a.0,
            a.1,
            b.1 - b.0,
            b.0,
            b.1
        );
        SafeTensors::parse(&file(&json, &vec![0; data]))
    };
    assert!(two((0, 4), (4, 6), 6).is_ok());
    assert!(
        two((2, 6), (0, 2), 6).is_ok(),
        "order in the header does not matter"
    );
    let e = two((0, 4), (2, 6), 6).unwrap_err();
    assert!(
        matches!(&e, Error::Overlap { first, second, .. } if first == "a" && second == "b"),
        "{e}"
    );
    assert!(e
        .to_string()
        .contains("'a' (data bytes 0..4) and 'b' (data bytes 2..6) overlap"));
    let e = two((0, 4), (0, 4), 4).unwrap_err();
    assert!(matches!(e, Error::Overlap { .. }), "{e}");
    let e = two((0, 2), (3, 5), 5).unwrap_err();
    assert!(matches!(e, Error::Hole { start: 2, end: 3 }), "{e}");
    let e = two((0, 2), (2, 4), 6).unwrap_err();
    assert!(matches!(e, Error::Hole { start: 4, end: 6 }), "{e}");
}

#[test]
fn duplicates_and_metadata() {
    let t = r#"{"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}"#;
    let e = err(&file(&format!("{{\"x\": {t}, \"x\": {t}}}"), b""));
    assert!(
        matches!(&e, Error::DuplicateTensor { tensor } if tensor == "x"),
        "{e}"
    );
    let e = err(&file(r#"{"__metadata__": {"a": 1}}"#, b""));
    assert!(e.to_string().contains("key 'a' holds a number"), "{e}");
    let e = err(&file(r#"{"__metadata__": []}"#, b""));
    assert!(matches!(e, Error::BadMetadata { .. }));
    let e = err(&file(r#"{"__metadata__": {}, "__metadata__": {}}"#, b""));
    assert!(matches!(e, Error::DuplicateTensor { .. }));
}

#[test]
fn bool_bytes_are_zero_or_one() {
    let b = file(
        r#"{"m": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}"#,
        &[1, 2],
    );
    let st = SafeTensors::parse(&b).unwrap();
    let e = st.require("m").unwrap().to_tensor(&b).unwrap_err();
    assert!(
        e.to_string()
            .contains("tensor 'm': BOOL element 1 is byte 2"),
        "{e}"
    );
    // data() on a slice shorter than the file is an error, not a panic
    assert!(st.require("m").unwrap().data(&b[..5]).is_err());
}
