//! Resident memory of loading the largest real model as `.ingot`: the weights are mapped, so
//! anonymous memory grows by far less than their size (only inline tensors, the graph and
//! the ops are allocated). The package is converted first, then loaded in a fresh child
//! process (this test binary run again), so no memory freed by the conversion is reused.

mod common;

use common::*;
use smelt::{Config, ConvertOptions, Model};

/// (RssAnon, RssFile) of this process in bytes (Linux).
fn rss() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |key: &str| -> Option<u64> {
        let l = s.lines().find(|l| l.starts_with(key))?;
        Some(l.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some((kb("RssAnon:")?, kb("RssFile:")?))
}

#[test]
fn loading_maps_weights_instead_of_copying() {
    if let Some(pkg) = std::env::var_os("SMELT_MEMORY_CHILD") {
        return measure(std::path::Path::new(&pkg));
    }
    let c = case("minilm_l3");
    let dir = std::env::temp_dir().join(format!("smelt-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pkg = dir.join("minilm_l3.ingot");
    smelt::convert(
        &model_path(&c),
        &pkg,
        &ConvertOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "loading_maps_weights_instead_of_copying",
            "--nocapture",
        ])
        .env("SMELT_MEMORY_CHILD", &pkg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for l in text
        .lines()
        .filter(|l| !l.starts_with("running") && !l.is_empty())
    {
        println!("{l}");
    }
    std::fs::remove_dir_all(dir).ok();
    assert!(
        out.status.success(),
        "child: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn measure(pkg: &std::path::Path) {
    let inputs = case_inputs(&case("minilm_l3"));
    let Some((anon0, file0)) = rss() else {
        println!("SKIP: /proc/self/status is not available on this system");
        return;
    };
    let model = Model::load(pkg, Config::default()).unwrap();
    let (anon1, file1) = rss().unwrap();
    let weights = model.load_stats().mapped_bytes + model.load_stats().copied_bytes;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "minilm_l3.ingot: {:.1} MiB of weights ({:.1} MiB mapped); after Model::load RssAnon \
         +{:.1} MiB, RssFile +{:.1} MiB",
        mib(weights),
        mib(model.load_stats().mapped_bytes),
        mib(anon1.saturating_sub(anon0)),
        mib(file1.saturating_sub(file0))
    );
    let feed: Vec<(&str, smelt::Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    model.predict(&feed).unwrap();
    let (anon2, file2) = rss().unwrap();
    println!(
        "after one prediction: RssAnon +{:.1} MiB, RssFile +{:.1} MiB (weight pages read in place)",
        mib(anon2.saturating_sub(anon0)),
        mib(file2.saturating_sub(file0))
    );
    assert!(
        anon1.saturating_sub(anon0) < weights / 10,
        "loading grew anonymous memory by {} bytes for {} bytes of weights",
        anon1 - anon0,
        weights
    );
    assert!(
        file1.saturating_sub(file0) < weights / 10,
        "verified pages stay resident"
    );
    // for contrast: the same model from .onnx, whose weights are decoded into owned buffers
    let onnx = Model::load(model_path(&case("minilm_l3")), Config::default()).unwrap();
    let (anon3, _) = rss().unwrap();
    println!(
        "the same model loaded from .onnx: RssAnon +{:.1} MiB",
        mib(anon3.saturating_sub(anon2))
    );
    drop(onnx);
}
