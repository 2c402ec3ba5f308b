//! CumProd (opset 26): cumulative product along `axis` (a scalar input), with `exclusive`
//! (shift by one, starting from 1) and `reverse`.

use crate::prelude::*;
use num_traits::One;

#[derive(Debug)]
pub struct CumProd {
    exclusive: bool,
    reverse: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "CumProd", |c| {
        Ok(Box::new(CumProd {
            exclusive: c.attrs.int_or("exclusive", 0)? != 0,
            reverse: c.attrs.int_or("reverse", 0)? != 0,
        }))
    });
}

fn cumprod<T: Elem + Copy + One + crate::array::common::Arith>(
    x: &Tensor,
    axis: usize,
    exclusive: bool,
    reverse: bool,
) -> Result<Tensor> {
    let v = x.as_slice::<T>()?;
    let shape = x.shape();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let mut out = vec![T::one(); v.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * n + k) * inner + i;
            let mut acc = T::one();
            for step in 0..n {
                let k = if reverse { n - 1 - step } else { step };
                if exclusive {
                    out[at(k)] = acc;
                    acc = crate::array::common::Arith::mul(&acc, &v[at(k)]); // integers wrap
                } else {
                    acc = crate::array::common::Arith::mul(&acc, &v[at(k)]); // integers wrap
                    out[at(k)] = acc;
                }
            }
        }
    }
    Tensor::from_vec(shape.to_vec(), out)
}

impl Op for CumProd {
    fn op_type(&self) -> &str {
        "CumProd"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let a = req(&inputs, 1)?;
        ensure!(
            a.len() == 1,
            "axis must be a scalar, got shape {:?}",
            a.shape()
        );
        ensure!(x.rank() > 0, "CumProd input must have rank >= 1");
        let axis = norm_axis(a.to_i64_vec()?[0], x.rank())?;
        let (e, r) = (self.exclusive, self.reverse);
        Ok(vec![match x.dtype() {
            DType::F32 => cumprod::<f32>(x, axis, e, r)?,
            DType::F64 => cumprod::<f64>(x, axis, e, r)?,
            DType::F16 => cumprod::<f16>(x, axis, e, r)?,
            DType::BF16 => cumprod::<bf16>(x, axis, e, r)?,
            DType::I32 => cumprod::<i32>(x, axis, e, r)?,
            DType::I64 => cumprod::<i64>(x, axis, e, r)?,
            DType::U32 => cumprod::<u32>(x, axis, e, r)?,
            DType::U64 => cumprod::<u64>(x, axis, e, r)?,
            d => return Err(Error::dtype(d, "CumProd")),
        }])
    }
}
