//! Scan: runs `body` once per slice of the scan inputs, threading state values through.
//!
//! Opset 9+: inputs are N initial states then M = `num_scan_inputs` scan inputs, each sliced
//! along `scan_input_axes[j]` (default 0), read backwards when `scan_input_directions[j]` is 1.
//! Body: (states..., slices...) -> (states..., scan outputs... (K)). Node outputs: final
//! states, then each scan output's slices stacked along `scan_output_axes[k]` (default 0;
//! negative counts from the stacked rank), in reverse order when its direction is 1.
//!
//! Opset 8: a leading optional `sequence_lens` input, and every state and scan input has a
//! batch dim 0 (scan axis 1); the body runs per batch entry; `directions` gives input order.
//! Only full-length sequences are supported (sequence_lens equal to the scan length).

use super::tensor_util::{empty_like_decl, slice_axis, stack};
use crate::prelude::*;

#[derive(Debug)]
pub struct Scan {
    body: Arc<Graph>,
    opset8: bool,
    m: usize,
    in_axes: Vec<i64>,
    in_dirs: Vec<i64>,
    out_axes: Vec<i64>,
    out_dirs: Vec<i64>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Scan", |c| {
        let a = c.attrs;
        let m = a.req_int("num_scan_inputs")?;
        ensure!(m >= 1, "Scan: num_scan_inputs must be >= 1, got {m}");
        let opset8 = c.opset < 9;
        let in_dirs = if opset8 {
            a.ints_or("directions", vec![])?
        } else {
            a.ints_or("scan_input_directions", vec![])?
        };
        Ok(Box::new(Scan {
            body: a.req_graph("body")?,
            opset8,
            m: m as usize,
            in_axes: a.ints_or("scan_input_axes", vec![])?,
            in_dirs,
            out_axes: a.ints_or("scan_output_axes", vec![])?,
            out_dirs: a.ints_or("scan_output_directions", vec![])?,
        }))
    });
}

impl Scan {
    /// One scan over unbatched states and scan inputs; returns final states + stacked outputs.
    fn scan(
        &self,
        ctx: &EvalCtx,
        states: Vec<Tensor>,
        scan_in: &[Tensor],
        in_axes: &[usize],
    ) -> Result<Vec<Tensor>> {
        let body = &*self.body;
        let n = states.len();
        ensure!(
            body.inputs.len() == n + scan_in.len(),
            "Scan: body takes {} inputs, node gives {} states + {} scan inputs",
            body.inputs.len(),
            n,
            scan_in.len()
        );
        ensure!(
            body.outputs.len() >= n,
            "Scan: body has {} outputs, fewer than {n} states",
            body.outputs.len()
        );
        let k = body.outputs.len() - n;
        let mut len = None;
        for (j, t) in scan_in.iter().enumerate() {
            let l = t.shape()[in_axes[j]];
            ensure!(
                len.is_none_or(|x| x == l),
                "Scan: scan inputs have different lengths ({len:?} vs {l})"
            );
            len = Some(l);
        }
        let len = len.unwrap_or(0);
        let mut states = states;
        let mut outs: Vec<Vec<Tensor>> = vec![vec![]; k];
        for it in 0..len {
            let mut bin = states.clone();
            for (j, t) in scan_in.iter().enumerate() {
                let rev = self.in_dirs.get(j).copied().unwrap_or(0) == 1;
                bin.push(slice_axis(
                    t,
                    in_axes[j],
                    if rev { len - 1 - it } else { it },
                )?);
            }
            let r = ctx.subgraphs.run(body, bin)?;
            ensure!(
                r.len() == n + k,
                "Scan: body returned {} values, expected {}",
                r.len(),
                n + k
            );
            let mut r = r.into_iter();
            states = r.by_ref().take(n).collect();
            for (o, t) in outs.iter_mut().zip(r) {
                o.push(t);
            }
        }
        let mut res = states;
        for (kk, mut o) in outs.into_iter().enumerate() {
            if self.out_dirs.get(kk).copied().unwrap_or(0) == 1 {
                o.reverse();
            }
            let rank = o.first().map_or(0, |t| t.rank()) + 1;
            let axis = norm_axis(self.out_axes.get(kk).copied().unwrap_or(0), rank)?;
            if o.is_empty() {
                res.push(empty_like_decl(
                    &body.values[body.outputs[n + kk]].info,
                    axis,
                ));
            } else {
                res.push(stack(&o, axis)?);
            }
        }
        Ok(res)
    }
}

