//! Writes the seed corpora of the fuzz targets.
//!
//! ```text
//! cargo run --release --example gen_seeds                  # fuzz/corpus/{onnx_load,ingot_load}
//! cargo run --release --example gen_seeds -- --committed   # the few seeds in fuzz/seeds/
//! ```
//!
//! onnx_load: the `model.onnx` files of the ONNX conformance node tests
//! (.cache/onnx-tests/onnx/backend/test/data/node/*/), plus variants of them that still
//! import: one number at a time (an int, ints, float or floats attribute, or one of the
//! first elements of an int64, int32 or float tensor; the first 16 of a model) set to an
//! extreme value, and the graph inputs' dims made large. Byte-level mutation rarely grows a
//! protobuf varint to such values, and shape arithmetic is where they matter. ingot_load:
//! those models (and tests/golden/mnist_cnn/mnist_cnn.onnx) imported with
//! `smelt_onnx::load_path`/`load_bytes` and written with `smelt_ingot::to_bytes`; every
//! `.ingot` seed is checked to load again. A panic while importing a variant is reported
//! (it is a bug) and the variant is written to fuzz/artifacts/gen_seeds/; an aborting
//! allocation is reported with the variant being imported.

use prost::Message;
use smelt_ingot::{Info, LoadOptions, StateDecl};
use smelt_onnx::proto::{attr_type, GraphProto, ModelProto, TensorProto};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The seeds kept in the repository (fuzz/seeds/): small models with subgraphs (If, Loop,
/// Scan), Constant, Conv and Gemm.
const COMMITTED: &[&str] = &[
    "test_if",
    "test_loop11",
    "test_scan9_sum",
    "test_constant",
    "test_conv_with_strides_padding",
    "test_gemm_all_attributes",
    "test_constantofshape_int_zeros",
    "test_reshape_extended_dims",
];

/// Values an integer is set to in the variants.
const EXTREME_INTS: &[i64] = &[i64::MAX, i64::MIN, 1 << 40, -(1 << 40)];
/// Values a float is set to in the variants.
const EXTREME_FLOATS: &[f32] = &[f32::NAN, f32::INFINITY, -1e30, 1e30];
/// Variants change each of the first this many numbers of a model (attributes first).
const MAX_SLOTS: usize = 16;
/// Only this many leading elements of each tensor are candidates.
const TENSOR_SLOTS: usize = 4;

fn info_of(m: &smelt_onnx::Model, name: &str, with_state: bool) -> Info {
    let g = &m.graph;
    let mut info = Info {
        name: name.to_string(),
        version: "1".into(),
        description: m.doc.clone(),
        metadata: m.metadata.clone(),
        opsets: m.opsets.clone(),
        producer: "smelt-fuzz gen_seeds".into(),
        source: format!("onnx ir {}", m.ir_version),
        ..Default::default()
    };
    if let (Some(&i), Some(&o)) = (g.inputs.first(), g.outputs.first()) {
        info.descriptions
            .insert(g.values[i].name.clone(), "first input".into());
        let (di, d_o) = (g.values[i].info.dtype, g.values[o].info.dtype);
        if with_state && di.is_some() && di == d_o {
            info.states.push(StateDecl {
                name: "state".into(),
                input: g.values[i].name.clone(),
                output: g.values[o].name.clone(),
                description: "a declared state".into(),
            });
        }
    }
    info
}

/// A number in a model that a variant may change.
enum Slot<'a> {
    Int(&'a mut i64),
    Float(&'a mut f32),
}

/// Calls `f` on the numeric slots of a graph: int, ints, float and floats attributes, then
/// the first elements of int64, int32 and float tensors (tensor attributes, then
/// initializers), subgraphs included, in a fixed order.
fn visit(g: &mut GraphProto, f: &mut dyn FnMut(Slot)) {
    fn raw<const N: usize, T>(
        raw: &mut [u8],
        get: fn([u8; N]) -> T,
        put: fn(T) -> [u8; N],
        f: &mut dyn FnMut(&mut T),
    ) {
        for c in raw.chunks_exact_mut(N) {
            let mut v = get(c.try_into().unwrap());
            f(&mut v);
            c.copy_from_slice(&put(v));
        }
    }
    fn tensor(t: &mut TensorProto, f: &mut dyn FnMut(Slot)) {
        // the first few elements: shapes, axes, scales are short; weights are not the point
        let mut seen = 0;
        let f = &mut |s: Slot| {
            seen += 1;
            if seen <= TENSOR_SLOTS {
                f(s)
            }
        };
        let int = &mut |v: &mut i64| f(Slot::Int(v));
        match (t.data_type, t.raw_data.is_empty()) {
            (7, true) => t.int64_data.iter_mut().for_each(int),
            (7, false) => raw(&mut t.raw_data, i64::from_le_bytes, i64::to_le_bytes, int),
            (6, _) => {
                // int32: the value saturates to the i32 range
                let mut int32 = |v: &mut i32| {
                    let mut w = *v as i64;
                    int(&mut w);
                    *v = w.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
                };
                if t.raw_data.is_empty() {
                    t.int32_data.iter_mut().for_each(int32);
                } else {
                    raw(
                        &mut t.raw_data,
                        i32::from_le_bytes,
                        i32::to_le_bytes,
                        &mut int32,
                    );
                }
            }
            (1, true) => t.float_data.iter_mut().for_each(|v| f(Slot::Float(v))),
            (1, false) => raw(
                &mut t.raw_data,
                f32::from_le_bytes,
                f32::to_le_bytes,
                &mut |v| f(Slot::Float(v)),
            ),
            _ => {}
        }
    }
    for n in &mut g.node {
        for a in &mut n.attribute {
            match a.r#type {
                attr_type::INT => f(Slot::Int(&mut a.i)),
                attr_type::INTS => a.ints.iter_mut().for_each(|v| f(Slot::Int(v))),
                attr_type::FLOAT => f(Slot::Float(&mut a.f)),
                attr_type::FLOATS => a.floats.iter_mut().for_each(|v| f(Slot::Float(v))),
                _ => {}
            }
            if let Some(t) = &mut a.t {
                tensor(t, f);
            }
            if let Some(sub) = &mut a.g {
                visit(sub, f);
            }
            for sub in &mut a.graphs {
                visit(sub, f);
            }
        }
    }
    for t in &mut g.initializer {
        tensor(t, f);
    }
}

/// Variants of a model with extreme numbers and large input dims.
fn variants(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Ok(m) = ModelProto::decode(bytes) else {
        return vec![];
    };
    let Some(g) = &m.graph else { return vec![] };
    let mut n_slots = 0;
    visit(&mut g.clone(), &mut |_| n_slots += 1);
    let mut out = vec![];
    for k in 0..n_slots.min(MAX_SLOTS) {
        for j in 0..EXTREME_INTS.len().max(EXTREME_FLOATS.len()) {
            let mut v = m.clone();
            let (mut i, mut changed) = (0, false);
            visit(v.graph.as_mut().unwrap(), &mut |slot| {
                if i == k {
                    match slot {
                        Slot::Int(x) if j < EXTREME_INTS.len() => *x = EXTREME_INTS[j],
                        Slot::Float(x) if j < EXTREME_FLOATS.len() => *x = EXTREME_FLOATS[j],
                        _ => return,
                    }
                    changed = true;
                }
                i += 1;
            });
            if changed {
                out.push((format!("num{k}_{j}"), v.encode_to_vec()));
            }
        }
    }
    // inputs' fixed dims made large, their product still a possible element count
    use smelt_onnx::proto::{tensor_shape_proto::dimension::Value as D, type_proto::Value};
    let mut v = m.clone();
    for i in &mut v.graph.as_mut().unwrap().input {
        if let Some(Value::TensorType(t)) = i.r#type.as_mut().and_then(|t| t.value.as_mut()) {
            if let Some(s) = &mut t.shape {
                let big = 1i64 << (60 / s.dim.len().max(1)).min(40);
                for d in &mut s.dim {
                    if let Some(D::DimValue(x)) = &mut d.value {
                        *x = big;
                    }
                }
            }
        }
    }
    out.push(("bigdims".into(), v.encode_to_vec()));
    out
}

