//! `.ingot` packages of the real models: converted, loaded back with `Model::load` (weights
//! mapped) and run, they must give outputs bit-identical to running the `.onnx` directly. Also
//! the declared-state streaming of Silero VAD, many threads on one `Model`, resident memory
//! after loading, and corrupted packages (truncation, byte flips) on a real model.

mod common;

use common::*;
use smelt::{Config, ConvertOptions, Model, Tensor};
use std::path::{Path, PathBuf};

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("smelt-ingot-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn convert(onnx: &Path, out: &Path, opts: &ConvertOptions) {
    smelt::convert(onnx, out, opts, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("converting {}: {e}", onnx.display()));
}

fn bits_equal(a: &Tensor, b: &Tensor) -> bool {
    a.dtype() == b.dtype()
        && a.shape() == b.shape()
        && match (a.le_bytes(), b.le_bytes()) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        }
}

/// Converts a case's model, runs both forms on the case's inputs, demands identical outputs.
fn round_trip(name: &str) {
    let c = case(name);
    round_trip_model(name, &model_path(&c), case_inputs(&c));
}

fn round_trip_model(name: &str, onnx: &Path, inputs: Vec<(String, Tensor)>) {
    let onnx = onnx.to_path_buf();
    // the .onnx through the same runtime path (both lowered alike for the CPU), as
    // imported like the package below
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let as_imported = Config {
        optimize: false,
        ..Config::default()
    };
    let want: Vec<(String, Tensor)> = Model::load(&onnx, as_imported)
        .unwrap()
        .predict(&feed)
        .unwrap()
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    let dir = tmp_dir(name);
    let pkg = dir.join(format!("{name}.ingot"));
    // as imported: the passes change roundings (BatchNorm folding), golden.rs checks them
    let keep = ConvertOptions {
        keep_graph: true,
        ..Default::default()
    };
    convert(&onnx, &pkg, &keep);
    let model = Model::load(&pkg, Config::default()).unwrap();
    let st = model.load_stats();
    let feed: Vec<(&str, Tensor)> = inputs
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let got = model.predict(&feed).unwrap();
    let mem = model.memory_plan(&feed, None).unwrap();
    assert!(mem.is_valid(), "{name}: arena placement overlaps");
    assert!(
        mem.arena_bytes >= mem.peak_live_bytes
            && mem.arena_bytes <= mem.total_bytes + 64 * mem.buffers.len() as u64
    );
    assert_eq!(got.len(), want.len(), "{name}: output count");
    for ((gn, g), (wn, w)) in got.iter().zip(&want) {
        assert_eq!(gn, wn, "{name}: output order");
        assert!(
            bits_equal(g, w),
            "{name}: output '{gn}' differs from the .onnx run"
        );
    }
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "{name}: intermediates {} values, {:.1} MiB in all, live peak {:.1} MiB, arena {:.1} MiB; largest {:?}",
        mem.buffers.len(),
        mib(mem.total_bytes),
        mib(mem.peak_live_bytes),
        mib(mem.arena_bytes),
        mem.buffers.iter().max_by_key(|b| b.bytes)
    );
    println!(
        "{name}: {} bytes on disk, {} tensors / {} bytes mapped, {} / {} copied; {} outputs identical",
        st.file_bytes,
        st.mapped_tensors,
        st.mapped_bytes,
        st.copied_tensors,
        st.copied_bytes,
        got.len()
    );
    std::fs::remove_dir_all(dir).ok();
}

