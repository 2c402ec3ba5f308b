//! Unique: the distinct elements (or, with `axis`, distinct slices along the axis) of X.
//! Outputs: Y (sorted ascending when `sorted`=1, else in order of first occurrence), indices
//! (first occurrence in X of each Y item), inverse_indices (Y item of each X item), counts.
//! NaNs compare equal to each other and greater than every number. Any dtype.

use super::common::*;
use crate::prelude::*;
use std::cmp::Ordering;

#[derive(Debug)]
pub struct Unique {
    sorted: bool,
    axis: Option<i64>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Unique", |ctx| {
        Ok(Box::new(Unique {
            sorted: ctx.attrs.int_or("sorted", 1)? != 0,
            axis: ctx.attrs.int("axis")?,
        }))
    });
}

/// A total order over a partial one: unordered values (NaN) equal each other and sort last.
fn tcmp<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    match a.partial_cmp(b) {
        Some(o) => o,
        #[allow(clippy::eq_op)]
        None => (a != a).cmp(&(b != b)),
    }
}

fn slice_cmp<T: PartialOrd>(a: &[T], b: &[T]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| tcmp(x, y))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// Groups of equal items: (first occurrence, count) per group, in output order, and each
/// item's group.
fn group<T: PartialOrd>(items: &[&[T]], sorted: bool) -> (Vec<(usize, usize)>, Vec<usize>) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&i, &j| slice_cmp(items[i], items[j]));
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut member = vec![0usize; items.len()];
    for (k, &i) in order.iter().enumerate() {
        if k == 0 || slice_cmp(items[order[k - 1]], items[i]) != Ordering::Equal {
            groups.push((i, 0));
        }
        let g = groups.len() - 1;
        groups[g].1 += 1;
        member[i] = g;
    }
    if !sorted {
        let mut by_first: Vec<usize> = (0..groups.len()).collect();
        by_first.sort_by_key(|&g| groups[g].0);
        let mut rank = vec![0usize; groups.len()];
        for (r, &g) in by_first.iter().enumerate() {
            rank[g] = r;
        }
        member.iter_mut().for_each(|m| *m = rank[*m]);
        groups = by_first.iter().map(|&g| groups[g]).collect();
    }
    (groups, member)
}

impl Op for Unique {
    fn op_type(&self) -> &str {
        "Unique"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        // view X as [outer, n items, inner]; items along the axis, or every element
        let (shape, a) = match self.axis {
            Some(ax) => (x.shape().to_vec(), norm_axis(ax, x.rank())?),
            None => (vec![x.len()], 0),
        };
        let outer: usize = shape[..a].iter().product();
        let n = shape[a];
        let inner: usize = shape[a + 1..].iter().product();
        let (y, groups, member) = dispatch_any!(x.dtype(), T => {
            let s = x.as_slice::<T>()?;
            // item i gathered contiguously: for each outer o, the inner block
            let items_data: Vec<Vec<T>> = (0..n).map(|i| (0..outer).flat_map(|o| s[(o * n + i) * inner..(o * n + i + 1) * inner].iter().cloned()).collect()).collect();
            let items: Vec<&[T]> = items_data.iter().map(|v| v.as_slice()).collect();
            let (groups, member) = group(&items, self.sorted);
            let mut out: Vec<T> = Vec::with_capacity(outer * groups.len() * inner);
            for o in 0..outer {
                for &(first, _) in &groups {
                    out.extend_from_slice(&s[(o * n + first) * inner..(o * n + first + 1) * inner]);
                }
            }
            let mut yshape = shape.clone();
            yshape[a] = groups.len();
            (mk(x.dtype(), yshape, out)?, groups, member)
        });
        let g = groups.len();
        let first: Vec<i64> = groups.iter().map(|p| p.0 as i64).collect();
        let counts: Vec<i64> = groups.iter().map(|p| p.1 as i64).collect();
        let inv: Vec<i64> = member.iter().map(|&m| m as i64).collect();
        Ok(vec![
            y,
            Tensor::from_vec(vec![g], first)?,
            Tensor::from_vec(vec![n], inv)?,
            Tensor::from_vec(vec![g], counts)?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn nan_and_unsorted() {
        let x = Tensor::from_vec(vec![6], vec![2f32, f32::NAN, 1., 2., f32::NAN, -1.]).unwrap();
        let y = eval_op(
            &Unique {
                sorted: true,
                axis: None,
            },
            vec![x.clone()],
            4,
        )
        .unwrap();
        let v = y[0].as_slice::<f32>().unwrap();
        assert_eq!(&v[..3], &[-1., 1., 2.]);
        assert!(v[3].is_nan() && v.len() == 4);
        assert_eq!(y[1].as_slice::<i64>().unwrap(), &[5, 2, 0, 1]);
        assert_eq!(y[2].as_slice::<i64>().unwrap(), &[2, 3, 1, 2, 3, 0]);
        assert_eq!(y[3].as_slice::<i64>().unwrap(), &[1, 1, 2, 2]);
        let s = Tensor::from_vec(vec![3], vec!["b".to_string(), "a".into(), "b".into()]).unwrap();
        let y = eval_op(
            &Unique {
                sorted: false,
                axis: None,
            },
            vec![s],
            4,
        )
        .unwrap();
        assert_eq!(
            y[0].as_slice::<String>().unwrap(),
            &["b".to_string(), "a".into()]
        );
        assert_eq!(y[2].as_slice::<i64>().unwrap(), &[0, 1, 0]);
    }
}
