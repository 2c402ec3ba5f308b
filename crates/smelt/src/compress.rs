//! `smelt compress`: import a model (ONNX or `.ingot`), compress its weights
//! (`smelt_compress`), measure what that costs at the outputs on sample inputs ([`measure`]),
//! write a package ([`write`]; atomic).

use crate::convert::{import, ConvertOptions};
use crate::{ComputeUnits, Config, Model};
use smelt_compress::{Options, Report};
use smelt_core::{DType, Result, Tensor};
use smelt_ingot::{Info, WriteStats};
use smelt_ir::Graph;
use std::path::Path;

/// Compresses `input` into the package `output`. `progress` sees (weights compressed,
/// total), then (bytes written, total) with `writing` set.
pub fn compress_file(
    input: &Path,
    output: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(bool, u64, u64),
) -> Result<(Report, WriteStats)> {
    let (graph, info) = import(input, &ConvertOptions::default())?;
    let (graph, report) = smelt_compress::compress(&graph, opts, &mut |d, t| {
        progress(false, d as u64, t as u64)
    })?;
    let stats = write(output, &graph, info, &mut |d, t| progress(true, d, t))?;
    Ok((report, stats))
}

/// Writes a compressed graph as a package (atomically), declaring the `ai.smelt` opset its
/// decode nodes need. `progress` sees (bytes written, total).
pub fn write(
    output: &Path,
    graph: &Graph,
    mut info: Info,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<WriteStats> {
    if !info.opsets.iter().any(|(d, _)| d == "ai.smelt") {
        info.opsets.push(("ai.smelt".into(), 1));
    }
    smelt_ingot::write(output, graph, &info, progress)
}

/// How far one output of the compressed model is from the original's, over every run.
/// `snr_db`, `cosine` and `max_abs` cover the pairs finite in both; NaN and infinite values
/// are counted apart.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputError {
    pub name: String,
    pub dtype: DType,
    /// The shape in the first run.
    pub shape: Vec<usize>,
    /// Values compared, and the pairs of them finite in both.
    pub values: u64,
    pub finite: u64,
    /// NaN or infinite values of the original and of the compressed model.
    pub nonfinite_original: u64,
    pub nonfinite_compressed: u64,
    /// 10 log10(Σa² / Σ(a−b)²) with the original `a` as the reference; infinite when equal,
    /// NaN without a finite pair. Meaningful for float outputs only.
    pub snr_db: f64,
    pub cosine: f64,
    pub max_abs: f64,
    /// Fraction of exactly equal elements (NaN equals NaN; the measure for integer and bool
    /// outputs).
    pub exact: f64,
    /// Float outputs of rank 2 or more with at least 2 values on the last axis: rows whose
    /// largest value is at the same index in both, and rows.
    pub top1: Option<(usize, usize)>,
}

impl OutputError {
    /// Whether the output is compared by SNR (a float) rather than by exact match.
    pub fn is_float(&self) -> bool {
        self.dtype.is_float() || self.dtype.is_low_float()
    }
}

/// What one weight's compression costs alone.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightCost {
    pub name: String,
    pub weight_snr_db: f64,
    /// The lowest float-output SNR with only this weight compressed (the others original).
    pub output_snr_db: f64,
}

/// The compressed model against the original on sample inputs, on the CPU.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Accuracy {
    /// Runs (feeds) measured.
    pub runs: usize,
    /// One per output of the original model, in its order.
    pub outputs: Vec<OutputError>,
    /// The weights probed alone (the lowest weight SNRs), costliest (lowest output SNR)
    /// first.
    pub weights: Vec<WeightCost>,
}

impl Accuracy {
    /// The lowest SNR over the float outputs (`None` without float outputs).
    pub fn worst_snr_db(&self) -> Option<f64> {
        self.outputs
            .iter()
            .filter(|o| o.is_float())
            .map(|o| o.snr_db)
            .reduce(|a, b| {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a.min(b)
                }
            })
    }
}

/// Running sums over (reference, other) pairs of one output: the sums cover the pairs finite
/// in both.
#[derive(Default)]
struct Sums {
    signal: f64,
    noise: f64,
    dot: f64,
    bb: f64,
    max_abs: f64,
    n: u64,
    finite: u64,
    equal: u64,
    nonfinite_a: u64,
    nonfinite_b: u64,
    top1: Option<(usize, usize)>,
}

