//! `smelt compare`: runs two models (.onnx or .ingot) on the same inputs and measures how far
//! their outputs drift apart, per output name present in both: SNR (A is the reference),
//! cosine similarity, max abs error, top-1 agreement for class scores and, given labels, the
//! top-1 accuracy of each model. Integer, bool and string outputs report the fraction of
//! exactly equal elements instead of an SNR. All sums are accumulated in f64.

use crate::run::{file_name, fmt_num, parse_dims, random_tensor, read_inputs, Rng};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use smelt::{Config, Model};
use smelt_core::{npy, DType, Tensor};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CompareArgs {
    /// The reference model (.onnx or .ingot).
    pub a: PathBuf,
    /// The model compared against it (.onnx or .ingot).
    pub b: PathBuf,
    /// An input from a .npy file: NAME=FILE.npy (or just FILE.npy for a one-input model).
    #[arg(short, long = "input", value_name = "NAME=FILE.npy")]
    pub inputs: Vec<String>,
    /// Take every DIR/NAME.npy (or DIR/in_NAME.npy) whose NAME is an input; --input wins.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Fill the inputs not given otherwise with seeded random values of the declared dtype
    /// and shape (floats in [-1, 1), integers in [0, 10)).
    #[arg(long)]
    pub random: bool,
    /// Seed of --random (run i of --count uses seed + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Size of a symbolic dimension for --random: NAME=N (others are 1).
    #[arg(long = "dim", value_name = "NAME=N")]
    pub dims: Vec<String>,
    /// With --random: this many runs with different seeds; the metrics cover them all.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Integer labels (.npy vector), one per row over all runs: prints each model's top-1
    /// accuracy.
    #[arg(long, value_name = "FILE.npy")]
    pub labels: Option<PathBuf>,
    /// Feed the given inputs this many rows (first axis) at a time; the metrics cover all
    /// the batches (for data sets too large for one run).
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Top-1 agreement over the last axis of every output (automatic for float [N, C], C >= 2).
    #[arg(long)]
    pub top1: bool,
    /// Operand precision of MatMul, Gemm and Conv on the GPU for model B (fp32, tf32,
    /// fp16, bf16; fp32 accumulation); model A stays fp32.
    #[arg(long, default_value = "fp32", value_name = "P")]
    pub precision: smelt::Precision,
    /// Run model A (the reference) on the CPU only.
    #[arg(long)]
    pub cpu_reference: bool,
    /// CPU threads of each model (default: one per core, or RAYON_NUM_THREADS).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
}

/// Running sums over pairs of values (a from the reference, b from the other model). The
/// sums, the SNR, the cosine and the max abs error cover the pairs finite in both; pairs with
/// a NaN or an infinity are counted apart, so that no metric is ever reported over them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// sum a^2
    pub signal: f64,
    /// sum (a - b)^2
    pub noise: f64,
    /// sum a*b
    pub dot: f64,
    /// sum b^2
    pub bb: f64,
    /// max |a - b| over the finite pairs
    pub max_abs: f64,
    /// pairs seen
    pub n: u64,
    /// pairs finite in both (the ones the sums cover)
    pub finite: u64,
    /// pairs exactly equal (NaN equals NaN here)
    pub equal: u64,
    /// values of a that are NaN or infinite
    pub nonfinite_a: u64,
    /// values of b that are NaN or infinite
    pub nonfinite_b: u64,
    /// pairs with a non-finite value that are not equal (NaN against a number, inf against
    /// -inf, ...)
    pub nonfinite_differ: u64,
}

impl Stats {
    #[cfg(test)]
    pub fn of(a: &[f64], b: &[f64]) -> Stats {
        let mut s = Stats::default();
        s.add(a, b);
        s
    }

