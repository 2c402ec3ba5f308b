//! `smelt convert MODEL.onnx -o MODEL.ingot` (or a safetensors checkpoint): packages a model with its metadata, state
//! declarations and input/output descriptions. The write is atomic: on any error (a bad
//! `--state`, an unknown `--describe` name, a full disk) no file is left at the output path.

use crate::info::human_bytes;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct ConvertArgs {
    /// The model to convert: .onnx, a Hugging Face checkpoint (a folder with config.json and
    /// model.safetensors, or its .safetensors file; BERT encoders), or an .ingot to
    /// re-package with new metadata.
    pub model: PathBuf,
    /// The package to write (default: MODEL with the extension .ingot).
    #[arg(short, long, value_name = "MODEL.ingot")]
    pub output: Option<PathBuf>,
    /// Model name (default: the input file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Model version.
    #[arg(long)]
    pub version: Option<String>,
    /// Model author.
    #[arg(long)]
    pub author: Option<String>,
    /// Model license (an SPDX identifier such as MIT).
    #[arg(long)]
    pub license: Option<String>,
    /// A description of the model.
    #[arg(long)]
    pub description: Option<String>,
    /// User metadata KEY=VALUE, added after the source model's own (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Declare a state: graph input IN is fed from the state and graph output OUT updates it
    /// after every prediction (repeatable).
    #[arg(long = "state", value_name = "IN=OUT")]
    pub states: Vec<String>,
    /// Describe an input or output: NAME=TEXT (repeatable).
    #[arg(long = "describe", value_name = "NAME=TEXT")]
    pub describe: Vec<String>,
    /// Save the graph as imported, without the portable passes (constant folding,
    /// declutter, BatchNorm folding, common subexpressions, dead nodes).
    #[arg(long)]
    pub keep_graph: bool,
}

/// The convert bar: at most 78 columns with the widest sizes ("1023.99 MiB") and ETA
/// ("59m 59s"), so that it never wraps on an 80-column terminal.
const BAR_TEMPLATE: &str = "writing weights {bar:28} {binary_bytes}/{binary_total_bytes} ({eta})";

/// Weights smaller than this are written without a progress bar.
const BAR_MIN_BYTES: u64 = 16 << 20;

/// Splits `--flag K=V` arguments at the first '='. The key must not be empty and must not
/// repeat; the value may be empty (unless `value_required`) and may itself hold '='.
pub fn pairs(
    flag: &str,
    form: &str,
    list: &[String],
    value_required: bool,
) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(list.len());
    for a in list {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| anyhow!("--{flag} '{a}': expected {form}"))?;
        if k.is_empty() || (value_required && v.is_empty()) {
            bail!("--{flag} '{a}': expected {form}");
        }
        if out.iter().any(|(key, _)| key == k) {
            bail!("--{flag}: '{k}' is given twice");
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// A progress bar over the weight bytes, made on the first report once the total is known;
/// none when stderr is not a terminal or the weights are small.
struct Bar(Option<ProgressBar>, bool);

impl Bar {
    fn update(&mut self, done: u64, total: u64) {
        if !self.1 {
            self.1 = true;
            if total >= BAR_MIN_BYTES && std::io::stderr().is_terminal() {
                let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(BAR_TEMPLATE)
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
                pb.set_style(style);
                self.0 = Some(pb);
            }
        }
        if let Some(pb) = &self.0 {
            pb.set_position(done);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

pub fn main(a: ConvertArgs) -> Result<()> {
    let output = match &a.output {
        Some(o) => o.clone(),
        None => a.model.with_extension("ingot"),
    };
    if output == a.model {
        bail!(
            "the output {} is the input: give another path with -o",
            output.display()
        );
    }
    let opts = smelt::ConvertOptions {
        name: a.name,
        version: a.version,
        author: a.author,
        license: a.license,
        description: a.description,
        metadata: pairs("meta", "KEY=VALUE", &a.meta, false)?,
        states: pairs("state", "IN=OUT", &a.states, true)?,
        descriptions: pairs("describe", "NAME=TEXT", &a.describe, false)?,
        keep_graph: a.keep_graph,
    };
    if !a.model.exists() {
        bail!("{}: no such file", a.model.display());
    }
    let t0 = Instant::now();
    let mut bar = Bar(None, false);
    let done = smelt::convert(&a.model, &output, &opts, &mut |done, total| {
        bar.update(done, total)
    })
    .with_context(|| format!("converting {} to {}", a.model.display(), output.display()))?;
    drop(bar);
    let stats = done.write;
    println!(
        "wrote {}: {}, {} tensors mapped ({}), {} inline, in {:.2} s",
        output.display(),
        human_bytes(stats.file_bytes as f64),
        stats.blobs,
        human_bytes(stats.weight_bytes as f64),
        stats.inline_tensors,
        t0.elapsed().as_secs_f64()
    );
    match &done.passes {
        Some(r) => println!("passes {r}"),
        None => println!("passes none (--keep-graph): the graph as imported"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pairs;

    #[test]
    fn the_bar_fits_80_columns() {
        let widest = super::BAR_TEMPLATE
            .replace("{bar:28}", &"#".repeat(28))
            .replace("{binary_bytes}", "1023.99 MiB")
            .replace("{binary_total_bytes}", "1023.99 MiB")
            .replace("{eta}", "59m 59s");
        assert!(widest.len() < 80, "{} columns: {widest}", widest.len());
    }

    #[test]
    fn pairs_split_at_the_first_equals_and_reject_bad_ones() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = pairs("meta", "KEY=VALUE", &v(&["a=b=c", "e="]), false).unwrap();
        assert_eq!(p, [("a".into(), "b=c".into()), ("e".into(), String::new())]);
        for bad in [&["nokey"][..], &["=v"], &["a=1", "a=2"]] {
            let e = pairs("meta", "KEY=VALUE", &v(bad), false).unwrap_err();
            assert!(e.to_string().starts_with("--meta"), "{e}");
        }
        assert!(pairs("state", "IN=OUT", &v(&["h="]), true).is_err());
    }
}
