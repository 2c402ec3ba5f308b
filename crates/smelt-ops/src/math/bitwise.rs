//! Bit and logic ops with broadcasting: BitwiseAnd/Or/Xor (integers), BitShift (unsigned
//! integers, `direction` LEFT/RIGHT; shifting by the bit width or more gives 0), and the
//! boolean And/Or/Xor. Both inputs share one dtype, which the output keeps.

use super::kernels::*;
use crate::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

#[derive(Debug)]
struct BitOp {
    kind: Kind,
    /// Boolean And/Or/Xor rather than the Bitwise* / BitShift ops.
    logical: bool,
    name: &'static str,
}

impl Op for BitOp {
    fn op_type(&self) -> &str {
        self.name
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_broadcast(ctx, None)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let a = take(&mut inputs, 0)?;
        let b = take(&mut inputs, 1)?;
        let dt = a.dtype();
        ensure!(
            dt == b.dtype(),
            "{}: inputs have different dtypes {dt} and {}",
            self.name,
            b.dtype()
        );
        if self.logical {
            if dt != DType::Bool {
                return Err(Error::dtype(dt, self.name));
            }
            let y = match self.kind {
                Kind::And => zip_same::<bool>(a, b, |x, y| x & y),
                Kind::Or => zip_same::<bool>(a, b, |x, y| x | y),
                _ => zip_same::<bool>(a, b, |x, y| x ^ y),
            }?;
            return Ok(vec![y]);
        }
        let kind = self.kind;
        macro_rules! bits {
            ($($d:ident => $t:ty, $unsigned:expr);*) => {
                match dt {
                    $(DType::$d => match kind {
                        Kind::And => zip_same::<$t>(a, b, |x, y| x & y),
                        Kind::Or => zip_same::<$t>(a, b, |x, y| x | y),
                        Kind::Xor => zip_same::<$t>(a, b, |x, y| x ^ y),
                        Kind::Shl if $unsigned => zip_same::<$t>(a, b, |x, y| if (y as u64) < <$t>::BITS as u64 { x << y } else { 0 }),
                        Kind::Shr if $unsigned => zip_same::<$t>(a, b, |x, y| if (y as u64) < <$t>::BITS as u64 { x >> y } else { 0 }),
                        _ => Err(Error::dtype(dt, self.name)),
                    },)*
                    other => Err(Error::dtype(other, self.name)),
                }
            };
        }
        let y = bits!(I8 => i8, false; U8 => u8, true; I16 => i16, false; U16 => u16, true;
            I32 => i32, false; U32 => u32, true; I64 => i64, false; U64 => u64, true)?;
        Ok(vec![y])
    }
}

pub fn register(r: &mut Registry) {
    r.register("", "BitwiseAnd", |_| {
        Ok(Box::new(BitOp {
            kind: Kind::And,
            logical: false,
            name: "BitwiseAnd",
        }))
    });
    r.register("", "BitwiseOr", |_| {
        Ok(Box::new(BitOp {
            kind: Kind::Or,
            logical: false,
            name: "BitwiseOr",
        }))
    });
    r.register("", "BitwiseXor", |_| {
        Ok(Box::new(BitOp {
            kind: Kind::Xor,
            logical: false,
            name: "BitwiseXor",
        }))
    });
    r.register("", "And", |_| {
        Ok(Box::new(BitOp {
            kind: Kind::And,
            logical: true,
            name: "And",
        }))
    });
    r.register("", "Or", |_| {
        Ok(Box::new(BitOp {
            kind: Kind::Or,
            logical: true,
            name: "Or",
        }))
    });
    r.register("", "Xor", |_| {
        Ok(Box::new(BitOp {
            kind: Kind::Xor,
            logical: true,
            name: "Xor",
        }))
    });
    r.register("", "BitShift", |c| {
        let kind = match c.attrs.req_string("direction")?.as_str() {
            "LEFT" => Kind::Shl,
            "RIGHT" => Kind::Shr,
            o => bail!("BitShift: direction must be LEFT or RIGHT, got '{o}'"),
        };
        Ok(Box::new(BitOp {
            kind,
            logical: false,
            name: "BitShift",
        }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use smelt_ir::SubgraphRunner;

    struct NoSub;
    impl SubgraphRunner for NoSub {
        fn run(&self, _: &Graph, _: Vec<Tensor>) -> Result<Vec<Tensor>> {
            bail!("no subgraphs")
        }
    }

    #[test]
    fn shift_past_width_is_zero() {
        let op = BitOp {
            kind: Kind::Shl,
            logical: false,
            name: "BitShift",
        };
        let a = Tensor::from_vec(vec![3], vec![1u8, 3, 255]).unwrap();
        let b = Tensor::from_vec(vec![3], vec![7u8, 8, 1]).unwrap();
        let ctx = EvalCtx {
            n_outputs: 1,
            subgraphs: &NoSub,
        };
        let y = op.eval(&ctx, vec![Some(a), Some(b)]).unwrap();
        assert_eq!(y[0].as_slice::<u8>().unwrap(), &[128, 0, 254]);
        let bad = op.eval(
            &ctx,
            vec![
                Some(Tensor::from_vec(vec![1], vec![1i8]).unwrap()),
                Some(Tensor::from_vec(vec![1], vec![1i8]).unwrap()),
            ],
        );
        assert!(bad.is_err());
    }
}
