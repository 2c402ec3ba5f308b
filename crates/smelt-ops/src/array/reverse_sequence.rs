//! ReverseSequence: for each batch entry b, reverses the first sequence_lens[b] steps along
//! `time_axis` (the rest are copied). batch_axis/time_axis are 0 and 1 in either order.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct ReverseSequence {
    batch_axis: i64,
    time_axis: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "ReverseSequence", |ctx| {
        Ok(Box::new(ReverseSequence {
            batch_axis: ctx.attrs.int_or("batch_axis", 1)?,
            time_axis: ctx.attrs.int_or("time_axis", 0)?,
        }))
    });
}

impl Op for ReverseSequence {
    fn op_type(&self) -> &str {
        "ReverseSequence"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let lens = req(&inputs, 1)?.to_i64_vec()?;
        ensure!(
            x.rank() >= 2,
            "ReverseSequence input must have rank >= 2, has shape {:?}",
            x.shape()
        );
        let ba = norm_axis(self.batch_axis, x.rank())?;
        let ta = norm_axis(self.time_axis, x.rank())?;
        ensure!(
            ba <= 1 && ta <= 1 && ba != ta,
            "batch_axis {} and time_axis {} must be 0 and 1",
            self.batch_axis,
            self.time_axis
        );
        let (nb, nt) = (x.shape()[ba], x.shape()[ta]);
        ensure!(
            lens.len() == nb,
            "sequence_lens has {} entries for batch size {nb}",
            lens.len()
        );
        let inner: usize = x.shape()[2..].iter().product();
        let st = strides(x.shape());
        let (sb, stt) = (st[ba], st[ta]);
        dispatch_any!(x.dtype(), T => {
            let s = x.as_slice::<T>()?;
            let mut out: Vec<T> = s.to_vec();
            for (b, &l) in lens.iter().enumerate() {
                ensure!(l >= 0 && l as usize <= nt, "sequence length {l} out of range for {nt} time steps");
                let l = l as usize;
                for t in 0..l {
                    let (d, src) = (b * sb + t * stt, b * sb + (l - 1 - t) * stt);
                    out[d..d + inner].clone_from_slice(&s[src..src + inner]);
                }
            }
            Ok(vec![mk(x.dtype(), x.shape().to_vec(), out)?])
        })
    }
}
