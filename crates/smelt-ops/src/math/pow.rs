//! Pow: `base ^ exponent` with broadcasting; the dtypes may differ and the output takes the
//! base's dtype. Float bases compute in their own precision when the exponent shares the
//! dtype, else in f64. Integer base with integer exponent is exact wrapping integer power
//! (a negative exponent gives the truncated reciprocal: 0 unless |base| is 1).

use super::kernels::*;
use crate::prelude::*;

/// Wrapping integer power; negative exponents truncate toward zero like C integer division.
fn ipow(base: i64, exp: i64) -> i64 {
    if exp < 0 {
        return match base {
            1 => 1,
            -1 => {
                if exp % 2 == 0 {
                    1
                } else {
                    -1
                }
            }
            _ => 0,
        };
    }
    let (mut result, mut b, mut e) = (1i64, base, exp as u64);
    while e > 0 {
        if e & 1 == 1 {
            result = result.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    result
}

/// Values of an integer tensor as i64 (u64 wraps), for the exact integer path.
fn ints(t: &Tensor) -> Result<Vec<i64>> {
    t.to_i64_vec()
}

/// Integer tensor of `dtype` from i64 values (wrapping, like a C cast).
fn from_i64(dtype: DType, shape: Vec<usize>, v: Vec<i64>) -> Result<Tensor> {
    macro_rules! wrap {
        ($($d:ident => $t:ty),*) => {
            match dtype {
                $(DType::$d => Tensor::from_vec(shape, v.into_iter().map(|x| x as $t).collect::<Vec<$t>>()),)*
                other => Err(Error::dtype(other, "Pow")),
            }
        };
    }
    wrap!(I8 => i8, U8 => u8, I16 => i16, U16 => u16, I32 => i32, U32 => u32, I64 => i64, U64 => u64)
}

#[derive(Debug)]
struct Pow;

impl Op for Pow {
    fn op_type(&self) -> &str {
        "Pow"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let dt = ctx.inputs.first().cloned().flatten().and_then(|v| v.dtype);
        infer_broadcast(ctx, dt)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let a = take(&mut inputs, 0)?;
        let b = take(&mut inputs, 1)?;
        Ok(vec![pow(a, b)?])
    }
}

/// `a ^ b` with broadcasting; the result has `a`'s dtype.
pub fn pow(a: Tensor, b: Tensor) -> Result<Tensor> {
    let (da, db) = (a.dtype(), b.dtype());
    ensure!(da.is_numeric(), "Pow: unsupported base dtype {da}");
    ensure!(db.is_numeric(), "Pow: unsupported exponent dtype {db}");
    if da == db && da.is_float() {
        return dispatch_float!(da, T => zip_same::<T>(a, b, |x, y| {
            use super::kernels::FloatElem;
            let (x, y) = (x.up(), y.up());
            T::down(num_traits::Float::powf(x, y))
        }), other => Err(Error::dtype(other, "Pow")));
    }
    if da.is_int() && db.is_int() {
        let (va, vb) = (ints(&a)?, ints(&b)?);
        let ta = Tensor::from_vec(a.shape().to_vec(), va)?;
        let tb = Tensor::from_vec(b.shape().to_vec(), vb)?;
        let r = zip_to::<i64, i64, i64>(&ta, &tb, ipow)?;
        let shape = r.shape().to_vec();
        return from_i64(da, shape, r.into_vec::<i64>()?);
    }
    // Mixed dtypes: compute in f64, then convert to the base dtype.
    let ta = Tensor::from_vec(a.shape().to_vec(), a.to_f64_vec()?)?;
    let tb = Tensor::from_vec(b.shape().to_vec(), b.to_f64_vec()?)?;
    let r = zip_same::<f64>(ta, tb, f64::powf)?;
    let shape = r.shape().to_vec();
    let v = r.into_vec::<f64>()?;
    dispatch_numeric!(da, T => Tensor::from_vec(shape, v.into_iter().map(T::from_f64).collect::<Vec<T>>()),
        other => Err(Error::dtype(other, "Pow")))
}

pub fn register(r: &mut Registry) {
    r.register("", "Pow", |_| Ok(Box::new(Pow)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_mixed_pow() {
        let a = Tensor::from_vec(vec![4], vec![2i32, -3, 1, 5]).unwrap();
        let b = Tensor::from_vec(vec![4], vec![10i64, 3, -2, 0]).unwrap();
        assert_eq!(
            pow(a.clone(), b).unwrap().as_slice::<i32>().unwrap(),
            &[1024, -27, 1, 1]
        );
        let f = Tensor::from_vec(vec![1], vec![2.0f32]).unwrap();
        assert_eq!(
            pow(a, f).unwrap().as_slice::<i32>().unwrap(),
            &[4, 9, 1, 25]
        );
        let x = Tensor::from_vec(vec![2], vec![1.5f32, 2.0]).unwrap();
        let e = Tensor::from_vec(vec![2], vec![2u64, 3]).unwrap();
        assert_eq!(pow(x, e).unwrap().as_slice::<f32>().unwrap(), &[2.25, 8.0]);
        assert_eq!(ipow(3, 41), 3i64.wrapping_pow(41));
        assert_eq!(
            from_i64(DType::I8, vec![2], vec![300, -1])
                .unwrap()
                .as_slice::<i8>()
                .unwrap(),
            &[44, -1]
        );
    }
}
