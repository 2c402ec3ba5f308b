//! `smelt demo`: reads a line of printed text with the PP-OCRv4 recogniser.
//!
//! The model comes from the pinned `rapidocr-onnxruntime` package (scripts/fetch.py fetches it
//! into .cache/ on first use); its character dictionary is in the model's metadata
//! (`character`, one symbol per line, plus a space). The default image is a text line cut
//! from scikit-image's `page.png` (tests/golden/ocr_rec/page_line_rgb.npy, u8 [H, W, 3]).
//! Preprocessing follows rapidocr: resize to height 48 keeping the aspect ratio, BGR,
//! x / 127.5 - 1, pad right to at least 320 wide. The output f32[1, T, 6625] is decoded by CTC
//! greedy decoding (best class per step, merge repeats, drop blanks).

use crate::image::resize_bilinear;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use smelt_core::{npy, DType, Tensor};
use std::path::{Path, PathBuf};

const REC_MODEL: &str = "rapidocr/rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx";
const DEFAULT_IMAGE: &str = "tests/golden/ocr_rec/page_line_rgb.npy";

#[derive(Args)]
pub struct DemoArgs {
    /// A text line as a .npy image: u8 [H, W, 3] (RGB) or [H, W] (grey).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Also save the preprocessed model input f32[1, 3, 48, W] here (to feed other runtimes).
    #[arg(long, value_name = "FILE.npy")]
    pub save_input: Option<PathBuf>,
}

/// The repository (for scripts/fetch.py and the demo image): the first folder holding
/// scripts/fetch.py above the current directory, else the one this binary was built from.
fn repo_root() -> Result<PathBuf> {
    let here = std::env::current_dir().ok();
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for start in here.iter().map(|p| p.as_path()).chain([built.as_path()]) {
        for dir in start.ancestors() {
            if dir.join("scripts/fetch.py").is_file() {
                return Ok(dir.to_path_buf());
            }
        }
    }
    bail!("cannot find the smelt repository (scripts/fetch.py): run the demo from inside it")
}

/// Fetches the recogniser if it is not in the cache yet.
fn rec_model(root: &Path) -> Result<PathBuf> {
    let cache = smelt_core::settings::var("SMELT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache"));
    let p = cache.join(REC_MODEL);
    if !p.exists() {
        eprintln!("fetching the PP-OCRv4 recogniser (rapidocr-onnxruntime 1.4.4, 15 MB) ...");
        let status = std::process::Command::new("python3")
            .arg(root.join("scripts/fetch.py"))
            .arg("rapidocr")
            .status()
            .context("running python3 scripts/fetch.py rapidocr")?;
        if !status.success() || !p.exists() {
            bail!(
                "scripts/fetch.py rapidocr failed; {} is missing",
                p.display()
            );
        }
    }
    Ok(p)
}

/// u8 [H, W, 3] or [H, W] -> f32 RGB [H, W, 3] in 0..=255.
fn load_image(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let t = npy::read(path)?;
    if t.dtype() != DType::U8 {
        bail!(
            "{}: the image must be u8, not {}",
            path.display(),
            t.dtype()
        );
    }
    let px = t.as_slice::<u8>()?;
    match *t.shape() {
        [h, w, 3] if h > 0 && w > 0 => Ok((px.iter().map(|&x| x as f32).collect(), h, w)),
        [h, w] if h > 0 && w > 0 => Ok((px.iter().flat_map(|&x| [x as f32; 3]).collect(), h, w)),
        ref s => bail!(
            "{}: expected an image of shape [H, W, 3] or [H, W], got {s:?}",
            path.display()
        ),
    }
}

/// The recogniser's input f32[1, 3, 48, W] for an RGB image.
fn preprocess(rgb: &[f32], h: usize, w: usize) -> Result<Tensor> {
    const H: usize = 48;
    let rw = ((H * w) as f64 / h as f64).ceil().max(1.0) as usize;
    if rw > 48 * 100 {
        bail!("the image is {w}x{h}: too wide for one text line");
    }
    let width = rw.max(320);
    let im = resize_bilinear(rgb, h, w, 3, H, rw);
    let mut x = vec![0f32; 3 * H * width];
    for y in 0..H {
        for xx in 0..rw {
            for c in 0..3 {
                // BGR order: channel c of the input is colour 2 - c.
                x[(c * H + y) * width + xx] = im[(y * rw + xx) * 3 + (2 - c)] / 127.5 - 1.0;
            }
        }
    }
    Ok(Tensor::from_vec(vec![1, 3, H, width], x)?)
}