impl Sums {
    fn add(&mut self, a: &[f64], b: &[f64], last: Option<usize>) {
        for (&x, &y) in a.iter().zip(b) {
            self.n += 1;
            self.equal += (x == y || (x.is_nan() && y.is_nan())) as u64;
            if !x.is_finite() || !y.is_finite() {
                self.nonfinite_a += !x.is_finite() as u64;
                self.nonfinite_b += !y.is_finite() as u64;
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
        if let Some(cols) = last {
            let argmax =
                |r: &[f64]| (0..r.len()).fold(0, |best, i| if r[i] > r[best] { i } else { best });
            let (agree, rows) = self.top1.get_or_insert((0, 0));
            for (ra, rb) in a.chunks(cols).zip(b.chunks(cols)) {
                *agree += (argmax(ra) == argmax(rb)) as usize;
                *rows += 1;
            }
        }
    }

    fn snr_db(&self) -> f64 {
        if self.finite == 0 {
            f64::NAN
        } else if self.noise == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (self.signal / self.noise).log10()
        }
    }

    fn cosine(&self) -> f64 {
        let (aa, bb) = (self.signal, self.bb);
        if self.finite == 0 {
            return f64::NAN;
        }
        match (aa == 0.0, bb == 0.0) {
            (true, true) => 1.0,
            (true, false) | (false, true) => 0.0,
            _ => self.dot / (aa.sqrt() * bb.sqrt()),
        }
    }
}

fn cpu_model(graph: Graph, info: &Info) -> Result<Model> {
    let config = Config {
        compute_units: ComputeUnits::CpuOnly,
        verify_weights: false,
        ..Config::default()
    };
    Model::from_graph(graph, info.clone(), config)
}

/// Every output of `m` on each feed (inputs `m` does not declare are dropped; declared
/// states start from zeros, sized by `dims`).
fn outputs(
    m: &Model,
    feeds: &[Vec<(String, Tensor)>],
    dims: &[(&str, usize)],
    progress: &mut dyn FnMut(),
) -> Result<Vec<Vec<(String, Tensor)>>> {
    let mut out = Vec::with_capacity(feeds.len());
    for feed in feeds {
        let feed: Vec<(&str, Tensor)> = feed
            .iter()
            .filter(|(n, _)| m.inputs().iter().any(|f| f.name == *n))
            .map(|(n, t)| (n.as_str(), t.clone()))
            .collect();
        let o = if m.states().is_empty() {
            m.predict(&feed)?
        } else {
            m.predict_with_state(&feed, &mut m.new_state_with(dims)?)?
        };
        out.push(o.0);
        progress();
    }
    Ok(out)
}

/// Each output of `got` against `want` (same feeds), over all runs.
fn errors(
    want: &[Vec<(String, Tensor)>],
    got: &[Vec<(String, Tensor)>],
) -> Result<Vec<OutputError>> {
    let mut out = Vec::new();
    for (name, first) in want.first().map_or(&[][..], |w| &w[..]) {
        let (dtype, shape) = (first.dtype(), first.shape().to_vec());
        let float = dtype.is_float() || dtype.is_low_float();
        let last = shape
            .last()
            .copied()
            .filter(|&c| float && c >= 2 && shape.len() >= 2);
        let mut s = Sums::default();
        for (w, g) in want.iter().zip(got) {
            let a = &w.iter().find(|(n, _)| n == name).expect("same outputs").1;
            let b = g.iter().find(|(n, _)| n == name).map(|(_, t)| t);
            let b = b.ok_or_else(|| {
                smelt_core::Error::invalid(format!("the compressed model has no output '{name}'"))
            })?;
            if a.dtype() != b.dtype() || a.shape() != b.shape() {
                return Err(smelt_core::Error::invalid(format!(
                    "output '{name}': {}{:?} in the original, {}{:?} compressed",
                    a.dtype(),
                    a.shape(),
                    b.dtype(),
                    b.shape()
                )));
            }
            if a.dtype() == DType::String {
                let (x, y) = (a.as_slice::<String>()?, b.as_slice::<String>()?);
                s.n += x.len() as u64;
                s.equal += x.iter().zip(y).filter(|(p, q)| p == q).count() as u64;
                continue;
            }
            s.add(&a.to_f64_vec()?, &b.to_f64_vec()?, last);
        }
        out.push(OutputError {
            name: name.clone(),
            dtype,
            shape,
            values: s.n,
            finite: s.finite,
            nonfinite_original: s.nonfinite_a,
            nonfinite_compressed: s.nonfinite_b,
            snr_db: s.snr_db(),
            cosine: s.cosine(),
            max_abs: s.max_abs,
            exact: if s.n == 0 {
                1.0
            } else {
                s.equal as f64 / s.n as f64
            },
            // argmax over NaN rows says nothing
            top1: s.top1.filter(|_| s.finite > 0),
        });
    }
    Ok(out)
}

/// The number of model runs [`measure`] makes for `feeds` feeds and `probes` weights probed
/// out of `compressed` weights: the original, the compressed model and each probe, per feed
/// (no probe when one weight is compressed: the whole model measures it).
pub fn runs(feeds: usize, probes: usize, compressed: usize) -> usize {
    let probes = if compressed > 1 {
        probes.min(compressed)
    } else {
        0
    };
    feeds * (2 + probes)
}

/// The inputs [`measure`] runs the models on.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    /// One feed per run: (input name, value); inputs a model does not declare are dropped.
    pub feeds: Vec<Vec<(String, Tensor)>>,
    /// Sizes of symbolic dims of declared states (they start from zeros).
    pub dims: Vec<(String, usize)>,
    /// How many weights (those of lowest weight SNR) to measure alone.
    pub probes: usize,
}

