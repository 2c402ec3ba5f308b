//! CumSum (opset 11, 14): running sum of `x` along the axis given by input 1 (a 0-D or
//! 1-element i32/i64 tensor, possibly negative). `exclusive=1` leaves out the current element
//! (the first output is 0); `reverse=1` sums from the end. Floats: f16/bf16 accumulate in f32;
//! integers wrap.

use super::kernel::FloatIo;
use crate::prelude::*;
use num_traits::WrappingAdd;

#[derive(Debug)]
pub struct CumSum {
    exclusive: bool,
    reverse: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "CumSum", |ctx| {
        Ok(Box::new(CumSum {
            exclusive: ctx.attrs.int_or("exclusive", 0)? != 0,
            reverse: ctx.attrs.int_or("reverse", 0)? != 0,
        }))
    });
}

/// Scans `outer x n x inner` along the middle dim with accumulator `A`.
#[allow(clippy::too_many_arguments)]
fn scan<T: Copy, A: Copy>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    ex: bool,
    rev: bool,
    zero: A,
    to: impl Fn(T) -> A,
    add: impl Fn(A, A) -> A,
    from: impl Fn(A) -> T,
) -> Vec<T> {
    let mut out: Vec<T> = x.to_vec();
    let mut acc = vec![zero; inner];
    for o in 0..outer {
        acc.iter_mut().for_each(|a| *a = zero);
        for s in 0..n {
            let j = if rev { n - 1 - s } else { s };
            let base = (o * n + j) * inner;
            for i in 0..inner {
                let v = to(x[base + i]);
                if ex {
                    out[base + i] = from(acc[i]);
                    acc[i] = add(acc[i], v);
                } else {
                    acc[i] = add(acc[i], v);
                    out[base + i] = from(acc[i]);
                }
            }
        }
    }
    out
}

fn scan_float<T: FloatIo>(
    x: &Tensor,
    dims: (usize, usize, usize),
    ex: bool,
    rev: bool,
) -> Result<Tensor> {
    let s = x.as_slice::<T>()?;
    let z = <T::C as num_traits::Zero>::zero();
    Tensor::from_vec(
        x.shape().to_vec(),
        scan(
            s,
            dims.0,
            dims.1,
            dims.2,
            ex,
            rev,
            z,
            T::to_c,
            |a, b| a + b,
            T::from_c,
        ),
    )
}

fn scan_int<T: WrappingAdd + Copy + Default + Elem>(
    x: &Tensor,
    dims: (usize, usize, usize),
    ex: bool,
    rev: bool,
) -> Result<Tensor> {
    let s = x.as_slice::<T>()?;
    Tensor::from_vec(
        x.shape().to_vec(),
        scan(
            s,
            dims.0,
            dims.1,
            dims.2,
            ex,
            rev,
            T::default(),
            |v| v,
            |a: T, b: T| a.wrapping_add(&b),
            |v| v,
        ),
    )
}

impl Op for CumSum {
    fn op_type(&self) -> &str {
        "CumSum"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ctx
            .inputs
            .first()
            .cloned()
            .flatten()
            .unwrap_or_default()])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let at = req(&inputs, 1)?;
        let av = at.to_i64_vec()?;
        ensure!(
            av.len() == 1 && at.rank() <= 1,
            "CumSum: axis must be a scalar, got shape {:?}",
            at.shape()
        );
        ensure!(x.rank() > 0, "CumSum: input must have rank >= 1");
        let a = norm_axis(av[0], x.rank())?;
        let sh = x.shape();
        let dims = (
            sh[..a].iter().product(),
            sh[a],
            sh[a + 1..].iter().product(),
        );
        let (ex, rev) = (self.exclusive, self.reverse);
        let y = match x.dtype() {
            DType::F32 => scan_float::<f32>(x, dims, ex, rev)?,
            DType::F64 => scan_float::<f64>(x, dims, ex, rev)?,
            DType::F16 => scan_float::<f16>(x, dims, ex, rev)?,
            DType::BF16 => scan_float::<bf16>(x, dims, ex, rev)?,
            DType::I8 => scan_int::<i8>(x, dims, ex, rev)?,
            DType::I16 => scan_int::<i16>(x, dims, ex, rev)?,
            DType::I32 => scan_int::<i32>(x, dims, ex, rev)?,
            DType::I64 => scan_int::<i64>(x, dims, ex, rev)?,
            DType::U8 => scan_int::<u8>(x, dims, ex, rev)?,
            DType::U16 => scan_int::<u16>(x, dims, ex, rev)?,
            DType::U32 => scan_int::<u32>(x, dims, ex, rev)?,
            DType::U64 => scan_int::<u64>(x, dims, ex, rev)?,
            d => return Err(Error::dtype(d, "CumSum input")),
        };
        Ok(vec![y])
    }
}
