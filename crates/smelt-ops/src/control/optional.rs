//! Optional, OptionalHasElement, OptionalGetElement in tensor-only form: an optional value is
//! either a tensor or an omitted input. `Optional()` with no input (an empty optional) cannot
//! be represented as a value and is rejected as unsupported.

use crate::prelude::*;

#[derive(Debug)]
pub struct OptionalOp {
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Make,
    Has,
    Get,
}

pub fn register(r: &mut Registry) {
    r.register("", "Optional", |_| {
        Ok(Box::new(OptionalOp { kind: Kind::Make }))
    });
    r.register("", "OptionalHasElement", |_| {
        Ok(Box::new(OptionalOp { kind: Kind::Has }))
    });
    r.register("", "OptionalGetElement", |_| {
        Ok(Box::new(OptionalOp { kind: Kind::Get }))
    });
}

impl Op for OptionalOp {
    fn op_type(&self) -> &str {
        match self.kind {
            Kind::Make => "Optional",
            Kind::Has => "OptionalHasElement",
            Kind::Get => "OptionalGetElement",
        }
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        match self.kind {
            Kind::Has => Ok(vec![Tensor::scalar(opt(&inputs, 0).is_some())]),
            Kind::Get => Ok(vec![take(&mut inputs, 0).map_err(|_| {
                Error::invalid("OptionalGetElement: the optional input is empty")
            })?]),
            Kind::Make => match inputs.get_mut(0).and_then(|t| t.take()) {
                Some(t) => Ok(vec![t]),
                None => Err(Error::unsupported(
                    "Optional",
                    "empty optional values are not supported (tensor-only optionals)",
                )),
            },
        }
    }
}
