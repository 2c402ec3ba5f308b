//! Range: [start, start+delta, ...) up to (not including) limit; all three are scalars of one
//! numeric dtype. Length max(ceil((limit - start) / delta), 0). Element i is start + i*delta,
//! computed exactly for integers and in f64 for floats.

use crate::prelude::*;
use num_traits::{NumCast, ToPrimitive};

#[derive(Debug)]
pub struct Range;

pub fn register(r: &mut Registry) {
    r.register("", "Range", |_| Ok(Box::new(Range)));
}

fn scalar(t: &Tensor, what: &str) -> Result<Tensor> {
    ensure!(
        t.len() == 1,
        "Range {what} must be a scalar, got shape {:?}",
        t.shape()
    );
    Ok(t.clone())
}

/// Upper bound on the output length, to turn absurd requests into errors.
const MAX_LEN: f64 = (1u64 << 40) as f64;

impl Op for Range {
    fn op_type(&self) -> &str {
        "Range"
    }
    /// The start's dtype, one dim (its length known only from the values).
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let dtype = ctx.inputs.first().cloned().flatten().and_then(|i| i.dtype);
        Ok(vec![ValueInfo {
            dtype,
            shape: Some(vec![Dim::Unknown]),
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let s = scalar(req(&inputs, 0)?, "start")?;
        let l = scalar(req(&inputs, 1)?, "limit")?;
        let d = scalar(req(&inputs, 2)?, "delta")?;
        let dt = s.dtype();
        ensure!(
            l.dtype() == dt && d.dtype() == dt,
            "Range inputs differ in dtype: {}, {}, {}",
            dt,
            l.dtype(),
            d.dtype()
        );
        if dt.is_int() && dt.is_numeric() {
            let (a, b, c) = (
                s.to_i64_vec()?[0] as i128,
                l.to_i64_vec()?[0] as i128,
                d.to_i64_vec()?[0] as i128,
            );
            ensure!(c != 0, "Range delta must not be 0");
            let n = ((b - a + c - c.signum()) / c).max(0);
            ensure!((n as f64) < MAX_LEN, "Range of {n} elements is too long");
            return dispatch_numeric!(dt, T => {
                let v: Vec<T> = (0..n).map(|i| <T as NumCast>::from(a + i * c).ok_or_else(|| Error::invalid(format!("Range value {} overflows {dt}", a + i * c)))).collect::<Result<_>>()?;
                Ok(vec![Tensor::from_vec(vec![v.len()], v)?])
            }, o => Err(Error::dtype(o, "Range")));
        }
        dispatch_float!(dt, T => {
            let f = |t: &Tensor| t.as_slice::<T>().map(|v| ToPrimitive::to_f64(&v[0]).unwrap_or(f64::NAN));
            let (a, b, c) = (f(&s)?, f(&l)?, f(&d)?);
            ensure!(c != 0.0, "Range delta must not be 0");
            let n = ((b - a) / c).ceil().max(0.0);
            ensure!(n.is_finite() && n < MAX_LEN, "Range length {n} is not a valid size");
            let v: Vec<T> = (0..n as usize).map(|i| <T as NumCast>::from(a + i as f64 * c).unwrap_or_default()).collect();
            Ok(vec![Tensor::from_vec(vec![v.len()], v)?])
        }, o => Err(Error::dtype(o, "Range")))
    }
}
