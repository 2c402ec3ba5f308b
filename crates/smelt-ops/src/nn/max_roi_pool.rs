//! MaxRoiPool: max pooling of regions of interest (Fast R-CNN). `X: [N, C, H, W]`,
//! `rois: [R, 5]` rows of `(batch_index, x1, y1, x2, y2)` in input coordinates (scaled by
//! `spatial_scale` and rounded) -> `Y: [R, C, pooled_h, pooled_w]`. Each region is split
//! into `pooled_shape` bins; an empty bin gives 0. Float dtypes.

use super::pool::PoolFloat;
use crate::prelude::*;

#[derive(Debug)]
pub struct MaxRoiPool {
    pooled: [usize; 2],
    spatial_scale: f64,
}

pub fn register(r: &mut Registry) {
    r.register("", "MaxRoiPool", |ctx| {
        let p = ctx.attrs.req_ints("pooled_shape")?;
        ensure!(
            p.len() == 2 && p.iter().all(|&v| v >= 1),
            "MaxRoiPool: pooled_shape must be two positive ints, got {p:?}"
        );
        Ok(Box::new(MaxRoiPool {
            pooled: [p[0] as usize, p[1] as usize],
            spatial_scale: ctx.attrs.float_or("spatial_scale", 1.0)? as f64,
        }))
    });
}

impl MaxRoiPool {
    fn run<T: PoolFloat>(&self, x: &Tensor, rois: &Tensor) -> Result<Tensor> {
        let s = x.shape();
        ensure!(
            s.len() == 4,
            "MaxRoiPool: X must be [N, C, H, W], got {s:?}"
        );
        ensure!(
            rois.rank() == 2 && rois.shape()[1] == 5,
            "MaxRoiPool: rois must be [R, 5], got {:?}",
            rois.shape()
        );
        ensure!(
            rois.dtype() == x.dtype(),
            "MaxRoiPool: rois are {} but X is {}",
            rois.dtype(),
            x.dtype()
        );
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let [ph, pw] = self.pooled;
        let xs = x.as_slice::<T>()?;
        let rs = rois.as_slice::<T>()?;
        let nr = rois.shape()[0];
        let mut y = vec![T::from_f64(0.0); nr * c * ph * pw];
        for r in 0..nr {
            let row: Vec<f64> = rs[r * 5..r * 5 + 5].iter().map(|v| v.to_f64()).collect();
            let b = row[0];
            ensure!(
                b >= 0.0 && (b as usize) < n && b.fract() == 0.0,
                "MaxRoiPool: roi {r} has batch index {b}, input has {n} images"
            );
            let b = b as usize;
            let sc = |v: f64| (v * self.spatial_scale).round() as i64;
            let (x1, y1, x2, y2) = (sc(row[1]), sc(row[2]), sc(row[3]), sc(row[4]));
            let rh = (y2 - y1 + 1).max(1) as f64;
            let rw = (x2 - x1 + 1).max(1) as f64;
            let (bh, bw) = (rh / ph as f64, rw / pw as f64);
            for ch in 0..c {
                let plane = &xs[(b * c + ch) * h * w..(b * c + ch + 1) * h * w];
                for i in 0..ph {
                    let hs = ((i as f64 * bh).floor() as i64 + y1).clamp(0, h as i64) as usize;
                    let he = (((i + 1) as f64 * bh).ceil() as i64 + y1).clamp(0, h as i64) as usize;
                    for j in 0..pw {
                        let ws = ((j as f64 * bw).floor() as i64 + x1).clamp(0, w as i64) as usize;
                        let we =
                            (((j + 1) as f64 * bw).ceil() as i64 + x1).clamp(0, w as i64) as usize;
                        let mut m: Option<f64> = None;
                        for yy in hs..he {
                            for xx in ws..we {
                                let v = plane[yy * w + xx].to_f64();
                                m = Some(m.map_or(v, |a: f64| a.max(v)));
                            }
                        }
                        y[((r * c + ch) * ph + i) * pw + j] = T::from_f64(m.unwrap_or(0.0));
                    }
                }
            }
        }
        Tensor::from_vec(vec![nr, c, ph, pw], y)
    }
}

impl Op for MaxRoiPool {
    fn op_type(&self) -> &str {
        "MaxRoiPool"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let rois = req(&inputs, 1)?;
        Ok(vec![
            dispatch_float!(x.dtype(), T => self.run::<T>(x, rois)?, other => return Err(Error::dtype(other, "MaxRoiPool"))),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn pools_regions() {
        let x = Tensor::from_vec(vec![1, 1, 4, 4], (0..16).map(|v| v as f32).collect()).unwrap();
        let op = MaxRoiPool {
            pooled: [2, 2],
            spatial_scale: 1.0,
        };
        let rois = Tensor::from_vec(vec![1, 5], vec![0f32, 0., 0., 3., 3.]).unwrap();
        let y = op.run::<f32>(&x, &rois).unwrap();
        assert_eq!(y.as_slice::<f32>().unwrap(), &[5., 7., 13., 15.]);
        let bad = Tensor::from_vec(vec![1, 5], vec![1f32, 0., 0., 3., 3.]).unwrap();
        assert!(op.run::<f32>(&x, &bad).is_err());
    }
}
