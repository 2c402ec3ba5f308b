//! TreeEnsemble (ai.onnx.ml 5): evaluates a forest on X [N, F]; output [N, n_targets] in X's
//! float dtype.
//!
//! Branch node i: feature `nodes_featureids[i]`, comparison `nodes_modes[i]` (0 ≤, 1 <, 2 ≥,
//! 3 >, 4 ==, 5 !=, 6 member of a set) against `nodes_splits[i]`; true/false successors
//! `nodes_truenodeids` / `nodes_falsenodeids` index leaves when `nodes_trueleafs` /
//! `nodes_falseleafs` is 1, else nodes. Member sets come from `membership_values`, one
//! NaN-terminated run per member node in node order. Leaf j adds `leaf_weights[j]` to target
//! `leaf_targetids[j]`; trees (`tree_roots`) combine by `aggregate_function` (0 average,
//! 1 sum, 2 min, 3 max; a target no tree reaches is the dtype's max / min for min / max);
//! then `post_transform` (0 none, 1 softmax, 2 logistic, 3 softmax-zero, 4 probit).

use super::tree_common::*;
use crate::prelude::*;
use crate::signal::from_f64;

#[derive(Debug)]
pub struct TreeEnsemble {
    forest: Forest,
    post: Post,
}

fn ints(c: &OpCtx, n: &str) -> Result<Vec<i64>> {
    c.attrs.req_ints(n)
}

fn build(c: &OpCtx) -> Result<TreeEnsemble> {
    let a = c.attrs;
    let feats = ints(c, "nodes_featureids")?;
    let modes = a.req_tensor("nodes_modes")?.to_i64_vec()?;
    let splits = a.req_tensor("nodes_splits")?.to_f64_vec()?;
    let (tid, fid) = (
        ints(c, "nodes_truenodeids")?,
        ints(c, "nodes_falsenodeids")?,
    );
    let (tl, fl) = (ints(c, "nodes_trueleafs")?, ints(c, "nodes_falseleafs")?);
    let missing = a.ints_or("nodes_missing_value_tracks_true", vec![])?;
    let targets = ints(c, "leaf_targetids")?;
    let weights = a.req_tensor("leaf_weights")?.to_f64_vec()?;
    let roots = ints(c, "tree_roots")?;
    let n_targets = a.req_int("n_targets")?;
    ensure!(
        n_targets >= 1,
        "TreeEnsemble: n_targets must be positive, got {n_targets}"
    );
    let n = feats.len();
    for (name, len) in [
        ("nodes_modes", modes.len()),
        ("nodes_splits", splits.len()),
        ("nodes_truenodeids", tid.len()),
        ("nodes_falsenodeids", fid.len()),
        ("nodes_trueleafs", tl.len()),
        ("nodes_falseleafs", fl.len()),
    ] {
        ensure!(
            len == n,
            "TreeEnsemble: {name} has {len} entries, nodes_featureids has {n}"
        );
    }
    ensure!(
        missing.is_empty() || missing.len() == n,
        "TreeEnsemble: nodes_missing_value_tracks_true has {} entries, expected {n}",
        missing.len()
    );
    ensure!(
        targets.len() == weights.len(),
        "TreeEnsemble: leaf_targetids ({}) and leaf_weights ({}) differ in length",
        targets.len(),
        weights.len()
    );
    let mut members = a
        .tensor("membership_values")?
        .map(|t| t.to_f64_vec())
        .transpose()?
        .unwrap_or_default()
        .into_iter();
    let r = |id: i64, leaf: i64| -> Result<Ref> {
        let i = usize::try_from(id)
            .map_err(|_| Error::invalid(format!("TreeEnsemble: negative node/leaf id {id}")))?;
        Ok(if leaf != 0 {
            Ref::Leaf(i)
        } else {
            Ref::Node(i)
        })
    };
    let mut branches = Vec::with_capacity(n);
    for i in 0..n {
        let mode = match modes[i] {
            0 => Mode::Leq,
            1 => Mode::Lt,
            2 => Mode::Gte,
            3 => Mode::Gt,
            4 => Mode::Eq,
            5 => Mode::Neq,
            6 => Mode::Member,
            m => bail!("TreeEnsemble: unknown node mode {m} at node {i}"),
        };
        let mut set = vec![];
        if mode == Mode::Member {
            for v in members.by_ref() {
                if v.is_nan() {
                    break;
                }
                set.push(v);
            }
        }
        branches.push(Branch {
            feature: usize::try_from(feats[i]).map_err(|_| {
                Error::invalid(format!("TreeEnsemble: negative feature id at node {i}"))
            })?,
            mode,
            split: splits[i],
            members: set,
            missing_true: missing.get(i).is_some_and(|&m| m != 0),
            t: r(tid[i], tl[i])?,
            f: r(fid[i], fl[i])?,
        });
    }
    let leaves = targets
        .iter()
        .zip(&weights)
        .map(|(&t, &w)| {
            Ok(vec![(
                usize::try_from(t)
                    .map_err(|_| Error::invalid(format!("TreeEnsemble: negative target id {t}")))?,
                w,
            )])
        })
        .collect::<Result<_>>()?;
    let roots = roots
        .iter()
        .map(|&rt| {
            let i = usize::try_from(rt)
                .map_err(|_| Error::invalid(format!("TreeEnsemble: negative tree root {rt}")))?;
            ensure!(i < n, "TreeEnsemble: tree root {rt} out of range");
            // a root whose both successors are the same leaf is that leaf
            Ok(if tl[i] != 0 && fl[i] != 0 && tid[i] == fid[i] {
                Ref::Leaf(i)
            } else {
                Ref::Node(i)
            })
        })
        .collect::<Result<_>>()?;
    let agg = match a.int_or("aggregate_function", 1)? {
        0 => Agg::Avg,
        1 => Agg::Sum,
        2 => Agg::Min,
        3 => Agg::Max,
        o => bail!("TreeEnsemble: unknown aggregate_function {o}"),
    };
    let forest = Forest {
        branches,
        leaves,
        roots,
        n_targets: n_targets as usize,
        agg,
        unhit: 0.0,
    };
    forest.validate()?;
    Ok(TreeEnsemble {
        forest,
        post: Post::from_code(a.int_or("post_transform", 0)?)?,
    })
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "TreeEnsemble", |c| Ok(Box::new(build(c)?)));
}

impl Op for TreeEnsemble {
    fn op_type(&self) -> &str {
        "TreeEnsemble"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        crate::signal::ensure_float(x, "TreeEnsemble input")?;
        let (xv, rows, f) = feature_rows(x, "TreeEnsemble")?;
        let mut forest = self.forest.clone();
        forest.unhit = match (forest.agg, x.dtype()) {
            (Agg::Min, DType::F64) => f64::MAX,
            (Agg::Max, DType::F64) => f64::MIN,
            (Agg::Min, DType::F16) => 65504.0,
            (Agg::Max, DType::F16) => -65504.0,
            (Agg::Min, _) => f32::MAX as f64,
            (Agg::Max, _) => f32::MIN as f64,
            _ => 0.0,
        };
        let mut s = forest.scores(&xv, f)?;
        let nt = forest.n_targets;
        for row in s.chunks_mut(nt) {
            self.post.apply(row);
        }
        Ok(vec![from_f64(x.dtype(), vec![rows, nt], s)?])
    }
}
