//! Resident memory of running a palettized 4-bit MiniLM-L3: the weights stay compressed in
//! the mapped file and the kernels decode tiles, so running the model costs about its file
//! size plus activations, far below the fp32 model. Each package is measured in a fresh
//! child process (this test binary run again) so nothing freed earlier is reused.

mod common;

use common::*;
use smelt::compression::palettize::Method;
use smelt::compression::{Granularity, Mode, Options};
use smelt::{Config, ConvertOptions, Model};
use std::path::Path;

/// Resident growth allowed over (file size + activation arena).
const RESIDENT_RATIO: f64 = 1.3;

/// (RssAnon, VmHWM) of this process in bytes (Linux).
fn mem() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |key: &str| -> Option<u64> {
        let l = s.lines().find(|l| l.starts_with(key))?;
        Some(l.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some((kb("RssAnon:")?, kb("VmHWM:")?))
}

/// Resident bytes of the mappings of file `path` in this process (Linux smaps).
fn mapped_rss(path: &Path) -> u64 {
    let want = std::fs::canonicalize(path).unwrap();
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut inside = false;
    let mut total = 0;
    for l in smaps.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first().is_some_and(|a| {
            a.contains('-') && a.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        }) {
            inside = f.len() >= 6 && Path::new(f[5]) == want;
        } else if inside && f.first() == Some(&"Rss:") {
            total += f[1].parse::<u64>().unwrap_or(0) * 1024;
        }
    }
    total
}

const NAME: &str = "palettized_minilm_runs_near_its_file_size";

/// Runs the child measurement of `pkg`; returns (model resident bytes at the largest
/// sample, file bytes, activation arena bytes).
fn child(pkg: &Path, fuse: bool) -> (f64, f64, f64, f64) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture"])
        .env("SMELT_MEMORY_CHILD", pkg)
        .env("SMELT_MEMORY_FUSE", if fuse { "1" } else { "0" })
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for l in String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("DEBUG"))
    {
        println!("{l}");
    }
    assert!(
        out.status.success(),
        "child: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("measured "))
        .unwrap_or_else(|| panic!("no measurement in: {text}"));
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    (v[0], v[1], v[2], v[3])
}

#[test]
fn palettized_minilm_runs_near_its_file_size() {
    if let Some(pkg) = std::env::var_os("SMELT_MEMORY_CHILD") {
        let fuse = std::env::var("SMELT_MEMORY_FUSE").as_deref() == Ok("1");
        return measure(Path::new(&pkg), fuse);
    }
    let c = case("minilm_l3");
    let dir = std::env::temp_dir().join(format!("smelt-cmem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fp32 = dir.join("fp32.ingot");
    smelt::convert(
        &model_path(&c),
        &fp32,
        &ConvertOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let lut4 = dir.join("lut4.ingot");
    let opts = Options::new(Mode::Palettize {
        bits: 4,
        method: Method::KMeans,
        granularity: Granularity::PerGroupedChannel(16),
    });
    smelt::compress_file(&model_path(&c), &lut4, &opts, &mut |_, _, _| {}).unwrap();
    let mib = |b: f64| b / (1 << 20) as f64;
    let mut rows = Vec::new();
    for (what, pkg, fuse) in [
        ("fp32", &fp32, true),
        (
            "4-bit palettized, decode fused into the kernels",
            &lut4,
            true,
        ),
        (
            "4-bit palettized, each weight decoded whole (reference path)",
            &lut4,
            false,
        ),
    ] {
        let (grow, file, arena, hwm) = child(pkg, fuse);
        println!(
            "{what}: file {:.1} MiB, activations {:.2} MiB, model resident {:.1} MiB \
             ({:.2}x file + activations); VmHWM growth with the runtime's code {:.1} MiB",
            mib(file),
            mib(arena),
            mib(grow),
            grow / (file + arena),
            mib(hwm)
        );
        rows.push((grow, file, arena));
    }
    std::fs::remove_dir_all(dir).ok();
    let (g32, _, _) = rows[0];
    let (g4, f4, a4) = rows[1];
    assert!(
        g4 <= RESIDENT_RATIO * (f4 + a4),
        "4-bit model grew resident memory by {g4} bytes, over {RESIDENT_RATIO} x (file {f4} + activations {a4})"
    );
    assert!(g4 * 4.0 < g32, "4-bit {g4} bytes vs fp32 {g32} bytes");
}

/// In the child: the model's resident memory, sampled after loading and after each of three
/// predictions: anonymous memory grown (graph, tables, scratch, outputs) plus the resident
/// pages of the package's mapping. The runtime's own code pages (shared with any model) are
/// not counted; VmHWM growth, which includes them, is printed beside.
fn measure(pkg: &Path, fuse: bool) {
    let inputs = case_inputs(&case("minilm_l3"));
    let feed: Vec<(&str, smelt::Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let Some((anon0, hwm0)) = mem() else {
        println!("SKIP: /proc/self/status is not available on this system");
        println!("measured 0 1 0 0");
        return;
    };
    let config = Config {
        fuse_compressed: fuse,
        ..Config::default()
    };
    let model = Model::load(pkg, config).unwrap();
    let sample = || mem().unwrap().0.saturating_sub(anon0) + mapped_rss(pkg);
    let mut peak = sample();
    for _ in 0..3 {
        model.predict(&feed).unwrap();
        peak = peak.max(sample());
    }
    let hwm = mem().unwrap().1;
    let arena = model.memory_plan(&feed, None).unwrap().arena_bytes;
    let file = std::fs::metadata(pkg).unwrap().len();
    println!(
        "measured {peak} {file} {arena} {}",
        hwm.saturating_sub(hwm0)
    );
}
