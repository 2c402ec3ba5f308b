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
            Post::Probit => row
                .iter_mut()
                .for_each(|v| *v = std::f64::consts::SQRT_2 * erfinv(2.0 * *v - 1.0)),
            Post::Softmax | Post::SoftmaxZero => {
                let zero = self == Post::SoftmaxZero;
                let mx = row
                    .iter()
                    .filter(|v| !zero || **v != 0.0)
                    .cloned()
                    .fold(f64::NEG_INFINITY, f64::max);
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
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
    } else {
        let w = w.sqrt() - 3.0;
        p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
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
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
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
        ensure!(
            self.roots.iter().all(ok),
            "tree ensemble: a tree root is out of range"
        );
        for (i, b) in self.branches.iter().enumerate() {
            ensure!(
                ok(&b.t) && ok(&b.f),
                "tree ensemble: node {i} points outside the node/leaf arrays"
            );
        }
        for l in &self.leaves {
            for &(t, _) in l {
                ensure!(
                    t < self.n_targets,
                    "tree ensemble: target id {t} >= n_targets {}",
                    self.n_targets
                );
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
                    let v = *x.get(b.feature).ok_or_else(|| {
                        Error::invalid(format!(
                            "tree ensemble: feature {} out of range for {} input features",
                            b.feature,
                            x.len()
                        ))
                    })?;
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
        let rows = if n_features == 0 {
            0
        } else {
            x.len() / n_features
        };
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
                        Agg::Min => {
                            if o[t].is_nan() || w < o[t] {
                                w
                            } else {
                                o[t]
                            }
                        }
                        Agg::Max => {
                            if o[t].is_nan() || w > o[t] {
                                w
                            } else {
                                o[t]
                            }
                        }
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
    ensure!(
        x.dtype().is_numeric() && !x.dtype().is_low_float(),
        "{what}: input must be numeric, got {}",
        x.dtype()
    );
    let (n, f) = match x.shape() {
        [f] => (1, *f),
        [n, f] => (*n, *f),
        s => bail!("{what}: input must be [N, F] or [F], got {s:?}"),
    };
    Ok((x.to_f64_vec()?, n, f))
}

/// Floats from `name` or its `name_as_tensor` form (empty when neither is present).
fn floats_or_tensor(c: &OpCtx, name: &str) -> Result<Vec<f64>> {
    if let Some(t) = c.attrs.tensor(&format!("{name}_as_tensor"))? {
        return t.to_f64_vec();
    }
    Ok(c.attrs
        .floats_or(name, vec![])?
        .into_iter()
        .map(|x| x as f64)
        .collect())
}

/// The forest of a legacy TreeEnsembleRegressor / TreeEnsembleClassifier (ai.onnx.ml 1, 3).
///
/// Nodes are identified by (`nodes_treeids`, `nodes_nodeids`); successors are node ids in the
/// same tree; `nodes_modes` holds BRANCH_LEQ / BRANCH_LT / BRANCH_GTE / BRANCH_GT / BRANCH_EQ /
/// BRANCH_NEQ / LEAF. Leaf contributions come from `{prefix}_treeids`, `{prefix}_nodeids`,
/// `{prefix}_ids`, `{prefix}_weights` (prefix "target" or "class"). A tree's root is its
/// node that no other node points to. Returns the forest and `base_values`.
pub(crate) fn legacy_forest(
    c: &OpCtx,
    prefix: &str,
    n_targets: usize,
    agg: Agg,
) -> Result<(Forest, Vec<f64>)> {
    let a = c.attrs;
    let tree = a.req_ints("nodes_treeids")?;
    let node = a.req_ints("nodes_nodeids")?;
    let feats = a.req_ints("nodes_featureids")?;
    let modes = a
        .strings("nodes_modes")?
        .ok_or_else(|| Error::invalid("tree ensemble: missing nodes_modes"))?;
    let values = floats_or_tensor(c, "nodes_values")?;
    let tids = a.ints_or("nodes_truenodeids", vec![])?;
    let fids = a.ints_or("nodes_falsenodeids", vec![])?;
    let missing = a.ints_or("nodes_missing_value_tracks_true", vec![])?;
    let n = tree.len();
    for (nm, len) in [
        ("nodes_nodeids", node.len()),
        ("nodes_featureids", feats.len()),
        ("nodes_modes", modes.len()),
    ] {
        ensure!(
            len == n,
            "tree ensemble: {nm} has {len} entries, nodes_treeids has {n}"
        );
    }
    let mut index = std::collections::HashMap::new();
    for i in 0..n {
        ensure!(
            index.insert((tree[i], node[i]), i).is_none(),
            "tree ensemble: node ({}, {}) defined twice",
            tree[i],
            node[i]
        );
    }
    // node i -> Ref: branches and leaves are numbered separately
    let mut refs = Vec::with_capacity(n);
    let (mut nb, mut nl) = (0, 0);
    for m in &modes {
        if m == "LEAF" {
            refs.push(Ref::Leaf(nl));
            nl += 1;
        } else {
            refs.push(Ref::Node(nb));
            nb += 1;
        }
    }
    let succ = |i: usize, ids: &[i64], what: &str| -> Result<(usize, Ref)> {
        let id = *ids
            .get(i)
            .ok_or_else(|| Error::invalid(format!("tree ensemble: {what} missing for node {i}")))?;
        let j = *index.get(&(tree[i], id)).ok_or_else(|| {
            Error::invalid(format!(
                "tree ensemble: node ({}, {id}) does not exist",
                tree[i]
            ))
        })?;
        Ok((j, refs[j]))
    };
    let mut branches = Vec::with_capacity(nb);
    let mut is_child = vec![false; n];
    for i in 0..n {
        let mode = match modes[i].as_str() {
            "LEAF" => continue,
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_EQ" => Mode::Eq,
            "BRANCH_NEQ" => Mode::Neq,
            o => bail!("tree ensemble: unknown node mode '{o}'"),
        };
        let (tj, t) = succ(i, &tids, "nodes_truenodeids")?;
        let (fj, f) = succ(i, &fids, "nodes_falsenodeids")?;
        is_child[tj] = true;
        is_child[fj] = true;
        branches.push(Branch {
            feature: usize::try_from(feats[i]).map_err(|_| {
                Error::invalid(format!("tree ensemble: negative feature id at node {i}"))
            })?,
            mode,
            split: *values.get(i).ok_or_else(|| {
                Error::invalid(format!("tree ensemble: nodes_values missing for node {i}"))
            })?,
            members: vec![],
            missing_true: missing.get(i).is_some_and(|&m| m != 0),
            t,
            f,
        });
    }
    let mut leaves = vec![vec![]; nl];
    let ttree = a.ints_or(&format!("{prefix}_treeids"), vec![])?;
    let tnode = a.ints_or(&format!("{prefix}_nodeids"), vec![])?;
    let tid = a.ints_or(&format!("{prefix}_ids"), vec![])?;
    let tw = floats_or_tensor(c, &format!("{prefix}_weights"))?;
    ensure!(
        ttree.len() == tnode.len() && tnode.len() == tid.len() && tid.len() == tw.len(),
        "tree ensemble: {prefix}_treeids/nodeids/ids/weights differ in length"
    );
    for k in 0..ttree.len() {
        let j = *index.get(&(ttree[k], tnode[k])).ok_or_else(|| {
            Error::invalid(format!(
                "tree ensemble: {prefix} entry {k} names missing node ({}, {})",
                ttree[k], tnode[k]
            ))
        })?;
        let Ref::Leaf(l) = refs[j] else {
            bail!("tree ensemble: {prefix} entry {k} names a branch node")
        };
        let t = usize::try_from(tid[k]).map_err(|_| {
            Error::invalid(format!("tree ensemble: negative {prefix} id {}", tid[k]))
        })?;
        leaves[l].push((t, tw[k]));
    }
    let mut roots = vec![];
    let mut seen = std::collections::HashSet::new();
    for i in 0..n {
        if !is_child[i] && seen.insert(tree[i]) {
            roots.push(refs[i]);
        }
    }
    let forest = Forest {
        branches,
        leaves,
        roots,
        n_targets,
        agg,
        unhit: 0.0,
    };
    forest.validate()?;
    Ok((forest, floats_or_tensor(c, "base_values")?))
}
