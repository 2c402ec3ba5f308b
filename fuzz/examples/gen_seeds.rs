//! Writes the seed corpora of the fuzz targets.
//!
//! ```text
//! cargo run --release --example gen_seeds            # fuzz/corpus/{onnx_load,ingot_load}
//! cargo run --release --example gen_seeds -- --committed   # the few seeds in fuzz/seeds/
//! ```
//!
//! onnx_load: the `model.onnx` files of the ONNX conformance node tests
//! (.cache/onnx-tests/onnx/backend/test/data/node/*/). ingot_load: those models, and
//! tests/golden/mnist_cnn/mnist_cnn.onnx, imported with `smelt_onnx::load_path` and written
//! with `smelt_ingot::to_bytes`; every `.ingot` seed is checked to load again. Models the
//! importer refuses give an ONNX seed but no `.ingot` one.

use smelt_ingot::{Info, LoadOptions, StateDecl};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

fn main() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = fuzz_dir.parent().unwrap();
    let committed = std::env::args().any(|a| a == "--committed");
    let out = if committed {
        fuzz_dir.join("seeds")
    } else {
        fuzz_dir.join("corpus")
    };
    let (onnx_out, ingot_out) = (out.join("onnx_load"), out.join("ingot_load"));
    std::fs::create_dir_all(&onnx_out).unwrap();
    std::fs::create_dir_all(&ingot_out).unwrap();

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

    let (mut n_onnx, mut n_ingot, mut refused, mut bytes) = (0, 0, 0, 0u64);
    for (k, (name, path)) in models.iter().enumerate() {
        if name != "mnist_cnn" {
            std::fs::copy(path, onnx_out.join(format!("{name}.onnx"))).unwrap();
            n_onnx += 1;
            bytes += std::fs::metadata(path).unwrap().len();
        }
        let m = match smelt_onnx::load_path(path) {
            Ok(m) => m,
            Err(_) => {
                refused += 1;
                continue;
            }
        };
        let info = info_of(&m, name, k % 3 == 0 || name == "mnist_cnn");
        let Ok(b) = smelt_ingot::to_bytes(&m.graph, &info) else {
            refused += 1;
            continue;
        };
        if let Err(e) = smelt_ingot::from_bytes(Arc::new(b.clone()), &LoadOptions::default()) {
            panic!("{name}: the written package does not load: {e}");
        }
        bytes += b.len() as u64;
        std::fs::write(ingot_out.join(format!("{name}.ingot")), b).unwrap();
        n_ingot += 1;
    }
    eprintln!(
        "{n_onnx} ONNX seeds in {}, {n_ingot} .ingot seeds in {} ({refused} models not \
         importable or writable), {bytes} bytes in all",
        onnx_out.display(),
        ingot_out.display()
    );
}
