//! Loop: runs `body` while `i < M` (when M is given) and `cond` holds (when given).
//!
//! Node inputs: M (i64 scalar, optional), cond (bool scalar, optional), v_initial... (N).
//! Body inputs: iteration_num (i64 scalar), cond (bool scalar), carried... (N).
//! Body outputs: cond_out, carried... (N), scan... (K).
//! Node outputs: final carried values (N), then each scan output with the per-iteration
//! values stacked along a new leading axis. Tensors only (no sequence or optional values).

use super::tensor_util::{empty_like_decl, stack};
use crate::prelude::*;

#[derive(Debug)]
pub struct Loop {
    body: Arc<Graph>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Loop", |c| Ok(Box::new(Loop { body: c.attrs.req_graph("body")? })));
}

impl Op for Loop {
    fn op_type(&self) -> &str {
        "Loop"
    }
    fn eval(&self, ctx: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let n_carried = inputs.len().saturating_sub(2);
        let body = &*self.body;
        ensure!(body.inputs.len() == n_carried + 2, "Loop: body takes {} inputs, expected 2 + {n_carried} carried", body.inputs.len());
        ensure!(body.outputs.len() > n_carried, "Loop: body has {} outputs, needs at least 1 + {n_carried}", body.outputs.len());
        let n_scan = body.outputs.len() - 1 - n_carried;
        let max_trip = match opt(&inputs, 0) {
            Some(m) => {
                let v = m.to_i64_vec()?;
                ensure!(v.len() == 1, "Loop: M must be a scalar, got shape {:?}", m.shape());
                Some(v[0])
            }
            None => None,
        };
        let mut cond = match opt(&inputs, 1) {
            Some(c) => super::if_op::cond_value(c, "Loop")?,
            None => true,
        };
        let mut carried: Vec<Tensor> = (2..inputs.len()).map(|i| take(&mut inputs, i)).collect::<Result<_>>()?;
        let mut scans: Vec<Vec<Tensor>> = vec![vec![]; n_scan];
        let mut i: i64 = 0;
        while cond && max_trip.is_none_or(|m| i < m) {
            let mut bin = Vec::with_capacity(n_carried + 2);
            bin.push(Tensor::scalar(i));
            bin.push(Tensor::scalar(cond));
            bin.extend(carried.iter().cloned());
            let outs = ctx.subgraphs.run(body, bin)?;
            ensure!(outs.len() == 1 + n_carried + n_scan, "Loop: body returned {} values, expected {}", outs.len(), 1 + n_carried + n_scan);
            let mut it = outs.into_iter();
            let c = it.next().ok_or_else(|| Error::invalid("Loop: body returned no condition"))?;
            cond = super::if_op::cond_value(&c, "Loop body")?;
            carried = it.by_ref().take(n_carried).collect();
            for (s, t) in scans.iter_mut().zip(it) {
                s.push(t);
            }
            i += 1;
        }
        let mut out = carried;
        for (k, s) in scans.into_iter().enumerate() {
            if s.is_empty() {
                let info = &body.values[body.outputs[1 + n_carried + k]].info;
                out.push(empty_like_decl(info, 0));
            } else {
                out.push(stack(&s, 0).map_err(|e| Error::invalid(format!("Loop: scan output {k}: {e}")))?);
            }
        }
        Ok(out)
    }
}
