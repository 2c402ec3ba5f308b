//! Dropout. Inference (the default): `output = data`, and the optional `mask` output is all
//! true (bool from opset 10; before, ones of data's dtype).
//! Training (opset 12+: `training_mode` input true; opset < 7: `is_test=0`): each element is
//! kept when a uniform [0, 1) draw is >= `ratio` (input from opset 12, default 0.5; attribute
//! before) and scaled by 1 / (1 - ratio). Draws come from MT19937 seeded with the `seed`
//! attribute (default 0) and converted as numpy's `RandomState(seed).uniform` does, so a
//! given seed reproduces numpy's masks. ratio 0 is the identity.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Dropout {
    opset: i64,
    ratio_attr: f32,
    /// opset < 7 `is_test=0`: training.
    train_attr: bool,
    seed: u32,
}

pub fn register(r: &mut Registry) {
    r.register("", "Dropout", |ctx| {
        Ok(Box::new(Dropout {
            opset: ctx.opset,
            ratio_attr: ctx.attrs.float_or("ratio", 0.5)?,
            train_attr: ctx.opset < 7 && ctx.attrs.int_or("is_test", 0)? == 0,
            seed: ctx.attrs.int_or("seed", 0)? as u32,
        }))
    });
}

/// MT19937 (32-bit Mersenne Twister), `init_genrand` seeding.
pub struct Mt19937 {
    mt: [u32; 624],
    idx: usize,
}

impl Mt19937 {
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1812433253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { mt, idx: 624 }
    }
    pub fn next_u32(&mut self) -> u32 {
        if self.idx >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[i] = v;
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
    /// Uniform in [0, 1) with 53 random bits (numpy's `random_sample`).
    pub fn next_f64(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67108864.0 + b) / 9007199254740992.0
    }
}

fn scalar_f64(t: &Tensor, what: &str) -> Result<f64> {
    let v = t.to_f64_vec()?;
    ensure!(
        v.len() == 1,
        "Dropout: {what} must be a scalar, got shape {:?}",
        t.shape()
    );
    Ok(v[0])
}

impl Dropout {
    fn train<T: FloatIo>(&self, x: &Tensor, ratio: f64) -> Result<(Tensor, Vec<bool>)> {
        let xs = float_input::<T>(x)?;
        let mut rng = Mt19937::new(self.seed);
        let scale = cst::<T::C>(1.0 / (1.0 - ratio));
        let mask: Vec<bool> = (0..xs.len()).map(|_| rng.next_f64() >= ratio).collect();
        let y = xs
            .iter()
            .zip(&mask)
            .map(|(&v, &m)| if m { v * scale } else { cst(0.0) })
            .collect();
        Ok((float_output::<T>(x.shape().to_vec(), y)?, mask))
    }
}

impl Op for Dropout {
    fn op_type(&self) -> &str {
        "Dropout"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let mut out = vec![x.clone()];
        if ctx.n_outputs > 1 {
            let dt = if self.opset >= 10 {
                Some(DType::Bool)
            } else {
                x.dtype
            };
            out.push(ValueInfo {
                dtype: dt,
                shape: x.shape,
            });
        }
        Ok(out)
    }
    /// Not training (from opset 12: no training_mode input, or a constant false one), the
    /// output is the input.
    fn is_identity(&self, types: &[Option<ValueInfo>], consts: &[Option<&Tensor>]) -> bool {
        if self.opset >= 12 {
            let absent = matches!(types.get(2), None | Some(None));
            absent
                || consts
                    .get(2)
                    .copied()
                    .flatten()
                    .is_some_and(|t| scalar_f64(t, "training_mode").is_ok_and(|v| v == 0.0))
        } else {
            !self.train_attr
        }
    }
    fn eval(&self, ctx: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (ratio, training) = if self.opset >= 12 {
            let r = match opt(&inputs, 1) {
                Some(t) => scalar_f64(t, "ratio")?,
                None => 0.5,
            };
            let t = match opt(&inputs, 2) {
                Some(t) => scalar_f64(t, "training_mode")? != 0.0,
                None => false,
            };
            (r, t)
        } else {
            (self.ratio_attr as f64, self.train_attr)
        };
        let x = take(&mut inputs, 0)?;
        let want_mask = ctx.n_outputs > 1;
        if training && ratio != 0.0 {
            ensure!(
                (0.0..1.0).contains(&ratio),
                "Dropout: ratio must be in [0, 1), got {ratio}"
            );
            let (y, mask) = crate::norm_float!(x.dtype(), "Dropout input in training mode", T => self.train::<T>(&x, ratio)?);
            return Ok(vec![y, Tensor::from_vec(x.shape().to_vec(), mask)?]);
        }
        let mut out = vec![];
        if want_mask {
            let m = if self.opset >= 10 {
                Tensor::from_vec(x.shape().to_vec(), vec![true; x.len()])?
            } else {
                let ones: Vec<f64> = vec![1.0; x.len()];
                floats_as(x.dtype(), x.shape().to_vec(), ones)?
            };
            out.push(x);
            out.push(m);
        } else {
            out.push(x);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn mt_matches_numpy() {
        // numpy.random.RandomState(0).uniform(0, 1, 3)
        let mut r = Mt19937::new(0);
        let v: Vec<f64> = (0..3).map(|_| r.next_f64()).collect();
        let want = [0.5488135039273248, 0.7151893663724195, 0.6027633760716439];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
    }
}
