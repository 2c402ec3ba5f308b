//! Einsum: Einstein summation over any number of operands, with repeated labels (diagonals),
//! `...` (broadcast batch dims), implicit output (`ab,bc` = `ab,bc->ac`) and sums.
//!
//! Plan: each operand first takes its diagonals (repeated labels) and sums out labels used
//! nowhere else; operands are then folded left to right, each pairwise contraction being a
//! transpose into `[batch, left, contracted] x [batch, contracted, right]` and a batched GEMM.
//! All numeric dtypes (inputs must share one).

use super::blas::{batched_gemm, row_major, GemmScalar};
use crate::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct Einsum {
    equation: String,
}

pub fn register(r: &mut Registry) {
    r.register("", "Einsum", |ctx| {
        let equation: String = ctx
            .attrs
            .req_string("equation")?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        Ok(Box::new(Einsum { equation }))
    });
}

/// Labels are letters (their char code) or ellipsis dims (`ELL + i`, aligned to the right).
pub const ELL: u32 = 1000;

/// One term of the equation: its letters, and where `...` sits (index into the letters).
struct Term {
    letters: Vec<u32>,
    ellipsis: Option<usize>,
}

fn parse_term(s: &str, eq: &str) -> Result<Term> {
    let mut letters = Vec::new();
    let mut ellipsis = None;
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("...") {
            ensure!(
                ellipsis.is_none(),
                "Einsum: '...' appears twice in term '{s}' of '{eq}'"
            );
            ellipsis = Some(letters.len());
            rest = r;
            continue;
        }
        let c = rest.chars().next().unwrap_or('?');
        ensure!(
            c.is_ascii_alphabetic(),
            "Einsum: bad character '{c}' in equation '{eq}'"
        );
        letters.push(c as u32);
        rest = &rest[1..];
    }
    Ok(Term { letters, ellipsis })
}

impl Term {
    /// Full label list for an operand of `rank` dims (`e` ellipsis dims, `max_e` overall).
    fn expand(&self, e: usize, max_e: usize) -> Vec<u32> {
        let mut out = self.letters.clone();
        if let Some(p) = self.ellipsis {
            let ell: Vec<u32> = (max_e - e..max_e).map(|i| ELL + i as u32).collect();
            out.splice(p..p, ell);
        }
        out
    }
}

/// Input label lists (ellipsis expanded) and the output label list of equation `eq` (no
/// whitespace) over inputs of `ranks`.
pub fn parse(eq: &str, ranks: &[usize]) -> Result<(Vec<Vec<u32>>, Vec<u32>)> {
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq, None),
    };
    let terms: Vec<Term> = lhs
        .split(',')
        .map(|t| parse_term(t, eq))
        .collect::<Result<_>>()?;
    ensure!(
        terms.len() == ranks.len(),
        "Einsum: equation '{eq}' has {} operands but {} inputs were given",
        terms.len(),
        ranks.len()
    );
    let mut ell_ranks = Vec::new();
    for (t, &r) in terms.iter().zip(ranks) {
        let n = t.letters.len();
        match t.ellipsis {
            None => ensure!(
                n == r,
                "Einsum: term with {n} labels in '{eq}' given an input of rank {r}"
            ),
            Some(_) => ensure!(
                n <= r,
                "Einsum: term with {n} labels in '{eq}' given an input of rank {r}"
            ),
        }
        ell_ranks.push(r - n);
    }
    let max_e = ell_ranks.iter().copied().max().unwrap_or(0);
    let inputs: Vec<Vec<u32>> = terms
        .iter()
        .zip(&ell_ranks)
        .map(|(t, &e)| t.expand(e, max_e))
        .collect();
    let output = match rhs {
        Some(r) => {
            let t = parse_term(r, eq)?;
            let out = t.expand(max_e, max_e);
            for (i, l) in out.iter().enumerate() {
                ensure!(
                    !out[..i].contains(l),
                    "Einsum: output label repeated in '{eq}'"
                );
                ensure!(
                    *l >= ELL || inputs.iter().any(|x| x.contains(l)),
                    "Einsum: output label '{}' not in any input of '{eq}'",
                    char::from_u32(*l).unwrap_or('?')
                );
            }
            out
        }
        None => {
            let mut out: Vec<u32> = (0..max_e).map(|i| ELL + i as u32).collect();
            let mut letters: Vec<u32> = inputs
                .iter()
                .flatten()
                .copied()
                .filter(|&l| l < ELL)
                .collect();
            letters.sort_unstable();
            for &l in &letters {
                if letters.iter().filter(|&&x| x == l).count() == 1 {
                    out.push(l);
                }
            }
            out
        }
    };
    Ok((inputs, output))
}

