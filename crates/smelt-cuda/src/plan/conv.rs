//! Conv (1-d and 2-d, NCHW): attributes parsed with the CPU op's window rules
//! (`smelt_ops::nn::spatial`), so both backends agree on output sizes and padding.

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Attributes;
use smelt_ops::nn::spatial::WindowAttrs;

#[derive(Clone, Debug)]
pub struct ConvAttrs {
    pub window: WindowAttrs,
    pub groups: usize,
}

impl ConvAttrs {
    pub fn parse(a: &Attributes) -> Result<ConvAttrs> {
        let groups = a.int_or("group", 1)?;
        if groups < 1 {
            return Err(Error::invalid(format!("group {groups} < 1")));
        }
        Ok(ConvAttrs {
            window: WindowAttrs::parse(a)?,
            groups: groups as usize,
        })
    }
}

/// The kernels' parameter block (`ConvP` in conv.cu). A 1-d conv has h = oh = kh = 1.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvParams {
    pub n: i32,
    pub c: i32,
    pub h: i32,
    pub w: i32,
    pub m: i32,
    pub oh: i32,
    pub ow: i32,
    pub kh: i32,
    pub kw: i32,
    pub sh: i32,
    pub sw: i32,
    pub ph: i32,
    pub pw: i32,
    pub dh: i32,
    pub dw: i32,
    pub groups: i32,
}

impl ConvParams {
    /// Rows of the im2col matrix (c * kh * kw) and its columns (oh * ow), per image.
    pub fn col_dims(&self) -> (usize, usize) {
        (
            (self.c * self.kh * self.kw) as usize,
            (self.oh * self.ow) as usize,
        )
    }
}

/// Plans Conv of x [N, C, (H,) W] with weights [M, C/groups, (kh,) kw].
/// Returns the parameters and the output shape.
pub fn plan(a: &ConvAttrs, x: &[usize], w: &[usize]) -> Result<(ConvParams, Vec<usize>)> {
    if !(x.len() == 3 || x.len() == 4) || w.len() != x.len() {
        return Err(Error::unsupported(
            "Conv",
            format!("GPU conv is 1-d or 2-d; input {x:?}, weights {w:?}"),
        ));
    }
    let sp = &x[2..];
    let g = a
        .window
        .resolve(sp, &a.window.kernel(sp.len(), Some(&w[2..]))?)?;
    let (n, c, m) = (x[0], x[1], w[0]);
    if c % a.groups != 0 || m % a.groups != 0 || w[1] * a.groups != c {
        return Err(Error::shape(format!(
            "Conv: input channels {c}, weights {w:?} and group {} disagree",
            a.groups
        )));
    }
    // 1-d: a 2-d conv over height 1
    let two = |v: &[usize], one: usize| -> (usize, usize) {
        if v.len() == 2 {
            (v[0], v[1])
        } else {
            (one, v[0])
        }
    };
    let (h, wd) = two(&g.input, 1);
    let (oh, ow) = two(&g.output, 1);
    let (kh, kw) = two(&g.kernel, 1);
    let (sh, sw) = two(&g.strides, 1);
    let (ph, pw) = two(&g.pads_begin, 0);
    let (dh, dw) = two(&g.dilations, 1);
    let mut out = vec![n, m];
    out.extend(&g.output);
    let total: usize = out.iter().product();
    i32_of(total, "Conv output size")?;
    i32_of(n * c * h * wd, "Conv input size")?;
    i32_of(n * c * kh * kw * oh * ow, "im2col size")?;
    let p = ConvParams {
        n: n as i32,
        c: c as i32,
        h: h as i32,
        w: wd as i32,
        m: m as i32,
        oh: oh as i32,
        ow: ow as i32,
        kh: kh as i32,
        kw: kw as i32,
        sh: sh as i32,
        sw: sw as i32,
        ph: ph as i32,
        pw: pw as i32,
        dh: dh as i32,
        dw: dw as i32,
        groups: a.groups as i32,
    };
    Ok((p, out))
}
