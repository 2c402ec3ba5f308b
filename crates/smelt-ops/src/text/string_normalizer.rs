//! StringNormalizer (opset 10): removes `stopwords` (case-insensitively unless
//! `is_case_sensitive`) from a [C] or [1, C] string tensor, then applies
//! `case_change_action` (NONE, LOWER, UPPER). If every string is removed the output is a
//! single "" ([1] or [1, 1]).

use crate::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    None,
    Lower,
    Upper,
}

#[derive(Debug)]
pub struct StringNormalizer {
    case: Case,
    case_sensitive: bool,
    stopwords: Vec<String>,
}

pub fn register(r: &mut Registry) {
    r.register("", "StringNormalizer", |c| {
        let case = match c
            .attrs
            .string_or("case_change_action", "NONE".into())?
            .as_str()
        {
            "NONE" => Case::None,
            "LOWER" => Case::Lower,
            "UPPER" => Case::Upper,
            o => bail!(
                "StringNormalizer: case_change_action must be NONE, LOWER or UPPER, got '{o}'"
            ),
        };
        let case_sensitive = c.attrs.int_or("is_case_sensitive", 0)? != 0;
        let mut stopwords = c.attrs.strings_or("stopwords", vec![])?;
        if !case_sensitive {
            stopwords = stopwords.iter().map(|s| s.to_lowercase()).collect();
        }
        Ok(Box::new(StringNormalizer {
            case,
            case_sensitive,
            stopwords,
        }))
    });
}

impl Op for StringNormalizer {
    fn op_type(&self) -> &str {
        "StringNormalizer"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let xs = x
            .as_slice::<String>()
            .map_err(|_| Error::dtype(x.dtype(), "StringNormalizer: input must be strings"))?;
        let two_d = match x.shape() {
            [_] => false,
            [1, _] => true,
            s => bail!("StringNormalizer: input must be [C] or [1, C], got {s:?}"),
        };
        let mut out: Vec<String> = xs
            .iter()
            .filter(|s| {
                let key = if self.case_sensitive {
                    (*s).clone()
                } else {
                    s.to_lowercase()
                };
                !self.stopwords.contains(&key)
            })
            .map(|s| match self.case {
                Case::None => s.clone(),
                Case::Lower => s.to_lowercase(),
                Case::Upper => s.to_uppercase(),
            })
            .collect();
        if out.is_empty() {
            out.push(String::new());
        }
        let shape = if two_d {
            vec![1, out.len()]
        } else {
            vec![out.len()]
        };
        Ok(vec![Tensor::from_vec(shape, out)?])
    }
}