/// A dense operand with one label per dim (no repeats).
struct Operand<T> {
    labels: Vec<u32>,
    shape: Vec<usize>,
    data: Vec<T>,
}

impl<T: GemmScalar> Operand<T> {
    /// Copies the operand with dims in `order`, each of size `sizes[i]` (a dim of size 1, or
    /// a label the operand lacks, broadcasts).
    fn permuted(&self, order: &[u32], sizes: &[usize]) -> Vec<T> {
        let st = strides(&self.shape);
        let ps: Vec<usize> = order
            .iter()
            .map(|l| match self.labels.iter().position(|x| x == l) {
                Some(i) if self.shape[i] != 1 => st[i],
                _ => 0,
            })
            .collect();
        let mut out = Vec::with_capacity(numel(sizes));
        for_each_broadcast(sizes, &[ps], |_, o| out.push(self.data[o[0]]));
        out
    }

    /// Sums out every label in `drop`.
    fn sum_out(self, drop: &[u32]) -> Operand<T> {
        if !self.labels.iter().any(|l| drop.contains(l)) {
            return self;
        }
        let (mut keep, mut gone) = (Vec::new(), Vec::new());
        for (i, &l) in self.labels.iter().enumerate() {
            if drop.contains(&l) {
                gone.push(i);
            } else {
                keep.push(i);
            }
        }
        let order: Vec<u32> = keep.iter().chain(&gone).map(|&i| self.labels[i]).collect();
        let sizes: Vec<usize> = keep.iter().chain(&gone).map(|&i| self.shape[i]).collect();
        let rows: usize = keep.iter().map(|&i| self.shape[i]).product();
        let k: usize = gone.iter().map(|&i| self.shape[i]).product();
        let p = self.permuted(&order, &sizes);
        let ones = vec![T::one(); k];
        let mut data = vec![T::zero(); rows];
        // row sums as a [rows, k] x [k, 1] product
        T::gemm(
            rows,
            1,
            k,
            &p,
            row_major(k),
            &ones,
            row_major(1),
            &mut data,
            1,
            T::one(),
            T::zero(),
            true,
        );
        Operand {
            labels: keep.iter().map(|&i| self.labels[i]).collect(),
            shape: keep.iter().map(|&i| self.shape[i]).collect(),
            data,
        }
    }
}

/// Takes the diagonal over repeated labels of one input.
fn diagonal<T: GemmScalar>(t: &Tensor, labels: &[u32]) -> Result<Operand<T>> {
    let src = t.as_slice::<T>()?;
    let st = strides(t.shape());
    let (mut ul, mut us, mut ust) = (Vec::new(), Vec::<usize>::new(), Vec::<usize>::new());
    for (i, &l) in labels.iter().enumerate() {
        match ul.iter().position(|&x| x == l) {
            Some(j) => {
                ensure!(
                    us[j] == t.shape()[i],
                    "Einsum: repeated label '{}' has sizes {} and {}",
                    char::from_u32(l).unwrap_or('?'),
                    us[j],
                    t.shape()[i]
                );
                ust[j] += st[i];
            }
            None => {
                ul.push(l);
                us.push(t.shape()[i]);
                ust.push(st[i]);
            }
        }
    }
    let data = if ul.len() == labels.len() {
        src.to_vec()
    } else {
        let mut v = Vec::with_capacity(numel(&us));
        for_each_broadcast(&us, &[ust], |_, o| v.push(src[o[0]]));
        v
    };
    Ok(Operand {
        labels: ul,
        shape: us,
        data,
    })
}

