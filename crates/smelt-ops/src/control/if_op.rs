//! If: runs `then_branch` or `else_branch` (subgraphs with no inputs) on a boolean scalar
//! condition and returns that branch's outputs. Branches may read enclosing-scope values.

use crate::prelude::*;

#[derive(Debug)]
pub struct If {
    then_branch: Arc<Graph>,
    else_branch: Arc<Graph>,
}

pub fn register(r: &mut Registry) {
    r.register("", "If", |c| Ok(Box::new(If { then_branch: c.attrs.req_graph("then_branch")?, else_branch: c.attrs.req_graph("else_branch")? })));
}

/// The truth value of a one-element condition tensor (bool or numeric, non-zero = true).
pub(crate) fn cond_value(t: &Tensor, what: &str) -> Result<bool> {
    ensure!(t.len() == 1, "{what}: condition must have one element, got shape {:?}", t.shape());
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
        let g = if c { &self.then_branch } else { &self.else_branch };
        let outs = ctx.subgraphs.run(g, vec![])?;
        ensure!(outs.len() >= ctx.n_outputs, "If: branch '{}' produced {} outputs, node declares {}", g.name, outs.len(), ctx.n_outputs);
        Ok(outs)
    }
}
