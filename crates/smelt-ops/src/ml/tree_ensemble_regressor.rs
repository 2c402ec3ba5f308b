//! TreeEnsembleRegressor (ai.onnx.ml 1, 3): legacy forest regression (node layout described
//! in tree_common.rs `legacy_forest`). Scores [N, n_targets] aggregate leaf weights by
//! `aggregate_function` (SUM default, AVERAGE, MIN, MAX), add `base_values`, then apply
//! `post_transform` (NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT). Output float.

use super::tree_common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct TreeEnsembleRegressor {
    forest: Forest,
    base: Vec<f64>,
    post: Post,
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "TreeEnsembleRegressor", |c| {
        let n = c.attrs.int_or("n_targets", 1)?;
        ensure!(
            n >= 1,
            "TreeEnsembleRegressor: n_targets must be positive, got {n}"
        );
        let agg = match c
            .attrs
            .string_or("aggregate_function", "SUM".into())?
            .as_str()
        {
            "SUM" => Agg::Sum,
            "AVERAGE" => Agg::Avg,
            "MIN" => Agg::Min,
            "MAX" => Agg::Max,
            o => bail!("TreeEnsembleRegressor: unknown aggregate_function '{o}'"),
        };
        let (forest, base) = legacy_forest(c, "target", n as usize, agg)?;
        ensure!(
            base.is_empty() || base.len() == n as usize,
            "TreeEnsembleRegressor: {} base_values for {n} targets",
            base.len()
        );
        Ok(Box::new(TreeEnsembleRegressor {
            forest,
            base,
            post: Post::from_name(&c.attrs.string_or("post_transform", "NONE".into())?)?,
        }))
    });
}

impl Op for TreeEnsembleRegressor {
    fn op_type(&self) -> &str {
        "TreeEnsembleRegressor"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (xv, rows, f) = feature_rows(req(&inputs, 0)?, "TreeEnsembleRegressor")?;
        let nt = self.forest.n_targets;
        let mut s = self.forest.scores(&xv, f)?;
        let mut out = Vec::with_capacity(rows * nt);
        for row in s.chunks_mut(nt) {
            for (v, b) in row.iter_mut().zip(&self.base) {
                *v += b;
            }
            self.post.apply(row);
            out.extend(row.iter().map(|&v| v as f32));
        }
        Ok(vec![Tensor::from_vec(vec![rows, nt], out)?])
    }
}

#[cfg(test)]
mod tests {
    use crate::GraphBuilder;
    use smelt_core::{DType, Dim, Tensor};
    use smelt_ir::{Attr, Attributes};

    /// Tree 0: x0 <= 0.5 ? leaf(w 1) : leaf(w 2); tree 1: a single leaf (w 10).
    fn attrs(op: &str) -> Attributes {
        let p = if op == "TreeEnsembleRegressor" {
            "target"
        } else {
            "class"
        };
        Attributes::new()
            .with("nodes_treeids", Attr::Ints(vec![0, 0, 0, 1]))
            .with("nodes_nodeids", Attr::Ints(vec![0, 1, 2, 0]))
            .with("nodes_featureids", Attr::Ints(vec![0, 0, 0, 0]))
            .with(
                "nodes_modes",
                Attr::Strings(
                    ["BRANCH_LEQ", "LEAF", "LEAF", "LEAF"]
                        .map(String::from)
                        .to_vec(),
                ),
            )
            .with("nodes_values", Attr::Floats(vec![0.5, 0., 0., 0.]))
            .with("nodes_truenodeids", Attr::Ints(vec![1, 0, 0, 0]))
            .with("nodes_falsenodeids", Attr::Ints(vec![2, 0, 0, 0]))
            .with(&format!("{p}_treeids"), Attr::Ints(vec![0, 0, 1]))
            .with(&format!("{p}_nodeids"), Attr::Ints(vec![1, 2, 0]))
            .with(&format!("{p}_ids"), Attr::Ints(vec![0, 0, 0]))
            .with(&format!("{p}_weights"), Attr::Floats(vec![1.0, 2.0, 10.0]))
    }

    fn run(op: &str, a: Attributes, n_out: usize) -> Vec<Tensor> {
        let mut g = GraphBuilder::new("g");
        g.set_opset("ai.onnx.ml", 3);
        let x = g.placeholder("x", DType::F32, &[Dim::Fixed(2), Dim::Fixed(1)]);
        let names: Vec<String> = (0..n_out).map(|i| format!("o{i}")).collect();
        let outs = g
            .add_node("", "ai.onnx.ml", op, &[Some(x)], &names, a)
            .unwrap();
        for (o, n) in outs.iter().zip(&names) {
            g.output(o.unwrap(), n);
        }
        let g = g.build().unwrap();
        let x = Tensor::from_vec(vec![2, 1], vec![0.2f32, 0.9]).unwrap();
        smelt_cpu::run(&g, vec![("x".into(), x)])
            .unwrap()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    #[test]
    fn regressor_aggregates() {
        let r = run("TreeEnsembleRegressor", attrs("TreeEnsembleRegressor"), 1);
        assert_eq!(r[0].as_slice::<f32>().unwrap(), &[11.0, 12.0]);
        let a = attrs("TreeEnsembleRegressor")
            .with("aggregate_function", Attr::String("AVERAGE".into()))
            .with("base_values", Attr::Floats(vec![100.0]));
        let r = run("TreeEnsembleRegressor", a, 1);
        assert_eq!(r[0].as_slice::<f32>().unwrap(), &[105.5, 106.0]);
        let r = run(
            "TreeEnsembleRegressor",
            attrs("TreeEnsembleRegressor").with("aggregate_function", Attr::String("MIN".into())),
            1,
        );
        assert_eq!(r[0].as_slice::<f32>().unwrap(), &[1.0, 2.0]);
    }

    #[test]
    fn classifier_argmax() {
        // three classes: leaf 1 -> class 1, leaf 2 -> class 2, tree 1 leaf -> class 0 (w 1.5)
        let a = attrs("TreeEnsembleClassifier")
            .with("class_ids", Attr::Ints(vec![1, 2, 0]))
            .with("class_weights", Attr::Floats(vec![2.0, 1.0, 1.5]))
            .with("classlabels_int64s", Attr::Ints(vec![10, 20, 30]));
        let r = run("TreeEnsembleClassifier", a, 2);
        assert_eq!(r[0].as_slice::<i64>().unwrap(), &[20, 10]);
        assert_eq!(
            r[1].as_slice::<f32>().unwrap(),
            &[1.5, 2.0, 0.0, 1.5, 0.0, 1.0]
        );
    }

    #[test]
    fn bad_structure_is_error() {
        let mut g = GraphBuilder::new("g");
        g.set_opset("ai.onnx.ml", 3);
        let x = g.placeholder("x", DType::F32, &[Dim::Fixed(2), Dim::Fixed(1)]);
        let a =
            attrs("TreeEnsembleRegressor").with("nodes_truenodeids", Attr::Ints(vec![7, 0, 0, 0]));
        assert!(g
            .add_node(
                "",
                "ai.onnx.ml",
                "TreeEnsembleRegressor",
                &[Some(x)],
                &["y".into()],
                a
            )
            .is_err());
    }
}
