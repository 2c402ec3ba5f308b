//! `smelt compress MODEL -o OUT.ingot --mode linear|palettize ...`: weight compression
//! (coremltools.optimize's role), then an atomic package write. Prints a summary, and with
//! `--report` one line per weight: shape, parameter grid, sizes and weight SNR. With sample
//! inputs (`--random` or `--calibration`) it runs the original and the compressed model on
//! the CPU, prints each output's error and warns when a float output's SNR is low, naming
//! the weights that cost most.

use crate::compare::fmt_db;
use crate::info::human_bytes;
use crate::run::{check_dims, defaulted_note, dim_names, fmt_num, parse_dims, random_tensor, Rng};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use smelt::compress::{Accuracy, Samples};
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

/// The phases of `smelt compress`, each with its own progress bar and units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Compressing,
    Measuring,
    Writing,
}

impl Phase {
    /// The bar's template; every line stays under 80 columns (`widest` in the tests).
    fn template(self) -> &'static str {
        match self {
            Phase::Compressing => "compressing {bar:30} {pos}/{len} weights ({eta})",
            Phase::Measuring => "measuring   {bar:30} {pos}/{len} model runs ({eta})",
            Phase::Writing => "writing     {bar:30} {binary_bytes}/{binary_total_bytes}",
        }
    }
}

/// What a progress report does to the bar.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// A new phase: a fresh bar with this phase's units, length and position, made before
    /// anything of it is drawn.
    Start { phase: Phase, len: u64, pos: u64 },
    /// The same phase: move the bar.
    Move(u64),
}

/// Turns (phase, done, total) reports into bar steps. One bar for every phase used to show,
/// at the switch to writing, the weight count against the byte total under the weights
/// template ("compressing 20/8686976 weights (9d)"): set_length redrew before the style
/// changed. A fresh bar per phase cannot mix units.
#[derive(Default)]
struct Phases {
    current: Option<Phase>,
}

impl Phases {
    fn step(&mut self, phase: Phase, done: u64, total: u64) -> Step {
        if self.current == Some(phase) {
            Step::Move(done)
        } else {
            self.current = Some(phase);
            Step::Start {
                phase,
                len: total,
                pos: done,
            }
        }
    }
}

/// The progress bars on stderr (none when it is not a terminal); cleared when dropped, so
/// an error leaves no half-drawn bar above its message.
struct Bars {
    phases: Phases,
    bar: Option<ProgressBar>,
    target: Option<fn() -> ProgressDrawTarget>,
}

impl Bars {
    fn new(target: Option<fn() -> ProgressDrawTarget>) -> Bars {
        Bars {
            phases: Phases::default(),
            bar: None,
            target,
        }
    }