macro_rules! round_trips {
    ($($case:ident),* $(,)?) => {
        $(#[test] fn $case() { round_trip(stringify!($case)); })*
    };
}

/// The Silero exports without golden references of their own, on the silero_vad inputs.
#[test]
fn silero_half_and_ifless_round_trip() {
    for m in ["silero_vad_half", "silero_vad_op18_ifless"] {
        let onnx = silero_path(m);
        let g = smelt_onnx::load_path(&onnx).unwrap().graph;
        let inputs: Vec<(String, Tensor)> = case_inputs(&case("silero_vad"))
            .into_iter()
            .filter(|(n, _)| g.value_id(n).is_some_and(|id| g.inputs.contains(&id)))
            .collect();
        round_trip_model(m, &onnx, inputs);
    }
}

round_trips!(
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

fn silero_path(model: &str) -> PathBuf {
    let mut c = case("silero_vad");
    c.model = format!("silero_vad/data/{model}.onnx");
    model_path(&c)
}

/// Silero VAD with `state`/`stateN` declared as a state, fed a real speech clip in 512-sample
/// chunks through `predict_with_state`: the same per-chunk probabilities, bit for bit, as the
/// explicit-state `.onnx` run by smelt, and within tolerance of ONNX Runtime's.
fn silero_stream(model: &str, ort_tol: f32) {
    let dir = root().join("tests/golden/silero_stream");
    let audio = smelt_core::npy::read(dir.join("audio.npy")).unwrap();
    let audio = audio.as_slice::<f32>().unwrap();
    let ort = smelt_core::npy::read(dir.join(format!("probs_{model}.npy"))).unwrap();
    let ort = ort.as_slice::<f32>().unwrap();
    let onnx = silero_path(model);
    let tmp = tmp_dir(model);
    let pkg = tmp.join("vad.ingot");
    let opts = ConvertOptions {
        states: vec![("state".into(), "stateN".into())],
        ..Default::default()
    };
    convert(&onnx, &pkg, &opts);
    let m = Model::load(&pkg, Config::default()).unwrap();
    assert_eq!(m.states().len(), 1);
    assert!(
        m.inputs().iter().all(|i| i.name != "state"),
        "a state input is not a caller input"
    );
    assert!(
        m.predict(&[]).is_err(),
        "predict without a state is refused"
    );
    let has_sr = m.inputs().iter().any(|i| i.name == "sr");
    let mut state = m.new_state().unwrap();
    let direct = smelt_onnx::load_path(&onnx).unwrap();
    let mut explicit = Tensor::zeros(smelt::DType::F32, vec![2, 1, 128]);
    let mut context = vec![0f32; 64];
    let chunks = audio.len() / 512;
    assert_eq!(chunks, ort.len());
    let (mut max_ort, mut speech) = (0f32, 0);
    for k in 0..chunks {
        let mut x = context.clone();
        x.extend_from_slice(&audio[k * 512..(k + 1) * 512]);
        context = x[x.len() - 64..].to_vec();
        let x = Tensor::from_vec(vec![1, 576], x).unwrap();
        let sr = Tensor::scalar(16000i64);
        let mut feed = vec![("input", x.clone())];
        if has_sr {
            feed.push(("sr", sr.clone()));
        }
        let out = m.predict_with_state(&feed, &mut state).unwrap();
        let p = out.get("output").unwrap().as_slice::<f32>().unwrap()[0];

        let mut ins = vec![("input".to_string(), x), ("state".to_string(), explicit)];
        if has_sr {
            ins.push(("sr".to_string(), sr));
        }
        let outs = smelt_cpu::run(&direct.graph, ins).unwrap();
        let q = outs[0].1.as_slice::<f32>().unwrap()[0];
        explicit = outs[1].1.clone();
        assert_eq!(
            p.to_bits(),
            q.to_bits(),
            "{model} chunk {k}: declared state {p} vs explicit {q}"
        );
        assert!(bits_equal(state.get("state").unwrap(), &explicit));
        max_ort = max_ort.max((p - ort[k]).abs());
        speech += (p > 0.5) as usize;
    }
    println!(
        "{model}: {chunks} chunks identical to the explicit-state run; speech in {speech}; \
         max |p - onnxruntime| {max_ort:.2e}"
    );
    assert!(max_ort <= ort_tol, "{model}: {max_ort} from onnxruntime");
    std::fs::remove_dir_all(tmp).ok();
}

#[test]
fn silero_vad_stream_with_declared_state() {
    silero_stream("silero_vad", 1e-4);
}
#[test]
fn silero_vad_op15_stream_with_declared_state() {
    silero_stream("silero_vad_16k_op15", 1e-4);
}
#[test]
fn silero_vad_op18_ifless_stream_with_declared_state() {
    silero_stream("silero_vad_op18_ifless", 1e-4);
}
#[test]
fn silero_vad_half_stream_with_declared_state() {
    silero_stream("silero_vad_half", 2e-3);
}

/// One `Model` shared by 8 threads, 200 predictions each on rotating inputs: every result is
/// identical to the single-threaded one for the same input.
#[test]
fn eight_threads_share_one_model() {
    let c = case("mnist_cnn");
    let tmp = tmp_dir("threads");
    let pkg = tmp.join("mnist.ingot");
    convert(&model_path(&c), &pkg, &ConvertOptions::default());
    let m = Model::load(&pkg, Config::default()).unwrap();
    let batch = case_inputs(&c).remove(0).1; // [16, 1, 28, 28] real digits
    let digits: Vec<Tensor> = (0..16)
        .map(|i| {
            let px = &batch.as_slice::<f32>().unwrap()[i * 784..(i + 1) * 784];
            Tensor::from_vec(vec![1, 1, 28, 28], px.to_vec()).unwrap()
        })
        .collect();
    let want: Vec<Tensor> = digits
        .iter()
        .map(|d| m.predict(&[("input", d.clone())]).unwrap()[0].clone())
        .collect();
    let mismatches = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..8 {
            let (m, digits, want, mismatches) = (&m, &digits, &want, &mismatches);
            s.spawn(move || {
                for k in 0..200 {
                    let i = (t * 7 + k) % 16;
                    let got = m.predict(&[("input", digits[i].clone())]).unwrap();
                    if !bits_equal(&got[0], &want[i]) {
                        mismatches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(mismatches.into_inner(), 0);
    println!("8 threads x 200 predictions: all identical to the single-threaded results");
    std::fs::remove_dir_all(tmp).ok();
}

/// A real package cut at 64 evenly spaced offsets and hit by byte flips (1000 anywhere, 1000
/// in the header, manifest and the padding before the weights): no panic; every case is a clear error or, for a flip in unused
/// padding, a run whose output is identical to the intact package's.
#[test]
fn truncated_and_flipped_packages_fail_cleanly() {
    let c = case("mnist_cnn");
    let tmp = tmp_dir("corrupt");
    let pkg = tmp.join("mnist.ingot");
    convert(&model_path(&c), &pkg, &ConvertOptions::default());
    let bytes = std::fs::read(&pkg).unwrap();
    let input = case_inputs(&c).remove(0).1;
    let intact = Model::load(&pkg, Config::default()).unwrap();
    let want = intact.predict(&[("input", input.clone())]).unwrap()[0].clone();
    // header, table, manifest and the padding up to the weights section
    let weights_at = {
        let h = smelt::ingot::header::Header::decode(&bytes).unwrap();
        let w = h
            .section(smelt::ingot::header::kind::WEIGHTS)
            .unwrap()
            .unwrap();
        w.offset as usize
    };
    // messages grouped by kind: parenthesized details and numbers masked
    let kind = |m: String| -> String {
        let (mut out, mut depth) = (String::new(), 0);
        for ch in m.chars() {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                c if depth == 0 && c.is_ascii_digit() && !out.ends_with('#') => out.push('#'),
                c if depth == 0 && c.is_ascii_digit() => {}
                c if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    let mut messages = std::collections::BTreeSet::new();

    let cut = tmp.join("cut.ingot");
    for k in 0..64 {
        let n = k * bytes.len() / 64;
        std::fs::write(&cut, &bytes[..n]).unwrap();
        let r = std::panic::catch_unwind(|| Model::load(&cut, Config::default()).map(|_| ()));
        match r {
            Ok(Err(e)) => {
                messages.insert(kind(
                    e.to_string().replace(&*cut.to_string_lossy(), "cut.ingot"),
                ));
            }
            Ok(Ok(())) => panic!("truncated at {n} of {} bytes: loaded", bytes.len()),
            Err(_) => panic!("truncated at {n}: panicked"),
        }
    }

    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut errors, mut correct) = (0, 0);
    for k in 0..2000 {
        let span = if k < 1000 { bytes.len() } else { weights_at };
        let pos = (next() % span as u64) as usize;
        let flip = (next() % 255 + 1) as u8;
        let mut b = bytes.clone();
        b[pos] ^= flip;
        let input = input.clone();
        let r = std::panic::catch_unwind(move || -> smelt::Result<Tensor> {
            let p = smelt::ingot::from_bytes(std::sync::Arc::new(b), &Default::default())?;
            let m = Model::from_graph(p.graph, p.info, Config::default())?;
            Ok(m.predict(&[("input", input)])?[0].clone())
        });
        match r {
            Ok(Err(e)) => {
                errors += 1;
                messages.insert(kind(e.to_string()));
            }
            Ok(Ok(got)) => {
                assert!(
                    bits_equal(&got, &want),
                    "flip of byte {pos} (^{flip:02x}) loaded and gave a different answer"
                );
                correct += 1;
            }
            Err(_) => panic!("flip of byte {pos} (^{flip:02x}) panicked"),
        }
    }
    println!(
        "64 truncations: 64 clear errors; 2000 flips: {errors} clear errors, {correct} correct runs \
         (padding), 0 panics; {} kinds of message:",
        messages.len()
    );
    for m in messages.iter().take(40) {
        println!("  {m}");
    }
    std::fs::remove_dir_all(tmp).ok();
}
