//! scripts/fetch.py under the conditions `cargo test` creates: several processes fetching the
//! same package into an empty cache at once, and a cached folder that lost files.
//!
//! Each test uses a cache of its own under the target folder (removed when it passes). Its `dl/` is seeded with the
//! package's archive when the repository's cache (or `$SMELT_CACHE`) already holds it, so the
//! tests run offline after the first fetch; otherwise fetch.py downloads it. `SMELT_FETCH_PY`
//! names another copy of the script to test (an older one, say).

use smelt_conformance::{check_onnx_tests, check_package, NODE_CASES};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script() -> PathBuf {
    std::env::var_os("SMELT_FETCH_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("scripts/fetch.py"))
}

/// An empty cache for one test, its dl/ seeded with the archives whose names start with
/// `archive_prefix` found in the caches of this checkout.
fn fresh_cache(tag: &str, archive_prefix: &str) -> PathBuf {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fetch-{tag}"));
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::create_dir_all(cache.join("dl")).unwrap();
    let mut sources = vec![repo().join(".cache/dl")];
    if let Some(c) = std::env::var_os("SMELT_CACHE") {
        sources.push(PathBuf::from(c).join("dl"));
    }
    for dir in sources {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with(archive_prefix) && e.path().is_file() {
                let to = cache.join("dl").join(&name);
                if !to.exists() && std::fs::hard_link(e.path(), &to).is_err() {
                    std::fs::copy(e.path(), &to).unwrap();
                }
            }
        }
    }
    cache
}

fn fetch_cmd(cache: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("python3");
    c.arg(script()).args(args).env("SMELT_CACHE", cache);
    c
}

