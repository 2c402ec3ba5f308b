//! Einsum through the CPU op's equation parser (`smelt_ops::linalg::einsum::parse`): one
//! thread per output element sums, over every combination of the contracted labels, the
//! product of the inputs at their offsets. A label's stride in an input is the sum of the
//! strides of the dims it names (repeated labels take diagonals) and 0 on size-1 dims
//! (broadcast). Up to 4 inputs, 8 output and 8 contracted labels; f32. The CPU contracts
//! pairwise through GEMMs, so sums come in another order.

use super::i32_of;
use smelt_core::{Error, Result};

pub const MAX_IN: usize = 4;
const MAX_L: usize = 8;

/// The kernel's parameter block (`EinsumParams` in signal.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EinsumParams {
    pub nin: i32,
    pub nout: i32,
    pub ncon: i32,
    pub out_dims: [i32; MAX_L],
    pub con_dims: [i32; MAX_L],
    pub ostr: [[i32; MAX_L]; MAX_IN],
    pub cstr: [[i32; MAX_L]; MAX_IN],
    /// output elements, contracted combinations
    pub total: i32,
    pub ncomb: i32,
}

/// Plans `equation` over inputs of `shapes`; returns the block and the output shape.
pub fn plan(equation: &str, shapes: &[&[usize]]) -> Result<(EinsumParams, Vec<usize>)> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    if shapes.is_empty() || shapes.len() > MAX_IN {
        return Err(Error::unsupported(
            "Einsum",
            format!("{} inputs on the GPU (1..={MAX_IN})", shapes.len()),
        ));
    }
    let ranks: Vec<usize> = shapes.iter().map(|s| s.len()).collect();
    let (inputs, output) = smelt_ops::linalg::einsum::parse(&eq, &ranks)?;
    let size = smelt_ops::linalg::einsum::label_sizes(&eq, shapes, &inputs, &output)?;
    let con: Vec<u32> = size
        .keys()
        .copied()
        .filter(|l| !output.contains(l))
        .collect();
    if output.len() > MAX_L || con.len() > MAX_L {
        return Err(Error::unsupported(
            "Einsum",
            format!(
                "{} output / {} summed labels on the GPU",
                output.len(),
                con.len()
            ),
        ));
    }
    let mut p = EinsumParams {
        nin: shapes.len() as i32,
        nout: output.len() as i32,
        ncon: con.len() as i32,
        ..Default::default()
    };
    let out_shape: Vec<usize> = output.iter().map(|l| size[l]).collect();
    let ncomb: usize = con.iter().map(|l| size[l]).product();
    p.total = i32_of(out_shape.iter().product(), "Einsum output elements")?;
    p.ncomb = i32_of(ncomb, "Einsum summed combinations")?;
    for (i, l) in output.iter().enumerate() {
        p.out_dims[i] = size[l] as i32;
    }
    for (i, l) in con.iter().enumerate() {
        p.con_dims[i] = size[l] as i32;
    }
    for (k, (sh, ls)) in shapes.iter().zip(&inputs).enumerate() {
        i32_of(sh.iter().product(), "Einsum input elements")?;
        let st = super::dense_strides(sh);
        let stride_of = |l: u32| -> i32 {
            ls.iter()
                .zip(sh.iter())
                .zip(&st)
                .filter(|((&x, &d), _)| x == l && d != 1)
                .map(|(_, &s)| s as i32)
                .sum()
        };
        for (i, &l) in output.iter().enumerate() {
            p.ostr[k][i] = stride_of(l);
        }
        for (i, &l) in con.iter().enumerate() {
            p.cstr[k][i] = stride_of(l);
        }
    }
    Ok((p, out_shape))
}
