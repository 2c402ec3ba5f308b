//! Image helpers for the demo: separable bilinear resampling with the same filter as PIL's
//! `Image.resize(..., BILINEAR)` (a triangle widened by the scale factor when shrinking, so
//! downscaling averages instead of skipping pixels).

/// Weights of one output coordinate: (first input index, weights).
fn weights(in_size: usize, out_size: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = in_size as f64 / out_size as f64;
    let fscale = scale.max(1.0);
    let support = fscale; // triangle support 1, widened when shrinking
    (0..out_size)
        .map(|o| {
            let center = (o as f64 + 0.5) * scale;
            let lo = ((center - support + 0.5).floor().max(0.0)) as usize;
            let hi = (((center + support + 0.5).floor()) as usize).min(in_size);
            let mut w: Vec<f32> = (lo..hi)
                .map(|i| {
                    let x = ((i as f64 - center + 0.5) / fscale).abs();
                    if x < 1.0 {
                        (1.0 - x) as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            let sum: f32 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|x| *x /= sum);
            }
            (lo, w)
        })
        .collect()
}

/// Resizes an interleaved `[h, w, c]` image to `[oh, ow, c]`. Sizes must be non-zero.
pub fn resize_bilinear(
    src: &[f32],
    h: usize,
    w: usize,
    c: usize,
    oh: usize,
    ow: usize,
) -> Vec<f32> {
    debug_assert_eq!(src.len(), h * w * c);
    let wx = weights(w, ow);
    let wy = weights(h, oh);
    // Horizontal pass: [h, ow, c].
    let mut tmp = vec![0f32; h * ow * c];
    for y in 0..h {
        for (ox, (lo, ws)) in wx.iter().enumerate() {
            for ch in 0..c {
                let mut acc = 0f32;
                for (k, &wt) in ws.iter().enumerate() {
                    acc += wt * src[(y * w + lo + k) * c + ch];
                }
                tmp[(y * ow + ox) * c + ch] = acc;
            }
        }
    }
    // Vertical pass: [oh, ow, c].
    let mut out = vec![0f32; oh * ow * c];
    for (oy, (lo, ws)) in wy.iter().enumerate() {
        for x in 0..ow * c {
            let mut acc = 0f32;
            for (k, &wt) in ws.iter().enumerate() {
                acc += wt * tmp[(lo + k) * ow * c + x];
            }
            out[oy * ow * c + x] = acc;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_constant() {
        let src: Vec<f32> = (0..33 * 31 * 3).map(|i| ((i * 37) % 255) as f32).collect();
        assert_eq!(resize_bilinear(&src, 33, 31, 3, 33, 31), src);
        let flat = vec![7.0f32; 20 * 32];
        for (oh, ow) in [(48, 77), (5, 3), (1, 1)] {
            assert!(resize_bilinear(&flat, 20, 32, 1, oh, ow)
                .iter()
                .all(|&x| (x - 7.0).abs() < 1e-4));
        }
    }

    #[test]
    fn matches_pil() {
        // PIL: Image.fromarray(a, 'F').resize((w, h), BILINEAR).
        let out = resize_bilinear(&[0.0, 2.0, 4.0, 6.0], 1, 4, 1, 1, 2);
        assert!(
            (out[0] - 1.4285715).abs() < 1e-5 && (out[1] - 4.571429).abs() < 1e-5,
            "{out:?}"
        );
        let src: Vec<f32> = (0..35).map(|i| (i as f32).powf(1.5)).collect();
        let out = resize_bilinear(&src, 5, 7, 1, 11, 3);
        let pil = [
            1.034663, 5.403948, 11.754766, 4.86428, 10.191332, 17.321754, 14.438323, 22.159794,
        ];
        for (a, b) in out.iter().zip(pil) {
            assert!((a - b).abs() < 1e-4, "{out:?}");
        }
    }
}