/// Runs the original graph and its compression (`compressed`, `report` from
/// [`smelt_compress::compress`]) on the CPU on each feed and measures every output's error.
/// The `samples.probes` weights of lowest weight SNR are then measured alone (only that
/// weight compressed) to tell which cost the outputs most. `progress` sees (runs done,
/// [`runs`]).
pub fn measure(
    original: &Graph,
    compressed: &Graph,
    info: &Info,
    report: &Report,
    samples: &Samples,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Accuracy> {
    let (feeds, probes) = (&samples.feeds[..], samples.probes);
    let dims: Vec<(&str, usize)> = samples.dims.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let dims = &dims[..];
    let total = runs(feeds.len(), probes, report.tensors.len()) as u64;
    progress(0, total);
    let mut done = 0;
    let mut tick = || {
        done += 1;
        progress(done, total)
    };
    let want = outputs(&cpu_model(original.clone(), info)?, feeds, dims, &mut tick)?;
    let got = outputs(
        &cpu_model(compressed.clone(), info)?,
        feeds,
        dims,
        &mut tick,
    )?;
    let mut acc = Accuracy {
        runs: feeds.len(),
        outputs: errors(&want, &got)?,
        weights: Vec::new(),
    };
    let mut worst: Vec<&smelt_compress::TensorReport> = report.tensors.iter().collect();
    worst.sort_by(|a, b| a.snr_db.total_cmp(&b.snr_db));
    // one weight compressed alone only tells something when several are
    if report.tensors.len() > 1 {
        for t in worst.into_iter().take(probes) {
            let g = smelt_compress::keep_only(original, compressed, &[t.name.as_str()])?;
            let alone = outputs(&cpu_model(g, info)?, feeds, dims, &mut tick)?;
            let e = errors(&want, &alone)?;
            let output_snr_db = Accuracy {
                outputs: e,
                ..Default::default()
            }
            .worst_snr_db()
            .unwrap_or(f64::INFINITY);
            acc.weights.push(WeightCost {
                name: t.name.clone(),
                weight_snr_db: t.snr_db,
                output_snr_db,
            });
        }
    } else if let Some(t) = report.tensors.first() {
        acc.weights.push(WeightCost {
            name: t.name.clone(),
            weight_snr_db: t.snr_db,
            output_snr_db: acc.worst_snr_db().unwrap_or(f64::INFINITY),
        });
    }
    acc.weights
        .sort_by(|a, b| a.output_snr_db.total_cmp(&b.output_snr_db));
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smelt_compress::{Granularity, Mode};

    fn mnist() -> (Graph, Info, Vec<(String, Tensor)>) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/mnist_cnn");
        let (g, info) = import(&dir.join("mnist_cnn.onnx"), &ConvertOptions::default()).unwrap();
        let x = smelt_core::npy::read(dir.join("in_input.npy")).unwrap();
        (g, info, vec![("input".into(), x)])
    }

    #[test]
    fn measures_outputs_and_each_weight_alone() {
        let (g, info, feed) = mnist();
        let opts = Options::new(Mode::Linear {
            bits: 4,
            symmetric: true,
            granularity: Granularity::PerTensor,
        });
        let (c, report) = smelt_compress::compress(&g, &opts, &mut |_, _| {}).unwrap();
        let samples = Samples {
            feeds: vec![feed.clone()],
            probes: 5,
            ..Default::default()
        };
        let mut seen = Vec::new();
        let acc = measure(&g, &c, &info, &report, &samples, &mut |d, t| {
            seen.push((d, t))
        })
        .unwrap();
        // 1 feed: the original, the compressed model, each of the 2 weights alone
        assert_eq!(seen.first(), Some(&(0, 4)));
        assert_eq!(seen.last(), Some(&(4, 4)));
        let o = &acc.outputs[0];
        assert_eq!((o.name.as_str(), &o.shape[..]), ("logits", &[16, 10][..]));
        assert!(o.snr_db > 5.0 && o.snr_db.is_finite(), "{o:?}");
        assert_eq!((o.finite, o.values), (160, 160));
        assert_eq!(o.top1.map(|t| t.1), Some(16));
        assert_eq!(acc.weights.len(), 2);
        assert!(acc.weights[0].output_snr_db <= acc.weights[1].output_snr_db);
        // each weight alone costs less than both together
        assert!(
            acc.weights.iter().all(|w| w.output_snr_db > o.snr_db),
            "{acc:?}"
        );
        // nothing kept compressed: the original's outputs exactly
        let none = smelt_compress::keep_only(&g, &c, &[]).unwrap();
        assert!(none.nodes.iter().all(|n| n.domain != "ai.smelt"));
        let same = measure(
            &g,
            &none,
            &info,
            &report,
            &Samples {
                probes: 0,
                ..samples
            },
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(same.outputs[0].snr_db, f64::INFINITY);
    }
}
