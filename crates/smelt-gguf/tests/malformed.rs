//! Malformed GGUF files: each is an error that names what and where, never a panic and never
//! an allocation sized by the file's claims. Files are built byte by byte here.

use smelt_gguf::{quant, Error, GgmlType, Gguf};

/// Builds a GGUF file: header, key/values, tensor infos, padding, data.
struct File {
    version: u32,
    alignment: usize,
    kvs: Vec<u8>,
    n_kv: u64,
    infos: Vec<u8>,
    n_tensors: u64,
    data: Vec<u8>,
    /// overrides of the header counts
    counts: Option<(u64, u64)>,
}

fn string(b: &mut Vec<u8>, s: &[u8]) {
    b.extend((s.len() as u64).to_le_bytes());
    b.extend(s);
}

impl File {
    fn new() -> File {
        File {
            version: 3,
            alignment: 32,
            kvs: Vec::new(),
            n_kv: 0,
            infos: Vec::new(),
            n_tensors: 0,
            data: Vec::new(),
            counts: None,
        }
    }

    /// A key with a value of type `ty` whose encoding is `payload`.
    fn kv(mut self, key: &[u8], ty: u32, payload: &[u8]) -> File {
        string(&mut self.kvs, key);
        self.kvs.extend(ty.to_le_bytes());
        self.kvs.extend(payload);
        self.n_kv += 1;
        self
    }

    fn kv_u32(self, key: &str, v: u32) -> File {
        self.kv(key.as_bytes(), 4, &v.to_le_bytes())
    }

    fn kv_str(self, key: &str, v: &str) -> File {
        let mut p = Vec::new();
        string(&mut p, v.as_bytes());
        self.kv(key.as_bytes(), 8, &p)
    }

    fn info(mut self, name: &[u8], dims: &[u64], ty: u32, offset: u64) -> File {
        string(&mut self.infos, name);
        self.infos.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            self.infos.extend(d.to_le_bytes());
        }
        self.infos.extend(ty.to_le_bytes());
        self.infos.extend(offset.to_le_bytes());
        self.n_tensors += 1;
        self
    }

    /// A tensor whose data is appended at the next aligned offset of the data section.
    fn tensor(mut self, name: &str, dims: &[u64], ty: GgmlType, data: &[u8]) -> File {
        let offset = self.data.len().div_ceil(self.alignment) * self.alignment;
        self.data.resize(offset, 0);
        self.data.extend(data);
        self.info(name.as_bytes(), dims, ty.id(), offset as u64)
    }

    /// The bytes, and where each section ends: header, key/values, tensor infos, padding.
    fn build_with_ends(&self) -> (Vec<u8>, [usize; 4]) {
        let (nt, nk) = self.counts.unwrap_or((self.n_tensors, self.n_kv));
        let mut b = b"GGUF".to_vec();
        b.extend(self.version.to_le_bytes());
        b.extend(nt.to_le_bytes());
        b.extend(nk.to_le_bytes());
        let header = b.len();
        b.extend(&self.kvs);
        let kvs = b.len();
        b.extend(&self.infos);
        let infos = b.len();
        if !self.data.is_empty() {
            b.resize(b.len().div_ceil(self.alignment) * self.alignment, 0);
        }
        let padding = b.len();
        b.extend(&self.data);
        (b, [header, kvs, infos, padding])
    }

    fn build(&self) -> Vec<u8> {
        self.build_with_ends().0
    }
}

fn err(b: &[u8]) -> Error {
    match Gguf::parse(b) {
        Ok(_) => panic!("parsed a malformed file"),
        Err(e) => e,
    }
}

fn q4_0_block(d: u16) -> Vec<u8> {
    let mut b = d.to_le_bytes().to_vec();
    b.extend((0..16u8).map(|i| i * 17));
    b
}

/// A valid file with metadata of several kinds and three tensors.
fn sample() -> File {
    let mut arr = 8u32.to_le_bytes().to_vec(); // ARRAY of STRING, 2 elements
    arr.extend(2u64.to_le_bytes());
    string(&mut arr, b"ab");
    string(&mut arr, b"c");
    File::new()
        .kv_str("general.architecture", "llama")
        .kv_u32("llama.block_count", 2)
        .kv(b"tokenizer.ggml.tokens", 9, &arr)
        .tensor("a", &[3, 2], GgmlType::F32, &[0u8; 24])
        .tensor(
            "b",
            &[64],
            GgmlType::Q4_0,
            &[q4_0_block(0x3c00), q4_0_block(0x3800)].concat(),
        )
        .tensor("c", &[256], GgmlType::Q4_K, &[1u8; 144])
}

