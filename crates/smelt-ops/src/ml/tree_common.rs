//! Decision-forest evaluation shared by TreeEnsemble (opset 5) and the legacy
//! TreeEnsembleRegressor / TreeEnsembleClassifier: branch nodes compare one feature with a
//! threshold (or a member set) and lead to another node or to a leaf; a leaf carries one or
//! more (target, weight) contributions; trees are aggregated per target, then post-transformed.

use crate::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Member,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Ref {
    Node(usize),
    Leaf(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub feature: usize,
    pub mode: Mode,
    pub split: f64,
    pub members: Vec<f64>,
    pub missing_true: bool,
    pub t: Ref,
    pub f: Ref,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Agg {
    Avg,
    Sum,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Post {
    None,
    Softmax,
    Logistic,
    SoftmaxZero,
    Probit,
}

impl Post {
    pub(crate) fn from_name(s: &str) -> Result<Post> {
        Ok(match s {
            "NONE" => Post::None,
            "SOFTMAX" => Post::Softmax,
            "LOGISTIC" => Post::Logistic,
            "SOFTMAX_ZERO" => Post::SoftmaxZero,
            "PROBIT" => Post::Probit,
            o => bail!("unknown post_transform '{o}'"),
        })
    }
    pub(crate) fn from_code(c: i64) -> Result<Post> {
        Ok(match c {
            0 => Post::None,
            1 => Post::Softmax,
            2 => Post::Logistic,
            3 => Post::SoftmaxZero,
            4 => Post::Probit,
            o => bail!("unknown post_transform {o}"),
        })
    }
    /// Applies the transform to one row of scores in place.
    pub(crate) fn apply(self, row: &mut [f64]) {
        match self {
            Post::None => {}
            Post::Logistic => row.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
            Post::Probit => row.iter_mut().for_each(|v| *v = std::f64::consts::SQRT_2 * erfinv(2.0 * *v - 1.0)),
            Post::Softmax | Post::SoftmaxZero => {
                let zero = self == Post::SoftmaxZero;
                let mx = row.iter().filter(|v| !zero || **v != 0.0).cloned().fold(f64::NEG_INFINITY, f64::max);
                let mut s = 0.0;
                for v in row.iter_mut() {
                    if !(zero && *v == 0.0) {
                        *v = (*v - mx).exp();
                        s += *v;
                    }
                }
                if s > 0.0 {
                    row.iter_mut().for_each(|v| *v /= s);
                }
            }
        }
    }
}

/// Inverse error function (Giles' single-precision approximation, refined by Newton steps).
fn erfinv(x: f64) -> f64 {
    if x <= -1.0 {
        return f64::NEG_INFINITY;
    }
    if x >= 1.0 {
        return f64::INFINITY;
    }
    let w = -((1.0 - x) * (1.0 + x)).ln();
    let mut p;
    if w < 5.0 {
        let w = w - 2.5;
        p = 2.810_226_36e-08;
        for c in [3.432_739_39e-07, -3.523_387_7e-06, -4.391_506_54e-06, 0.000_218_580_87, -0.001_253_725_03, -0.004_177_681_64, 0.246_640_727, 1.501_409_41] {
            p = c + p * w;
        }
    } else {
        let w = w.sqrt() - 3.0;
        p = -0.000_200_214_257;
        for c in [0.000_100_950_558, 0.001_349_343_22, -0.003_673_428_44, 0.005_739_507_73, -0.007_622_461_3, 0.009_438_870_47, 1.001_674_06, 2.832_976_82] {
            p = c + p * w;
        }
    }
    let mut y = p * x;
    for _ in 0..2 {
        let err = erf(y) - x;
        y -= err / (2.0 / std::f64::consts::PI.sqrt() * (-y * y).exp());
    }
    y
}

/// erf via its series / continued fraction (adequate for Newton refinement above).
fn erf(x: f64) -> f64 {
    // Abramowitz-Stegun 7.1.26 is too coarse; use the complementary series with high precision.
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let y = 1.0
        - t * (-x * x - 1.265_512_23
            + t * (1.000_023_68 + t * (0.374_091_96 + t * (0.096_784_18 + t * (-0.186_288_06 + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Forest {
    pub branches: Vec<Branch>,
    /// Each leaf: its (target, weight) contributions.
    pub leaves: Vec<Vec<(usize, f64)>>,
    pub roots: Vec<Ref>,
    pub n_targets: usize,
    pub agg: Agg,
    /// Score of a target no tree reached, for MIN / MAX.
    pub unhit: f64,
}

impl Forest {
    /// Checks every reference, feature index bound (against `n_features`) and target.
    pub(crate) fn validate(&self) -> Result<()> {
        let ok = |r: &Ref| match *r {
            Ref::Node(i) => i < self.branches.len(),
            Ref::Leaf(i) => i < self.leaves.len(),
        };
        ensure!(self.roots.iter().all(ok), "tree ensemble: a tree root is out of range");
        for (i, b) in self.branches.iter().enumerate() {
            ensure!(ok(&b.t) && ok(&b.f), "tree ensemble: node {i} points outside the node/leaf arrays");
        }
        for l in &self.leaves {
            for &(t, _) in l {
                ensure!(t < self.n_targets, "tree ensemble: target id {t} >= n_targets {}", self.n_targets);
            }
        }
        Ok(())
    }

    fn leaf_of(&self, root: Ref, x: &[f64]) -> Result<usize> {
        let mut cur = root;
        for _ in 0..=self.branches.len() {
            match cur {
                Ref::Leaf(l) => return Ok(l),
                Ref::Node(n) => {
                    let b = &self.branches[n];
                    let v = *x.get(b.feature).ok_or_else(|| Error::invalid(format!("tree ensemble: feature {} out of range for {} input features", b.feature, x.len())))?;
                    let hit = match b.mode {
                        Mode::Leq => v <= b.split,
                        Mode::Lt => v < b.split,
                        Mode::Gte => v >= b.split,
                        Mode::Gt => v > b.split,
                        Mode::Eq => v == b.split,
                        Mode::Neq => v != b.split,
                        Mode::Member => b.members.contains(&v),
                    } || (b.missing_true && v.is_nan());
                    cur = if hit { b.t } else { b.f };
                }
            }
        }
        bail!("tree ensemble: cycle in the tree structure")
    }

    /// Aggregated scores [rows, n_targets] of X given as rows of `n_features` values.
    pub(crate) fn scores(&self, x: &[f64], n_features: usize) -> Result<Vec<f64>> {
        let rows = if n_features == 0 { 0 } else { x.len() / n_features };
        let init = match self.agg {
            Agg::Min | Agg::Max => f64::NAN,
            _ => 0.0,
        };
        let mut out = vec![init; rows * self.n_targets];
        for r in 0..rows {
            let xr = &x[r * n_features..(r + 1) * n_features];
            let o = &mut out[r * self.n_targets..(r + 1) * self.n_targets];
            for &root in &self.roots {
                let l = self.leaf_of(root, xr)?;
                for &(t, w) in &self.leaves[l] {
                    o[t] = match self.agg {
                        Agg::Sum | Agg::Avg => o[t] + w,
                        Agg::Min => if o[t].is_nan() || w < o[t] { w } else { o[t] },
                        Agg::Max => if o[t].is_nan() || w > o[t] { w } else { o[t] },
                    };
                }
            }
            for v in o.iter_mut() {
                if self.agg == Agg::Avg {
                    *v /= self.roots.len().max(1) as f64;
                }
                if v.is_nan() {
                    *v = self.unhit;
                }
            }
        }
        Ok(out)
    }
}

/// X as rows of features: [N, F] or [F] (one row). Returns (values, rows, F).
pub(crate) fn feature_rows(x: &Tensor, what: &str) -> Result<(Vec<f64>, usize, usize)> {
    ensure!(x.dtype().is_numeric() && !x.dtype().is_low_float(), "{what}: input must be numeric, got {}", x.dtype());
    let (n, f) = match x.shape() {
        [f] => (1, *f),
        [n, f] => (*n, *f),
        s => bail!("{what}: input must be [N, F] or [F], got {s:?}"),
    };
    Ok((x.to_f64_vec()?, n, f))
}