fn show(o: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// (files, bytes) that extracting the members starting with one of `members` from the zip
/// archive in `cache/dl` gives, read from the archive's member list with Python's zipfile
/// (independent of fetch.py).
fn archive_count(cache: &Path, archive_prefix: &str, members: &[&str]) -> (u64, u64) {
    let archive = std::fs::read_dir(cache.join("dl"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(archive_prefix) && n.ends_with(".whl")
        })
        .expect("the archive in dl/");
    let code = "import sys, zipfile\n\
                z = zipfile.ZipFile(sys.argv[1])\n\
                m = [i for i in z.infolist() if i.filename.startswith(tuple(sys.argv[2:])) and not i.is_dir()]\n\
                print(len(m), sum(i.file_size for i in m))";
    let o = Command::new("python3")
        .args(["-c", code])
        .arg(&archive)
        .args(members)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut it = text.split_whitespace().map(|v| v.parse().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

/// (files, bytes) of the regular files under `dir`, the stamp excluded.
fn disk_count(dir: &Path) -> (u64, u64) {
    let mut out = (0, 0);
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let md = e.path().symlink_metadata().unwrap();
        if md.is_dir() {
            let (f, b) = disk_count(&e.path());
            out = (out.0 + f, out.1 + b);
        } else if md.is_file() && e.file_name() != ".complete" {
            out = (out.0 + 1, out.1 + md.len());
        }
    }
    out
}

/// Leftovers of a fetch in the cache: anything but dl/, the package folders and lock files.
fn leftovers(cache: &Path, packages: &[&str]) -> Vec<String> {
    std::fs::read_dir(cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "dl" && !n.ends_with(".lock") && !packages.contains(&n.as_str()))
        .collect()
}

/// Three `fetch.py onnx-tests` side by side into an empty cache (the ratchet's two tests
/// do this on a fresh clone): all succeed, and the folder holds every file of the archive.
#[test]
fn concurrent_fetches_give_one_complete_folder() {
    let cache = fresh_cache("concurrent", "onnx-1.22.0");
    let children: Vec<_> = (0..3)
        .map(|_| {
            fetch_cmd(&cache, &["onnx-tests"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("python3 scripts/fetch.py")
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "a concurrent fetch failed: {}",
            show(&o)
        );
    }
    let dir = cache.join("onnx-tests");
    let want = archive_count(&cache, "onnx-1.22.0", &["onnx/backend/test/data/"]);
    assert_eq!(
        disk_count(&dir),
        want,
        "onnx-tests: (files, bytes) on disk against the archive's"
    );
    let root = check_onnx_tests(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        smelt_conformance::list_cases(&root.join("node")).len(),
        NODE_CASES
    );
    assert_eq!(leftovers(&cache, &["onnx-tests"]), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&cache);
}

/// A cached folder that lost a file (or had one cut short) under a `.complete` stamp is
/// reported incomplete, by the Rust check and by `fetch.py --check`, and `fetch.py`
/// extracts it again. A stamp of the earlier format (no count) is upgraded in place when
/// the files match the archive.
#[test]
fn truncated_folder_is_detected_and_extracted_again() {
    let cache = fresh_cache("truncated", "silero_vad-6.2.3");
    let o = fetch_cmd(&cache, &["silero-vad"]).output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let dir = cache.join("silero-vad");
    check_package(&dir).unwrap_or_else(|e| panic!("after a fetch: {e}"));
    let members = [
        "silero_vad/data/silero_vad.onnx",
        "silero_vad/data/silero_vad_16k_op15.onnx",
        "silero_vad/data/silero_vad_half.onnx",
        "silero_vad/data/silero_vad_op18_ifless.onnx",
    ];
    let want = archive_count(&cache, "silero_vad-6.2.3", &members);
    assert_eq!(disk_count(&dir), want);

    let model = dir.join("silero_vad/data/silero_vad.onnx");
    let cut_short = dir.join("silero_vad/data/silero_vad_half.onnx");
    for damage in ["remove", "truncate"] {
        if damage == "remove" {
            std::fs::remove_file(&model).unwrap();
        } else {
            std::fs::write(&cut_short, b"").unwrap();
        }
        let e = check_package(&dir).expect_err("a damaged folder passes the check");
        assert!(e.contains("incomplete test data"), "{e}");
        assert!(e.contains("scripts/fetch.py silero-vad"), "{e}");

        let o = fetch_cmd(&cache, &["--check", "silero-vad"])
            .output()
            .unwrap();
        assert!(
            !o.status.success(),
            "--check passed a damaged folder: {}",
            show(&o)
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("incomplete"),
            "{}",
            show(&o)
        );

        let o = fetch_cmd(&cache, &["silero-vad"]).output().unwrap();
        assert!(o.status.success(), "{}", show(&o));
        check_package(&dir).unwrap_or_else(|e| panic!("after the repair ({damage}): {e}"));
        assert_eq!(disk_count(&dir), want);
    }

    let digest = std::fs::read_to_string(dir.join(".complete")).unwrap();
    let digest = digest.lines().next().unwrap().trim_start_matches("sha256 ");
    std::fs::write(dir.join(".complete"), format!("{digest}\n")).unwrap();
    check_package(&dir).expect_err("a stamp with no count passes the check");
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&p.metadata().unwrap());
    let before = ino(&model);
    let o = fetch_cmd(&cache, &["silero-vad"]).output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    check_package(&dir).unwrap_or_else(|e| panic!("after the upgrade: {e}"));
    assert_eq!(
        ino(&model),
        before,
        "the folder was extracted again, not upgraded"
    );
    assert_eq!(leftovers(&cache, &["silero-vad"]), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&cache);
}

/// A complete-looking folder (stamp and files agree) with fewer node tests than the pinned
/// wheel has is incomplete test data, not a conformance regression.
#[test]
fn too_few_node_tests_is_incomplete_data() {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fetch-few-node-tests");
    let _ = std::fs::remove_dir_all(&cache);
    let dir = cache.join("onnx-tests");
    let node = dir.join("onnx/backend/test/data/node");
    for case in ["test_abs", "test_add", "test_relu"] {
        std::fs::create_dir_all(node.join(case)).unwrap();
        std::fs::write(node.join(case).join("model.onnx"), b"x").unwrap();
    }
    std::fs::write(dir.join(".complete"), "sha256 0\nfiles 3\nbytes 3\n").unwrap();
    check_package(&dir).unwrap_or_else(|e| panic!("{e}"));
    let e = check_onnx_tests(&dir).expect_err("3 node tests pass the check");
    assert!(e.contains("incomplete test data"), "{e}");
    assert!(
        e.contains(&format!("3 of the {NODE_CASES} node tests")),
        "{e}"
    );
    assert!(e.contains("scripts/fetch.py onnx-tests"), "{e}");
    let _ = std::fs::remove_dir_all(&cache);
}
