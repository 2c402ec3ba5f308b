//! Sum, Mean, Max, Min over one or more inputs of one numeric dtype, broadcast together.
//! Max / Min propagate NaN (numpy `maximum` / `minimum`). Mean of integers truncates.

use super::kernels::*;
use crate::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Sum,
    Mean,
    Max,
    Min,
}

#[derive(Debug)]
struct Variadic {
    kind: Kind,
    name: &'static str,
}

fn fold<T: Arith>(kind: Kind, inputs: Vec<Tensor>) -> Result<Tensor> {
    let n = inputs.len();
    let mut it = inputs.into_iter();
    let mut acc = it
        .next()
        .ok_or_else(|| Error::invalid("needs at least one input"))?;
    for t in it {
        acc = match kind {
            Kind::Sum | Kind::Mean => zip_same::<T>(acc, t, |x, y| x.add(y))?,
            Kind::Max => zip_same::<T>(acc, t, |x, y| x.max_nan(y))?,
            Kind::Min => zip_same::<T>(acc, t, |x, y| x.min_nan(y))?,
        };
    }
    if kind == Kind::Mean && n > 1 {
        let d = T::from_f64(n as f64);
        acc = map_inplace::<T>(acc, |x| x.div(d))?;
    }
    Ok(acc)
}

impl Op for Variadic {
    fn op_type(&self) -> &str {
        self.name
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_broadcast(ctx, None)
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let ins: Vec<Tensor> = inputs.into_iter().flatten().collect();
        let first = ins
            .first()
            .ok_or_else(|| Error::invalid(format!("{} needs at least one input", self.name)))?;
        let dt = first.dtype();
        for t in &ins {
            ensure!(
                t.dtype() == dt,
                "{}: inputs have different dtypes {dt} and {}",
                self.name,
                t.dtype()
            );
        }
        let y = dispatch_numeric!(dt, T => fold::<T>(self.kind, ins), other => Err(Error::dtype(other, self.name)))?;
        Ok(vec![y])
    }
}

pub fn register(r: &mut Registry) {
    r.register("", "Sum", |_| {
        Ok(Box::new(Variadic {
            kind: Kind::Sum,
            name: "Sum",
        }))
    });
    r.register("", "Mean", |_| {
        Ok(Box::new(Variadic {
            kind: Kind::Mean,
            name: "Mean",
        }))
    });
    r.register("", "Max", |_| {
        Ok(Box::new(Variadic {
            kind: Kind::Max,
            name: "Max",
        }))
    });
    r.register("", "Min", |_| {
        Ok(Box::new(Variadic {
            kind: Kind::Min,
            name: "Min",
        }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_way_broadcast_mean_and_max() {
        let a = Tensor::from_vec(vec![2, 1], vec![1f32, 4.]).unwrap();
        let b = Tensor::from_vec(vec![3], vec![2f32, f32::NAN, 8.]).unwrap();
        let c = Tensor::scalar(3f32);
        let m = fold::<f32>(Kind::Mean, vec![a.clone(), b.clone(), c.clone()]).unwrap();
        assert_eq!(m.shape(), &[2, 3]);
        assert_eq!(m.as_slice::<f32>().unwrap()[0], 2.0);
        assert!(m.as_slice::<f32>().unwrap()[1].is_nan());
        let x = fold::<f32>(Kind::Max, vec![a, b, c]).unwrap();
        let v = x.as_slice::<f32>().unwrap();
        assert_eq!((v[0], v[2], v[3], v[5]), (3.0, 8.0, 4.0, 8.0));
        assert!(v[1].is_nan() && v[4].is_nan());
    }
}
