//! DFT and the window generators (Hann, Hamming, Blackman), after the CPU ops in
//! `smelt_ops::signal`.
//!
//! DFT: X [batch.., signal.., C] (C = 1 real, 2 complex), transformed along one non-last
//! axis, zero-padded or cut to `dft_length` (input 1, host); forward gives C = 2 (n, or
//! n/2+1 with `onesided`); inverse is scaled by 1/n, and with `onesided` takes a half
//! spectrum and gives the real signal (C = 1). The axis is the `axis` attribute (opsets
//! 17-19, default 1) or input 2 (opset 20, default -2); placement does not know the opset,
//! so the CPU op's resolved axis is read from it (where that fails, a node with neither,
//! where the two defaults name different dims, is refused at run time). The GPU sums the naive O(n^2) transform in f64 (the CPU uses an FFT for powers of
//! two). f32 only.
//!
//! Windows: `size` (input 0, host) samples of f32 (`output_datatype` must be 1).

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Attributes;

#[derive(Clone, Debug, PartialEq)]
pub struct DftAttrs {
    /// The axis attribute (opsets 17-19, with its default), None from opset 20 (input 2,
    /// default -2).
    pub axis: Option<i64>,
    pub inverse: bool,
    pub onesided: bool,
}

impl DftAttrs {
    /// The attributes of a DFT node of `opset` (its axis rule is the CPU op's).
    pub fn parse(a: &Attributes, opset: i64) -> Result<DftAttrs> {
        Ok(DftAttrs {
            axis: smelt_ops::signal::dft::axis_attr(opset, a)?,
            inverse: a.int_or("inverse", 0)? != 0,
            onesided: a.int_or("onesided", 0)? != 0,
        })
    }
}

/// The DFT kernel's parameter block (`DftParams` in signal.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DftParams {
    pub outer: i32,
    pub in_len: i32,
    pub inner: i32,
    pub c: i32,
    pub n: i32,
    pub out_len: i32,
    pub out_c: i32,
    pub inverse: i32,
    pub real_out: i32,
    /// total output elements
    pub total: i32,
}

/// Plans a DFT of `x` with the host inputs dft_length and axis; returns the block and the
/// output shape.
pub fn dft(
    a: &DftAttrs,
    x: &[usize],
    dft_length: Option<i64>,
    axis_in: Option<i64>,
) -> Result<(DftParams, Vec<usize>)> {
    let rank = x.len();
    if rank < 2 || !(x[rank - 1] == 1 || x[rank - 1] == 2) {
        return Err(Error::invalid(format!(
            "DFT: input {x:?} needs a signal dim and a trailing dim of 1 or 2"
        )));
    }
    let axis = match (a.axis, axis_in) {
        (Some(v), _) => v,
        (None, Some(v)) => v,
        (None, None) => -2,
    };
    let ax = if axis < 0 { axis + rank as i64 } else { axis };
    if ax < 0 || ax >= rank as i64 - 1 {
        return Err(Error::invalid(format!(
            "DFT: axis {axis} out of range for input rank {rank}"
        )));
    }
    let ax = ax as usize;
    let in_len = x[ax];
    let n = match dft_length {
        Some(n) if n >= 1 => n as usize,
        Some(n) => {
            return Err(Error::invalid(format!(
                "DFT: dft_length must be positive, got {n}"
            )))
        }
        None if a.inverse && a.onesided => 2 * in_len.saturating_sub(1),
        None => in_len,
    };
    if n == 0 {
        return Err(Error::invalid("DFT: transform length is 0"));
    }
    let real_out = a.inverse && a.onesided;
    let out_len = if real_out || !a.onesided {
        n
    } else {
        n / 2 + 1
    };
    let out_c = if real_out { 1 } else { 2 };
    let outer: usize = x[..ax].iter().product();
    let inner: usize = x[ax + 1..rank - 1].iter().product();
    let mut out = x.to_vec();
    out[ax] = out_len;
    out[rank - 1] = out_c;
    let total = i32_of(out.iter().product(), "DFT output elements")?;
    i32_of(x.iter().product(), "DFT input elements")?;
    i32_of(n * n, "DFT length squared")?;
    Ok((
        DftParams {
            outer: outer as i32,
            in_len: in_len as i32,
            inner: inner as i32,
            c: x[rank - 1] as i32,
            n: n as i32,
            out_len: out_len as i32,
            out_c: out_c as i32,
            inverse: a.inverse as i32,
            real_out: real_out as i32,
            total,
        },
        out,
    ))
}

/// A window generator: 0 Hann, 1 Hamming, 2 Blackman.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowAttrs {
    pub kind: i32,
    pub periodic: bool,
}

impl WindowAttrs {
    pub fn parse(op: &str, a: &Attributes) -> Result<WindowAttrs> {
        let dt = a.int_or("output_datatype", 1)?;
        if dt != 1 {
            return Err(Error::unsupported(
                op,
                format!("output_datatype {dt} (the GPU makes f32)"),
            ));
        }
        Ok(WindowAttrs {
            kind: match op {
                "HannWindow" => 0,
                "HammingWindow" => 1,
                _ => 2,
            },
            periodic: a.int_or("periodic", 1)? != 0,
        })
    }
}
