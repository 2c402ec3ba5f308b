//! StringSplit (opset 20): splits each string of X on `delimiter` (at most `maxsplit` splits).
//!
//! Without a delimiter (or with ""), splits on runs of whitespace and drops leading/trailing
//! whitespace, as Python's `str.split()`. Outputs: Y, shape X.shape + [max pieces], padded
//! with ""; Z (int64, X.shape), the number of pieces of each string.

use crate::prelude::*;

#[derive(Debug)]
pub struct StringSplit {
    delimiter: String,
    maxsplit: Option<usize>,
}

pub fn register(r: &mut Registry) {
    r.register("", "StringSplit", |c| {
        let maxsplit = match c.attrs.int("maxsplit")? {
            None => None,
            Some(m) if m >= 0 => Some(m as usize),
            Some(m) => bail!("StringSplit: maxsplit must be >= 0, got {m}"),
        };
        Ok(Box::new(StringSplit {
            delimiter: c.attrs.string_or("delimiter", String::new())?,
            maxsplit,
        }))
    });
}

/// Python `s.split(None, maxsplit)`.
fn split_whitespace(s: &str, maxsplit: Option<usize>) -> Vec<String> {
    let mut out = vec![];
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if maxsplit.is_some_and(|m| out.len() == m) {
            out.push(rest.to_string());
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

impl Op for StringSplit {
    fn op_type(&self) -> &str {
        "StringSplit"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let xs = x
            .as_slice::<String>()
            .map_err(|_| Error::dtype(x.dtype(), "StringSplit: input must be strings"))?;
        let pieces: Vec<Vec<String>> = xs
            .iter()
            .map(|s| {
                if self.delimiter.is_empty() {
                    split_whitespace(s, self.maxsplit)
                } else {
                    match self.maxsplit {
                        Some(m) => s
                            .splitn(m + 1, self.delimiter.as_str())
                            .map(String::from)
                            .collect(),
                        None => s.split(self.delimiter.as_str()).map(String::from).collect(),
                    }
                }
            })
            .collect();
        let width = pieces.iter().map(|p| p.len()).max().unwrap_or(0);
        let counts: Vec<i64> = pieces.iter().map(|p| p.len() as i64).collect();
        let mut y = Vec::with_capacity(pieces.len() * width);
        for mut p in pieces {
            p.resize(width, String::new());
            y.extend(p);
        }
        let mut ysh = x.shape().to_vec();
        ysh.push(width);
        Ok(vec![
            Tensor::from_vec(ysh, y)?,
            Tensor::from_vec(x.shape().to_vec(), counts)?,
        ])
    }
}
