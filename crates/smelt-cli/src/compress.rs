//! `smelt compress MODEL -o OUT.ingot --mode linear|palettize ...`: weight compression
//! (coremltools.optimize's role), then an atomic package write. Prints a summary, and with
//! `--report` one line per weight: shape, parameter grid, sizes and weight SNR.

use crate::info::human_bytes;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use smelt::compression::palettize::Method;
use smelt::compression::{Granularity, Mode, Options};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    Linear,
    Palettize,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DtypeArg {
    Int8,
    Int4,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GranularityArg {
    PerTensor,
    PerChannel,
    PerBlock,
    PerGroupedChannel,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
    Kmeans,
    Uniform,
}

#[derive(Args)]
pub struct CompressArgs {
    /// The model to compress: .onnx or .ingot.
    pub model: PathBuf,
    /// The package to write.
    #[arg(short, long, value_name = "OUT.ingot")]
    pub output: PathBuf,
    #[arg(long, value_enum)]
    pub mode: ModeArg,
    /// Linear: the integer type of the codes.
    #[arg(long, value_enum, default_value = "int8")]
    pub dtype: DtypeArg,
    /// Default: per-channel (linear), per-tensor (palettize).
    #[arg(long, value_enum)]
    pub granularity: Option<GranularityArg>,
    /// Linear per-block: input elements per scale.
    #[arg(long, default_value_t = 32)]
    pub block_size: usize,
    /// Linear: zero point 0, codes in [-(2^(b-1)-1), 2^(b-1)-1] (the default).
    #[arg(long, conflicts_with = "affine")]
    pub symmetric: bool,
    /// Linear: a zero point per scale, the full code range.
    #[arg(long)]
    pub affine: bool,
    /// Palettize: bits per index (1 to 8).
    #[arg(long, default_value_t = 4)]
    pub nbits: u32,
    /// Palettize per-grouped-channel: output channels per table.
    #[arg(long, default_value_t = 16)]
    pub group_size: usize,
    /// Palettize: how the table is made.
    #[arg(long, value_enum, default_value = "kmeans")]
    pub method: MethodArg,
    /// Leave weights with fewer elements alone.
    #[arg(long, default_value_t = 2048)]
    pub weight_threshold: usize,
    /// Op types whose weights are compressed (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "Conv,ConvTranspose,MatMul,Gemm,Gather"
    )]
    pub ops: Vec<String>,
    /// Tensor or node names to leave alone (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Calibration inputs: DIR/NAME.npy (or in_NAME.npy) per model input, rows on the first
    /// axis. MatMul / Gemm weights then get their codes chosen to compensate rounding errors
    /// on these inputs' activations (GPTQ).
    #[arg(long, value_name = "DIR")]
    pub calibration: Option<PathBuf>,
    /// Calibration rows per run.
    #[arg(long, default_value_t = 32)]
    pub calibration_batch: usize,
    /// Print one line per weight: shape, grid, sizes, SNR, time.
    #[arg(long)]
    pub report: bool,
}

fn options(a: &CompressArgs) -> Result<Options> {
    let granularity = |default: GranularityArg| match a.granularity.unwrap_or(default) {
        GranularityArg::PerTensor => Granularity::PerTensor,
        GranularityArg::PerChannel => Granularity::PerChannel,
        GranularityArg::PerBlock => Granularity::PerBlock(a.block_size),
        GranularityArg::PerGroupedChannel => Granularity::PerGroupedChannel(a.group_size),
    };
    let mode = match a.mode {
        ModeArg::Linear => {
            let g = granularity(GranularityArg::PerChannel);
            if matches!(g, Granularity::PerGroupedChannel(_)) {
                bail!("--granularity per-grouped-channel is for --mode palettize");
            }
            if a.block_size == 0 {
                bail!("--block-size must be at least 1");
            }
            Mode::Linear {
                bits: match a.dtype {
                    DtypeArg::Int8 => 8,
                    DtypeArg::Int4 => 4,
                },
                symmetric: !a.affine,
                granularity: g,
            }
        }
        ModeArg::Palettize => {
            let g = granularity(GranularityArg::PerTensor);
            if matches!(g, Granularity::PerChannel | Granularity::PerBlock(_)) {
                bail!("--mode palettize takes --granularity per-tensor or per-grouped-channel");
            }
            if !(1..=8).contains(&a.nbits) {
                bail!("--nbits must be 1 to 8, got {}", a.nbits);
            }
            if a.group_size == 0 {
                bail!("--group-size must be at least 1");
            }
            Mode::Palettize {
                bits: a.nbits,
                method: match a.method {
                    MethodArg::Kmeans => Method::KMeans,
                    MethodArg::Uniform => Method::Uniform,
                },
                granularity: g,
            }
        }
    };
    let mut o = Options::new(mode);
    o.weight_threshold = a.weight_threshold;
    o.ops = a.ops.clone();
    o.skip = a.skip.clone();
    if let Some(dir) = &a.calibration {
        o.calibration = calibration(&a.model, dir, a.calibration_batch)?;
    }
    Ok(o)
}