    /// Adds the pairs of two equally long slices.
    pub fn add(&mut self, a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "Stats::add: lengths differ");
        for (&x, &y) in a.iter().zip(b) {
            self.n += 1;
            let same = x == y || (x.is_nan() && y.is_nan());
            if same {
                self.equal += 1;
            }
            if !x.is_finite() || !y.is_finite() {
                self.nonfinite_a += u64::from(!x.is_finite());
                self.nonfinite_b += u64::from(!y.is_finite());
                self.nonfinite_differ += u64::from(!same);
                continue;
            }
            self.finite += 1;
            let d = x - y;
            self.signal += x * x;
            self.noise += d * d;
            self.dot += x * y;
            self.bb += y * y;
            self.max_abs = self.max_abs.max(d.abs());
        }
    }

    /// Whether any value of either side was NaN or infinite.
    pub fn has_nonfinite(&self) -> bool {
        self.nonfinite_a + self.nonfinite_b > 0
    }

    /// SNR in dB of B against the reference A.
    pub fn snr_db(&self) -> f64 {
        snr_db(self.signal, self.noise)
    }

    /// Cosine similarity of A and B.
    pub fn cosine(&self) -> f64 {
        cosine(self.dot, self.signal, self.bb)
    }
}

/// 10 log10(signal / noise) in dB: inf when the noise is zero (identical values), -inf when
/// only the signal is.
pub fn snr_db(signal: f64, noise: f64) -> f64 {
    if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise).log10()
    }
}

/// dot / (sqrt(aa) sqrt(bb)) from the sums a.b, a.a and b.b: 1 when both vectors are zero, 0
/// when only one is.
pub fn cosine(dot: f64, aa: f64, bb: f64) -> f64 {
    if aa == 0.0 && bb == 0.0 {
        1.0
    } else if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        dot / (aa.sqrt() * bb.sqrt())
    }
}

/// The index of the largest value of each row of `cols` values (the first on ties; NaN is
/// never the largest unless the whole row is NaN).
pub fn argmax_rows(v: &[f64], cols: usize) -> Vec<usize> {
    if cols == 0 {
        return Vec::new();
    }
    v.chunks(cols)
        .map(|row| {
            let mut best = 0;
            for (i, &x) in row.iter().enumerate() {
                if x > row[best] || (row[best].is_nan() && !x.is_nan()) {
                    best = i;
                }
            }
            best
        })
        .collect()
}

/// How many positions of two equally long lists agree.
pub fn agree(a: &[usize], b: &[usize]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x == y).count()
}

/// "k/n (p%)".
pub fn fraction(k: usize, n: usize) -> String {
    if n == 0 {
        format!("{k}/{n}")
    } else {
        format!("{k}/{n} ({:.1}%)", 100.0 * k as f64 / n as f64)
    }
}

/// A number of dB for printing: "inf", "-inf", "nan" or two decimals.
pub fn fmt_db(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x:.2}")
    }
}

/// What a float output's line says of its NaN and infinite values: how many each model
/// gave, how many pairs they make differ, and which pairs the metrics before it cover.
fn nonfinite_note(s: &Stats) -> String {
    let measured = if s.finite == 0 {
        "no finite pair to measure".to_string()
    } else {
        format!("metrics over the {} finite pairs", s.finite)
    };
    format!(
        "  NaN/inf: A {}, B {}, {} pairs differ ({measured})",
        fraction(s.nonfinite_a as usize, s.n as usize),
        fraction(s.nonfinite_b as usize, s.n as usize),
        s.nonfinite_differ
    )
}

/// Whether an output's values are compared by SNR (floats) or by exact match.
fn is_float(d: DType) -> bool {
    d.is_float() || d.is_low_float()
}

/// One output compared over all runs.
struct Compared {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    stats: Stats,
    /// Top-1 classes of A and B over all rows of all runs, when top-1 applies.
    top1: Option<(Vec<usize>, Vec<usize>)>,
}

fn head(dtype: DType, shape: &[usize]) -> String {
    format!("{dtype}{shape:?}").replace(' ', "")
}

/// Values as f64 (bool as 0/1); strings and low-bit floats are refused.
fn values(name: &str, t: &Tensor) -> Result<Vec<f64>> {
    t.to_f64_vec()
        .map_err(|e| anyhow!("output '{name}': cannot compare {} values: {e}", t.dtype()))
}

