//! If: runs `then_branch` or `else_branch` (subgraphs with no inputs) on a boolean scalar
//! condition and returns that branch's outputs. Branches may read enclosing-scope values.

use crate::prelude::*;

#[derive(Debug)]
pub struct If {
    then_branch: Arc<Graph>,
    else_branch: Arc<Graph>,
}

pub fn register(r: &mut Registry) {
    r.register("", "If", |c| {
        Ok(Box::new(If {
            then_branch: c.attrs.req_graph("then_branch")?,
            else_branch: c.attrs.req_graph("else_branch")?,
        }))
    });
}

/// The truth value of a one-element condition tensor (bool or numeric, non-zero = true).
pub(crate) fn cond_value(t: &Tensor, what: &str) -> Result<bool> {
    ensure!(
        t.len() == 1,
        "{what}: condition must have one element, got shape {:?}",
        t.shape()
    );
    if t.dtype() == DType::Bool {
        return Ok(t.as_slice::<bool>()?[0]);
    }
    Ok(t.to_f64_vec()?[0] != 0.0)
}

impl Op for If {
    fn op_type(&self) -> &str {
        "If"
    }
    fn eval(&self, ctx: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let c = cond_value(req(&inputs, 0)?, "If")?;
        let g = if c {
            &self.then_branch
        } else {
            &self.else_branch
        };
        let outs = ctx.subgraphs.run(g, vec![])?;
        ensure!(
            outs.len() >= ctx.n_outputs,
            "If: branch '{}' produced {} outputs, node declares {}",
            g.name,
            outs.len(),
            ctx.n_outputs
        );
        Ok(outs)
    }
}

#[cfg(test)]
mod tests {
    use crate::GraphBuilder;
    use smelt_core::{DType, Tensor};
    use smelt_ir::{Attr, Attributes, Graph};
    use std::sync::Arc;

    fn branch(name: &str, suffix: &str) -> Arc<Graph> {
        let mut b = GraphBuilder::new(name);
        let x = b.capture("x").unwrap();
        let k = b.constant("k", Tensor::scalar(suffix.to_string()));
        let y = b.op("StringConcat", &[x, k], Attributes::new()).unwrap();
        b.output(y, "y");
        Arc::new(b.build().unwrap())
    }
    #[test]
    fn if_picks_branch_and_reads_outer_values() {
        let mut g = GraphBuilder::new("g");
        g.set_opset("", 16);
        let c = g.placeholder("c", DType::Bool, &[]);
        let _x = g.placeholder("x", DType::String, &[]);
        let a = Attributes::new()
            .with("then_branch", Attr::Graph(branch("t", "+then")))
            .with("else_branch", Attr::Graph(branch("e", "+else")));
        let y = g.op("If", &[c], a).unwrap();
        g.output(y, "y");
        let g = g.build().unwrap();
        for (cv, want) in [(true, "a+then"), (false, "a+else")] {
            let r = smelt_cpu::run(
                &g,
                vec![
                    ("c".into(), Tensor::scalar(cv)),
                    ("x".into(), Tensor::scalar("a".to_string())),
                ],
            )
            .unwrap();
            assert_eq!(r[0].1, Tensor::scalar(want.to_string()));
        }
        let bad = smelt_cpu::run(
            &g,
            vec![
                (
                    "c".into(),
                    Tensor::from_vec(vec![2], vec![true, false]).unwrap(),
                ),
                ("x".into(), Tensor::scalar("a".to_string())),
            ],
        );
        assert!(bad.is_err());
    }
}
