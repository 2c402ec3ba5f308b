//! Comparisons with broadcasting, producing bool: Equal (numeric, bool, string), Greater,
//! GreaterOrEqual, Less, LessOrEqual (numeric, bool). Both inputs share one dtype. Float
//! comparisons follow IEEE (NaN compares unequal / unordered).

use super::kernels::*;
use crate::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug)]
struct Compare {
    kind: Kind,
    name: &'static str,
}

fn cmp<T: Elem + Copy + PartialOrd>(kind: Kind, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match kind {
        Kind::Eq => zip_to::<T, T, bool>(a, b, |x, y| x == y),
        Kind::Gt => zip_to::<T, T, bool>(a, b, |x, y| x > y),
        Kind::Ge => zip_to::<T, T, bool>(a, b, |x, y| x >= y),
        Kind::Lt => zip_to::<T, T, bool>(a, b, |x, y| x < y),
        Kind::Le => zip_to::<T, T, bool>(a, b, |x, y| x <= y),
    }
}

impl Op for Compare {
    fn op_type(&self) -> &str {
        self.name
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_broadcast(ctx, Some(DType::Bool))
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (a, b) = (req(&inputs, 0)?, req(&inputs, 1)?);
        let dt = a.dtype();
        ensure!(
            dt == b.dtype(),
            "{}: inputs have different dtypes {dt} and {}",
            self.name,
            b.dtype()
        );
        let y = match dt {
            DType::Bool => cmp::<bool>(self.kind, a, b),
            DType::String if self.kind == Kind::Eq => {
                binary_map::<String, String, bool>(a, b, |x, y| x == y)
            }
            _ => {
                dispatch_numeric!(dt, T => cmp::<T>(self.kind, a, b), other => Err(Error::dtype(other, self.name)))
            }
        }?;
        Ok(vec![y])
    }
}

pub fn register(r: &mut Registry) {
    r.register("", "Equal", |_| {
        Ok(Box::new(Compare {
            kind: Kind::Eq,
            name: "Equal",
        }))
    });
    r.register("", "Greater", |_| {
        Ok(Box::new(Compare {
            kind: Kind::Gt,
            name: "Greater",
        }))
    });
    r.register("", "GreaterOrEqual", |_| {
        Ok(Box::new(Compare {
            kind: Kind::Ge,
            name: "GreaterOrEqual",
        }))
    });
    r.register("", "Less", |_| {
        Ok(Box::new(Compare {
            kind: Kind::Lt,
            name: "Less",
        }))
    });
    r.register("", "LessOrEqual", |_| {
        Ok(Box::new(Compare {
            kind: Kind::Le,
            name: "LessOrEqual",
        }))
    });
}
