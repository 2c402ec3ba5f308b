//! EyeLike: a 2-D tensor shaped like the input with ones on the k-th diagonal (j = i + k) and
//! zeros elsewhere; dtype from the `dtype` attribute (ONNX code) or the input's.

use crate::prelude::*;
use num_traits::One;

#[derive(Debug)]
pub struct EyeLike {
    dtype: Option<DType>,
    k: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "EyeLike", |ctx| {
        let dtype = ctx.attrs.int("dtype")?.map(dtype_from_onnx).transpose()?;
        Ok(Box::new(EyeLike {
            dtype,
            k: ctx.attrs.int_or("k", 0)?,
        }))
    });
}

fn eye<T: Elem>(r: usize, c: usize, k: i64, one: T) -> Result<Tensor> {
    let mut v = vec![T::default(); r * c];
    for i in 0..r {
        let j = i as i64 + k;
        if (0..c as i64).contains(&j) {
            v[i * c + j as usize] = one.clone();
        }
    }
    Tensor::from_vec(vec![r, c], v)
}

impl Op for EyeLike {
    fn op_type(&self) -> &str {
        "EyeLike"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.rank() == 2,
            "EyeLike input must be 2-D, has shape {:?}",
            x.shape()
        );
        let (r, c) = (x.shape()[0], x.shape()[1]);
        let dt = self.dtype.unwrap_or(x.dtype());
        let y = match dt {
            DType::Bool => eye(r, c, self.k, true)?,
            _ => {
                dispatch_numeric!(dt, T => eye(r, c, self.k, T::one())?, o => return Err(Error::dtype(o, "EyeLike")))
            }
        };
        Ok(vec![y])
    }
}
