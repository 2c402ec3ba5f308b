//! Every environment variable smelt reads, declared in one table ([`VARS`]) and read through
//! one function ([`var`]), which refuses a name the table does not declare. docs/settings.md
//! lists the same table; a test checks that the two, and the names used in the sources,
//! agree.
//!
//! The variables are debugging and tuning switches: the typed settings of a model are
//! `smelt::Config` (compute units, precision, threads, profiling, graph capture). They are
//! read when the thing they switch is set up (an executor, a device, a kernel cache), not
//! cached here, so a test may set one before building what it tests.

/// One environment variable: its name, what it does, and its value when unset.
#[derive(Clone, Copy, Debug)]
pub struct Var {
    pub name: &'static str,
    pub default: &'static str,
    pub what: &'static str,
}

/// Every variable smelt reads, by subsystem.
pub const VARS: &[Var] = &[
    // data
    Var {
        name: "SMELT_CACHE",
        default: ".cache/ of the repository",
        what: "where scripts/fetch.py puts the pinned models and test data, and where the demo, tests and benchmarks look for them",
    },
    // placement
    Var {
        name: "SMELT_FORCE_CPU",
        default: "(none)",
        what: "comma-separated node names or op types pinned to the CPU, to hunt a wrong result on a GPU",
    },
    // CPU kernels
    Var {
        name: "SMELT_Q8_ACTIVATIONS",
        default: "(unset)",
        what: "1: CPU products of a few rows (decode) with 32-element block weights (GGUF Q4_0/Q4_1/Q8_0) quantize the rows to 8 bits a block, as llama.cpp does, instead of multiplying them in f32",
    },
    Var {
        name: "SMELT_NO_FUSE",
        default: "(unset)",
        what: "1: the CPU runs every node as its own op, without the lowering fusions (a Conv with its residual Add and activation as one ai.smelt::FusedConv; as Config::fuse_ops = false), to compare speed or results",
    },
    Var {
        name: "SMELT_DECODE_AT_LOAD",
        default: "(unset)",
        what: "1: decode compressed weights once at load into f32 constants on the CPU (as Config::decode_at_load): runs as fast as the f32 model, weights take f32 memory",
    },
    // CUDA: device and kernels
    Var {
        name: "SMELT_NO_CUDA",
        default: "(unset)",
        what: "when set, the CUDA backend reports no device (everything runs on the CPU)",
    },
    Var {
        name: "SMELT_KERNEL_CACHE",
        default: "$XDG_CACHE_HOME/smelt/cuda or ~/.cache/smelt/cuda",
        what: "folder of compiled CUDA kernels (PTX) kept between processes; `off` compiles them in every process",
    },
    // CUDA: executor
    Var {
        name: "SMELT_PROFILE",
        default: "(unset)",
        what: "1: record time per node (device time on the GPU, host time on the CPU; as Config::profile); `kernels`: per GPU launch too",
    },
    Var {
        name: "SMELT_NO_CUDA_GRAPH",
        default: "(unset)",
        what: "1: never capture runs into CUDA graphs (as Config::cuda_graphs = false)",
    },
    Var {
        name: "SMELT_NO_FUSION",
        default: "(unset)",
        what: "1: no element-wise, softmax or attention fusion in the CUDA executor",
    },
    Var {
        name: "SMELT_NO_16BIT_STORE",
        default: "(unset)",
        what: "1: at fp16/bf16, keep every activation in f32 (no 16-bit stores for GEMM operands, residual streams, conv chains)",
    },
    Var {
        name: "SMELT_NO_CUBLASLT",
        default: "(unset)",
        what: "1: folded bias and residual Adds run as a kernel after the GEMM instead of in cuBLASLt's epilogue",
    },
    Var {
        name: "SMELT_NO_CUDNN",
        default: "(unset)",
        what: "when set, convolutions never use cuDNN (im2col + GEMM and direct kernels only)",
    },
    Var {
        name: "SMELT_CUDNN_BIAS_ACT",
        default: "(measured per shape)",
        what: "1: cuDNN's fused bias + activation epilogue for every eligible conv; 0: never",
    },
    Var {
        name: "SMELT_CONV_16BIT",
        default: "(cuDNN)",
        what: "`gemm`: 16-bit conv chains run as im2col + GEMM instead of cuDNN",
    },
    Var {
        name: "SMELT_ATTENTION_TC",
        default: "1 (on sm_80 and newer)",
        what: "0: the fused attention kernel without tensor cores",
    },
    Var {
        name: "SMELT_DUMP_ATTENTION",
        default: "(unset)",
        what: "folder: the generated attention kernels are written there (for the CPU emulator in scripts/cuda/emulate)",
    },
];

/// The value of declared variable `name`, if set (and valid UTF-8).
///
/// Panics when `name` is not in [`VARS`]: reading an undeclared variable is a bug in smelt,
/// caught by the first test that reaches it.
pub fn var(name: &str) -> Option<String> {
    assert!(
        VARS.iter().any(|v| v.name == name),
        "environment variable {name} is read but not declared in smelt_core::settings::VARS"
    );
    std::env::var(name).ok()
}

/// Whether declared variable `name` is set to anything but "" or "0".
pub fn flag(name: &str) -> bool {
    var(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether declared variable `name` is set to "0" (what it names, on by default, is off).
pub fn flag_off(name: &str) -> bool {
    var(name).is_some_and(|v| v == "0")
}

/// Whether declared variable `name` is set at all (even empty).
pub fn is_set(name: &str) -> bool {
    var(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn repo() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    /// Every `"SMELT_*` string literal in the crates' sources (tests and benches included):
    /// the names read or set as environment variables (constants named SMELT_... are not).
    fn used_names() -> Vec<String> {
        let mut names = Vec::new();
        let mut stack = vec![repo().join("crates")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    let mut rest = text.as_str();
                    while let Some(i) = rest.find("\"SMELT_") {
                        let tail = &rest[i + 1..];
                        let end = tail
                            .find(|c: char| {
                                !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                            })
                            .unwrap_or(tail.len());
                        names.push(tail[..end].to_string());
                        rest = &tail[end..];
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Variables that only test harnesses read (child-process switches, the repository
    /// root): not settings of smelt.
    const HARNESS: &[&str] = &[
        "SMELT_ROOT",
        "SMELT_MEMORY_CHILD",
        "SMELT_MEMORY_FUSE",
        "SMELT_FETCH_PY",
        "SMELT_NO_BENCH",
        // this test's own example of an undeclared name
        "SMELT_NOT_A_SETTING",
    ];

    #[test]
    fn every_variable_used_is_declared_and_documented() {
        let docs =
            std::fs::read_to_string(repo().join("docs/settings.md")).expect("docs/settings.md");
        for name in used_names() {
            if HARNESS.contains(&name.as_str()) || name == "SMELT_" {
                continue;
            }
            assert!(
                VARS.iter().any(|v| v.name == name),
                "{name} is used but not declared in VARS"
            );
        }
        for v in VARS {
            assert!(
                docs.contains(&format!("`{}`", v.name)),
                "{} is declared but not in docs/settings.md",
                v.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_undeclared_ones_refused() {
        let mut names: Vec<&str> = VARS.iter().map(|v| v.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), VARS.len(), "a variable is declared twice");
        assert!(names.iter().all(|n| n.starts_with("SMELT_")));
        let r = std::panic::catch_unwind(|| var("SMELT_NOT_A_SETTING"));
        assert!(r.is_err(), "an undeclared name must be refused");
    }
}