fn contract<T: GemmScalar>(
    a: Operand<T>,
    b: Operand<T>,
    keep: &[u32],
    size: &BTreeMap<u32, usize>,
) -> Operand<T> {
    let a_only: Vec<u32> = a
        .labels
        .iter()
        .copied()
        .filter(|l| !b.labels.contains(l) && !keep.contains(l))
        .collect();
    let b_only: Vec<u32> = b
        .labels
        .iter()
        .copied()
        .filter(|l| !a.labels.contains(l) && !keep.contains(l))
        .collect();
    let a = a.sum_out(&a_only);
    let b = b.sum_out(&b_only);
    let batch: Vec<u32> = a
        .labels
        .iter()
        .copied()
        .filter(|l| b.labels.contains(l) && keep.contains(l))
        .collect();
    let contr: Vec<u32> = a
        .labels
        .iter()
        .copied()
        .filter(|l| b.labels.contains(l) && !keep.contains(l))
        .collect();
    let left: Vec<u32> = a
        .labels
        .iter()
        .copied()
        .filter(|l| !b.labels.contains(l))
        .collect();
    let right: Vec<u32> = b
        .labels
        .iter()
        .copied()
        .filter(|l| !a.labels.contains(l))
        .collect();
    let sz = |ls: &[u32]| -> Vec<usize> { ls.iter().map(|l| size[l]).collect() };
    let (nb, m, k, n) = (
        numel(&sz(&batch)),
        numel(&sz(&left)),
        numel(&sz(&contr)),
        numel(&sz(&right)),
    );
    let oa: Vec<u32> = batch.iter().chain(&left).chain(&contr).copied().collect();
    let ob: Vec<u32> = batch.iter().chain(&contr).chain(&right).copied().collect();
    let pa = a.permuted(&oa, &sz(&oa));
    let pb = b.permuted(&ob, &sz(&ob));
    let mut data = vec![T::zero(); nb * m * n];
    if k > 0 {
        let a_off: Vec<usize> = (0..nb).map(|i| i * m * k).collect();
        let b_off: Vec<usize> = (0..nb).map(|i| i * k * n).collect();
        batched_gemm(
            m,
            n,
            k,
            &pa,
            row_major(k),
            &a_off,
            &pb,
            row_major(n),
            &b_off,
            &mut data,
        );
    }
    let labels: Vec<u32> = batch.iter().chain(&left).chain(&right).copied().collect();
    Operand {
        shape: sz(&labels),
        labels,
        data,
    }
}

/// Each label's size over the inputs' `shapes` (labels per input from [`parse`]): a dim of
/// size 1 takes the other inputs' size (broadcast); an output label no input has is 1.
pub fn label_sizes(
    eq: &str,
    shapes: &[&[usize]],
    inputs: &[Vec<u32>],
    output: &[u32],
) -> Result<BTreeMap<u32, usize>> {
    let mut size: BTreeMap<u32, usize> = BTreeMap::new();
    for (sh, ls) in shapes.iter().zip(inputs) {
        for (&l, &d) in ls.iter().zip(sh.iter()) {
            let e = size.entry(l).or_insert(d);
            if *e == 1 {
                *e = d;
            } else if d != *e && d != 1 {
                return Err(Error::shape(format!(
                    "Einsum '{eq}': label size {d} conflicts with {e}"
                )));
            }
        }
    }
    for l in output {
        size.entry(*l).or_insert(1);
    }
    Ok(size)
}