impl Op for Scan {
    fn op_type(&self) -> &str {
        "Scan"
    }
    fn eval(&self, ctx: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let first = if self.opset8 { 1 } else { 0 };
        ensure!(
            inputs.len() >= first + self.m,
            "Scan: {} inputs, fewer than {} scan inputs",
            inputs.len(),
            self.m
        );
        let n = inputs.len() - first - self.m;
        let vals: Vec<Tensor> = (first..inputs.len())
            .map(|i| req(&inputs, i).cloned())
            .collect::<Result<_>>()?;
        let (states, scan_in) = vals.split_at(n);
        if !self.opset8 {
            let mut axes = Vec::with_capacity(self.m);
            for (j, t) in scan_in.iter().enumerate() {
                axes.push(norm_axis(
                    self.in_axes.get(j).copied().unwrap_or(0),
                    t.rank(),
                )?);
            }
            return self.scan(ctx, states.to_vec(), scan_in, &axes);
        }
        // opset 8: batch dim 0 on everything, scan axis 1 on scan inputs
        let batch = scan_in[0]
            .shape()
            .first()
            .copied()
            .ok_or_else(|| Error::invalid("Scan: scan input must have a batch dim"))?;
        for t in states.iter().chain(scan_in) {
            ensure!(
                t.rank() >= 1 && t.shape()[0] == batch,
                "Scan: every input needs batch dim {batch}, got {:?}",
                t.shape()
            );
        }
        for t in scan_in {
            ensure!(
                t.rank() >= 2,
                "Scan: scan input needs (batch, sequence, ...) dims, got {:?}",
                t.shape()
            );
        }
        if let Some(sl) = opt(&inputs, 0) {
            let full = scan_in[0].shape()[1] as i64;
            ensure!(
                sl.to_i64_vec()?.iter().all(|&l| l == full),
                "Scan: sequence_lens shorter than the scan length are not supported"
            );
        }
        let axes = vec![0usize; self.m];
        let mut per_batch: Vec<Vec<Tensor>> = vec![];
        for b in 0..batch {
            let st: Vec<Tensor> = states
                .iter()
                .map(|t| slice_axis(t, 0, b))
                .collect::<Result<_>>()?;
            let si: Vec<Tensor> = scan_in
                .iter()
                .map(|t| slice_axis(t, 0, b))
                .collect::<Result<_>>()?;
            per_batch.push(self.scan(ctx, st, &si, &axes)?);
        }
        let n_out = per_batch.first().map_or(0, |v| v.len());
        (0..n_out)
            .map(|o| {
                stack(
                    &per_batch.iter().map(|v| v[o].clone()).collect::<Vec<_>>(),
                    0,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::GraphBuilder;
    use smelt_core::{DType, Dim, Tensor};
    use smelt_ir::{Attr, Attributes};
    use std::sync::Arc;

    fn strs(shape: &[usize], v: &[&str]) -> Tensor {
        Tensor::from_vec(
            shape.to_vec(),
            v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    }
    /// body(s, x) = (s ++ x, s ++ x)
    fn body(slice_shape: &[Dim]) -> Arc<smelt_ir::Graph> {
        let mut b = GraphBuilder::new("body");
        let s = b.placeholder("s", DType::String, slice_shape);
        let x = b.placeholder("x", DType::String, slice_shape);
        let c = b.op("StringConcat", &[s, x], Attributes::new()).unwrap();
        let y = b.op("Identity", &[c], Attributes::new()).unwrap();
        b.output(c, "s_out");
        b.output(y, "y");
        Arc::new(b.build().unwrap())
    }
    fn run_scan(opset: i64, attrs: Attributes, state: Tensor, x: Tensor) -> Vec<Tensor> {
        let mut g = GraphBuilder::new("g");
        g.set_opset("", opset);
        let s = g.placeholder(
            "s0",
            DType::String,
            &state
                .shape()
                .iter()
                .map(|&d| Dim::Fixed(d))
                .collect::<Vec<_>>(),
        );
        let xv = g.placeholder(
            "xs",
            DType::String,
            &x.shape().iter().map(|&d| Dim::Fixed(d)).collect::<Vec<_>>(),
        );
        let outs = g.op_n("Scan", &[s, xv], attrs, 2).unwrap();
        g.output(outs[0], "final");
        g.output(outs[1], "scanned");
        let g = g.build().unwrap();
        smelt_cpu::run(&g, vec![("s0".into(), state), ("xs".into(), x)])
            .unwrap()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }
    fn base(slice: &[Dim]) -> Attributes {
        Attributes::new()
            .with("body", Attr::Graph(body(slice)))
            .with("num_scan_inputs", Attr::Int(1))
    }

    #[test]
    fn scan_forward_and_reverse() {
        let r = run_scan(
            11,
            base(&[]),
            strs(&[], &[""]),
            strs(&[3], &["a", "b", "c"]),
        );
        assert_eq!(r[0], strs(&[], &["abc"]));
        assert_eq!(r[1], strs(&[3], &["a", "ab", "abc"]));
        let a = base(&[])
            .with("scan_input_directions", Attr::Ints(vec![1]))
            .with("scan_output_directions", Attr::Ints(vec![1]));
        let r = run_scan(11, a, strs(&[], &[""]), strs(&[3], &["a", "b", "c"]));
        assert_eq!(r[0], strs(&[], &["cba"]));
        assert_eq!(r[1], strs(&[3], &["cba", "cb", "c"]));
    }

    #[test]
    fn scan_axes() {
        let x = strs(&[2, 3], &["a", "b", "c", "d", "e", "f"]);
        let a = base(&[Dim::Fixed(2)]).with("scan_input_axes", Attr::Ints(vec![-1]));
        let r = run_scan(11, a.clone(), strs(&[2], &["", ""]), x.clone());
        assert_eq!(r[0], strs(&[2], &["abc", "def"]));
        assert_eq!(r[1], strs(&[3, 2], &["a", "d", "ab", "de", "abc", "def"]));
        let r = run_scan(
            11,
            a.with("scan_output_axes", Attr::Ints(vec![1])),
            strs(&[2], &["", ""]),
            x,
        );
        assert_eq!(r[1], strs(&[2, 3], &["a", "ab", "abc", "d", "de", "def"]));
    }

    #[test]
    fn scan_opset8_batch() {
        // opset 8: (sequence_lens?, states..., scans...) with batch dim 0, scan axis 1
        let mut g = GraphBuilder::new("g");
        g.set_opset("", 8);
        let s = g.placeholder("s0", DType::String, &[Dim::Fixed(2)]);
        let xv = g.placeholder("xs", DType::String, &[Dim::Fixed(2), Dim::Fixed(3)]);
        let outs = g
            .add_node(
                "",
                "",
                "Scan",
                &[None, Some(s), Some(xv)],
                &["f".into(), "y".into()],
                base(&[]),
            )
            .unwrap();
        g.output(outs[0].unwrap(), "f");
        g.output(outs[1].unwrap(), "y");
        let g = g.build().unwrap();
        let r = smelt_cpu::run(
            &g,
            vec![
                ("s0".into(), strs(&[2], &["", "-"])),
                ("xs".into(), strs(&[2, 3], &["a", "b", "c", "d", "e", "f"])),
            ],
        )
        .unwrap();
        assert_eq!(r[0].1, strs(&[2], &["abc", "-def"]));
        assert_eq!(
            r[1].1,
            strs(&[2, 3], &["a", "ab", "abc", "-d", "-de", "-def"])
        );
    }

    #[test]
    fn scan_length_mismatch_is_error() {
        let mut g = GraphBuilder::new("g");
        g.set_opset("", 11);
        let mut b = GraphBuilder::new("body");
        let s = b.placeholder("s", DType::String, &[]);
        let x1 = b.placeholder("x1", DType::String, &[]);
        let x2 = b.placeholder("x2", DType::String, &[]);
        let c = b.op("StringConcat", &[s, x1], Attributes::new()).unwrap();
        let c = b.op("StringConcat", &[c, x2], Attributes::new()).unwrap();
        b.output(c, "o");
        let body = Arc::new(b.build().unwrap());
        let s0 = g.placeholder("s0", DType::String, &[]);
        let a = g.placeholder("a", DType::String, &[Dim::Fixed(2)]);
        let bb = g.placeholder("b", DType::String, &[Dim::Fixed(3)]);
        let o = g
            .op(
                "Scan",
                &[s0, a, bb],
                Attributes::new()
                    .with("body", Attr::Graph(body))
                    .with("num_scan_inputs", Attr::Int(2)),
            )
            .unwrap();
        g.output(o, "o");
        let g = g.build().unwrap();
        let r = smelt_cpu::run(
            &g,
            vec![
                ("s0".into(), strs(&[], &[""])),
                ("a".into(), strs(&[2], &["x", "y"])),
                ("b".into(), strs(&[3], &["1", "2", "3"])),
            ],
        );
        assert!(r.is_err());
    }
}
