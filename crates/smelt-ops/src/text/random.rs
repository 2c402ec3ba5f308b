//! RandomUniform, RandomNormal, RandomUniformLike, RandomNormalLike: tensors of random
//! samples. The shape comes from the `shape` attribute or, for the *Like forms, from the input
//! tensor; the dtype from `dtype` (default float, or the input's dtype for *Like).
//! Uniform draws from [low, high) (defaults 0, 1); normal from N(mean, scale²) (0, 1).
//! With a `seed` attribute every evaluation gives the same values (the exact stream is
//! smelt's own, not numpy's); without one each evaluation draws fresh values.

use crate::prelude::*;
use crate::signal::{from_f64, onnx_dtype};
use std::sync::atomic::{AtomicU64, Ordering};

/// A small deterministic generator (splitmix64).
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from the `seed` attribute, or from a process-wide counter and the clock.
    pub(crate) fn new(seed: Option<f32>) -> Rng {
        static COUNTER: AtomicU64 = AtomicU64::new(0x1234_5678);
        let s = match seed {
            Some(s) => (s as f64).to_bits() ^ 0x9E37_79B9_7F4A_7C15,
            None => {
                let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
                t ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            }
        };
        Rng(s)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[derive(Debug)]
pub struct Random {
    name: &'static str,
    normal: bool,
    like: bool,
    /// Explicit output dtype (required unless `like`).
    dtype: Option<DType>,
    shape: Vec<usize>,
    a: f64,
    b: f64,
    seed: Option<f32>,
}

fn factory(name: &'static str, normal: bool, like: bool, c: &OpCtx) -> Result<Box<dyn Op>> {
    let at = c.attrs;
    let dtype = match at.int("dtype")? {
        Some(d) => Some(onnx_dtype(d)?),
        None if like => None,
        None => Some(DType::F32),
    };
    if let Some(d) = dtype {
        ensure!(d.is_float() && !d.is_low_float(), "{name}: dtype must be a float type, got {d}");
    }
    let shape = if like {
        vec![]
    } else {
        let s = at.req_ints("shape")?;
        s.iter().map(|&d| usize::try_from(d).map_err(|_| Error::invalid(format!("{name}: negative dim {d} in shape {s:?}")))).collect::<Result<_>>()?
    };
    let (a, b) = if normal { (at.float_or("mean", 0.0)?, at.float_or("scale", 1.0)?) } else { (at.float_or("low", 0.0)?, at.float_or("high", 1.0)?) };
    Ok(Box::new(Random { name, normal, like, dtype, shape, a: a as f64, b: b as f64, seed: at.float("seed")? }))
}

pub fn register(r: &mut Registry) {
    r.register("", "RandomUniform", |c| factory("RandomUniform", false, false, c));
    r.register("", "RandomNormal", |c| factory("RandomNormal", true, false, c));
    r.register("", "RandomUniformLike", |c| factory("RandomUniformLike", false, true, c));
    r.register("", "RandomNormalLike", |c| factory("RandomNormalLike", true, true, c));
}

impl Op for Random {
    fn op_type(&self) -> &str {
        self.name
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (shape, dtype) = if self.like {
            let x = req(&inputs, 0)?;
            let d = self.dtype.unwrap_or(x.dtype());
            ensure!(d.is_float() && !d.is_low_float(), "{}: output dtype must be a float type, got {d} (set the dtype attribute)", self.name);
            (x.shape().to_vec(), d)
        } else {
            (self.shape.clone(), self.dtype.unwrap_or(DType::F32))
        };
        let mut rng = Rng::new(self.seed);
        let v: Vec<f64> = (0..numel(&shape)).map(|_| if self.normal { self.a + self.b * rng.normal() } else { self.a + (self.b - self.a) * rng.uniform() }).collect();
        Ok(vec![from_f64(dtype, shape, v)?])
    }
}
