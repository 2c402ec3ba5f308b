//! MatMulInteger (opset 10): Y (i32) = (A - a_zero_point) @ (B - b_zero_point) with numpy
//! matmul broadcasting. A, B: u8 / i8. a_zero_point: scalar or one per row of A (M);
//! b_zero_point: scalar or one per column of B (N). i32 accumulation.

use super::common::int_matmul;
use crate::prelude::*;

#[derive(Debug)]
pub struct MatMulInteger;

pub fn register(r: &mut Registry) {
    r.register("", "MatMulInteger", |_| Ok(Box::new(MatMulInteger)));
}

impl Op for MatMulInteger {
    fn op_type(&self) -> &str {
        "MatMulInteger"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let a = req(&inputs, 0)?;
        let b = req(&inputs, 1)?;
        for t in [Some(a), Some(b), opt(&inputs, 2), opt(&inputs, 3)]
            .into_iter()
            .flatten()
        {
            ensure!(
                matches!(t.dtype(), DType::U8 | DType::I8),
                "MatMulInteger takes u8 / i8, got {}",
                t.dtype()
            );
        }
        let (shape, v) = int_matmul(a, b, opt(&inputs, 2), opt(&inputs, 3))?;
        Ok(vec![Tensor::from_vec(shape, v)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn per_row_and_col_zero_points() {
        // A 2x3, B 3x2; a_zp per row, b_zp per column
        let a = Tensor::from_vec(vec![2, 3], vec![1u8, 2, 3, 4, 5, 6]).unwrap();
        let b = Tensor::from_vec(vec![3, 2], vec![7u8, 8, 9, 10, 11, 12]).unwrap();
        let az = Tensor::from_vec(vec![2], vec![1u8, 2]).unwrap();
        let bz = Tensor::from_vec(vec![2], vec![3u8, 4]).unwrap();
        let (s, v) = int_matmul(&a, &b, Some(&az), Some(&bz)).unwrap();
        assert_eq!(s, vec![2, 2]);
        let mut want = vec![0i32; 4];
        let (av, bv) = ([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]);
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..3 {
                    want[i * 2 + j] += (av[i * 3 + k] - [1, 2][i]) * (bv[k * 2 + j] - [3, 4][j]);
                }
            }
        }
        assert_eq!(v, want);
        let bad = Tensor::from_vec(vec![3], vec![1u8, 2, 3]).unwrap();
        assert!(int_matmul(&a, &b, Some(&bad), None).is_err());
    }
}