#[test]
fn sample_parses() {
    let b = sample().build();
    let g = Gguf::parse(&b).unwrap();
    assert_eq!(g.tensors().len(), 3);
    assert_eq!(g.architecture().unwrap(), "llama");
    assert_eq!(
        g.get_str_array("tokenizer.ggml.tokens").unwrap(),
        ["ab", "c"]
    );
    let t = g.require_tensor("b").unwrap();
    assert_eq!(t.shape(), [64]);
    let x = t.dequantize(&b).unwrap();
    assert_eq!(x[1], -8.0 + 1.0); // low nibble of 17 is 1, scale 1
    assert_eq!(x[33], (1.0 - 8.0) * 0.5);
    for t in g.tensors() {
        t.dequantize(&b).unwrap();
    }
}

/// Every prefix of a valid file is an error (never a panic); cut at a section boundary or
/// inside a tensor's data, the error names that section or tensor.
#[test]
fn truncated_everywhere() {
    let (b, [header, kvs, infos, padding]) = sample().build_with_ends();
    for n in 0..b.len() {
        let e = err(&b[..n]);
        assert!(!e.to_string().is_empty());
    }
    let msg = |n: usize| err(&b[..n]).to_string();
    assert!(msg(0).contains("magic"), "{}", msg(0));
    assert!(msg(2).contains("magic"), "{}", msg(2));
    assert!(msg(6).contains("version"), "{}", msg(6));
    assert!(msg(header - 4).contains("metadata count"));
    // no room for the 3 key/values promised
    assert!(msg(header).contains("metadata count"), "{}", msg(header));
    assert!(
        msg(header + 10).contains("metadata"),
        "{}",
        msg(header + 10)
    );
    let m = msg(kvs - 1);
    assert!(
        m.contains("tokenizer.ggml.tokens") && m.contains("element 1"),
        "{m}"
    );
    assert!(msg(kvs).contains("tensor count"), "{}", msg(kvs));
    let m = msg(infos - 3);
    assert!(m.contains("tensor 'c'") && m.contains("data offset"), "{m}");
    // the tensor infos complete, the data missing: each tensor named
    assert!(msg(infos).contains("tensor 'a'"), "{}", msg(infos));
    assert!(msg(padding + 10).contains("tensor 'a'"));
    assert!(msg(padding + 40).contains("tensor 'b'"));
    assert!(msg(b.len() - 1).contains("tensor 'c'"));
    assert!(matches!(err(&b[..b.len() - 1]), Error::OutOfRange { .. }));
}

#[test]
fn magic_and_version() {
    let e = err(b"GGML\x03\0\0\0");
    assert!(matches!(e, Error::BadMagic { .. }), "{e}");
    assert!(e.to_string().contains("not a GGUF file"));
    assert!(matches!(err(b"PK\x03\x04 zip"), Error::BadMagic { .. }));
    assert!(matches!(err(b"{"), Error::BadMagic { .. }));
    assert!(matches!(err(b"GGU"), Error::Truncated { .. }));
    for (v, want) in [(1u32, "version 1"), (4, "version 4"), (0, "version 0")] {
        let mut f = File::new();
        f.version = v;
        let e = err(&f.build());
        assert!(matches!(e, Error::UnsupportedVersion { .. }));
        assert!(e.to_string().contains(want), "{e}");
    }
    let mut f = File::new();
    f.version = 3u32.swap_bytes();
    let e = err(&f.build());
    assert!(matches!(e, Error::BigEndian { version: 3 }), "{e}");
    // version 2 reads as 3 does
    let mut f = sample();
    f.version = 2;
    assert_eq!(Gguf::parse(&f.build()).unwrap().version(), 2);
}

