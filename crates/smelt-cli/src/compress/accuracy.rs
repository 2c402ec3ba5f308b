//! What `smelt compress` prints of a measured accuracy: one line per output and per weight
//! probed, and the warning when an output's SNR is under `--warn-snr`.

use crate::compare::fmt_db;
use crate::run::fmt_num;
use smelt::compress::Accuracy;

/// The printed lines of a measured accuracy: one per output, then one per weight probed.
pub(super) fn accuracy_lines(acc: &Accuracy) -> Vec<String> {
    let width = acc
        .outputs
        .iter()
        .map(|o| o.name.len())
        .chain(acc.weights.iter().map(|w| w.name.len()))
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for o in &acc.outputs {
        let ty = format!("{}{:?}", o.dtype, o.shape).replace(' ', "");
        let mut l = format!("output  {:<width$}  {ty}", o.name);
        if !o.is_float() {
            l += &format!("  exact {:.2}%", 100.0 * o.exact);
        } else if o.finite > 0 {
            l += &format!(
                "  snr {} dB  cosine {:.6}  max abs {}",
                fmt_db(o.snr_db),
                o.cosine,
                fmt_num(o.max_abs)
            );
        }
        if o.nonfinite_original + o.nonfinite_compressed > 0 {
            l += &format!(
                "  NaN/inf: original {}/{n}, compressed {}/{n}",
                o.nonfinite_original,
                o.nonfinite_compressed,
                n = o.values
            );
        }
        if let Some((agree, rows)) = o.top1 {
            l += &format!(
                "  top-1 agree {agree}/{rows} ({:.1}%)",
                100.0 * agree as f64 / rows.max(1) as f64
            );
        }
        lines.push(l);
    }
    for w in &acc.weights {
        lines.push(format!(
            "alone   {:<width$}  weight snr {} dB  output snr {} dB",
            w.name,
            fmt_db(w.weight_snr_db),
            fmt_db(w.output_snr_db)
        ));
    }
    lines
}

