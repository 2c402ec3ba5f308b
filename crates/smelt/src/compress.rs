//! `smelt compress`: import a model (ONNX or `.ingot`), compress its weights
//! (`smelt_compress`), write a package. The write is atomic.

use crate::convert::{import, ConvertOptions};
use smelt_compress::{Options, Report};
use smelt_core::Result;
use smelt_ingot::WriteStats;
use std::path::Path;

/// Compresses `input` into the package `output`. `progress` sees (weights compressed,
/// total), then (bytes written, total) with `writing` set.
pub fn compress_file(
    input: &Path,
    output: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(bool, u64, u64),
) -> Result<(Report, WriteStats)> {
    let (graph, mut info) = import(input, &ConvertOptions::default())?;
    let (graph, report) = smelt_compress::compress(&graph, opts, &mut |d, t| {
        progress(false, d as u64, t as u64)
    })?;
    if !info.opsets.iter().any(|(d, _)| d == "ai.smelt") {
        info.opsets.push(("ai.smelt".into(), 1));
    }
    let stats = smelt_ingot::write(output, &graph, &info, &mut |d, t| progress(true, d, t))?;
    Ok((report, stats))
}