fn run<T: GemmScalar>(eq: &str, xs: &[&Tensor]) -> Result<Tensor> {
    let ranks: Vec<usize> = xs.iter().map(|x| x.rank()).collect();
    let (inputs, output) = parse(eq, &ranks)?;
    let shapes: Vec<&[usize]> = xs.iter().map(|x| x.shape()).collect();
    let size = label_sizes(eq, &shapes, &inputs, &output)?;
    let mut acc: Option<Operand<T>> = None;
    for (i, (x, ls)) in xs.iter().zip(&inputs).enumerate() {
        // labels still needed after operand i: the output's and those of later operands
        let mut keep = output.clone();
        keep.extend(inputs[i + 1..].iter().flatten());
        let op = diagonal::<T>(x, ls)?;
        acc = Some(match acc {
            None => {
                let mut k2 = keep.clone();
                k2.extend(inputs[..i].iter().flatten());
                let drop: Vec<u32> = op
                    .labels
                    .iter()
                    .copied()
                    .filter(|l| !k2.contains(l))
                    .collect();
                op.sum_out(&drop)
            }
            Some(a) => contract(a, op, &keep, &size),
        });
    }
    let acc = acc.ok_or_else(|| Error::invalid("Einsum needs at least one input"))?;
    let drop: Vec<u32> = acc
        .labels
        .iter()
        .copied()
        .filter(|l| !output.contains(l))
        .collect();
    let acc = acc.sum_out(&drop);
    let out_shape: Vec<usize> = output.iter().map(|l| size[l]).collect();
    let data = acc.permuted(&output, &out_shape);
    Tensor::from_vec(out_shape, data)
}

impl Op for Einsum {
    fn op_type(&self) -> &str {
        "Einsum"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let xs: Vec<&Tensor> = inputs
            .iter()
            .enumerate()
            .map(|(i, _)| req(&inputs, i))
            .collect::<Result<_>>()?;
        let dt = xs
            .first()
            .map(|x| x.dtype())
            .ok_or_else(|| Error::invalid("Einsum needs at least one input"))?;
        ensure!(
            xs.iter().all(|x| x.dtype() == dt),
            "Einsum: inputs have different dtypes"
        );
        let y = dispatch_numeric!(dt, T => run::<T>(&self.equation, &xs)?, other => return Err(Error::dtype(other, "Einsum")));
        Ok(vec![y])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn t(shape: &[usize], v: Vec<f64>) -> Tensor {
        Tensor::from_vec(shape.to_vec(), v).unwrap()
    }
    #[test]
    fn equations() {
        let a = t(&[2, 3], vec![1., 2., 3., 4., 5., 6.]);
        let b = t(&[3, 2], vec![1., -1., 2., 0., 0.5, 3.]);
        let mm = run::<f64>("ij,jk->ik", &[&a, &b]).unwrap();
        assert_eq!(mm.as_slice::<f64>().unwrap(), &[6.5, 8., 17., 14.]);
        let imp = run::<f64>("ij,jk", &[&a, &b]).unwrap();
        assert_eq!(imp, mm);
        let tr = run::<f64>("ij->ji", &[&a]).unwrap();
        assert_eq!(tr.as_slice::<f64>().unwrap(), &[1., 4., 2., 5., 3., 6.]);
        let sq = t(&[2, 2], vec![1., 2., 3., 4.]);
        assert_eq!(
            run::<f64>("ii", &[&sq]).unwrap().as_slice::<f64>().unwrap(),
            &[5.]
        );
        assert_eq!(
            run::<f64>("ii->i", &[&sq])
                .unwrap()
                .as_slice::<f64>()
                .unwrap(),
            &[1., 4.]
        );
        let outer =
            run::<f64>("i,j->ij", &[&t(&[2], vec![1., 2.]), &t(&[2], vec![3., 4.])]).unwrap();
        assert_eq!(outer.as_slice::<f64>().unwrap(), &[3., 4., 6., 8.]);
        let three = run::<f64>("ij,jk,k->i", &[&a, &b, &t(&[2], vec![1., 1.])]).unwrap();
        assert_eq!(three.as_slice::<f64>().unwrap(), &[14.5, 31.]);
        let ell = run::<f64>("...j,jk->...k", &[&a, &b]).unwrap();
        assert_eq!(ell, mm);
        assert!(run::<f64>("ij,jk->ik", &[&a, &a]).is_err());
        assert!(run::<f64>("ij->k", &[&a]).is_err());
        assert!(run::<f64>("ijk->i", &[&a]).is_err());
    }
}