#[test]
fn huge_counts_and_lengths() {
    for (nt, nk, what) in [
        (u64::MAX, 0, "tensor count"),
        (1 << 60, 0, "tensor count"),
        (0, u64::MAX, "metadata count"),
        (0, 1 << 40, "metadata count"),
    ] {
        let mut f = File::new();
        f.counts = Some((nt, nk));
        let e = err(&f.build());
        assert!(matches!(e, Error::CountTooLarge { .. }), "{e}");
        assert!(e.to_string().contains(what), "{e}");
    }
    // a key of 2^64 - 1 bytes
    let mut f = File::new();
    f.kvs.extend(u64::MAX.to_le_bytes());
    f.kvs.extend([0u8; 32]);
    f.n_kv = 1;
    let e = err(&f.build());
    assert!(matches!(e, Error::CountTooLarge { .. }), "{e}");
    assert!(e.to_string().contains("key of metadata entry 0"), "{e}");
    // a string value longer than the file
    let mut p = 1000u64.to_le_bytes().to_vec();
    p.extend(b"short");
    let e = err(&File::new().kv(b"k", 8, &p).build());
    assert!(
        e.to_string().contains("'k'") && e.to_string().contains("1000"),
        "{e}"
    );
    // arrays: 2^40 bytes, 2^61 u64s (overflows when multiplied by 8), 2^40 strings
    for (ty, n) in [
        (0u32, 1u64 << 40),
        (10, 1 << 61),
        (8, 1 << 40),
        (9, 1 << 50),
    ] {
        let mut p = ty.to_le_bytes().to_vec();
        p.extend(n.to_le_bytes());
        p.extend([0u8; 64]);
        let e = err(&File::new().kv(b"arr", 9, &p).build());
        assert!(matches!(e, Error::CountTooLarge { .. }), "{e}");
        assert!(
            e.to_string().contains("length of metadata key 'arr'"),
            "{e}"
        );
    }
    // a tensor with 5 dimensions, or 2^32 - 1
    for n in [5u32, u32::MAX] {
        let mut f = File::new();
        string(&mut f.infos, b"t");
        f.infos.extend(n.to_le_bytes());
        f.infos.extend([0u8; 64]);
        f.n_tensors = 1;
        let e = err(&f.build());
        assert!(matches!(e, Error::TooManyDims { .. }), "{e}");
        assert!(e.to_string().contains("tensor 't'"));
    }
}

#[test]
fn bad_shapes() {
    let cases: [(&[u64], GgmlType, &str); 4] = [
        (&[1 << 63], GgmlType::F32, "negative"),
        (&[1 << 32, 1 << 32], GgmlType::F32, "overflows"),
        (&[33, 2], GgmlType::Q4_0, "32-element blocks"),
        (&[100], GgmlType::Q6_K, "256-element blocks"),
    ];
    for (dims, ty, want) in cases {
        let e = err(&File::new().info(b"w", dims, ty.id(), 0).build());
        assert!(matches!(e, Error::BadShape { .. }), "{e}");
        let m = e.to_string();
        assert!(m.contains("tensor 'w'") && m.contains(want), "{m}");
    }
    // 2^62 F64 elements: the element count fits int64, the byte size does not fit u64
    let e = err(&File::new()
        .info(b"w", &[1 << 31, 1 << 31], GgmlType::F64.id(), 0)
        .build());
    assert!(e.to_string().contains("byte size overflows"), "{e}");
    // zero-sized and scalar tensors are fine
    let b = File::new()
        .info(b"empty", &[0, 7], GgmlType::Q8_0.id(), 0)
        .tensor("scalar", &[], GgmlType::F32, &1.5f32.to_le_bytes())
        .build();
    let g = Gguf::parse(&b).unwrap();
    assert_eq!(g.tensor("empty").unwrap().dequantize(&b).unwrap(), []);
    assert_eq!(g.tensor("scalar").unwrap().dequantize(&b).unwrap(), [1.5]);
}

#[test]
fn bad_offsets() {
    let data = [0u8; 64];
    // not a multiple of the alignment
    let mut f = File::new().tensor("a", &[4], GgmlType::F32, &data[..16]);
    f.data.resize(64, 0);
    let f = f.info(b"b", &[4], GgmlType::F32.id(), 40);
    let e = err(&f.build());
    assert!(matches!(e, Error::Misaligned { .. }), "{e}");
    assert!(e.to_string().contains("'b'") && e.to_string().contains("40"));
    // past the end, and so far that offset + size overflows
    for off in [64u64, 1 << 40, u64::MAX - 31] {
        let f = File::new().tensor("a", &[16], GgmlType::F32, &data).info(
            b"far",
            &[8],
            GgmlType::F32.id(),
            off,
        );
        let e = err(&f.build());
        assert!(matches!(e, Error::OutOfRange { .. }), "{e}");
        assert!(e.to_string().contains("'far'"), "{e}");
    }
    // overlapping: b starts inside a; c at the same offset as a
    let f = File::new().tensor("a", &[16], GgmlType::F32, &data).info(
        b"b",
        &[8],
        GgmlType::F32.id(),
        32,
    );
    let e = err(&f.build());
    assert!(matches!(e, Error::Overlap { .. }), "{e}");
    assert!(e.to_string().contains("'a'") && e.to_string().contains("'b'"));
    let f = File::new().tensor("a", &[16], GgmlType::F32, &data).info(
        b"c",
        &[1],
        GgmlType::F32.id(),
        0,
    );
    assert!(matches!(err(&f.build()), Error::Overlap { .. }));
    // adjacent is fine, in any order
    let f = File::new()
        .tensor("a", &[8], GgmlType::F32, &data[..32])
        .tensor("b", &[8], GgmlType::F32, &data[..32]);
    let mut infos = f.infos.clone();
    let g = Gguf::parse(&f.build()).unwrap();
    assert_eq!(
        g.tensor("b").unwrap().range().start,
        g.data_start() as usize + 32
    );
    // the same two infos in the other order
    let half = infos.len() / 2;
    infos.rotate_left(half);
    let mut f2 = f;
    f2.infos = infos;
    assert!(Gguf::parse(&f2.build()).is_ok());
}