/// Where the seeds go.
struct Out {
    onnx: PathBuf,
    ingot: PathBuf,
    panics: PathBuf,
}

/// Writes the seeds of one model and its variants; prints one summary line
/// `n_variants n_ingot refused bytes`, and `PANIC <location> <input>` per panicking input.
fn one_model(k: usize, name: &str, path: &Path, out: &Out, with_variants: bool) {
    let data = std::fs::read(path).unwrap();
    let mut inputs = vec![(name.to_string(), data.clone())];
    if with_variants {
        inputs.extend(
            variants(&data)
                .into_iter()
                .map(|(v, b)| (format!("{name}.{v}"), b)),
        );
    }
    // panics are bugs: note where, carry on with the next input
    let last_panic = Arc::new(Mutex::new(String::new()));
    let lp = last_panic.clone();
    std::panic::set_hook(Box::new(move |info| {
        *lp.lock().unwrap() = match info.location() {
            Some(l) => format!("{}:{}", l.file(), l.line()),
            None => "unknown location".into(),
        };
    }));
    let (mut n_variants, mut n_ingot, mut refused, mut bytes) = (0, 0, 0, 0u64);
    for (i, (vname, b)) in inputs.iter().enumerate() {
        let base = if i == 0 { path.parent() } else { None };
        // an abort (a failed huge allocation) ends this process: the parent names the model
        eprintln!("INPUT {vname}");
        let r = catch_unwind(AssertUnwindSafe(|| {
            let m = smelt_onnx::load_bytes(b, base).ok()?;
            let info = info_of(&m, vname, k % 3 == 0 || name == "mnist_cnn");
            let p = smelt_ingot::to_bytes(&m.graph, &info).ok()?;
            if let Err(e) = smelt_ingot::from_bytes(Arc::new(p.clone()), &LoadOptions::default()) {
                panic!("{vname}: the written package does not load: {e}");
            }
            Some(p)
        }));
        match r {
            Ok(Some(p)) => {
                if i > 0 {
                    std::fs::write(out.onnx.join(format!("{vname}.onnx")), b).unwrap();
                    n_variants += 1;
                    bytes += b.len() as u64;
                }
                bytes += p.len() as u64;
                std::fs::write(out.ingot.join(format!("{vname}.ingot")), p).unwrap();
                n_ingot += 1;
            }
            Ok(None) => refused += (i == 0) as usize,
            Err(_) => {
                std::fs::create_dir_all(&out.panics).unwrap();
                std::fs::write(out.panics.join(format!("{vname}.onnx")), b).unwrap();
                println!("PANIC {} {vname}", last_panic.lock().unwrap());
            }
        }
    }
    println!("{n_variants} {n_ingot} {refused} {bytes}");
}

