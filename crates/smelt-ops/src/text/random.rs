//! RandomUniform, RandomNormal, RandomUniformLike, RandomNormalLike: tensors of random
//! samples. The shape comes from the `shape` attribute or, for the *Like forms, from the input
//! tensor; the dtype from `dtype` (default float, or the input's dtype for *Like).
//! Uniform draws from [low, high) (defaults 0, 1); normal from N(mean, scale²) (0, 1).
//! With a `seed` attribute every evaluation gives the same values (the exact stream is
//! smelt's own, not numpy's); without one each evaluation draws fresh values.

use crate::prelude::*;
use crate::signal::from_f64;
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
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
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
        Some(d) => Some(dtype_from_onnx(d)?),
        None if like => None,
        None => Some(DType::F32),
    };
    if let Some(d) = dtype {
        ensure!(
            d.is_float() && !d.is_low_float(),
            "{name}: dtype must be a float type, got {d}"
        );
    }
    let shape = if like {
        vec![]
    } else {
        let s = at.req_ints("shape")?;
        s.iter()
            .map(|&d| {
                usize::try_from(d)
                    .map_err(|_| Error::invalid(format!("{name}: negative dim {d} in shape {s:?}")))
            })
            .collect::<Result<_>>()?
    };
    let (a, b) = if normal {
        (at.float_or("mean", 0.0)?, at.float_or("scale", 1.0)?)
    } else {
        (at.float_or("low", 0.0)?, at.float_or("high", 1.0)?)
    };
    Ok(Box::new(Random {
        name,
        normal,
        like,
        dtype,
        shape,
        a: a as f64,
        b: b as f64,
        seed: at.float("seed")?,
    }))
}

pub fn register(r: &mut Registry) {
    r.register("", "RandomUniform", |c| {
        factory("RandomUniform", false, false, c)
    });
    r.register("", "RandomNormal", |c| {
        factory("RandomNormal", true, false, c)
    });
    r.register("", "RandomUniformLike", |c| {
        factory("RandomUniformLike", false, true, c)
    });
    r.register("", "RandomNormalLike", |c| {
        factory("RandomNormalLike", true, true, c)
    });
}

impl Op for Random {
    /// Unseeded draws differ on every evaluation: never folded, merged or dropped.
    fn is_pure(&self) -> bool {
        self.seed.is_some()
    }
    fn op_type(&self) -> &str {
        self.name
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (shape, dtype) = if self.like {
            let x = req(&inputs, 0)?;
            let d = self.dtype.unwrap_or(x.dtype());
            ensure!(
                d.is_float() && !d.is_low_float(),
                "{}: output dtype must be a float type, got {d} (set the dtype attribute)",
                self.name
            );
            (x.shape().to_vec(), d)
        } else {
            (self.shape.clone(), self.dtype.unwrap_or(DType::F32))
        };
        let mut rng = Rng::new(self.seed);
        let v: Vec<f64> = (0..numel(&shape))
            .map(|_| {
                if self.normal {
                    self.a + self.b * rng.normal()
                } else {
                    self.a + (self.b - self.a) * rng.uniform()
                }
            })
            .collect();
        Ok(vec![from_f64(dtype, shape, v)?])
    }
}

#[cfg(test)]
mod tests {
    use crate::GraphBuilder;
    use smelt_core::{DType, Dim, Tensor};
    use smelt_ir::{Attr, Attributes};

    fn run(op: &str, a: Attributes, input: Option<Tensor>) -> Tensor {
        let mut g = GraphBuilder::new("g");
        g.set_opset("", 15);
        let mut feeds = vec![];
        let ins = match input {
            Some(t) => {
                let dims: Vec<Dim> = t.shape().iter().map(|&d| Dim::Fixed(d)).collect();
                let v = g.placeholder("x", t.dtype(), &dims);
                feeds.push(("x".to_string(), t));
                vec![v]
            }
            None => vec![],
        };
        let y = g.op(op, &ins, a).unwrap();
        g.output(y, "y");
        smelt_cpu::run(&g.build().unwrap(), feeds)
            .unwrap()
            .remove(0)
            .1
    }

    #[test]
    fn uniform_range_shape_and_seed() {
        let a = Attributes::new()
            .with("shape", Attr::Ints(vec![3, 33]))
            .with("low", Attr::Float(-2.0))
            .with("high", Attr::Float(5.0))
            .with("seed", Attr::Float(3.0));
        let t1 = run("RandomUniform", a.clone(), None);
        let t2 = run("RandomUniform", a, None);
        assert_eq!(t1.shape(), &[3, 33]);
        assert_eq!(t1, t2);
        assert!(t1
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .all(|&v| (-2.0..5.0).contains(&v)));
    }

    #[test]
    fn normal_like_keeps_input_shape_and_dtype() {
        let x = Tensor::from_vec(vec![32, 32], vec![1.5f64; 1024]).unwrap();
        let t = run(
            "RandomNormalLike",
            Attributes::new()
                .with("mean", Attr::Float(10.0))
                .with("seed", Attr::Float(1.0)),
            Some(x),
        );
        assert_eq!(t.dtype(), DType::F64);
        let v = t.as_slice::<f64>().unwrap();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 10.0).abs() < 0.2, "mean {mean}");
    }

    #[test]
    fn bernoulli_and_multinomial() {
        let p = Tensor::from_vec(
            vec![31],
            (0..31)
                .map(|i| if i % 2 == 0 { 1.0f32 } else { 0.0 })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let b = run(
            "Bernoulli",
            Attributes::new().with("dtype", Attr::Int(9)),
            Some(p),
        );
        assert_eq!(
            b.as_slice::<bool>().unwrap(),
            &(0..31).map(|i| i % 2 == 0).collect::<Vec<_>>()[..]
        );
        // class 2 has all the mass
        let lp = Tensor::from_vec(vec![2, 3], vec![-1e9f32, -1e9, 0.0, -1e9, -1e9, 0.0]).unwrap();
        let m = run(
            "Multinomial",
            Attributes::new()
                .with("sample_size", Attr::Int(4))
                .with("dtype", Attr::Int(7)),
            Some(lp),
        );
        assert_eq!(m.shape(), &[2, 4]);
        assert!(m.as_slice::<i64>().unwrap().iter().all(|&k| k == 2));
    }
}
