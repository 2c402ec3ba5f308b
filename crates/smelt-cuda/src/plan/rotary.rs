//! RotaryEmbedding (opset 23), after the CPU op (`smelt_ops::text::rotary_embedding`):
//! X (B, H, S, D) or (B, S, H*D) with `num_heads`; cos/sin caches (max_pos, R/2) indexed by
//! position_ids (B, S) (read on the host and checked there), or (B, S, R/2) without them.
//! The first R = `rotary_embedding_dim` (0: D) features of each head are rotated in pairs
//! (x[k], x[k + R/2]) or, `interleaved`, (x[2k], x[2k+1]); the rest pass through. f32.

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Attributes;

#[derive(Clone, Debug, PartialEq)]
pub struct RotaryAttrs {
    pub interleaved: bool,
    pub rot_dim: usize,
    pub num_heads: usize,
}

impl RotaryAttrs {
    pub fn parse(a: &Attributes) -> Result<RotaryAttrs> {
        let rd = a.int_or("rotary_embedding_dim", 0)?;
        let nh = a.int_or("num_heads", 0)?;
        if rd < 0 || nh < 0 {
            return Err(Error::invalid(
                "RotaryEmbedding: rotary_embedding_dim and num_heads must be >= 0",
            ));
        }
        Ok(RotaryAttrs {
            interleaved: a.int_or("interleaved", 0)? != 0,
            rot_dim: rd as usize,
            num_heads: nh as usize,
        })
    }
}

/// The kernel's parameter block (`RopeParams` in sequence.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RopeParams {
    pub n: i32,
    pub b: i32,
    pub s: i32,
    pub h: i32,
    pub d: i32,
    pub half: i32,
    pub three_d: i32,
    pub interleaved: i32,
    /// cache row offsets per (b, s) are given (from position_ids)
    pub has_rows: i32,
}

/// Plans one RotaryEmbedding; returns the block and, with position_ids, the cache row
/// offset (id * R/2) of each (b, s).
pub fn plan(
    a: &RotaryAttrs,
    x: &[usize],
    cos: &[usize],
    sin: &[usize],
    pos: Option<&[i64]>,
) -> Result<(RopeParams, Option<Vec<i32>>)> {
    let bad = |m: String| Err(Error::invalid(format!("RotaryEmbedding: {m}")));
    let (b, s, h, d) = match x.len() {
        4 => (x[0], x[2], x[1], x[3]),
        3 => {
            if a.num_heads == 0 || !x[2].is_multiple_of(a.num_heads) {
                return bad(format!(
                    "3-D input {x:?} needs a num_heads dividing its hidden size"
                ));
            }
            (x[0], x[1], a.num_heads, x[2] / a.num_heads)
        }
        r => return bad(format!("input must be 3-D or 4-D, got rank {r}")),
    };
    let rd = if a.rot_dim == 0 { d } else { a.rot_dim };
    if rd > d || rd % 2 != 0 {
        return bad(format!(
            "rotary_embedding_dim {rd} must be even and <= head size {d}"
        ));
    }
    let half = rd / 2;
    if cos != sin || cos.last() != Some(&half) {
        return bad(format!("caches {cos:?} / {sin:?} do not fit R/2 = {half}"));
    }
    let rows = match pos {
        Some(p) => {
            if p.len() != b * s || cos.len() != 2 {
                return bad("position_ids must be [B, S] with 2-D caches".into());
            }
            let maxp = cos[0];
            let mut rows = Vec::with_capacity(p.len());
            for &id in p {
                if id < 0 || id as usize >= maxp {
                    return bad(format!("position id {id} out of range 0..{maxp}"));
                }
                rows.push(i32_of(id as usize * half, "cache offset")?);
            }
            Some(rows)
        }
        None => {
            if cos != [b, s, half] {
                return bad(format!(
                    "without position_ids the caches must be [{b}, {s}, {half}]"
                ));
            }
            None
        }
    };
    let n = i32_of(x.iter().product(), "element count")?;
    i32_of(cos.iter().product(), "cache elements")?;
    let i = |v: usize| v as i32;
    Ok((
        RopeParams {
            n,
            b: i(b),
            s: i(s),
            h: i(h),
            d: i(d),
            half: i(half),
            three_d: (x.len() == 3) as i32,
            interleaved: a.interleaved as i32,
            has_rows: rows.is_some() as i32,
        },
        rows,
    ))
}
