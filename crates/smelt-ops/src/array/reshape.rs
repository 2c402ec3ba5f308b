//! Reshape: same elements, new shape. The shape input's 0 copies the input dim (unless
//! `allowzero`=1, opset >= 14, where 0 is a literal zero), -1 infers one dim. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Reshape {
    allowzero: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "Reshape", |ctx| {
        if ctx.opset < 5 {
            bail!(
                "Reshape opset {} (shape attribute) is not supported",
                ctx.opset
            );
        }
        Ok(Box::new(Reshape {
            allowzero: ctx.attrs.int_or("allowzero", 0)? != 0,
        }))
    });
}

/// Resolves the requested shape against the input dims (`None` = not known statically).
/// Returns `None` entries where a dim cannot be told.
pub fn resolve_shape(
    input: &[Option<usize>],
    spec: &[i64],
    allowzero: bool,
) -> Result<Vec<Option<usize>>> {
    let mut out: Vec<Option<usize>> = Vec::with_capacity(spec.len());
    let mut infer_at = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 => {
                ensure!(infer_at.is_none(), "shape {spec:?} has more than one -1");
                infer_at = Some(i);
                out.push(None);
            }
            0 if !allowzero => {
                let v = input.get(i).ok_or_else(|| {
                    Error::invalid(format!(
                        "shape {spec:?}: 0 at position {i} but the input has rank {}",
                        input.len()
                    ))
                })?;
                out.push(*v);
            }
            d if d < 0 => bail!("shape {spec:?} has invalid dimension {d}"),
            d => out.push(Some(d as usize)),
        }
    }
    if let Some(at) = infer_at {
        ensure!(
            !(allowzero && spec.contains(&0)),
            "shape {spec:?} mixes -1 with 0 under allowzero"
        );
        let total: Option<usize> = input
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .map(|v| v.iter().product());
        let known: Option<usize> = out
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, d)| *d)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.iter().product());
        if let (Some(t), Some(k)) = (total, known) {
            ensure!(
                k != 0 && t % k == 0,
                "cannot infer -1 in shape {spec:?} for {t} elements"
            );
            out[at] = Some(t / k);
        }
    }
    Ok(out)
}

impl Op for Reshape {
    fn op_type(&self) -> &str {
        "Reshape"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let Some(spec) = in_const(ctx, 1) else {
            return Ok(vec![ValueInfo {
                dtype: x.dtype,
                shape: None,
            }]);
        };
        let spec = spec.to_i64_vec()?;
        // unknown input shape: the rank is still the spec's length
        let dims = x
            .shape
            .clone()
            .unwrap_or_else(|| vec![Dim::Unknown; spec.len()]);
        let known: Vec<Option<usize>> = dims.iter().map(|d| d.fixed()).collect();
        let res = resolve_shape(&known, &spec, self.allowzero)?;
        let shape = res
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                Some(n) => Dim::Fixed(*n),
                // a copied symbolic dim keeps its name
                None if spec[i] == 0 && !self.allowzero => {
                    dims.get(i).cloned().unwrap_or(Dim::Unknown)
                }
                None => Dim::Unknown,
            })
            .collect();
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape: Some(shape),
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let spec = req(&inputs, 1)?.to_i64_vec()?;
        let known: Vec<Option<usize>> = x.shape().iter().map(|&d| Some(d)).collect();
        let shape: Vec<usize> = resolve_shape(&known, &spec, self.allowzero)?
            .into_iter()
            .map(|d| d.unwrap_or(0))
            .collect();
        Ok(vec![x.reshape(shape)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn resolve() {
        let k = |v: &[usize]| v.iter().map(|&d| Some(d)).collect::<Vec<_>>();
        let r = |v: Vec<Option<usize>>| v.into_iter().map(|d| d.unwrap()).collect::<Vec<_>>();
        assert_eq!(
            r(resolve_shape(&k(&[2, 3, 4]), &[0, -1], false).unwrap()),
            vec![2, 12]
        );
        assert_eq!(
            r(resolve_shape(&k(&[0, 3]), &[3, 0], true).unwrap()),
            vec![3, 0]
        );
        assert!(resolve_shape(&k(&[2, 3]), &[-1, -1], false).is_err());
        assert!(resolve_shape(&k(&[2, 3]), &[4, -1], false).is_err());
        assert!(resolve_shape(&k(&[2, 3]), &[-2, 3], false).is_err());
        assert!(resolve_shape(&k(&[6]), &[0, 0], false).is_err());
        let x = Tensor::from_vec(vec![2, 3], vec![1u8; 6]).unwrap();
        assert!(eval_op(
            &Reshape { allowzero: false },
            vec![x, Tensor::from_vec(vec![1], vec![5i64]).unwrap()],
            1
        )
        .is_err());
    }
}
