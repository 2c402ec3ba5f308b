//! NegativeLogLikelihoodLoss: input [N, C, d1..dk] (log-probabilities), target [N, d1..dk]
//! (class indices), optional weight [C]. reduction none -> [N, d1..dk]; sum / mean -> scalar.
//! Entries whose target equals `ignore_index` contribute zero loss and zero weight.

use crate::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reduction {
    None,
    Sum,
    Mean,
}

impl Reduction {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Reduction::None),
            "sum" => Ok(Reduction::Sum),
            "mean" => Ok(Reduction::Mean),
            o => bail!("unknown reduction '{o}' (none, sum, mean)"),
        }
    }
}

#[derive(Debug)]
pub struct Nll {
    reduction: Reduction,
    ignore_index: Option<i64>,
}

pub fn register(r: &mut Registry) {
    r.register("", "NegativeLogLikelihoodLoss", |c| {
        Ok(Box::new(Nll {
            reduction: Reduction::parse(&c.attrs.string_or("reduction", "mean".into())?)?,
            ignore_index: c.attrs.int("ignore_index")?,
        }))
    });
}

/// The loss over log-probabilities `logp` of shape `[N, C, rest..]` (row-major, f64).
/// Returns the values and their shape.
pub fn nll_loss(
    logp: &[f64],
    shape: &[usize],
    target: &[i64],
    weight: Option<&[f64]>,
    reduction: Reduction,
    ignore: Option<i64>,
) -> Result<(Vec<f64>, Vec<usize>)> {
    ensure!(shape.len() >= 2, "input must be [N, C, ...], got {shape:?}");
    let (n, c) = (shape[0], shape[1]);
    let inner: usize = shape[2..].iter().product();
    ensure!(
        target.len() == n * inner,
        "target has {} elements, expected N*d1*..*dk = {}",
        target.len(),
        n * inner
    );
    if let Some(w) = weight {
        ensure!(
            w.len() == c,
            "weight has {} elements, expected C = {c}",
            w.len()
        );
    }
    let mut loss = vec![0f64; n * inner];
    let mut wsum = 0f64;
    for b in 0..n {
        for i in 0..inner {
            let t = target[b * inner + i];
            if Some(t) == ignore {
                continue;
            }
            ensure!(
                t >= 0 && (t as usize) < c,
                "target {t} out of range for {c} classes"
            );
            let w = weight.map_or(1.0, |w| w[t as usize]);
            loss[b * inner + i] = -logp[(b * c + t as usize) * inner + i] * w;
            wsum += w;
        }
    }
    let mut out_shape = vec![n];
    out_shape.extend_from_slice(&shape[2..]);
    Ok(match reduction {
        Reduction::None => (loss, out_shape),
        Reduction::Sum => (vec![loss.iter().sum()], vec![]),
        Reduction::Mean => {
            let s: f64 = loss.iter().sum();
            (vec![if wsum == 0.0 { 0.0 } else { s / wsum }], vec![])
        }
    })
}

/// f64 values back into a float tensor of `dtype`.
pub fn float_tensor(dtype: DType, shape: Vec<usize>, v: Vec<f64>) -> Result<Tensor> {
    dispatch_float!(dtype, T => Tensor::from_vec(shape, v.into_iter().map(|x| <T as num_traits::NumCast>::from(x).unwrap_or(<T as num_traits::Float>::nan())).collect::<Vec<T>>()),
        d => Err(Error::dtype(d, "loss input")))
}

impl Op for Nll {
    fn op_type(&self) -> &str {
        "NegativeLogLikelihoodLoss"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.dtype().is_float(),
            "input must be float, got {}",
            x.dtype()
        );
        let target = req(&inputs, 1)?.to_i64_vec()?;
        let weight = opt(&inputs, 2).map(|w| w.to_f64_vec()).transpose()?;
        let (v, shape) = nll_loss(
            &x.to_f64_vec()?,
            x.shape(),
            &target,
            weight.as_deref(),
            self.reduction,
            self.ignore_index,
        )?;
        Ok(vec![float_tensor(x.dtype(), shape, v)?])
    }
}