/// CTC greedy decoding of f32[T, C] probabilities; class 0 is the blank and class i is
/// `chars[i - 1]`. Returns the text and the mean probability of the kept steps.
pub fn ctc_greedy(probs: &[f32], classes: usize, chars: &[String]) -> (String, f32) {
    let mut text = String::new();
    let (mut prev, mut conf, mut kept) = (0usize, 0f32, 0usize);
    for step in probs.chunks_exact(classes) {
        let (best, p) =
            step.iter().enumerate().fold(
                (0, f32::NEG_INFINITY),
                |b, (i, &p)| if p > b.1 { (i, p) } else { b },
            );
        if best != 0 && best != prev {
            if let Some(ch) = chars.get(best - 1) {
                text.push_str(ch);
            }
            conf += p;
            kept += 1;
        }
        prev = best;
    }
    (text, if kept > 0 { conf / kept as f32 } else { 0.0 })
}

pub fn main(a: DemoArgs) -> Result<()> {
    let root = repo_root()?;
    let image = a.image.unwrap_or_else(|| root.join(DEFAULT_IMAGE));
    let (rgb, h, w) = load_image(&image)?;
    let x = preprocess(&rgb, h, w)?;
    if let Some(p) = &a.save_input {
        npy::write(p, &x)?;
    }
    let model_path = rec_model(&root)?;
    // The main job: convert once to a package, then load it (weights mapped) and predict.
    let pkg = root.join(".cache/demo/ppocr_rec.ingot");
    if !pkg.is_file() {
        std::fs::create_dir_all(pkg.parent().expect("folder"))?;
        let opts = smelt::ConvertOptions {
            name: Some("PP-OCRv4 text recognition".into()),
            license: Some("Apache-2.0".into()),
            descriptions: vec![(
                "x".into(),
                "text line, RGB normalized to [-1, 1], height 48".into(),
            )],
            ..Default::default()
        };
        let st = smelt::convert(&model_path, &pkg, &opts, &mut |_, _| {})
            .with_context(|| format!("converting {}", model_path.display()))?;
        eprintln!(
            "converted {} to {} ({:.1} MiB)",
            model_path.display(),
            pkg.display(),
            st.write.file_bytes as f64 / (1 << 20) as f64
        );
    }
    let model = smelt::Model::load(&pkg, smelt::Config::default())
        .with_context(|| format!("loading {}", pkg.display()))?;
    let dict = model
        .metadata()
        .metadata
        .iter()
        .find(|(k, _)| k == "character")
        .map(|(_, v)| v)
        .ok_or_else(|| {
            anyhow!(
                "{}: no 'character' dictionary in the model's metadata",
                pkg.display()
            )
        })?;
    let mut chars: Vec<String> = dict.split('\n').map(|s| s.to_string()).collect();
    chars.push(" ".to_string());
    let input = model
        .inputs()
        .first()
        .map(|f| f.name.clone())
        .ok_or_else(|| anyhow!("the model has no input"))?;
    let t0 = std::time::Instant::now();
    let out = model
        .predict(&[(&input, x)])
        .context("running the recogniser")?;
    let dt = t0.elapsed().as_secs_f64();
    let probs = out
        .0
        .first()
        .map(|(_, t)| t)
        .ok_or_else(|| anyhow!("the model gave no output"))?;
    let [1, _, classes] = *probs.shape() else {
        bail!("unexpected output shape {:?}", probs.shape())
    };
    if classes != chars.len() + 1 {
        bail!(
            "the output has {classes} classes, the dictionary {} symbols + blank",
            chars.len()
        );
    }
    let (text, conf) = ctc_greedy(probs.as_slice::<f32>()?, classes, &chars);
    println!("image:  {} ({w}x{h})", image.display());
    println!(
        "model:  {} ({}, {} nodes), weights {:.1} MiB mapped, run on the CPU in {dt:.2} s",
        model.metadata().name,
        pkg.file_name().unwrap_or_default().to_string_lossy(),
        model.graph().nodes.len(),
        model.load_stats().mapped_bytes as f64 / (1 << 20) as f64
    );
    println!("text:   {text}");
    println!("confidence {conf:.3}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_merges_repeats_and_drops_blanks() {
        let chars: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        // steps: a a blank a b b  ->  "aab"
        let best = [1usize, 1, 0, 1, 2, 2];
        let probs: Vec<f32> = best
            .iter()
            .flat_map(|&b| (0..3).map(move |i| if i == b { 0.9 } else { 0.05 }))
            .collect();
        let (t, c) = ctc_greedy(&probs, 3, &chars);
        assert_eq!(t, "aab");
        assert!((c - 0.9).abs() < 1e-6);
    }

    #[test]
    fn preprocess_shape_and_range() {
        let (h, w) = (38, 300);
        let rgb: Vec<f32> = (0..h * w * 3).map(|i| (i % 256) as f32).collect();
        let x = preprocess(&rgb, h, w).unwrap();
        assert_eq!(x.shape(), &[1, 3, 48, 379]);
        assert!(x
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .all(|&v| (-1.0..=1.0).contains(&v)));
        let small = preprocess(&rgb[..10 * 10 * 3], 10, 10).unwrap();
        assert_eq!(small.shape(), &[1, 3, 48, 320]);
    }
}
