//! Optimizer steps of the `ai.onnx.preview.training` domain: Adagrad, Adam, Momentum.
//!
//! Inputs: R (learning rate, scalar), T (step count, scalar i64), then n groups of tensors
//! laid out by kind (all X, then all G, then the state tensors). Outputs: the updated X for
//! each group, then the updated state tensors in the same kind-major order.

use crate::prelude::*;
use num_traits::{Float, NumCast};

/// The domain of the optimizer ops.
pub const DOMAIN: &str = "ai.onnx.preview.training";

/// One optimizer's update rule with its attributes (defaults applied).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    Adagrad {
        decay: f64,
        eps: f64,
        norm: f64,
    },
    Adam {
        alpha: f64,
        beta: f64,
        eps: f64,
        norm: f64,
        norm_post: f64,
    },
    Momentum {
        alpha: f64,
        beta: f64,
        norm: f64,
        nesterov: bool,
    },
}

impl Rule {
    /// The rule of `op_type` (Adagrad, Adam or Momentum) from the node's attributes.
    pub fn parse(op_type: &str, a: &Attributes) -> Result<Rule> {
        Ok(match op_type {
            "Adagrad" => Rule::Adagrad {
                decay: a.float_or("decay_factor", 0.0)? as f64,
                eps: a.float_or("epsilon", 1e-6)? as f64,
                norm: a.float_or("norm_coefficient", 0.0)? as f64,
            },
            "Adam" => Rule::Adam {
                alpha: a.float_or("alpha", 0.9)? as f64,
                beta: a.float_or("beta", 0.999)? as f64,
                eps: a.float_or("epsilon", 1e-6)? as f64,
                norm: a.float_or("norm_coefficient", 0.0)? as f64,
                norm_post: a.float_or("norm_coefficient_post", 0.0)? as f64,
            },
            "Momentum" => {
                let mode = a.req_string("mode")?;
                ensure!(
                    mode == "standard" || mode == "nesterov",
                    "unknown Momentum mode '{mode}' (standard, nesterov)"
                );
                let req = |n: &str| -> Result<f64> {
                    Ok(a.float(n)?
                        .ok_or_else(|| Error::invalid(format!("missing float attribute '{n}'")))?
                        as f64)
                };
                Rule::Momentum {
                    alpha: req("alpha")?,
                    beta: req("beta")?,
                    norm: req("norm_coefficient")?,
                    nesterov: mode == "nesterov",
                }
            }
            other => return Err(Error::unsupported(DOMAIN, other.to_string())),
        })
    }
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Adagrad { .. } => "Adagrad",
            Rule::Adam { .. } => "Adam",
            Rule::Momentum { .. } => "Momentum",
        }
    }
    /// Tensors per group: X, G and the state tensors.
    pub fn per_group(&self) -> usize {
        match self {
            Rule::Adagrad { .. } | Rule::Momentum { .. } => 3,
            Rule::Adam { .. } => 4,
        }
    }
    /// One element's update: x, g, states -> new x, new states.
    fn step(&self, r: f64, t: f64, x: f64, g: f64, s: &mut [f64]) -> f64 {
        match *self {
            Rule::Adagrad { decay, eps, norm } => {
                let r = r / (1.0 + t * decay);
                let g = norm * x + g;
                s[0] += g * g;
                x - r * g / (s[0].sqrt() + eps)
            }
            Rule::Adam {
                alpha,
                beta,
                eps,
                norm,
                norm_post,
            } => {
                let g = norm * x + g;
                s[0] = alpha * s[0] + (1.0 - alpha) * g;
                s[1] = beta * s[1] + (1.0 - beta) * g * g;
                let r = if t > 0.0 {
                    r * (1.0 - beta.powf(t)).sqrt() / (1.0 - alpha.powf(t))
                } else {
                    r
                };
                (1.0 - norm_post) * (x - r * s[0] / (s[1].sqrt() + eps))
            }
            Rule::Momentum {
                alpha,
                beta,
                norm,
                nesterov,
            } => {
                let g = norm * x + g;
                let b = if t > 0.0 { beta } else { 1.0 };
                s[0] = alpha * s[0] + b * g;
                if nesterov {
                    x - r * (g + alpha * s[0])
                } else {
                    x - r * s[0]
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct Optimizer(Rule);

pub fn register(r: &mut Registry) {
    r.register(DOMAIN, "Adagrad", |c| {
        Ok(Box::new(Optimizer(Rule::parse("Adagrad", c.attrs)?)))
    });
    r.register(DOMAIN, "Adam", |c| {
        Ok(Box::new(Optimizer(Rule::parse("Adam", c.attrs)?)))
    });
    r.register(DOMAIN, "Momentum", |c| {
        Ok(Box::new(Optimizer(Rule::parse("Momentum", c.attrs)?)))
    });
}

fn scalar(t: &Tensor, what: &str) -> Result<f64> {
    ensure!(
        t.len() == 1,
        "{what} must be a scalar, got shape {:?}",
        t.shape()
    );
    Ok(t.to_f64_vec()?[0])
}

impl Op for Optimizer {
    fn op_type(&self) -> &str {
        self.0.name()
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let k = self.0.per_group();
        ensure!(
            inputs.len() >= 2 + k && (inputs.len() - 2) % k == 0,
            "expected R, T and groups of {k} tensors, got {} inputs",
            inputs.len()
        );
        let r = scalar(req(&inputs, 0)?, "R")?;
        let t = scalar(req(&inputs, 1)?, "T")?;
        let n = (inputs.len() - 2) / k;
        let mut xs = Vec::with_capacity(n);
        let mut states: Vec<Vec<Tensor>> = vec![Vec::with_capacity(n); k - 2];
        for i in 0..n {
            let group: Vec<&Tensor> = (0..k)
                .map(|j| req(&inputs, 2 + j * n + i))
                .collect::<Result<_>>()?;
            let shape = group[0].shape().to_vec();
            ensure!(
                group.iter().all(|g| g.shape() == shape),
                "group {i}: X, G and state tensors must share a shape"
            );
            let vals: Vec<Vec<f64>> = group
                .iter()
                .map(|g| g.to_f64_vec())
                .collect::<Result<_>>()?;
            let len = vals[0].len();
            let mut new_x = vec![0f64; len];
            let mut new_s: Vec<Vec<f64>> = vals[2..].to_vec();
            let mut s = vec![0f64; k - 2];
            for e in 0..len {
                for (j, st) in new_s.iter().enumerate() {
                    s[j] = st[e];
                }
                new_x[e] = self.0.step(r, t, vals[0][e], vals[1][e], &mut s);
                for (j, st) in new_s.iter_mut().enumerate() {
                    st[e] = s[j];
                }
            }
            let to = |d: DType, v: Vec<f64>| -> Result<Tensor> {
                dispatch_float!(d, T => Tensor::from_vec(shape.clone(), v.into_iter().map(|x| <T as NumCast>::from(x).unwrap_or(T::nan())).collect::<Vec<T>>()),
                    d => Err(Error::dtype(d, self.0.name())))
            };
            xs.push(to(group[0].dtype(), new_x)?);
            for (j, st) in new_s.into_iter().enumerate() {
                states[j].push(to(group[2 + j].dtype(), st)?);
            }
        }
        Ok(xs.into_iter().chain(states.into_iter().flatten()).collect())
    }
}
