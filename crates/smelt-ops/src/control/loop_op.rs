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
    r.register("", "Loop", |c| {
        Ok(Box::new(Loop {
            body: c.attrs.req_graph("body")?,
        }))
    });
}

impl Op for Loop {
    fn op_type(&self) -> &str {
        "Loop"
    }
    fn eval(&self, ctx: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let n_carried = inputs.len().saturating_sub(2);
        let body = &*self.body;
        ensure!(
            body.inputs.len() == n_carried + 2,
            "Loop: body takes {} inputs, expected 2 + {n_carried} carried",
            body.inputs.len()
        );
        ensure!(
            body.outputs.len() > n_carried,
            "Loop: body has {} outputs, needs at least 1 + {n_carried}",
            body.outputs.len()
        );
        let n_scan = body.outputs.len() - 1 - n_carried;
        let max_trip = match opt(&inputs, 0) {
            Some(m) => {
                let v = m.to_i64_vec()?;
                ensure!(
                    v.len() == 1,
                    "Loop: M must be a scalar, got shape {:?}",
                    m.shape()
                );
                Some(v[0])
            }
            None => None,
        };
        let mut cond = match opt(&inputs, 1) {
            Some(c) => super::if_op::cond_value(c, "Loop")?,
            None => true,
        };
        let mut carried: Vec<Tensor> = (2..inputs.len())
            .map(|i| take(&mut inputs, i))
            .collect::<Result<_>>()?;
        let mut scans: Vec<Vec<Tensor>> = vec![vec![]; n_scan];
        let mut i: i64 = 0;
        while cond && max_trip.is_none_or(|m| i < m) {
            let mut bin = Vec::with_capacity(n_carried + 2);
            bin.push(Tensor::scalar(i));
            bin.push(Tensor::scalar(cond));
            bin.extend(carried.iter().cloned());
            let outs = ctx.subgraphs.run(body, bin)?;
            ensure!(
                outs.len() == 1 + n_carried + n_scan,
                "Loop: body returned {} values, expected {}",
                outs.len(),
                1 + n_carried + n_scan
            );
            let mut it = outs.into_iter();
            let c = it
                .next()
                .ok_or_else(|| Error::invalid("Loop: body returned no condition"))?;
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
                out.push(
                    stack(&s, 0)
                        .map_err(|e| Error::invalid(format!("Loop: scan output {k}: {e}")))?,
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::GraphBuilder;
    use smelt_core::{DType, Tensor};
    use smelt_ir::{Attr, Attributes};
    use std::sync::Arc;

    fn s(v: &str) -> Tensor {
        Tensor::scalar(v.to_string())
    }

    /// Loop whose body appends the outer value `suffix` to the carried string and emits it.
    fn run_loop(m: Option<i64>, cond: Option<bool>) -> smelt_core::Result<Vec<Tensor>> {
        let mut b = GraphBuilder::new("body");
        let _i = b.placeholder("i", DType::I64, &[]);
        let c = b.placeholder("c", DType::Bool, &[]);
        let v = b.placeholder("v", DType::String, &[]);
        let suffix = b.capture("suffix").unwrap();
        let v2 = b
            .op("StringConcat", &[v, suffix], Attributes::new())
            .unwrap();
        let c2 = b.op("Identity", &[c], Attributes::new()).unwrap();
        let y = b.op("Identity", &[v2], Attributes::new()).unwrap();
        b.output(c2, "c_out");
        b.output(v2, "v_out");
        b.output(y, "y");
        let body = Arc::new(b.build().unwrap());

        let mut g = GraphBuilder::new("g");
        g.set_opset("", 16);
        let v0 = g.placeholder("v0", DType::String, &[]);
        let _suffix = g.placeholder("suffix", DType::String, &[]);
        let mv = m.map(|m| g.constant("M", Tensor::scalar(m)));
        let cv = cond.map(|c| g.constant("cond", Tensor::scalar(c)));
        let outs = g.add_node(
            "",
            "",
            "Loop",
            &[mv, cv, Some(v0)],
            &["vf".into(), "ys".into()],
            Attributes::new().with("body", Attr::Graph(body)),
        )?;
        g.output(outs[0].unwrap(), "vf");
        g.output(outs[1].unwrap(), "ys");
        let g = g.build()?;
        Ok(
            smelt_cpu::run(&g, vec![("v0".into(), s("x")), ("suffix".into(), s("s"))])?
                .into_iter()
                .map(|(_, t)| t)
                .collect(),
        )
    }

    #[test]
    fn loop_trip_count_and_scan_outputs() {
        let r = run_loop(Some(3), Some(true)).unwrap();
        assert_eq!(r[0], s("xsss"));
        let want: Vec<String> = ["xs", "xss", "xsss"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(r[1], Tensor::from_vec(vec![3], want).unwrap());
        let r = run_loop(Some(2), None).unwrap();
        assert_eq!(r[0], s("xss"));
    }

    #[test]
    fn loop_zero_iterations() {
        let r = run_loop(Some(0), Some(true)).unwrap();
        assert_eq!(r[0], s("x"));
        assert_eq!(r[1].shape()[0], 0);
        let r = run_loop(Some(5), Some(false)).unwrap();
        assert_eq!(r[0], s("x"));
        assert_eq!(r[1].shape()[0], 0);
    }
}
