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

/// The most elements a shape may describe, counting only its nonzero dims.
pub const MAX_ELEMENTS: usize = isize::MAX as usize;

/// Checks that `shape` could belong to a tensor: the product of its nonzero dims is at most
/// [`MAX_ELEMENTS`]. Any subset of the dims of a shape that passes multiplies without
/// overflow, which shape arithmetic relies on (a zero dim does not make `[0, 2^40, 2^40]`
/// acceptable: its last two dims alone overflow). Returns the element count.
pub fn check_shape(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |a, &d| {
            a.checked_mul(d).filter(|&n| n <= MAX_ELEMENTS)
        })
        .map(|n| if shape.contains(&0) { 0 } else { n })
        .ok_or_else(|| {
            Error::shape(format!(
                "shape {shape:?} has more than {MAX_ELEMENTS} elements"
            ))
        })
}

/// [`check_shape`] over the known dims of a partly known shape.
pub fn check_dims(dims: &[Dim]) -> Result<()> {
    let fixed: Vec<usize> = dims.iter().filter_map(Dim::fixed).collect();
    check_shape(&fixed).map(|_| ()).map_err(|_| {
        Error::shape(format!(
            "shape [{}] has more than {MAX_ELEMENTS} elements",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_shape_bounds_every_partial_product() {
        assert_eq!(check_shape(&[]).unwrap(), 1);
        assert_eq!(check_shape(&[2, 3]).unwrap(), 6);
        assert_eq!(check_shape(&[0, 1 << 40]).unwrap(), 0);
        assert!(check_shape(&[1 << 40, 1 << 40]).is_err());
        // a zero dim does not excuse the others
        assert!(check_shape(&[0, 1 << 40, 1 << 40]).is_err());
        assert!(check_shape(&[usize::MAX]).is_err());
        assert!(check_dims(&[Dim::Fixed(1 << 40), Dim::Unknown, Dim::Fixed(1 << 40)]).is_err());
        assert!(check_dims(&[Dim::Fixed(1 << 40), Dim::Sym("n".into())]).is_ok());
    }

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(
            broadcast_shapes(&[&[2, 1, 4], &[3, 1]]).unwrap(),
            vec![2, 3, 4]
        );
        assert!(broadcast_shapes(&[&[2, 3], &[4]]).is_err());
        assert_eq!(broadcast_shapes(&[&[], &[5]]).unwrap(), vec![5]);
    }
}