impl Compared {
    fn new(name: &str, a: &Tensor, top1: bool) -> Compared {
        let shape = a.shape().to_vec();
        // class scores: float [N, C]; integer outputs (token ids, say) only with --top1
        let auto = is_float(a.dtype()) && shape.len() == 2 && shape[1] >= 2;
        let top = (top1 && !shape.is_empty() && shape[shape.len() - 1] > 0) || auto;
        Compared {
            name: name.to_string(),
            dtype: a.dtype(),
            shape,
            stats: Stats::default(),
            top1: top.then(|| (Vec::new(), Vec::new())),
        }
    }

    fn add(&mut self, a: &Tensor, b: &Tensor) -> Result<()> {
        let name = &self.name;
        if a.dtype() != b.dtype() || a.shape() != b.shape() {
            bail!(
                "output '{name}': A gives {} but B gives {}",
                head(a.dtype(), a.shape()),
                head(b.dtype(), b.shape())
            );
        }
        // runs may differ in their first dim (rows: --batch's last batch is short)
        let same_rows = |x: &[usize], y: &[usize]| x.len() == y.len() && x.get(1..) == y.get(1..);
        if a.dtype() != self.dtype || !same_rows(a.shape(), &self.shape) {
            bail!(
                "output '{name}': {} in this run but {} in the first",
                head(a.dtype(), a.shape()),
                head(self.dtype, &self.shape)
            );
        }
        if a.dtype() == DType::String {
            let (x, y) = (a.as_slice::<String>()?, b.as_slice::<String>()?);
            let eq = x.iter().zip(y).filter(|(p, q)| p == q).count() as u64;
            self.stats.n += x.len() as u64;
            self.stats.equal += eq;
            return Ok(());
        }
        let (x, y) = (values(name, a)?, values(name, b)?);
        self.stats.add(&x, &y);
        if let Some((ta, tb)) = &mut self.top1 {
            let cols = self.shape[self.shape.len() - 1];
            ta.extend(argmax_rows(&x, cols));
            tb.extend(argmax_rows(&y, cols));
        }
        Ok(())
    }

    /// The printed line: name and type padded to `width` and `type_width`, then the metrics.
    fn line(&self, width: usize, type_width: usize, labels: Option<&[i64]>) -> Result<String> {
        let s = &self.stats;
        let mut out = format!(
            "{:<width$}  {:<type_width$}",
            self.name,
            head(self.dtype, &self.shape)
        );
        if is_float(self.dtype) {
            if s.finite > 0 {
                out += &format!(
                    "  snr {} dB  cosine {:.6}  max abs {}",
                    fmt_db(s.snr_db()),
                    s.cosine(),
                    fmt_num(s.max_abs)
                );
            }
            if s.has_nonfinite() {
                out += &nonfinite_note(s);
            }
        } else {
            out += &format!("  exact {}", fraction(s.equal as usize, s.n as usize));
            if self.dtype != DType::String {
                out += &format!("  max abs {}", fmt_num(s.max_abs));
            }
        }
        if let Some((ta, tb)) = &self.top1 {
            out += &format!("  top-1 agree {}", fraction(agree(ta, tb), ta.len()));
            if let Some(l) = labels {
                if l.len() != ta.len() {
                    bail!(
                        "output '{}': {} rows but --labels has {} labels",
                        self.name,
                        ta.len(),
                        l.len()
                    );
                }
                let hits = |t: &[usize]| {
                    t.iter()
                        .zip(l)
                        .filter(|(&p, &q)| q >= 0 && p as i64 == q)
                        .count()
                };
                out += &format!(
                    "  accuracy A {} B {}",
                    fraction(hits(ta), l.len()),
                    fraction(hits(tb), l.len())
                );
            }
        }
        Ok(out)
    }
}

