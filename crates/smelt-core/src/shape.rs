//! Shapes with symbolic dimensions, used by the graph IR for value types.

use crate::{DType, Error, Result};
use std::fmt;

/// One dimension of a value's shape: known, named (e.g. `batch`), or unknown.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Fixed(usize),
    Sym(String),
    Unknown,
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Sym(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

impl Dim {
    pub fn fixed(&self) -> Option<usize> {
        match self {
            Dim::Fixed(n) => Some(*n),
            _ => None,
        }
    }
}

/// What is known about a value before running: its dtype and shape, each possibly unknown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValueInfo {
    pub dtype: Option<DType>,
    pub shape: Option<Vec<Dim>>,
}

impl ValueInfo {
    pub fn new(dtype: DType, shape: Vec<Dim>) -> Self {
        ValueInfo {
            dtype: Some(dtype),
            shape: Some(shape),
        }
    }
    pub fn fixed(dtype: DType, shape: &[usize]) -> Self {
        ValueInfo::new(dtype, shape.iter().map(|&d| Dim::Fixed(d)).collect())
    }
    pub fn unknown() -> Self {
        ValueInfo::default()
    }
    /// The concrete shape when every dim is known.
    pub fn concrete_shape(&self) -> Option<Vec<usize>> {
        self.shape.as_ref()?.iter().map(|d| d.fixed()).collect()
    }
}

impl fmt::Display for ValueInfo {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.dtype {
            Some(d) => write!(f, "{d}")?,
            None => f.write_str("?")?,
        }
        match &self.shape {
            Some(s) => write!(
                f,
                "[{}]",
                s.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            None => f.write_str("[..]"),
        }
    }
}

/// Numpy-style multidirectional broadcast of concrete shapes.
pub fn broadcast_shapes(shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(Error::shape(format!("cannot broadcast {:?}", shapes)));
            }
        }
    }
    Ok(out)
}
