//! The `smelt` command line.
//!
//! - `smelt convert MODEL.onnx [-o MODEL.ingot] [--name N] [--version V] [--author A]
//!   [--license L] [--description D] [--meta KEY=VALUE ...] [--state IN=OUT ...]
//!   [--describe NAME=TEXT ...]`: packages a model as one `.ingot` file (written atomically).
//! - `smelt info MODEL(.onnx|.ingot) [--plan] [--compute-units UNITS]`: metadata, inputs,
//!   outputs, states, weights and op histogram; `--plan` shows where each node runs and why.
//! - `smelt run MODEL(.onnx|.ingot) [--input NAME=FILE.npy ...] [--random] [--dim NAME=N ...]
//!   [--output-dir DIR] [--compute-units UNITS] [--repeat N] [--stats]`: runs a model and
//!   prints and saves its outputs; `--stats` adds load time, mapped/copied weights and memory.
//! - `smelt compare A B [--input NAME=FILE.npy ...] [--data DIR] [--random [--seed S]
//!   [--dim NAME=N ...]] [--count N] [--labels FILE.npy] [--top1]`: runs two models on the
//!   same inputs and prints, per output in both, the SNR against A, cosine, max abs error and
//!   top-1 agreement (exact-match fraction for integer outputs); `--labels` adds accuracy.
//! - `smelt demo [--image LINE.npy]`: reads a line of printed text with PP-OCRv4.
//! - `smelt generate MODEL.gguf --prompt TEXT [--chat] [--max-tokens N] ...`: generates text.
//!
//! Every failure prints one line `error: ...` and exits with status 1; a command line that
//! cannot be parsed (an unknown option, a missing value) exits with status 2, as clap and
//! other Unix tools do. A bug that panics inside smelt is caught and reported as an error.

mod compare;
mod compress;
mod convert;
mod demo;
mod generate;
mod image;
mod info;
mod plan;
mod run;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "smelt",
    version,
    about = "Convert, inspect and run ML models on the CPU and GPUs"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Package a model (.onnx) as an .ingot file with metadata, states and descriptions.
    Convert(convert::ConvertArgs),
    /// Compress a model's weights (linear int8/int4, palettization 1-8 bits) into an .ingot.
    Compress(compress::CompressArgs),
    /// Print a model's metadata, inputs, outputs, states, weights, op histogram and parameter
    /// count, or with --plan where each node runs.
    Info(info::InfoArgs),
    /// Run a model (.onnx or .ingot) and print (and save) its outputs.
    Run(run::RunArgs),
    /// Run two models (.onnx or .ingot) on the same inputs and compare their outputs: SNR,
    /// cosine, max abs error, top-1 agreement and accuracy.
    Compare(compare::CompareArgs),
    /// Read a line of printed text with the PP-OCRv4 recogniser (fetched on first use).
    Demo(demo::DemoArgs),
    /// Generate text with a language model (GGUF), streaming tokens as they come.
    Generate(generate::GenerateArgs),
}

/// Output piped into a reader that stops early (`smelt info M | head`) ends the process
/// quietly, as for other Unix tools, instead of failing a write.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal, before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// An error's context chain as one line: causes that an outer message already quotes are
/// left out, and a cause that starts with the path the message ends with ("loading m.onnx"
/// then "m.onnx: no such file") names it once ("loading m.onnx: no such file").
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        // smelt's errors print their I/O cause themselves, in their own words
        let c = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => smelt_core::error::io_text(io),
            None => cause.to_string(),
        };
        msg = join_cause(msg, &c);
    }
    msg
}

fn join_cause(msg: String, cause: &str) -> String {
    if msg.contains(cause) {
        return msg;
    }
    if let Some((head, rest)) = cause.split_once(": ") {
        if !head.is_empty() && msg.ends_with(head) {
            return format!("{msg}: {rest}");
        }
    }
    format!("{msg}: {cause}")
}

/// glibc serves large blocks with their own mmap and unmaps them on free, so each run's
/// intermediates were faulted in afresh on every run (page faults took most of a small
/// model's run time). Raising the mmap threshold to its maximum (32 MiB on 64-bit) and the
/// trim threshold to match keeps freed buffers in the heap for the next run; the peak
/// resident memory stays what the largest run needs.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn reuse_freed_buffers() {
    const LIMIT: libc::c_int = 32 << 20;
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread
    // exists. A value it refuses leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LIMIT);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 2 * LIMIT);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn reuse_freed_buffers() {}

fn main() {
    reuse_freed_buffers();
    default_sigpipe();
    let cli = Cli::parse();
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (a bug in smelt, please report it): {info}");
    }));
    let result = std::panic::catch_unwind(|| match cli.cmd {
        Cmd::Convert(a) => convert::main(a),
        Cmd::Compress(a) => compress::main(a),
        Cmd::Info(a) => info::main(a),
        Cmd::Run(a) => run::main(a),
        Cmd::Compare(a) => compare::main(a),
        Cmd::Demo(a) => demo::main(a),
        Cmd::Generate(a) => generate::main(a),
    });
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("error: {}", message(&e));
            std::process::exit(1);
        }
        Err(_) => std::process::exit(1),
    }
}

#[cfg(test)]
mod tests {
    use super::join_cause;

    #[test]
    fn a_path_is_named_once() {
        let j = |m: &str, c: &str| join_cause(m.to_string(), c);
        assert_eq!(
            j("loading m.onnx", "m.onnx: no such file"),
            "loading m.onnx: no such file"
        );
        assert_eq!(
            j("input 'x'", "x.npy: truncated"),
            "input 'x': x.npy: truncated"
        );
        assert_eq!(j("running: boom", "boom"), "running: boom");
    }
}