#[test]
fn alignment() {
    for (payload, ty, want) in [
        (0u32.to_le_bytes().to_vec(), 4u32, "is 0"),
        (48u32.to_le_bytes().to_vec(), 4, "is 48"),
        (64u64.to_le_bytes().to_vec(), 10, "UINT64"),
    ] {
        let e = err(&File::new().kv(b"general.alignment", ty, &payload).build());
        assert!(matches!(e, Error::BadAlignment { .. }), "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }
    let mut f = File::new().kv_u32("general.alignment", 64);
    f.alignment = 64;
    let f =
        f.tensor("a", &[3], GgmlType::F32, &[0u8; 12])
            .tensor("b", &[3], GgmlType::F32, &[0u8; 12]);
    let g = Gguf::parse(&f.build()).unwrap();
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.data_start() % 64, 0);
    assert_eq!(g.tensor("b").unwrap().offset(), 64);
    // with alignment 64, an offset of 32 is misaligned
    let f = File::new()
        .kv_u32("general.alignment", 64)
        .info(b"a", &[3], GgmlType::F32.id(), 32);
    assert!(matches!(err(&f.build()), Error::Misaligned { .. }));
}

#[test]
fn unknown_types() {
    let e = err(&File::new().kv(b"my.key", 13, &[0; 8]).build());
    assert!(matches!(e, Error::UnknownValueType { ty: 13, .. }), "{e}");
    assert!(e.to_string().contains("my.key"), "{e}");
    let mut p = 99u32.to_le_bytes().to_vec();
    p.extend(1u64.to_le_bytes());
    let e = err(&File::new().kv(b"arr", 9, &p).build());
    assert!(
        e.to_string().contains("element type of metadata key 'arr'"),
        "{e}"
    );
    assert!(e.to_string().contains("99"));

    for (ty, want) in [
        (31u32, "Q4_0_4_4"),
        (4, "Q4_2"),
        (1000, "type 1000"),
        (42, "42"),
    ] {
        let e = err(&File::new().info(b"w", &[32], ty, 0).build());
        assert!(matches!(e, Error::UnknownTensorType { .. }), "{e}");
        assert!(
            e.to_string().contains("tensor 'w'") && e.to_string().contains(want),
            "{e}"
        );
    }
    // a type ggml knows without a dequantizer here: the file parses, dequantizing names it
    let b = File::new()
        .tensor("iq", &[256], GgmlType::IQ2_XXS, &[0u8; 66])
        .build();
    let g = Gguf::parse(&b).unwrap();
    let e = g.tensor("iq").unwrap().dequantize(&b).unwrap_err();
    assert!(matches!(e, Error::UnsupportedType { .. }));
    assert!(
        e.to_string().contains("IQ2_XXS") && e.to_string().contains("Q4_K"),
        "{e}"
    );
}

#[test]
fn bad_values() {
    let e = err(&File::new().kv(b"flag", 7, &[2]).build());
    assert!(matches!(e, Error::BadBool { value: 2, .. }), "{e}");
    let mut p = 7u32.to_le_bytes().to_vec();
    p.extend(3u64.to_le_bytes());
    p.extend([1, 0, 5]);
    let e = err(&File::new().kv(b"flags", 9, &p).build());
    assert!(
        e.to_string().contains("element 2 of metadata key 'flags'"),
        "{e}"
    );

    // invalid UTF-8 in a key, a value, an array element, a tensor name
    let e = err(&File::new().kv(b"k\xff", 4, &[0; 4]).build());
    assert!(matches!(e, Error::InvalidUtf8 { .. }), "{e}");
    let mut p = Vec::new();
    string(&mut p, b"\xc3\x28");
    let e = err(&File::new().kv(b"name", 8, &p).build());
    assert!(e.to_string().contains("metadata key 'name'"), "{e}");
    let e = err(&File::new().info(b"\xe2\x82", &[1], 0, 0).build());
    assert!(e.to_string().contains("name of tensor 0"), "{e}");

    // duplicates
    let e = err(&File::new().kv_u32("a.b", 1).kv_u32("a.b", 2).build());
    assert!(matches!(e, Error::DuplicateKey { .. }), "{e}");
    let f = File::new()
        .tensor("t", &[4], GgmlType::F32, &[0; 16])
        .tensor("t", &[4], GgmlType::F32, &[0; 16]);
    let e = err(&f.build());
    assert!(matches!(e, Error::DuplicateTensor { .. }), "{e}");

    // empty arrays are allowed
    let mut p = 8u32.to_le_bytes().to_vec();
    p.extend(0u64.to_le_bytes());
    let b = File::new().kv(b"none", 9, &p).build();
    let g = Gguf::parse(&b).unwrap();
    assert!(g.get_str_array("none").unwrap().is_empty());
}

/// Arrays nest up to 16 levels; deeper is an error, not a stack overflow.
#[test]
fn nesting() {
    fn nested(depth: usize) -> Vec<u8> {
        // depth - 1 single-element ARRAY levels around one empty UINT8 array
        let mut p = Vec::new();
        for _ in 1..depth {
            p.extend(9u32.to_le_bytes());
            p.extend(1u64.to_le_bytes());
        }
        p.extend(0u32.to_le_bytes());
        p.extend(0u64.to_le_bytes());
        p
    }
    assert!(Gguf::parse(&File::new().kv(b"deep", 9, &nested(16)).build()).is_ok());
    let e = err(&File::new().kv(b"deep", 9, &nested(17)).build());
    assert!(matches!(e, Error::NestingTooDeep { .. }), "{e}");
    // 100k levels claimed: refused at level 17
    let e = err(&File::new().kv(b"deep", 9, &nested(100_000)).build());
    assert!(matches!(e, Error::NestingTooDeep { .. }), "{e}");
}

#[test]
fn data_access_errors() {
    let b = sample().build();
    let g = Gguf::parse(&b).unwrap();
    let t = g.tensor("c").unwrap();
    // a buffer shorter than the parsed file: an error, not a panic
    assert!(matches!(t.data(&b[..100]), Err(Error::OutOfRange { .. })));
    assert!(t.dequantize(&b[..b.len() - 1]).is_err());
    assert!(matches!(
        g.require_tensor("nope"),
        Err(Error::NoSuchTensor(_))
    ));
    // sizes that are not whole blocks, or do not match
    let mut out = vec![0f32; 33];
    let e = quant::dequantize(GgmlType::Q4_0, &[0; 18], &mut out).unwrap_err();
    assert!(e.to_string().contains("32-element blocks"), "{e}");
    let mut out = vec![0f32; 32];
    let e = quant::dequantize(GgmlType::Q4_0, &[0; 17], &mut out).unwrap_err();
    assert!(e.to_string().contains("expected 18 bytes, got 17"), "{e}");
    // no allocation from a count the data cannot back
    let e = quant::dequantize_to_vec(GgmlType::F32, &[0; 4], 1 << 60).unwrap_err();
    assert!(matches!(e, Error::SizeMismatch { .. }));
}

#[test]
fn open_errors() {
    let dir = std::env::temp_dir().join(format!("smelt-gguf-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.gguf");
    let e = Gguf::open(&missing).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert!(e.to_string().contains("missing.gguf"), "{e}");
    let empty = dir.join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(Gguf::open(&empty).is_err());
    let short = dir.join("short.gguf");
    std::fs::write(&short, b"GGUF\x03\0\0\0").unwrap();
    assert!(matches!(Gguf::open(&short), Err(Error::Truncated { .. })));
    let ok = dir.join("ok.gguf");
    std::fs::write(&ok, sample().build()).unwrap();
    let f = Gguf::open(&ok).unwrap();
    assert_eq!(f.tensor_data("a").unwrap().len(), 24);
    assert_eq!(f.dequantize("c").unwrap().len(), 256);
    assert_eq!(f.map().len(), f.bytes().len());
    std::fs::remove_dir_all(&dir).unwrap();
}
