//! `smelt compress MODEL -o OUT.ingot --mode linear|palettize ...`: weight compression
//! (coremltools.optimize's role), then an atomic package write. Prints a summary, and with
//! `--report` one line per weight: shape, parameter grid, sizes and weight SNR. With sample
//! inputs (`--random` or `--calibration`) it runs the original and the compressed model on
//! the CPU, prints each output's error and warns when a float output's SNR is low, naming
//! the weights that cost most.

mod accuracy;
mod progress;

use accuracy::{accuracy_lines, accuracy_warning};
use progress::{Bars, Phase};

use crate::info::human_bytes;
use crate::run::{check_dims, defaulted_note, dim_names, parse_dims, random_tensor, Rng};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::ProgressDrawTarget;
use smelt::compress::Samples;
use smelt::compression::palettize::Method;
use smelt::compression::{Granularity, Mode, Options};
use smelt::Tensor;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
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

/// The default of --warn-snr, in dB.
const WARN_SNR_DB: f64 = 15.0;

/// Weights measured alone (only that one compressed) to name the costliest: the ones of
/// lowest weight SNR.
const PROBES: usize = 5;

#[derive(Args)]
pub struct CompressArgs {
    /// The model to compress: .onnx or .ingot.
    pub model: PathBuf,
    /// The package to write.
    #[arg(short, long, value_name = "OUT.ingot")]
    pub output: PathBuf,
    #[arg(long, value_enum)]
    pub mode: ModeArg,
    /// Linear: the integer type of the codes [default: int8].
    #[arg(long, value_enum)]
    pub dtype: Option<DtypeArg>,
    /// Default: per-channel (linear), per-tensor (palettize).
    #[arg(long, value_enum)]
    pub granularity: Option<GranularityArg>,
    /// Linear per-block: input elements per scale [default: 32].
    #[arg(long)]
    pub block_size: Option<usize>,
    /// Linear: zero point 0, codes in [-(2^(b-1)-1), 2^(b-1)-1] (the default).
    #[arg(long, conflicts_with = "affine")]
    pub symmetric: bool,
    /// Linear: a zero point per scale, the full code range.
    #[arg(long)]
    pub affine: bool,
    /// Palettize: bits per index, 1 to 8 [default: 4].
    #[arg(long)]
    pub nbits: Option<u32>,
    /// Palettize per-grouped-channel: output channels per table [default: 16].
    #[arg(long)]
    pub group_size: Option<usize>,
    /// Palettize: how the table is made [default: kmeans].
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// Leave weights with fewer elements alone.
    #[arg(long, default_value_t = 2048)]
    pub weight_threshold: usize,
    /// Op types whose weights are compressed (comma-separated; these are all it supports).
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
    /// on these inputs' activations (GPTQ). The first batch of them also measures the output
    /// accuracy as --random does (optimistic for the weights calibrated on them).
    #[arg(long, value_name = "DIR", conflicts_with = "random")]
    pub calibration: Option<PathBuf>,
    /// Calibration rows per run [default: 32].
    #[arg(long, requires = "calibration")]
    pub calibration_batch: Option<usize>,
    /// After compressing, run the original and the compressed model on the CPU on seeded
    /// random inputs of the declared types (as `smelt run --random`) and print each output's
    /// SNR and cosine; a float output under --warn-snr gives a warning naming the weights
    /// that cost most. Those are found by measuring the 5 weights of lowest weight SNR each
    /// alone (only that weight compressed): 7 model runs in all.
    #[arg(long)]
    pub random: bool,
    /// Seed of --random [default: 0].
    #[arg(long, requires = "random")]
    pub seed: Option<u64>,
    /// Size of a symbolic input dimension for --random: NAME=N; '?=N' sizes the unnamed
    /// ones. Dimensions not set are 1.
    #[arg(long = "dim", value_name = "NAME=N", requires = "random")]
    pub dims: Vec<String>,
    /// Warn when a float output's SNR against the original is below this many dB
    /// (with --random or --calibration) [default: 15; on random inputs int8 per-channel
    /// gives PP-OCRv4 rec about 18-22 dB, int4 per-block about 9].
    #[arg(long, value_name = "DB")]
    pub warn_snr: Option<f64>,
    /// Print one line per weight: shape, grid, sizes, SNR, time.
    #[arg(long)]
    pub report: bool,
}

