//! STFT (opset 17): short-time Fourier transform.
//!
//! signal: [B, L, C] (C = 1 real, 2 complex); frame_step: int scalar; window: optional [W];
//! frame_length: optional int scalar (default W, or L without a window). Frames start at
//! f·frame_step, f < 1 + (L − frame_length)/frame_step; each is multiplied by the window
//! (ones when absent) and transformed with a DFT of length frame_length.
//! Output: [B, frames, bins, 2] with bins = frame_length/2 + 1 when `onesided` (default 1),
//! else frame_length.

use crate::prelude::*;
use crate::signal::{dft::dft_inplace, dft::scalar_i64, ensure_float, from_f64};

#[derive(Debug)]
pub struct Stft {
    onesided: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "STFT", |c| {
        Ok(Box::new(Stft {
            onesided: c.attrs.int_or("onesided", 1)? != 0,
        }))
    });
}

impl Op for Stft {
    fn op_type(&self) -> &str {
        "STFT"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure_float(x, "STFT signal")?;
        let sh = x.shape();
        ensure!(
            sh.len() == 3 && (sh[2] == 1 || sh[2] == 2),
            "STFT: signal must be [batch, length, 1 or 2], got {sh:?}"
        );
        let (b, l, c) = (sh[0], sh[1], sh[2]);
        let step = scalar_i64(req(&inputs, 1)?, "STFT frame_step")?;
        ensure!(step >= 1, "STFT: frame_step must be positive, got {step}");
        let step = step as usize;
        let window = opt(&inputs, 2)
            .map(|w| w.to_f64_vec().map(|v| (v, w.shape().to_vec())))
            .transpose()?;
        let fl = match opt(&inputs, 3) {
            Some(t) => {
                let f = scalar_i64(t, "STFT frame_length")?;
                ensure!(f >= 1, "STFT: frame_length must be positive, got {f}");
                f as usize
            }
            None => window.as_ref().map_or(l, |w| w.0.len()),
        };
        let win = match window {
            Some((w, ws)) => {
                ensure!(
                    ws.len() == 1 && w.len() == fl,
                    "STFT: window shape {ws:?} must be [{fl}] (frame_length)"
                );
                w
            }
            None => vec![1.0; fl],
        };
        ensure!(fl <= l, "STFT: frame_length {fl} exceeds signal length {l}");
        let frames = 1 + (l - fl) / step;
        let bins = if self.onesided { fl / 2 + 1 } else { fl };
        let xv = x.to_f64_vec()?;
        let mut out = vec![0.0; b * frames * bins * 2];
        let (mut re, mut im) = (vec![0.0; fl], vec![0.0; fl]);
        for bi in 0..b {
            for f in 0..frames {
                for t in 0..fl {
                    let src = (bi * l + f * step + t) * c;
                    re[t] = xv[src] * win[t];
                    im[t] = if c == 2 { xv[src + 1] * win[t] } else { 0.0 };
                }
                dft_inplace(&mut re, &mut im, false);
                for k in 0..bins {
                    let dst = ((bi * frames + f) * bins + k) * 2;
                    out[dst] = re[k];
                    out[dst + 1] = im[k];
                }
            }
        }
        Ok(vec![from_f64(x.dtype(), vec![b, frames, bins, 2], out)?])
    }
}