/// The warning for float outputs under `warn_db` (or with NaN or infinite values the
/// original does not have), naming the costliest weights probed.
pub(super) fn accuracy_warning(acc: &Accuracy, warn_db: f64) -> Option<String> {
    let mut bad = Vec::new();
    let mut low = false;
    let mut unmeasured = false;
    for o in acc.outputs.iter().filter(|o| o.is_float()) {
        if o.finite == 0 {
            unmeasured = true;
            bad.push(format!(
                "'{}' has no finite value to compare (NaN/inf: {}/{} in the original)",
                o.name, o.nonfinite_original, o.values
            ));
            continue;
        }
        if o.nonfinite_compressed != o.nonfinite_original {
            bad.push(format!(
                "'{}' has {} NaN/inf values, the original {}",
                o.name, o.nonfinite_compressed, o.nonfinite_original
            ));
        }
        if !(o.snr_db >= warn_db) {
            low = true;
            bad.push(format!(
                "'{}' snr {} dB, cosine {:.3} (under --warn-snr {warn_db} dB)",
                o.name,
                fmt_db(o.snr_db),
                o.cosine
            ));
        }
    }
    if bad.is_empty() {
        return None;
    }
    let mut msg = format!(
        "warning: the compressed model's output is far from the original's: {}",
        bad.join("; ")
    );
    // the weights probed that alone cost more than the whole model may
    let costliest: Vec<String> = acc
        .weights
        .iter()
        .filter(|w| w.output_snr_db < warn_db)
        .take(3)
        .map(|w| format!("{} ({} dB alone)", w.name, fmt_db(w.output_snr_db)))
        .collect();
    if low && !costliest.is_empty() {
        msg += &format!(
            "; the weights that cost most: {}: leave them alone with --skip, or use more bits \
             or a finer granularity",
            costliest.join(", ")
        );
    } else if low && !acc.weights.is_empty() {
        msg += &format!(
            "; none of the {} weights of lowest weight SNR costs that much alone (the \
             costliest, {}, {} dB): the error adds up over many weights: use more bits or a \
             finer granularity",
            acc.weights.len(),
            acc.weights[0].name,
            fmt_db(acc.weights[0].output_snr_db)
        );
    }
    if unmeasured {
        msg += "; these inputs give NaN/inf in the original model: measure on real ones with \
                --calibration DIR";
    }
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smelt::compress::{OutputError, WeightCost};
    use smelt::DType;

    fn out(name: &str, snr_db: f64) -> OutputError {
        OutputError {
            name: name.into(),
            dtype: DType::F32,
            shape: vec![1, 40, 6625],
            values: 265000,
            finite: 265000,
            nonfinite_original: 0,
            nonfinite_compressed: 0,
            snr_db,
            cosine: 0.448,
            max_abs: 0.9,
            exact: 0.0,
            top1: Some((23, 40)),
        }
    }

    #[test]
    fn a_low_output_snr_warns_and_names_the_costliest_weights() {
        let acc = Accuracy {
            runs: 1,
            outputs: vec![out("probs", 0.34)],
            weights: vec![
                WeightCost {
                    name: "conv9.w".into(),
                    weight_snr_db: 9.0,
                    output_snr_db: 2.5,
                },
                WeightCost {
                    name: "fc.w".into(),
                    weight_snr_db: 8.0,
                    output_snr_db: 11.0,
                },
            ],
        };
        let w = accuracy_warning(&acc, 20.0).unwrap();
        assert!(w.starts_with("warning: "), "{w}");
        assert!(
            w.contains("'probs' snr 0.34 dB, cosine 0.448 (under --warn-snr 20 dB)"),
            "{w}"
        );
        assert!(
            w.contains(
                "the weights that cost most: conv9.w (2.50 dB alone), fc.w (11.00 dB alone):"
            ),
            "{w}"
        );
        // no weight probed costs that much alone: the error adds up
        let spread = Accuracy {
            outputs: vec![out("probs", 5.0)],
            weights: acc.weights[1..].to_vec(),
            ..acc.clone()
        };
        let w = accuracy_warning(&spread, 6.0).unwrap();
        assert!(
            w.contains(
                "none of the 1 weights of lowest weight SNR costs that much alone (the \
                 costliest, fc.w, 11.00 dB)"
            ),
            "{w}"
        );
        let l = accuracy_lines(&acc);
        assert!(l[0].contains("snr 0.34 dB  cosine 0.448000"), "{}", l[0]);
        assert!(l[0].ends_with("top-1 agree 23/40 (57.5%)"), "{}", l[0]);
        assert!(l[1].starts_with("alone   conv9.w"), "{}", l[1]);
        let good = Accuracy {
            outputs: vec![out("probs", 35.0)],
            ..acc.clone()
        };
        assert_eq!(accuracy_warning(&good, 20.0), None);
        assert!(accuracy_warning(&good, 40.0).is_some());
    }

    #[test]
    fn nan_outputs_are_never_fine() {
        // the original all NaN (random attention masks, say): nothing was measured
        let mut o = out("emb", f64::NAN);
        (o.finite, o.nonfinite_original, o.nonfinite_compressed) = (0, 265000, 265000);
        let acc = Accuracy {
            runs: 1,
            outputs: vec![o.clone()],
            weights: vec![],
        };
        let w = accuracy_warning(&acc, 20.0).unwrap();
        assert!(w.contains("'emb' has no finite value to compare"), "{w}");
        assert!(w.contains("--calibration"), "{w}");
        let l = &accuracy_lines(&acc)[0];
        assert!(!l.contains("snr"), "{l}");
        assert!(
            l.contains("NaN/inf: original 265000/265000, compressed 265000/265000"),
            "{l}"
        );
        // NaN only in the compressed model's output
        (
            o.finite,
            o.snr_db,
            o.nonfinite_original,
            o.nonfinite_compressed,
        ) = (264990, 40.0, 0, 10);
        let acc = Accuracy {
            outputs: vec![o],
            ..acc
        };
        let w = accuracy_warning(&acc, 20.0).unwrap();
        assert!(
            w.contains("'emb' has 10 NaN/inf values, the original 0"),
            "{w}"
        );
    }
}