/// Refuses an option that belongs to the other mode, or to a granularity not chosen.
fn refuse(given: &[(bool, &str)], belongs: &str) -> Result<()> {
    match given.iter().find(|(set, _)| *set) {
        Some((_, flag)) => bail!("{flag} is for {belongs}"),
        None => Ok(()),
    }
}

fn options(a: &CompressArgs) -> Result<Options> {
    let mode = match a.mode {
        ModeArg::Linear => {
            refuse(
                &[
                    (a.nbits.is_some(), "--nbits"),
                    (a.method.is_some(), "--method"),
                    (a.group_size.is_some(), "--group-size"),
                ],
                "--mode palettize (--mode linear takes --dtype int8|int4)",
            )?;
            let g = a.granularity.unwrap_or(GranularityArg::PerChannel);
            if g != GranularityArg::PerBlock {
                refuse(
                    &[(a.block_size.is_some(), "--block-size")],
                    "--granularity per-block",
                )?;
            }
            let block = a.block_size.unwrap_or(32);
            if block == 0 {
                bail!("--block-size must be at least 1");
            }
            Mode::Linear {
                bits: match a.dtype.unwrap_or(DtypeArg::Int8) {
                    DtypeArg::Int8 => 8,
                    DtypeArg::Int4 => 4,
                },
                symmetric: !a.affine,
                granularity: match g {
                    GranularityArg::PerTensor => Granularity::PerTensor,
                    GranularityArg::PerChannel => Granularity::PerChannel,
                    GranularityArg::PerBlock => Granularity::PerBlock(block),
                    GranularityArg::PerGroupedChannel => {
                        bail!("--granularity per-grouped-channel is for --mode palettize")
                    }
                },
            }
        }
        ModeArg::Palettize => {
            refuse(
                &[
                    (a.dtype.is_some(), "--dtype"),
                    (a.block_size.is_some(), "--block-size"),
                    (a.symmetric, "--symmetric"),
                    (a.affine, "--affine"),
                ],
                "--mode linear (--mode palettize takes --nbits 1..8)",
            )?;
            let g = a.granularity.unwrap_or(GranularityArg::PerTensor);
            if g != GranularityArg::PerGroupedChannel {
                refuse(
                    &[(a.group_size.is_some(), "--group-size")],
                    "--granularity per-grouped-channel",
                )?;
            }
            let nbits = a.nbits.unwrap_or(4);
            if !(1..=8).contains(&nbits) {
                bail!("--nbits must be 1 to 8, got {nbits}");
            }
            let group = a.group_size.unwrap_or(16);
            if group == 0 {
                bail!("--group-size must be at least 1");
            }
            Mode::Palettize {
                bits: nbits,
                method: match a.method.unwrap_or(MethodArg::Kmeans) {
                    MethodArg::Kmeans => Method::KMeans,
                    MethodArg::Uniform => Method::Uniform,
                },
                granularity: match g {
                    GranularityArg::PerTensor => Granularity::PerTensor,
                    GranularityArg::PerGroupedChannel => Granularity::PerGroupedChannel(group),
                    _ => bail!(
                        "--mode palettize takes --granularity per-tensor or per-grouped-channel"
                    ),
                },
            }
        }
    };
    if a.warn_snr.is_some() && !a.random && a.calibration.is_none() {
        bail!("--warn-snr needs inputs to measure on: --random or --calibration DIR");
    }
    if a.calibration_batch == Some(0) {
        bail!("--calibration-batch must be at least 1");
    }
    let mut o = Options::new(mode);
    o.weight_threshold = a.weight_threshold;
    o.ops = a.ops.clone();
    o.skip = a.skip.clone();
    o.check()?;
    Ok(o)
}

