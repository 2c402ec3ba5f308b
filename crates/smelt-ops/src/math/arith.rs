//! Add, Sub, Mul, Div, Mod: two inputs of one numeric dtype, numpy broadcasting.
//! Integer arithmetic wraps; integer Div truncates toward zero (C); Mod follows the sign of
//! the divisor unless `fmod=1` (then the sign of the dividend, C fmod). An integer divisor
//! holding 0 is an error.

use super::kernels::*;
use crate::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Add,
    Sub,
    Mul,
    Div,
    Mod { fmod: bool },
}

#[derive(Debug)]
struct Binary(Kind);

/// `a <kind> b` for one element type.
fn apply<T: Arith>(kind: Kind, a: Tensor, b: Tensor) -> Result<Tensor> {
    match kind {
        Kind::Add => zip_same::<T>(a, b, |x, y| x.add(y)),
        Kind::Sub => zip_same::<T>(a, b, |x, y| x.sub(y)),
        Kind::Mul => zip_same::<T>(a, b, |x, y| x.mul(y)),
        Kind::Div => zip_same::<T>(a, b, |x, y| x.div(y)),
        Kind::Mod { fmod: true } => zip_same::<T>(a, b, |x, y| x.fmod(y)),
        Kind::Mod { fmod: false } => zip_same::<T>(a, b, |x, y| x.pymod(y)),
    }
}

/// `a <kind> b` for any numeric dtype (both inputs must share it).
fn eval_kind(kind: Kind, a: Tensor, b: Tensor, name: &str) -> Result<Tensor> {
    ensure!(
        a.dtype() == b.dtype(),
        "{name}: inputs have different dtypes {} and {}",
        a.dtype(),
        b.dtype()
    );
    if matches!(kind, Kind::Div | Kind::Mod { .. }) {
        check_no_zero_divisor(&b)?;
    }
    dispatch_numeric!(a.dtype(), T => apply::<T>(kind, a, b), other => Err(Error::dtype(other, name)))
}

impl Op for Binary {
    fn op_type(&self) -> &str {
        match self.0 {
            Kind::Add => "Add",
            Kind::Sub => "Sub",
            Kind::Mul => "Mul",
            Kind::Div => "Div",
            Kind::Mod { .. } => "Mod",
        }
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_broadcast(ctx, None)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let a = take(&mut inputs, 0)?;
        let b = take(&mut inputs, 1)?;
        Ok(vec![eval_kind(self.0, a, b, self.op_type())?])
    }
}

/// Element-wise `a + b` with broadcasting, for other ops to reuse.
pub fn add(a: Tensor, b: Tensor) -> Result<Tensor> {
    eval_kind(Kind::Add, a, b, "Add")
}
/// Element-wise `a * b` with broadcasting, for other ops to reuse.
pub fn mul(a: Tensor, b: Tensor) -> Result<Tensor> {
    eval_kind(Kind::Mul, a, b, "Mul")
}

pub fn register(r: &mut Registry) {
    r.register("", "Add", |_| Ok(Box::new(Binary(Kind::Add))));
    r.register("", "Sub", |_| Ok(Box::new(Binary(Kind::Sub))));
    r.register("", "Mul", |_| Ok(Box::new(Binary(Kind::Mul))));
    r.register("", "Div", |_| Ok(Box::new(Binary(Kind::Div))));
    r.register("", "Mod", |c| {
        let fmod = c.attrs.int_or("fmod", 0)?;
        ensure!(
            fmod == 0 || fmod == 1,
            "Mod: fmod must be 0 or 1, got {fmod}"
        );
        Ok(Box::new(Binary(Kind::Mod { fmod: fmod == 1 })))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_div_truncates_and_mod_signs() {
        let a = Tensor::from_vec(vec![4], vec![-7i32, 7, -7, 7]).unwrap();
        let b = Tensor::from_vec(vec![4], vec![2i32, -2, -3, 3]).unwrap();
        let d = eval_kind(Kind::Div, a.clone(), b.clone(), "Div").unwrap();
        assert_eq!(d.as_slice::<i32>().unwrap(), &[-3, -3, 2, 2]);
        let m = eval_kind(Kind::Mod { fmod: false }, a.clone(), b.clone(), "Mod").unwrap();
        assert_eq!(m.as_slice::<i32>().unwrap(), &[1, -1, -1, 1]);
        let f = eval_kind(Kind::Mod { fmod: true }, a, b, "Mod").unwrap();
        assert_eq!(f.as_slice::<i32>().unwrap(), &[-1, 1, -1, 1]);
    }

    #[test]
    fn div_by_zero_and_dtype_mismatch_are_errors() {
        let a = Tensor::from_vec(vec![2], vec![1i64, 2]).unwrap();
        let z = Tensor::from_vec(vec![2], vec![1i64, 0]).unwrap();
        assert!(eval_kind(Kind::Div, a.clone(), z, "Div").is_err());
        let f = Tensor::from_vec(vec![2], vec![1f32, 2.]).unwrap();
        assert!(eval_kind(Kind::Add, a, f, "Add").is_err());
    }

    #[test]
    fn f16_adds_through_f32() {
        let a = Tensor::from_vec(
            vec![3],
            vec![f16::from_f32(1.5), f16::from_f32(-2.0), f16::from_f32(0.25)],
        )
        .unwrap();
        let b = Tensor::from_vec(vec![1], vec![f16::from_f32(0.5)]).unwrap();
        let c = add(a, b).unwrap();
        let v: Vec<f32> = c
            .as_slice::<f16>()
            .unwrap()
            .iter()
            .map(|x| x.to_f32())
            .collect();
        assert_eq!(v, vec![2.0, -1.5, 0.75]);
    }
}
