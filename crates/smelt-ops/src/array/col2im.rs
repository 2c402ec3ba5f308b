//! Col2Im: the adjoint of im2col. Input [N, C*prod(block), L] holds, for each of the L sliding
//! block positions (row-major over the output grid), the C*prod(block) values of that block;
//! values landing on the same image pixel are summed. Output [N, C, *image_shape]. Attributes
//! dilations, pads ([begin.., end..]), strides. Numeric dtypes.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Col2Im {
    dilations: Option<Vec<i64>>,
    pads: Option<Vec<i64>>,
    strides: Option<Vec<i64>>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Col2Im", |ctx| {
        Ok(Box::new(Col2Im {
            dilations: ctx.attrs.ints("dilations")?,
            pads: ctx.attrs.ints("pads")?,
            strides: ctx.attrs.ints("strides")?,
        }))
    });
}

fn run<T: Elem + Arith>(
    x: &Tensor,
    img: &[usize],
    blk: &[usize],
    dil: &[i64],
    pads: &[i64],
    st: &[i64],
) -> Result<Tensor> {
    let nd = img.len();
    let (n, ck, l) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let kprod: usize = blk.iter().product();
    ensure!(
        kprod > 0 && ck % kprod == 0,
        "input dim 1 ({ck}) not divisible by the block size {kprod}"
    );
    let c = ck / kprod;
    // number of block positions per spatial dim
    let mut grid = Vec::with_capacity(nd);
    for d in 0..nd {
        ensure!(
            dil[d] >= 1 && st[d] >= 1,
            "dilations and strides must be >= 1"
        );
        let span = dil[d] * (blk[d] as i64 - 1) + 1;
        let g = (img[d] as i64 + pads[d] + pads[d + nd] - span) / st[d] + 1;
        ensure!(
            g >= 0,
            "block {blk:?} does not fit the padded image {img:?}"
        );
        grid.push(g as usize);
    }
    ensure!(
        numel(&grid) == l,
        "input has {l} block positions, the image and block shapes give {}",
        numel(&grid)
    );
    let s = x.as_slice::<T>()?;
    let ipix: usize = img.iter().product();
    let mut out = vec![T::default(); n * c * ipix];
    let ist = strides(img);
    let (kst, gst) = (strides(blk), strides(&grid));
    for b in 0..n {
        for ch in 0..c {
            for k in 0..kprod {
                let row = &s[((b * c + ch) * kprod + k) * l..][..l];
                let dst = &mut out[(b * c + ch) * ipix..][..ipix];
                'pos: for (p, v) in row.iter().enumerate() {
                    let mut off = 0usize;
                    for d in 0..nd {
                        let kd = (k / kst[d]) % blk[d];
                        let pd = (p / gst[d]) % grid[d];
                        let y = pd as i64 * st[d] - pads[d] + kd as i64 * dil[d];
                        if y < 0 || y >= img[d] as i64 {
                            continue 'pos;
                        }
                        off += y as usize * ist[d];
                    }
                    dst[off] = dst[off].add(v);
                }
            }
        }
    }
    let shape: Vec<usize> = [n, c].into_iter().chain(img.iter().copied()).collect();
    Tensor::from_vec(shape, out)
}

impl Op for Col2Im {
    fn op_type(&self) -> &str {
        "Col2Im"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let img = shape_input(req(&inputs, 1)?, "Col2Im image_shape")?;
        let blk = shape_input(req(&inputs, 2)?, "Col2Im block_shape")?;
        let nd = img.len();
        ensure!(
            x.rank() == 3,
            "Col2Im input must be 3-D, has shape {:?}",
            x.shape()
        );
        ensure!(
            blk.len() == nd,
            "block_shape {blk:?} and image_shape {img:?} differ in rank"
        );
        let dil = self.dilations.clone().unwrap_or(vec![1; nd]);
        let pads = self.pads.clone().unwrap_or(vec![0; 2 * nd]);
        let st = self.strides.clone().unwrap_or(vec![1; nd]);
        ensure!(
            dil.len() == nd && st.len() == nd && pads.len() == 2 * nd,
            "dilations/strides/pads lengths do not match {nd} spatial dims"
        );
        let y = dispatch_numeric!(x.dtype(), T => run::<T>(x, &img, &blk, &dil, &pads, &st)?, o => return Err(Error::dtype(o, "Col2Im")));
        Ok(vec![y])
    }
}