fn main() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = fuzz_dir.parent().unwrap();
    let args: Vec<String> = std::env::args().collect();
    let committed = args.iter().any(|a| a == "--committed");
    let dir = fuzz_dir.join(if committed { "seeds" } else { "corpus" });
    let out = Out {
        onnx: dir.join("onnx_load"),
        ingot: dir.join("ingot_load"),
        panics: fuzz_dir.join("artifacts/gen_seeds"),
    };
    std::fs::create_dir_all(&out.onnx).unwrap();
    std::fs::create_dir_all(&out.ingot).unwrap();

    // child mode: --model K NAME PATH [--variants]
    if let Some(i) = args.iter().position(|a| a == "--model") {
        let k = args[i + 1].parse().unwrap();
        let with_variants = args.iter().any(|a| a == "--variants");
        one_model(
            k,
            &args[i + 2],
            Path::new(&args[i + 3]),
            &out,
            with_variants,
        );
        return;
    }

    let node_dir = root.join(".cache/onnx-tests/onnx/backend/test/data/node");
    let mut models: Vec<(String, PathBuf)> = match std::fs::read_dir(&node_dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .filter(|(n, _)| !committed || COMMITTED.contains(&n.as_str()))
            .map(|(n, p)| (n, p.join("model.onnx")))
            .filter(|(_, p)| p.is_file())
            .collect(),
        Err(e) => {
            eprintln!(
                "no ONNX conformance tests at {} ({e}); only the golden model is used",
                node_dir.display()
            );
            vec![]
        }
    };
    models.sort();
    if !committed {
        models.push((
            "mnist_cnn".into(),
            root.join("tests/golden/mnist_cnn/mnist_cnn.onnx"),
        ));
    }

    let me = std::env::current_exe().unwrap();
    let mut bugs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut n_onnx, mut n_variants, mut n_ingot, mut refused, mut bytes) = (0, 0, 0, 0, 0u64);
    for (k, (name, path)) in models.iter().enumerate() {
        let is_onnx_seed = name != "mnist_cnn";
        if is_onnx_seed {
            std::fs::copy(path, out.onnx.join(format!("{name}.onnx"))).unwrap();
            n_onnx += 1;
            bytes += std::fs::metadata(path).unwrap().len();
        }
        let mut cmd = std::process::Command::new(&me);
        cmd.args(["--model", &k.to_string(), name, path.to_str().unwrap()]);
        if committed {
            cmd.arg("--committed");
        } else if is_onnx_seed {
            cmd.arg("--variants");
        }
        let r = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&r.stdout);
        for l in stdout.lines() {
            if let Some(p) = l.strip_prefix("PANIC ") {
                let (at, input) = p.split_once(' ').unwrap();
                bugs.entry(format!("panic at {at}"))
                    .or_default()
                    .push(input.into());
            } else if let [v, i, rf, b] = l.split(' ').collect::<Vec<_>>()[..] {
                n_variants += v.parse::<usize>().unwrap();
                n_ingot += i.parse::<usize>().unwrap();
                refused += rf.parse::<usize>().unwrap();
                bytes += b.parse::<u64>().unwrap();
            }
        }
        if !r.status.success() {
            let stderr = String::from_utf8_lossy(&r.stderr);
            let input = stderr
                .lines()
                .filter_map(|l| l.strip_prefix("INPUT "))
                .last()
                .unwrap_or(name)
                .to_string();
            let why = stderr
                .lines()
                .find(|l| l.contains("memory allocation") || l.contains("panicked"))
                .unwrap_or("aborted")
                .to_string();
            bugs.entry(why).or_default().push(input);
        }
    }
    eprintln!(
        "{n_onnx} ONNX seeds and {n_variants} importable variants in {}, {n_ingot} .ingot \
         seeds in {} ({refused} models not importable or writable), {bytes} bytes in all",
        out.onnx.display(),
        out.ingot.display()
    );
    if !bugs.is_empty() {
        eprintln!(
            "BUGS (panicking inputs are in {}; for an abort, the input named is the variant \
             being imported):",
            out.panics.display()
        );
        for (why, inputs) in &bugs {
            eprintln!("  {why}\n    {} input(s), e.g. {}", inputs.len(), inputs[0]);
        }
        std::process::exit(1);
    }
}
