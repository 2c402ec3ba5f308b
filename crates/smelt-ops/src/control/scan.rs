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
        let in_dirs = if opset8 { a.ints_or("directions", vec![])? } else { a.ints_or("scan_input_directions", vec![])? };
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
    fn scan(&self, ctx: &EvalCtx, states: Vec<Tensor>, scan_in: &[Tensor], in_axes: &[usize]) -> Result<Vec<Tensor>> {
        let body = &*self.body;
        let n = states.len();
        ensure!(body.inputs.len() == n + scan_in.len(), "Scan: body takes {} inputs, node gives {} states + {} scan inputs", body.inputs.len(), n, scan_in.len());
        ensure!(body.outputs.len() >= n, "Scan: body has {} outputs, fewer than {n} states", body.outputs.len());
        let k = body.outputs.len() - n;
        let mut len = None;
        for (j, t) in scan_in.iter().enumerate() {
            let l = t.shape()[in_axes[j]];
            ensure!(len.is_none_or(|x| x == l), "Scan: scan inputs have different lengths ({len:?} vs {l})");
            len = Some(l);
        }
        let len = len.unwrap_or(0);
        let mut states = states;
        let mut outs: Vec<Vec<Tensor>> = vec![vec![]; k];
        for it in 0..len {
            let mut bin = states.clone();
            for (j, t) in scan_in.iter().enumerate() {
                let rev = self.in_dirs.get(j).copied().unwrap_or(0) == 1;
                bin.push(slice_axis(t, in_axes[j], if rev { len - 1 - it } else { it })?);
            }
            let r = ctx.subgraphs.run(body, bin)?;
            ensure!(r.len() == n + k, "Scan: body returned {} values, expected {}", r.len(), n + k);
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
                res.push(empty_like_decl(&body.values[body.outputs[n + kk]].info, axis));
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
        ensure!(inputs.len() >= first + self.m, "Scan: {} inputs, fewer than {} scan inputs", inputs.len(), self.m);
        let n = inputs.len() - first - self.m;
        let vals: Vec<Tensor> = (first..inputs.len()).map(|i| req(&inputs, i).cloned()).collect::<Result<_>>()?;
        let (states, scan_in) = vals.split_at(n);
        if !self.opset8 {
            let mut axes = Vec::with_capacity(self.m);
            for (j, t) in scan_in.iter().enumerate() {
                axes.push(norm_axis(self.in_axes.get(j).copied().unwrap_or(0), t.rank())?);
            }
            return self.scan(ctx, states.to_vec(), scan_in, &axes);
        }
        // opset 8: batch dim 0 on everything, scan axis 1 on scan inputs
        let batch = scan_in[0].shape().first().copied().ok_or_else(|| Error::invalid("Scan: scan input must have a batch dim"))?;
        for t in states.iter().chain(scan_in) {
            ensure!(t.rank() >= 1 && t.shape()[0] == batch, "Scan: every input needs batch dim {batch}, got {:?}", t.shape());
        }
        for t in scan_in {
            ensure!(t.rank() >= 2, "Scan: scan input needs (batch, sequence, ...) dims, got {:?}", t.shape());
        }
        if let Some(sl) = opt(&inputs, 0) {
            let full = scan_in[0].shape()[1] as i64;
            ensure!(sl.to_i64_vec()?.iter().all(|&l| l == full), "Scan: sequence_lens shorter than the scan length are not supported");
        }
        let axes = vec![0usize; self.m];
        let mut per_batch: Vec<Vec<Tensor>> = vec![];
        for b in 0..batch {
            let st: Vec<Tensor> = states.iter().map(|t| slice_axis(t, 0, b)).collect::<Result<_>>()?;
            let si: Vec<Tensor> = scan_in.iter().map(|t| slice_axis(t, 0, b)).collect::<Result<_>>()?;
            per_batch.push(self.scan(ctx, st, &si, &axes)?);
        }
        let n_out = per_batch.first().map_or(0, |v| v.len());
        (0..n_out).map(|o| stack(&per_batch.iter().map(|v| v[o].clone()).collect::<Vec<_>>(), 0)).collect()
    }
}