/// The inputs found in `dir`: NAME.npy or in_NAME.npy (NAME also as its file-name form) for
/// each input name; other files are ignored.
pub(crate) fn data_inputs(dir: &Path, names: &[String]) -> Result<Vec<(String, Tensor)>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("--data {}", dir.display()))?;
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "npy"))
        .collect();
    paths.sort();
    for p in paths {
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let matches = |key: &str| names.iter().find(|n| *n == key || file_name(n) == key);
        let Some(name) = matches(stem).or_else(|| stem.strip_prefix("in_").and_then(matches))
        else {
            continue;
        };
        if let Some((_, q)) = found.iter().find(|(n, _)| n == name) {
            bail!(
                "--data: input '{name}' is in both {} and {}",
                q.display(),
                p.display()
            );
        }
        found.push((name.clone(), p));
    }
    found
        .into_iter()
        .map(|(n, p)| {
            let t = npy::read(&p).with_context(|| format!("input '{n}' ({})", p.display()))?;
            Ok((n, t))
        })
        .collect()
}

fn load(path: &Path, config: Config) -> Result<Model> {
    Model::load(path, config).with_context(|| format!("loading {}", path.display()))
}

fn predict(
    model: &Model,
    which: &str,
    feed: &[(&str, Tensor)],
    dims: &[(&str, usize)],
) -> Result<smelt::Outputs> {
    let r = if model.states().is_empty() {
        model.predict(feed)
    } else {
        let mut st = model
            .new_state_with(dims)
            .with_context(|| format!("making the state of model {which}"))?;
        model.predict_with_state(feed, &mut st)
    };
    r.with_context(|| format!("running model {which}"))
}

/// Rows `r0..r1` (clamped) of `t` along its first axis.
pub(crate) fn row_range(t: &Tensor, r0: usize, r1: usize) -> Result<Tensor> {
    let rows = t.shape()[0];
    let (r0, r1) = (r0.min(rows), r1.min(rows));
    let row_bytes = t.byte_size() / rows.max(1);
    let bytes = t.le_bytes()?;
    let mut shape = t.shape().to_vec();
    shape[0] = r1 - r0;
    Ok(Tensor::from_le_bytes(
        t.dtype(),
        shape,
        &bytes[r0 * row_bytes..r1 * row_bytes],
    )?)
}

