//! TreeEnsembleClassifier (ai.onnx.ml 1, 3): legacy forest classification (node layout in
//! tree_common.rs `legacy_forest`, contributions from `class_*`). Per-class scores are summed
//! over trees and `base_values` added. Outputs: Y [N] labels (`classlabels_int64s` or
//! `classlabels_strings`), Z [N, classes] float scores after `post_transform`.
//!
//! Binary case (2 labels, every contribution to one class id): as onnxruntime, that class's
//! score s gives the pair (1 − s, s) when all weights are non-negative, else (−s, s); with
//! LOGISTIC the pair is (1 − σ(s), σ(s)). The label is the positive class when s > 0.5
//! (non-negative weights) or s > 0 (otherwise). Else the label is the arg-max class.

use super::tree_common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct TreeEnsembleClassifier {
    forest: Forest,
    base: Vec<f64>,
    post: Post,
    labels_i: Vec<i64>,
    labels_s: Vec<String>,
    /// Binary case: the one class id receiving contributions, and whether all weights are >= 0.
    binary: Option<(usize, bool)>,
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "TreeEnsembleClassifier", |c| {
        let labels_i = c.attrs.ints_or("classlabels_int64s", vec![])?;
        let labels_s = c.attrs.strings_or("classlabels_strings", vec![])?;
        let n = labels_i.len().max(labels_s.len());
        ensure!(
            n >= 1,
            "TreeEnsembleClassifier: needs classlabels_int64s or classlabels_strings"
        );
        let (forest, base) = legacy_forest(c, "class", n, Agg::Sum)?;
        ensure!(
            base.is_empty() || base.len() == n,
            "TreeEnsembleClassifier: {} base_values for {n} classes",
            base.len()
        );
        let contribs: Vec<(usize, f64)> = forest.leaves.iter().flatten().copied().collect();
        let binary = match contribs.first() {
            Some(&(c0, _)) if n == 2 && contribs.iter().all(|&(c, _)| c == c0) => {
                Some((c0, contribs.iter().all(|&(_, w)| w >= 0.0)))
            }
            _ => None,
        };
        Ok(Box::new(TreeEnsembleClassifier {
            forest,
            base,
            post: Post::from_name(&c.attrs.string_or("post_transform", "NONE".into())?)?,
            labels_i,
            labels_s,
            binary,
        }))
    });
}

impl Op for TreeEnsembleClassifier {
    fn op_type(&self) -> &str {
        "TreeEnsembleClassifier"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (xv, rows, f) = feature_rows(req(&inputs, 0)?, "TreeEnsembleClassifier")?;
        let nc = self.forest.n_targets;
        let mut s = self.forest.scores(&xv, f)?;
        let mut z = Vec::with_capacity(rows * nc);
        let mut picks = Vec::with_capacity(rows);
        for row in s.chunks_mut(nc) {
            for (v, b) in row.iter_mut().zip(&self.base) {
                *v += b;
            }
            match self.binary {
                Some((c, nonneg)) => {
                    let sc = row[c];
                    let pick = if (nonneg && sc > 0.5) || (!nonneg && sc > 0.0) {
                        1
                    } else {
                        0
                    };
                    let (a, b) = match self.post {
                        Post::Logistic => {
                            let p = 1.0 / (1.0 + (-sc).exp());
                            (1.0 - p, p)
                        }
                        _ if nonneg => (1.0 - sc, sc),
                        _ => (-sc, sc),
                    };
                    row[0] = a;
                    row[1] = b;
                    if !matches!(self.post, Post::Logistic | Post::None) {
                        self.post.apply(row);
                    }
                    picks.push(pick);
                }
                None => {
                    let mut best = 0;
                    for (i, &v) in row.iter().enumerate() {
                        if v > row[best] {
                            best = i;
                        }
                    }
                    picks.push(best);
                    self.post.apply(row);
                }
            }
            z.extend(row.iter().map(|&v| v as f32));
        }
        let y = if self.labels_s.is_empty() {
            Tensor::from_vec(
                vec![rows],
                picks.iter().map(|&p| self.labels_i[p]).collect::<Vec<_>>(),
            )?
        } else {
            Tensor::from_vec(
                vec![rows],
                picks
                    .iter()
                    .map(|&p| self.labels_s[p].clone())
                    .collect::<Vec<_>>(),
            )?
        };
        Ok(vec![y, Tensor::from_vec(vec![rows, nc], z)?])
    }
}