/// The calibration feeds: every model input found in `dir`, split into runs of `batch` rows.
fn calibration(
    g: &smelt::Graph,
    dir: &Path,
    batch: usize,
) -> Result<Vec<Vec<(String, smelt::Tensor)>>> {
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

/// One feed of seeded random values for the inputs of `g` that are not declared states.
fn random_feed(
    g: &smelt::Graph,
    info: &smelt::Info,
    a: &CompressArgs,
) -> Result<(Vec<(String, Tensor)>, Vec<(String, usize)>)> {
    let dims = parse_dims(&a.dims)?;
    let states: Vec<&str> = info.states.iter().map(|s| s.input.as_str()).collect();
    let inputs: Vec<&smelt_ir::Value> = g
        .inputs
        .iter()
        .map(|&i| &g.values[i])
        .filter(|v| !states.contains(&v.name.as_str()))
        .collect();
    let state_infos = info
        .states
        .iter()
        .filter_map(|s| g.value_id(&s.input).map(|i| &g.values[i].info));
    check_dims(
        &dims,
        &dim_names(inputs.iter().map(|v| &v.info).chain(state_infos)),
    )?;
    let defaulted: Vec<String> = dim_names(inputs.iter().map(|v| &v.info))
        .into_iter()
        .filter(|d| !dims.contains_key(d))
        .collect();
    if !defaulted.is_empty() {
        eprintln!("note: {}", defaulted_note(&defaulted));
    }
    let mut rng = Rng::new(a.seed.unwrap_or(0));
    let mut feed = Vec::new();
    for v in inputs {
        feed.push((
            v.name.clone(),
            random_tensor(&v.name, &v.info, &dims, &mut rng)?,
        ));
    }
    Ok((feed, dims.into_iter().collect()))
}

pub fn main(a: CompressArgs) -> Result<()> {
    let opts = options(&a)?;
    if !a.model.exists() {
        bail!("{}: no such file", a.model.display());
    }
    if a.output == a.model {
        bail!("the output {} is the input", a.output.display());
    }
    let what = || {
        format!(
            "compressing {} to {}",
            a.model.display(),
            a.output.display()
        )
    };
    let (graph, info) = smelt::convert::import(&a.model, &Default::default())
        .with_context(|| format!("reading {}", a.model.display()))?;
    let mut opts = opts;
    let mut samples = Samples {
        probes: PROBES,
        ..Default::default()
    };
    let mut measured_on = String::new();
    if let Some(dir) = &a.calibration {
        let batch = a.calibration_batch.unwrap_or(32);
        opts.calibration = calibration(&graph, dir, batch)?;
        samples.feeds = opts.calibration.iter().take(1).cloned().collect();
        let rows = samples.feeds[0][0].1.shape().first().copied().unwrap_or(1);
        let plural = if rows == 1 { "" } else { "s" };
        measured_on = format!("the first {rows} row{plural} of --calibration");
    } else if a.random {
        let (feed, dims) = random_feed(&graph, &info, &a)?;
        samples.feeds = vec![feed];
        samples.dims = dims;
        measured_on = format!("random inputs (seed {})", a.seed.unwrap_or(0));
    }
    let mut bars = Bars::new(
        std::io::stderr()
            .is_terminal()
            .then_some(ProgressDrawTarget::stderr as fn() -> ProgressDrawTarget),
    );
    let (compressed, report) = smelt::compression::compress(&graph, &opts, &mut |d, t| {
        bars.report(Phase::Compressing, d as u64, t as u64)
    })
    .with_context(what)?;
    let accuracy = if samples.feeds.is_empty() {
        None
    } else {
        let acc = smelt::compress::measure(
            &graph,
            &compressed,
            &info,
            &report,
            &samples,
            &mut |d, t| bars.report(Phase::Measuring, d, t),
        )
        .with_context(|| format!("measuring the output accuracy on {measured_on}"))?;
        Some(acc)
    };
    let stats = smelt::compress::write(&a.output, &compressed, info, &mut |d, t| {
        bars.report(Phase::Writing, d, t)
    })
    .with_context(what)?;
    drop(bars);
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
    if let Some(acc) = &accuracy {
        println!("output accuracy on {measured_on}, on the CPU:");
        for l in accuracy_lines(acc) {
            println!("{l}");
        }
    }
    println!(
        "wrote {}: {}",
        a.output.display(),
        human_bytes(stats.file_bytes as f64)
    );
    for s in &report.unused_skip {
        eprintln!("warning: --skip {s}: no weight nor node reading one has this name");
    }
    match &accuracy {
        Some(acc) => {
            if let Some(w) = accuracy_warning(acc, a.warn_snr.unwrap_or(WARN_SNR_DB)) {
                eprintln!("{w}");
            }
        }
        None => eprintln!(
            "hint: --random [--dim NAME=N] or --calibration DIR also measures the output \
             accuracy (SNR, cosine) against the original"
        ),
    }
    Ok(())
}