pub fn main(a: CompareArgs) -> Result<()> {
    let dims = parse_dims(&a.dims)?;
    if a.count == 0 {
        bail!("--count must be at least 1");
    }
    if a.count > 1 && !a.random {
        bail!(
            "--count {} needs --random (each run takes another seed)",
            a.count
        );
    }
    let labels = match &a.labels {
        Some(p) => {
            let t = npy::read(p).with_context(|| format!("--labels {}", p.display()))?;
            if !(t.dtype().is_int()) || t.shape().len() != 1 {
                bail!(
                    "--labels {}: expected an integer vector, got {}",
                    p.display(),
                    head(t.dtype(), t.shape())
                );
            }
            Some(t.to_i64_vec()?)
        }
        None => None,
    };
    let ma = load(
        &a.a,
        Config {
            compute_units: if a.cpu_reference {
                smelt::ComputeUnits::CpuOnly
            } else {
                smelt::ComputeUnits::All
            },
            threads: a.threads.map(|n| n as usize),
            ..Config::default()
        },
    )?;
    let mb = load(
        &a.b,
        Config {
            precision: a.precision,
            threads: a.threads.map(|n| n as usize),
            ..Config::default()
        },
    )?;
    for w in crate::run::unused_gpu_options(&mb, smelt::ComputeUnits::All, a.precision) {
        eprintln!("warning: {w}");
    }
    // The inputs of either model (A's first); each model is fed the ones it declares.
    let features: Vec<&smelt::Feature> = ma
        .inputs()
        .iter()
        .chain(
            mb.inputs()
                .iter()
                .filter(|f| !ma.inputs().iter().any(|g| g.name == f.name)),
        )
        .collect();
    let names: Vec<String> = features.iter().map(|f| f.name.clone()).collect();
    let states: Vec<String> = ma
        .states()
        .iter()
        .chain(mb.states())
        .map(|s| s.input.clone())
        .collect();
    let mut given = read_inputs(&a.inputs, &names, &states)?;
    if let Some(dir) = &a.data {
        for (n, t) in data_inputs(dir, &names)? {
            if !given.iter().any(|(g, _)| *g == n) {
                given.push((n, t));
            }
        }
    }
    let missing: Vec<String> = features
        .iter()
        .filter(|f| !given.iter().any(|(n, _)| *n == f.name))
        .map(|f| format!("{} {}", f.name, f.info))
        .collect();
    if !missing.is_empty() && !a.random {
        bail!(
            "missing input(s): {}; give them with --input NAME=FILE.npy or --data DIR, or use \
             --random",
            missing.join(", ")
        );
    }
    let d: Vec<(&str, usize)> = dims.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let runs = match a.batch {
        None => a.count,
        Some(0) => bail!("--batch must be at least 1"),
        Some(b) => {
            let rows: Vec<usize> = given
                .iter()
                .map(|(_, t)| t.shape().first().copied().unwrap_or(0))
                .collect();
            if rows.is_empty() || rows.iter().any(|&r| r != rows[0]) {
                bail!("--batch: the given inputs must share their first dim, got {rows:?}");
            }
            if a.count > 1 {
                bail!("--batch and --count do not go together");
            }
            rows[0].div_ceil(b).max(1)
        }
    };
    let mut compared: Vec<Compared> = Vec::new();
    let mut only_a: Vec<String> = Vec::new();
    let mut only_b: Vec<String> = Vec::new();
    for run in 0..runs {
        let seed = a.seed.wrapping_add(run as u64);
        let mut rng = Rng::new(seed);
        let mut feed: Vec<(&str, Tensor)> = Vec::new();
        for f in &features {
            match given.iter().find(|(n, _)| *n == f.name) {
                Some((_, t)) => feed.push((
                    f.name.as_str(),
                    match a.batch {
                        Some(b) => row_range(t, run * b, (run + 1) * b)?,
                        None => t.clone(),
                    },
                )),
                None => feed.push((
                    f.name.as_str(),
                    random_tensor(&f.name, &f.info, &dims, &mut rng)?,
                )),
            }
        }
        let only = |m: &Model| -> Vec<(&str, Tensor)> {
            feed.iter()
                .filter(|(n, _)| m.inputs().iter().any(|f| f.name == *n))
                .map(|(n, t)| (*n, t.clone()))
                .collect()
        };
        let (feed_a, feed_b) = (only(&ma), only(&mb));
        let oa = predict(&ma, "A", &feed_a, &d)?;
        let ob = predict(&mb, "B", &feed_b, &d)?;
        if run == 0 {
            only_a = oa
                .iter()
                .filter(|(n, _)| ob.get(n).is_none())
                .map(|(n, _)| n.to_string())
                .collect();
            only_b = ob
                .iter()
                .filter(|(n, _)| oa.get(n).is_none())
                .map(|(n, _)| n.to_string())
                .collect();
            compared = oa
                .iter()
                .filter(|(n, _)| ob.get(n).is_some())
                .map(|(n, t)| Compared::new(n, t, a.top1))
                .collect();
            if compared.is_empty() {
                bail!(
                    "the models have no output name in common: A {} / B {}",
                    only_a.join(", "),
                    only_b.join(", ")
                );
            }
        }
        for c in &mut compared {
            let (ta, tb) = match (oa.get(&c.name), ob.get(&c.name)) {
                (Some(x), Some(y)) => (x, y),
                _ => bail!("output '{}' is missing in run {}", c.name, run + 1),
            };
            c.add(ta, tb)?;
        }
    }
    if labels.is_some() && !compared.iter().any(|c| c.top1.is_some()) {
        bail!("--labels: no output has top-1 classes (rank 2 [N, C] or --top1)");
    }
    let width = compared.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let type_width = compared
        .iter()
        .map(|c| head(c.dtype, &c.shape).len())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for c in &compared {
        lines.push(c.line(width, type_width, labels.as_deref())?);
    }
    if a.count > 1 {
        println!(
            "{} runs, seeds {}..={}",
            a.count,
            a.seed,
            a.seed.wrapping_add(a.count as u64 - 1)
        );
    }
    for l in lines {
        println!("{l}");
    }
    if !only_a.is_empty() {
        println!("only in A: {}", only_a.join(", "));
    }
    if !only_b.is_empty() {
        println!("only in B: {}", only_b.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snr(a: &[f64], b: &[f64]) -> f64 {
        Stats::of(a, b).snr_db()
    }
    fn cos(a: &[f64], b: &[f64]) -> f64 {
        Stats::of(a, b).cosine()
    }
    fn max_abs(a: &[f64], b: &[f64]) -> f64 {
        Stats::of(a, b).max_abs
    }

    #[test]
    fn from_sums() {
        assert_eq!(snr_db(25.0, 0.25), 20.0);
        assert_eq!(snr_db(1.0, 1.0), 0.0);
        assert_eq!(snr_db(1.0, 0.0), f64::INFINITY);
        assert_eq!(snr_db(0.0, 1.0), f64::NEG_INFINITY);
        assert_eq!(cosine(0.0, 0.0, 0.0), 1.0);
        assert_eq!(cosine(0.0, 0.0, 4.0), 0.0);
        assert_eq!(cosine(-6.0, 4.0, 9.0), -1.0);
    }

    #[test]
    fn identical_values() {
        let a = [1.0, -2.0, 3.5, 0.0];
        assert_eq!(snr(&a, &a), f64::INFINITY);
        assert_eq!(cos(&a, &a), 1.0);
        assert_eq!(max_abs(&a, &a), 0.0);
        let z = [0.0; 3];
        assert_eq!(snr(&z, &z), f64::INFINITY);
        assert_eq!(cos(&z, &z), 1.0);
        assert_eq!(Stats::of(&a, &a).equal, 4);
    }

    #[test]
    fn known_perturbation() {
        // signal 3^2 + 4^2 = 25, noise 0.5^2 = 0.25: ratio 100, 20 dB
        let a = [3.0, 4.0];
        let b = [3.0, 4.5];
        assert!((snr(&a, &b) - 20.0).abs() < 1e-12);
        assert_eq!(max_abs(&a, &b), 0.5);
        // a.b = 9 + 18 = 27; |a| = 5; |b| = sqrt(9 + 20.25) = sqrt(29.25)
        let want = 27.0 / (5.0 * 29.25f64.sqrt());
        assert!((cos(&a, &b) - want).abs() < 1e-15);
        // b = 1.1 a: noise is 0.01 of the signal, 20 dB; the cosine stays 1
        let a = [1.0, -2.0, 0.5];
        let b: Vec<f64> = a.iter().map(|x| x * 1.1).collect();
        assert!((snr(&a, &b) - 20.0).abs() < 1e-9);
        assert!((cos(&a, &b) - 1.0).abs() < 1e-15);
        // opposite signs: cosine -1, noise 4x the signal
        let b: Vec<f64> = a.iter().map(|x| -x).collect();
        assert!((cos(&a, &b) + 1.0).abs() < 1e-15);
        assert!((snr(&a, &b) - 10.0 * 0.25f64.log10()).abs() < 1e-12);
        // A all zero, B not
        assert_eq!(snr(&[0.0, 0.0], &[1.0, 0.0]), f64::NEG_INFINITY);
        assert_eq!(cos(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn accumulating_is_concatenating() {
        let (a1, b1) = ([1.0, 2.0], [1.5, 2.0]);
        let (a2, b2) = ([-3.0], [-2.0]);
        let mut s = Stats::default();
        s.add(&a1, &b1);
        s.add(&a2, &b2);
        let whole = Stats::of(&[1.0, 2.0, -3.0], &[1.5, 2.0, -2.0]);
        assert_eq!(s, whole);
        // signal 14, noise 1.25
        assert!((s.snr_db() - 10.0 * (14.0f64 / 1.25).log10()).abs() < 1e-12);
        assert_eq!(s.max_abs, 1.0);
        assert_eq!(s.equal, 1);
    }

    #[test]
    fn non_finite_values_are_counted_apart() {
        let a = [f64::NAN, f64::INFINITY, 1.0];
        let s = Stats::of(&a, &a);
        assert_eq!(
            (s.finite, s.equal, s.nonfinite_a, s.nonfinite_b),
            (1, 3, 2, 2)
        );
        assert_eq!(s.nonfinite_differ, 0);
        let s = Stats::of(&[1.0, 2.0], &[f64::NAN, 2.5]);
        assert_eq!((s.finite, s.nonfinite_a, s.nonfinite_b), (1, 0, 1));
        assert_eq!((s.nonfinite_differ, s.max_abs), (1, 0.5));
    }

    #[test]
    fn all_nan_outputs_are_never_a_perfect_match() {
        let nan = Tensor::from_vec(vec![2, 3], vec![f32::NAN; 6]).unwrap();
        let mut c = Compared::new("emb", &nan, false);
        c.add(&nan, &nan).unwrap();
        let l = c.line(3, 8, None).unwrap();
        assert!(!l.contains("snr") && !l.contains("cosine"), "{l}");
        assert!(
            l.contains("NaN/inf: A 6/6 (100.0%), B 6/6 (100.0%), 0 pairs differ (no finite pair to measure)"),
            "{l}"
        );
        // some values finite: the metrics say which pairs they cover
        let a = Tensor::from_vec(vec![4], vec![1.0f32, 2.0, f32::NAN, 4.0]).unwrap();
        let b = Tensor::from_vec(vec![4], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let mut c = Compared::new("y", &a, false);
        c.add(&a, &b).unwrap();
        let l = c.line(1, 6, None).unwrap();
        assert!(l.contains("snr inf dB"), "{l}");
        assert!(
            l.ends_with("NaN/inf: A 1/4 (25.0%), B 0/4 (0.0%), 1 pairs differ (metrics over the 3 finite pairs)"),
            "{l}"
        );
    }

    #[test]
    fn top1_and_formatting() {
        let v = [0.1, 0.7, 0.2, 5.0, 5.0, -1.0, f64::NAN, 0.0, 1.0];
        assert_eq!(argmax_rows(&v, 3), vec![1, 0, 2]);
        assert_eq!(agree(&[1, 0, 2], &[1, 1, 2]), 2);
        assert_eq!(fraction(16, 16), "16/16 (100.0%)");
        assert_eq!(fraction(1, 3), "1/3 (33.3%)");
        assert_eq!(fmt_db(f64::INFINITY), "inf");
        assert_eq!(fmt_db(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_db(20.0), "20.00");
    }

    #[test]
    fn output_lines() {
        let a = Tensor::from_vec(vec![2, 3], vec![0.1f32, 0.7, 0.2, 3.0, 1.0, 2.0]).unwrap();
        let b = Tensor::from_vec(vec![2, 3], vec![0.1f32, 0.7, 0.2, 1.0, 3.0, 2.0]).unwrap();
        let mut c = Compared::new("logits", &a, false);
        c.add(&a, &b).unwrap();
        let l = c.line(8, 8, Some(&[1, 1])).unwrap();
        assert!(l.starts_with("logits    f32[2,3]  snr "), "{l}");
        assert!(l.contains("max abs 2  top-1 agree 1/2 (50.0%)"), "{l}");
        assert!(l.ends_with("accuracy A 1/2 (50.0%) B 2/2 (100.0%)"), "{l}");
        assert!(c.line(8, 8, Some(&[1])).is_err());
        let ids = Tensor::from_vec(vec![4], vec![1i64, 2, 3, 4]).unwrap();
        let ids2 = Tensor::from_vec(vec![4], vec![1i64, 2, 3, 5]).unwrap();
        let mut c = Compared::new("ids", &ids, false);
        c.add(&ids, &ids2).unwrap();
        assert_eq!(
            c.line(3, 6, None).unwrap(),
            "ids  i64[4]  exact 3/4 (75.0%)  max abs 1"
        );
        let other = Tensor::from_vec(vec![2, 2], vec![1i64, 2, 3, 4]).unwrap();
        let e = c.add(&ids, &other).unwrap_err().to_string();
        assert!(
            e.contains("output 'ids': A gives i64[4] but B gives i64[2,2]"),
            "{e}"
        );
    }
}
