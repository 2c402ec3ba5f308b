//! Det: determinant of square matrices. `X: [*, M, M] -> [*]`. Float dtypes; computed in f64
//! by LU decomposition with partial pivoting.

use crate::prelude::*;
use num_traits::{FromPrimitive, ToPrimitive};

#[derive(Debug)]
pub struct Det;

pub fn register(r: &mut Registry) {
    r.register("", "Det", |_| Ok(Box::new(Det)));
}

/// Determinant of the row-major `n x n` matrix `a` (overwritten by its LU factors).
pub fn det_in_place(a: &mut [f64], n: usize) -> f64 {
    let mut det = 1.0;
    for col in 0..n {
        let mut piv = col;
        for r in col + 1..n {
            if a[r * n + col].abs() > a[piv * n + col].abs() {
                piv = r;
            }
        }
        let p = a[piv * n + col];
        if p == 0.0 {
            return 0.0;
        }
        if piv != col {
            for j in 0..n {
                a.swap(col * n + j, piv * n + j);
            }
            det = -det;
        }
        det *= p;
        for r in col + 1..n {
            let f = a[r * n + col] / p;
            if f != 0.0 {
                for j in col + 1..n {
                    a[r * n + j] -= f * a[col * n + j];
                }
            }
        }
    }
    det
}

fn run<T: Elem + Copy + ToPrimitive + FromPrimitive>(x: &Tensor) -> Result<Tensor> {
    let s = x.shape();
    ensure!(
        s.len() >= 2 && s[s.len() - 1] == s[s.len() - 2],
        "Det: input must be [*, M, M], got {s:?}"
    );
    let n = s[s.len() - 1];
    let out_shape = s[..s.len() - 2].to_vec();
    let xs = x.as_slice::<T>()?;
    let mut buf = vec![0f64; n * n];
    let out: Vec<T> = (0..numel(&out_shape))
        .map(|b| {
            for (d, v) in buf.iter_mut().zip(&xs[b * n * n..(b + 1) * n * n]) {
                *d = v.to_f64().unwrap_or(f64::NAN);
            }
            T::from_f64(det_in_place(&mut buf, n)).unwrap_or_default()
        })
        .collect();
    Tensor::from_vec(out_shape, out)
}

impl Op for Det {
    fn op_type(&self) -> &str {
        "Det"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let y = dispatch_float!(x.dtype(), T => run::<T>(x)?, other => return Err(Error::dtype(other, "Det")));
        Ok(vec![y])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn small_dets() {
        let mut a = vec![2.0, 1.0, 1.0, 3.0];
        assert!((det_in_place(&mut a, 2) - 5.0).abs() < 1e-12);
        let mut b = vec![0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 4.0, -3.0, 8.0];
        assert!((det_in_place(&mut b, 3) - (-2.0)).abs() < 1e-12);
        let x = Tensor::from_vec(vec![2, 3], vec![1f32; 6]).unwrap();
        assert!(run::<f32>(&x).is_err());
    }
}
