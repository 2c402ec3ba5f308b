//! The test data on disk: where scripts/fetch.py puts a package, whether the folder there is
//! complete, and fetching it when it is not.
//!
//! fetch.py renames a package's folder into place only once it is complete, and writes a
//! `.complete` stamp in it (before the rename) recording the archive's sha256 and the number
//! and total size of the extracted files:
//!
//! ```text
//! sha256 <hex>
//! files <N>
//! bytes <B>
//! ```
//!
//! A folder whose stamp is missing, of the earlier format (the digest alone), or does not
//! match the files on disk is incomplete test data, never a conformance result.

use std::path::{Path, PathBuf};

/// Node test cases in the pinned `onnx==1.22.0` wheel (change with the pin in fetch.py).
pub const NODE_CASES: usize = 1765;

/// The fetch.py package holding the ONNX backend tests.
pub const ONNX_TESTS: &str = "onnx-tests";

/// The cache folder of a fetch.py package: `$SMELT_CACHE/<name>`, or `.cache/<name>` in the
/// repository.
pub fn package_dir(repo: &Path, name: &str) -> PathBuf {
    smelt_core::settings::var("SMELT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join(".cache"))
        .join(name)
}

/// (files, bytes) of the regular files under `dir`, the stamp excluded.
fn disk_count(dir: &Path, top: bool) -> std::io::Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        if top && (name == ".complete" || name == ".complete.tmp") {
            continue;
        }
        let md = e.path().symlink_metadata()?;
        if md.is_dir() {
            let (f, b) = disk_count(&e.path(), false)?;
            files += f;
            bytes += b;
        } else if md.is_file() {
            files += 1;
            bytes += md.len();
        }
    }
    Ok((files, bytes))
}

fn repair_hint(dir: &Path) -> String {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    format!(
        "repair: run `python3 scripts/fetch.py {name}` (it extracts an incomplete folder again), \
         or delete {} and run the tests again",
        dir.display()
    )
}

/// Ok when `dir` (a fetch.py package folder) holds every file its `.complete` stamp records;
/// else an error that says "incomplete test data", why, and how to repair it.
pub fn check_package(dir: &Path) -> Result<(), String> {
    let fail = |why: String| {
        Err(format!(
            "incomplete test data at {}: {why}; {}",
            dir.display(),
            repair_hint(dir)
        ))
    };
    if !dir.is_dir() {
        return fail("the folder is missing".into());
    }
    let Ok(stamp) = std::fs::read_to_string(dir.join(".complete")) else {
        return fail("no .complete stamp".into());
    };
    let field = |key: &str| -> Option<u64> {
        stamp
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
    };
    let (Some(files), Some(bytes)) = (field("files"), field("bytes")) else {
        return fail(
            "the .complete stamp records no file count (written by an older fetch.py)".into(),
        );
    };
    match disk_count(dir, true) {
        Ok(got) if got == (files, bytes) => Ok(()),
        Ok((f, b)) => fail(format!(
            "{f} files ({b} bytes) on disk, the .complete stamp records {files} ({bytes} bytes)"
        )),
        Err(e) => fail(format!("reading the folder: {e}")),
    }
}

/// Ok with the data root (`<dir>/onnx/backend/test/data`) when `dir`, the onnx-tests package
/// folder, is complete and holds all [`NODE_CASES`] node tests.
pub fn check_onnx_tests(dir: &Path) -> Result<PathBuf, String> {
    check_package(dir)?;
    let root = dir.join("onnx/backend/test/data");
    let n = crate::list_cases(&root.join("node")).len();
    if n < NODE_CASES {
        return Err(format!(
            "incomplete test data at {}: {n} of the {NODE_CASES} node tests of onnx 1.22.0; {}",
            dir.display(),
            repair_hint(dir)
        ));
    }
    Ok(root)
}

/// The ONNX backend test data root, complete: checked, and fetched by `scripts/fetch.py
/// onnx-tests` when missing or incomplete. Safe to call from concurrent tests and processes:
/// fetch.py takes a lock per package, so a second caller waits and then finds the data whole.
pub fn ensure_data(repo: &Path) -> Result<PathBuf, String> {
    let dir = package_dir(repo, ONNX_TESTS);
    if let Ok(root) = check_onnx_tests(&dir) {
        return Ok(root);
    }
    let script = repo.join("scripts/fetch.py");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(ONNX_TESTS)
        .status()
        .map_err(|e| format!("running python3 {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "fetching the ONNX test data failed: `python3 {} {ONNX_TESTS}` exited with {status}",
            script.display()
        ));
    }
    check_onnx_tests(&dir)
}