/// The calibration feeds: every model input found in `dir`, split into runs of `batch` rows.
fn calibration(
    model: &std::path::Path,
    dir: &std::path::Path,
    batch: usize,
) -> Result<Vec<Vec<(String, smelt::Tensor)>>> {
    if batch == 0 {
        bail!("--calibration-batch must be at least 1");
    }
    let (g, _) = smelt::convert::import(model, &Default::default())
        .with_context(|| format!("reading {}", model.display()))?;
    let names: Vec<String> = g.input_names().iter().map(|s| s.to_string()).collect();
    let given = crate::compare::data_inputs(dir, &names)?;
    if given.is_empty() {
        bail!(
            "--calibration {}: no NAME.npy for any input ({})",
            dir.display(),
            names.join(", ")
        );
    }
    let rows = given[0].1.shape().first().copied().unwrap_or(0);
    if given.iter().any(|(_, t)| t.shape().first() != Some(&rows)) {
        bail!("--calibration: the inputs must share their first dim (rows)");
    }
    let mut feeds = Vec::new();
    for r0 in (0..rows.max(1)).step_by(batch) {
        let mut feed = Vec::new();
        for (n, t) in &given {
            feed.push((n.clone(), crate::compare::row_range(t, r0, r0 + batch)?));
        }
        feeds.push(feed);
    }
    Ok(feeds)
}

pub fn main(a: CompressArgs) -> Result<()> {
    let opts = options(&a)?;
    if !a.model.exists() {
        bail!("{}: no such file", a.model.display());
    }
    if a.output == a.model {
        bail!("the output {} is the input", a.output.display());
    }
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()));
    let style =
        |t: &str| ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut phase = None;
    let (report, stats) =
        smelt::compress_file(&a.model, &a.output, &opts, &mut |writing, done, total| {
            if let Some(pb) = &bar {
                if phase != Some(writing) {
                    phase = Some(writing);
                    pb.set_length(total);
                    pb.set_style(style(if writing {
                        "writing    {bar:40} {binary_bytes}/{binary_total_bytes}"
                    } else {
                        "compressing {bar:40} {pos}/{len} weights ({eta})"
                    }));
                }
                pb.set_position(done);
            }
        })
        .with_context(|| {
            format!(
                "compressing {} to {}",
                a.model.display(),
                a.output.display()
            )
        })?;
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    if a.report {
        println!(
            "{:<40} {:<10} {:<18} {:<14} {:>10} {:>10} {:>8} {:>8}",
            "weight", "op", "shape", "grid", "before", "after", "SNR dB", "ms"
        );
        for t in &report.tensors {
            println!(
                "{:<40} {:<10} {:<18} {:<14} {:>10} {:>10} {:>8.3} {:>9.3}{}",
                t.name,
                t.op_type,
                format!("{:?}", t.shape),
                format!("{:?}", t.grid),
                human_bytes(t.bytes_before as f64),
                human_bytes(t.bytes_after as f64),
                t.snr_db,
                t.seconds * 1e3,
                if t.note.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", t.note)
                }
            );
        }
        for (name, why) in &report.skipped {
            println!("{name:<40} left alone: {why}");
        }
    }
    let n = report.tensors.len();
    let (before, after) = (report.bytes_before(), report.bytes_after());
    let worst = report
        .tensors
        .iter()
        .map(|t| t.snr_db)
        .fold(f64::INFINITY, f64::min);
    println!(
        "compressed {n} weights ({} left alone): {} -> {} ({:.2}x), lowest weight SNR {:.2} dB, in {:.2} s",
        report.skipped.len(),
        human_bytes(before as f64),
        human_bytes(after as f64),
        before as f64 / after.max(1) as f64,
        worst,
        report.seconds
    );
    println!(
        "wrote {}: {}",
        a.output.display(),
        human_bytes(stats.file_bytes as f64)
    );
    Ok(())
}
