//! Constant: outputs the tensor held by exactly one of the attributes `value`, `value_float`,
//! `value_floats`, `value_int`, `value_ints`, `value_string`, `value_strings`
//! (`sparse_value` is not supported).

use crate::prelude::*;

#[derive(Debug)]
pub struct Constant {
    value: Tensor,
}

pub fn register(r: &mut Registry) {
    r.register("", "Constant", |ctx| {
        let a = ctx.attrs;
        let names = [
            "value",
            "value_float",
            "value_floats",
            "value_int",
            "value_ints",
            "value_string",
            "value_strings",
            "sparse_value",
        ];
        let set: Vec<&str> = names.iter().copied().filter(|n| a.has(n)).collect();
        ensure!(
            set.len() == 1,
            "Constant needs exactly one value attribute, got {set:?}"
        );
        let value = match set[0] {
            "value" => a.req_tensor("value")?,
            "value_float" => Tensor::scalar(a.float("value_float")?.unwrap_or_default()),
            "value_floats" => {
                let v = a.floats("value_floats")?.unwrap_or_default();
                Tensor::from_vec(vec![v.len()], v)?
            }
            "value_int" => Tensor::scalar(a.int("value_int")?.unwrap_or_default()),
            "value_ints" => {
                let v = a.ints("value_ints")?.unwrap_or_default();
                Tensor::from_vec(vec![v.len()], v)?
            }
            "value_string" => Tensor::scalar(a.string("value_string")?.unwrap_or_default()),
            "value_strings" => {
                let v = a.strings("value_strings")?.unwrap_or_default();
                Tensor::from_vec(vec![v.len()], v)?
            }
            _ => return Err(Error::unsupported("Constant", "sparse_value attribute")),
        };
        Ok(Box::new(Constant { value }))
    });
}

impl Op for Constant {
    fn op_type(&self) -> &str {
        "Constant"
    }
    fn infer(&self, _: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ValueInfo::fixed(
            self.value.dtype(),
            self.value.shape(),
        )])
    }
    fn eval(&self, _: &EvalCtx, _: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![self.value.clone()])
    }
}
