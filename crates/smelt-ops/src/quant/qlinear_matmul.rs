//! QLinearMatMul (opset 10, 21 adds f16/bf16 scales and float8 types):
//! y = saturate(round((a - a_zp) @ (b - b_zp) * (a_scale * b_scale / y_scale)) + y_zp).
//! Scales / zero points are per tensor, or a_* per row of a (M) and b_* per column of b (N).
//! The scale product is formed in the scale dtype, the rescale in f64, as the reference does.

use super::common::int_matmul;
use super::lowbit::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct QLinearMatMul;

pub fn register(r: &mut Registry) {
    r.register("", "QLinearMatMul", |_| Ok(Box::new(QLinearMatMul)));
}

/// Scale values broadcast to `len` entries (1 or `len` given).
fn expand(t: &Tensor, len: usize, what: &str) -> Result<Vec<f32>> {
    let v = to_f32(t)?;
    if v.len() == 1 {
        Ok(vec![v[0]; len])
    } else if v.len() == len {
        Ok(v)
    } else {
        bail!("{what} has {} elements, expected 1 or {len}", v.len())
    }
}

impl Op for QLinearMatMul {
    fn op_type(&self) -> &str {
        "QLinearMatMul"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let a = req(&inputs, 0)?;
        let a_s = req(&inputs, 1)?;
        let b = req(&inputs, 3)?;
        let b_s = req(&inputs, 4)?;
        let y_s = req(&inputs, 6)?;
        let y_zp = opt(&inputs, 7);
        for t in [a, b] {
            ensure!(
                matches!(t.dtype(), DType::U8 | DType::I8),
                "QLinearMatMul takes u8 / i8, got {}",
                t.dtype()
            );
        }
        let out_dt = y_zp.map_or(a.dtype(), |z| z.dtype());
        let (lo, hi) =
            int_range(out_dt).ok_or_else(|| Error::dtype(out_dt, "QLinearMatMul output"))?;
        let (shape, acc) = int_matmul(a, b, opt(&inputs, 2), opt(&inputs, 5))?;
        let m = if a.rank() == 1 {
            1
        } else {
            a.shape()[a.rank() - 2]
        };
        let n = if b.rank() == 1 {
            1
        } else {
            b.shape()[b.rank() - 1]
        };
        let sdt = a_s.dtype();
        let asv = expand(a_s, m, "a_scale")?;
        let bsv = expand(b_s, n, "b_scale")?;
        let ysv = to_f32(y_s)?;
        ensure!(ysv.len() == 1, "y_scale must be a scalar");
        let yz = match y_zp {
            Some(z) => {
                let v = z.to_i64_vec()?;
                ensure!(v.len() == 1, "y_zero_point must be a scalar");
                v[0] as f32
            }
            None => 0.0,
        };
        // multiplier per (row, column), in the scale dtype
        let mul: Vec<f32> = (0..m * n)
            .map(|p| round_to(sdt, round_to(sdt, asv[p / n] * bsv[p % n]) / ysv[0]))
            .collect();
        let v: Vec<i64> = acc
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                // int32 * scale promotes to f64 in the reference
                let r = c as f64 * mul[i % (m * n)] as f64 + yz as f64;
                (round_half_even(r) as i64).clamp(lo, hi)
            })
            .collect();
        Ok(vec![int_tensor(out_dt, shape, v)?])
    }
}
