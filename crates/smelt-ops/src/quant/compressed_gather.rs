//! `CompressedGather`: Gather along axis 0 of a compressed table `[V, D..]` (an embedding),
//! decoding only the rows the indices name. A lowered kernel built by the CPU backend from a
//! Gather fed by `LinearDequantize` / `LutToDense` on constants; never saved.
//!
//! Input: integer indices of any shape (negative ones count from the end). Output:
//! `indices.shape ++ W.shape[1..]`, f32.

use super::packed::Packed;
use crate::prelude::*;

#[derive(Debug)]
pub struct CompressedGather {
    pub w: Arc<Packed>,
}

impl Op for CompressedGather {
    fn op_type(&self) -> &str {
        "CompressedGather"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let idx = req(&inputs, 0)?;
        ensure!(
            idx.dtype().is_int(),
            "CompressedGather: indices must be integers, got {}",
            idx.dtype()
        );
        let v = self.w.rows() as i64;
        let d = self.w.row_len();
        let ids = idx.to_i64_vec()?;
        let mut out = vec![0.0f32; ids.len() * d];
        let mut scratch = Vec::new();
        for (row, &i) in out.chunks_mut(d.max(1)).zip(&ids) {
            let r = if i < 0 { i + v } else { i };
            ensure!(
                (0..v).contains(&r),
                "CompressedGather: index {i} out of range for {v} rows"
            );
            self.w.decode_rows(r as usize, r as usize + 1, &mut scratch);
            row.copy_from_slice(&scratch);
        }
        let mut shape = idx.shape().to_vec();
        shape.extend(&self.w.shape[1..]);
        Ok(vec![Tensor::from_vec(shape, out)?])
    }
}