    fn report(&mut self, phase: Phase, done: u64, total: u64) {
        let Some(target) = self.target else { return };
        match self.phases.step(phase, done, total) {
            Step::Start { phase, len, pos } => {
                if let Some(old) = self.bar.take() {
                    old.finish_and_clear();
                }
                let style = ProgressStyle::with_template(phase.template())
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
                self.bar = Some(
                    ProgressBar::with_draw_target(Some(len), target())
                        .with_style(style)
                        .with_position(pos),
                );
            }
            Step::Move(pos) => {
                if let Some(b) = &self.bar {
                    b.set_position(pos);
                }
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// The printed lines of a measured accuracy: one per output, then one per weight probed.
fn accuracy_lines(acc: &Accuracy) -> Vec<String> {
    let width = acc
        .outputs
        .iter()
        .map(|o| o.name.len())
        .chain(acc.weights.iter().map(|w| w.name.len()))
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for o in &acc.outputs {
        let ty = format!("{}{:?}", o.dtype, o.shape).replace(' ', "");
        let mut l = format!("output  {:<width$}  {ty}", o.name);
        if !o.is_float() {
            l += &format!("  exact {:.2}%", 100.0 * o.exact);
        } else if o.finite > 0 {
            l += &format!(
                "  snr {} dB  cosine {:.6}  max abs {}",
                fmt_db(o.snr_db),
                o.cosine,
                fmt_num(o.max_abs)
            );
        }
        if o.nonfinite_original + o.nonfinite_compressed > 0 {
            l += &format!(
                "  NaN/inf: original {}/{n}, compressed {}/{n}",
                o.nonfinite_original,
                o.nonfinite_compressed,
                n = o.values
            );
        }
        if let Some((agree, rows)) = o.top1 {
            l += &format!(
                "  top-1 agree {agree}/{rows} ({:.1}%)",
                100.0 * agree as f64 / rows.max(1) as f64
            );
        }
        lines.push(l);
    }
    for w in &acc.weights {
        lines.push(format!(
            "alone   {:<width$}  weight snr {} dB  output snr {} dB",
            w.name,
            fmt_db(w.weight_snr_db),
            fmt_db(w.output_snr_db)
        ));
    }
    lines
}

/// The warning for float outputs under `warn_db` (or with NaN or infinite values the
/// original does not have), naming the costliest weights probed.
fn accuracy_warning(acc: &Accuracy, warn_db: f64) -> Option<String> {
    let mut bad = Vec::new();
    let mut low = false;
    let mut unmeasured = false;
    for o in acc.outputs.iter().filter(|o| o.is_float()) {
        if o.finite == 0 {
            unmeasured = true;
            bad.push(format!(
                "'{}' has no finite value to compare (NaN/inf: {}/{} in the original)",
                o.name, o.nonfinite_original, o.values
            ));
            continue;
        }
        if o.nonfinite_compressed != o.nonfinite_original {
            bad.push(format!(
                "'{}' has {} NaN/inf values, the original {}",
                o.name, o.nonfinite_compressed, o.nonfinite_original
            ));
        }
        if !(o.snr_db >= warn_db) {
            low = true;
            bad.push(format!(
                "'{}' snr {} dB, cosine {:.3} (under --warn-snr {warn_db} dB)",
                o.name,
                fmt_db(o.snr_db),
                o.cosine
            ));
        }
    }
    if bad.is_empty() {
        return None;
    }
    let mut msg = format!(
        "warning: the compressed model's output is far from the original's: {}",
        bad.join("; ")
    );
    // the weights probed that alone cost more than the whole model may
    let costliest: Vec<String> = acc
        .weights
        .iter()
        .filter(|w| w.output_snr_db < warn_db)
        .take(3)
        .map(|w| format!("{} ({} dB alone)", w.name, fmt_db(w.output_snr_db)))
        .collect();
    if low && !costliest.is_empty() {
        msg += &format!(
            "; the weights that cost most: {}: leave them alone with --skip, or use more bits \
             or a finer granularity",
            costliest.join(", ")
        );
    } else if low && !acc.weights.is_empty() {
        msg += &format!(
            "; none of the {} weights of lowest weight SNR costs that much alone (the \
             costliest, {}, {} dB): the error adds up over many weights: use more bits or a \
             finer granularity",
            acc.weights.len(),
            acc.weights[0].name,
            fmt_db(acc.weights[0].output_snr_db)
        );
    }
    if unmeasured {
        msg += "; these inputs give NaN/inf in the original model: measure on real ones with \
                --calibration DIR";
    }
    Some(msg)
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

#[cfg(test)]
mod tests {
    use super::*;
    use smelt::compress::{OutputError, WeightCost};
    use smelt::DType;

    #[test]
    fn each_phase_starts_its_own_bar_with_its_own_units() {
        let mut p = Phases::default();
        assert_eq!(
            p.step(Phase::Compressing, 0, 20),
            Step::Start {
                phase: Phase::Compressing,
                len: 20,
                pos: 0
            }
        );
        assert_eq!(p.step(Phase::Compressing, 20, 20), Step::Move(20));
        // the first writing report: bytes against bytes, never 20 weights of 8686976 bytes
        assert_eq!(
            p.step(Phase::Writing, 4096, 8686976),
            Step::Start {
                phase: Phase::Writing,
                len: 8686976,
                pos: 4096
            }
        );
        assert_eq!(
            p.step(Phase::Writing, 8686976, 8686976),
            Step::Move(8686976)
        );
    }

    #[test]
    fn bars_switch_length_and_position_together() {
        let mut b = Bars::new(Some(ProgressDrawTarget::hidden));
        b.report(Phase::Compressing, 0, 20);
        b.report(Phase::Compressing, 20, 20);
        let first = b.bar.clone().unwrap();
        b.report(Phase::Measuring, 0, 7);
        let bar = b.bar.clone().unwrap();
        assert!(first.is_finished(), "the weights bar is done");
        assert_eq!((bar.length(), bar.position()), (Some(7), 0));
        b.report(Phase::Writing, 4096, 8686976);
        let bar = b.bar.clone().unwrap();
        assert_eq!((bar.length(), bar.position()), (Some(8686976), 4096));
        drop(b);
        assert!(bar.is_finished(), "cleared when dropped");
        // no terminal: no bar at all
        let mut b = Bars::new(None);
        b.report(Phase::Writing, 1, 2);
        assert!(b.bar.is_none());
    }

    /// The widest line a template draws, with each field at its widest plausible value.
    fn widest(template: &str) -> usize {
        let mut s = template.to_string();
        for (field, widest) in [
            ("{bar:30}", "#".repeat(30)),
            ("{pos}", "999999".into()),
            ("{len}", "999999".into()),
            ("{eta}", "52w".into()),
            ("{binary_bytes}", "1023.99 GiB".into()),
            ("{binary_total_bytes}", "1023.99 GiB".into()),
        ] {
            s = s.replace(field, &widest);
        }
        assert!(!s.contains('{'), "a field without a width: {s}");
        s.chars().count()
    }

    #[test]
    fn bar_lines_stay_under_80_columns() {
        for p in [Phase::Compressing, Phase::Measuring, Phase::Writing] {
            let w = widest(p.template());
            assert!(w < 80, "{p:?}: {w} columns");
        }
    }

    fn out(name: &str, snr_db: f64) -> OutputError {
        OutputError {
            name: name.into(),
            dtype: DType::F32,
            shape: vec![1, 40, 6625],
            values: 265000,
            finite: 265000,
            nonfinite_original: 0,
            nonfinite_compressed: 0,
            snr_db,
            cosine: 0.448,
            max_abs: 0.9,
            exact: 0.0,
            top1: Some((23, 40)),
        }
    }

    #[test]
    fn a_low_output_snr_warns_and_names_the_costliest_weights() {
        let acc = Accuracy {
            runs: 1,
            outputs: vec![out("probs", 0.34)],
            weights: vec![
                WeightCost {
                    name: "conv9.w".into(),
                    weight_snr_db: 9.0,
                    output_snr_db: 2.5,
                },
                WeightCost {
                    name: "fc.w".into(),
                    weight_snr_db: 8.0,
                    output_snr_db: 11.0,
                },
            ],
        };
        let w = accuracy_warning(&acc, 20.0).unwrap();
        assert!(w.starts_with("warning: "), "{w}");
        assert!(
            w.contains("'probs' snr 0.34 dB, cosine 0.448 (under --warn-snr 20 dB)"),
            "{w}"
        );
        assert!(
            w.contains(
                "the weights that cost most: conv9.w (2.50 dB alone), fc.w (11.00 dB alone):"
            ),
            "{w}"
        );
        // no weight probed costs that much alone: the error adds up
        let spread = Accuracy {
            outputs: vec![out("probs", 5.0)],
            weights: acc.weights[1..].to_vec(),
            ..acc.clone()
        };
        let w = accuracy_warning(&spread, 6.0).unwrap();
        assert!(
            w.contains(
                "none of the 1 weights of lowest weight SNR costs that much alone (the \
                 costliest, fc.w, 11.00 dB)"
            ),
            "{w}"
        );
        let l = accuracy_lines(&acc);
        assert!(l[0].contains("snr 0.34 dB  cosine 0.448000"), "{}", l[0]);
        assert!(l[0].ends_with("top-1 agree 23/40 (57.5%)"), "{}", l[0]);
        assert!(l[1].starts_with("alone   conv9.w"), "{}", l[1]);
        let good = Accuracy {
            outputs: vec![out("probs", 35.0)],
            ..acc.clone()
        };
        assert_eq!(accuracy_warning(&good, 20.0), None);
        assert!(accuracy_warning(&good, 40.0).is_some());
    }

    #[test]
    fn nan_outputs_are_never_fine() {
        // the original all NaN (random attention masks, say): nothing was measured
        let mut o = out("emb", f64::NAN);
        (o.finite, o.nonfinite_original, o.nonfinite_compressed) = (0, 265000, 265000);
        let acc = Accuracy {
            runs: 1,
            outputs: vec![o.clone()],
            weights: vec![],
        };
        let w = accuracy_warning(&acc, 20.0).unwrap();
        assert!(w.contains("'emb' has no finite value to compare"), "{w}");
        assert!(w.contains("--calibration"), "{w}");
        let l = &accuracy_lines(&acc)[0];
        assert!(!l.contains("snr"), "{l}");
        assert!(
            l.contains("NaN/inf: original 265000/265000, compressed 265000/265000"),
            "{l}"
        );
        // NaN only in the compressed model's output
        (
            o.finite,
            o.snr_db,
            o.nonfinite_original,
            o.nonfinite_compressed,
        ) = (264990, 40.0, 0, 10);
        let acc = Accuracy {
            outputs: vec![o],
            ..acc
        };
        let w = accuracy_warning(&acc, 20.0).unwrap();
        assert!(
            w.contains("'emb' has 10 NaN/inf values, the original 0"),
            "{w}"
        );
    }
}
