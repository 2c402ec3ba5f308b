//! The process-wide CUDA device: driver probe, context, and the kernel module compiled once
//! per process with NVRTC.
//!
//! cudarc loads libcuda, libnvrtc and libcublas on first use and panics when one is missing,
//! so [`device`] first checks that each library is present and also catches a panic from
//! the first driver call: no GPU, no driver or no library is an `Err` with the reason.

use cudarc::driver::{sys, CudaContext};
use smelt_core::{Error, Result};
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::{Arc, Mutex, OnceLock};

/// Kernel sources, concatenated into one NVRTC program.
const SOURCES: &[&str] = &[
    include_str!("kernels/common.cuh"),
    include_str!("kernels/elementwise.cu"),
    include_str!("kernels/copy.cu"),
    include_str!("kernels/conv.cu"),
    include_str!("kernels/precision.cu"),
    include_str!("kernels/pool.cu"),
    include_str!("kernels/norm.cu"),
    include_str!("kernels/reduce.cu"),
    include_str!("kernels/train.cu"),
    include_str!("kernels/misc.cu"),
    include_str!("kernels/attention.cu"),
    include_str!("kernels/loss.cu"),
    include_str!("kernels/grid_sample.cu"),
    include_str!("kernels/sequence.cu"),
    include_str!("kernels/lp_pool.cu"),
    include_str!("kernels/col2im.cu"),
    include_str!("kernels/roi_align.cu"),
    include_str!("kernels/signal.cu"),
    include_str!("kernels/quant.cu"),
    include_str!("kernels/half.cu"),
    include_str!("kernels/typed.cu"),
    include_str!("kernels/cast.cu"),
    include_str!("kernels/index.cu"),
];

/// One CUDA device (ordinal 0) and its compiled kernels.
pub struct Device {
    pub(crate) ctx: Arc<CudaContext>,
    name: String,
    capability: (i32, i32),
    total_mem: usize,
    /// The compiled module, built on the first kernel launch.
    module: OnceLock<std::result::Result<Module, String>>,
    functions: Mutex<HashMap<&'static str, Func>>,
    /// Kernels of generated programs (fused element-wise groups), by source.
    generated: Mutex<HashMap<String, Func>>,
}

/// What every generated program starts with: the strided-index helpers and the f32
/// element-wise functions (`unary_f`, `binary_f`), so a fused kernel does the unfused
/// kernels' arithmetic.
const GENERATED_PRELUDE: &[&str] = &[
    include_str!("kernels/common.cuh"),
    include_str!("kernels/elementwise.cu"),
];

struct Module(sys::CUmodule);
// SAFETY: a CUmodule handle may be used from any thread once loaded.
unsafe impl Send for Module {}
unsafe impl Sync for Module {}

/// A kernel handle.
#[derive(Clone, Copy)]
pub(crate) struct Func(pub(crate) sys::CUfunction);
// SAFETY: CUfunction handles are valid on any thread of the process.
unsafe impl Send for Func {}
unsafe impl Sync for Func {}

/// Turns any cudarc error into smelt's error, naming what was being done.
pub(crate) fn cuda_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::device("cuda", format!("{what}: {e:?}"))
}

/// The CUDA device of this process, or why there is none. Probed once.
pub fn device() -> std::result::Result<Arc<Device>, String> {
    static DEV: OnceLock<std::result::Result<Arc<Device>, String>> = OnceLock::new();
    DEV.get_or_init(probe).clone()
}

fn probe() -> std::result::Result<Arc<Device>, String> {
    if smelt_core::settings::is_set("SMELT_NO_CUDA") {
        return Err("SMELT_NO_CUDA is set".into());
    }
    // SAFETY: these only try to dlopen the libraries.
    let present = unsafe {
        [
            (
                "libcuda (the NVIDIA driver)",
                cudarc::driver::sys::is_culib_present(),
            ),
            ("libnvrtc", cudarc::nvrtc::sys::is_culib_present()),
            ("libcublas", cudarc::cublas::sys::is_culib_present()),
        ]
    };
    if let Some((lib, _)) = present.iter().find(|(_, ok)| !ok) {
        return Err(format!("{lib} not found"));
    }
    let r = std::panic::catch_unwind(|| -> std::result::Result<Arc<Device>, String> {
        let n =
            CudaContext::device_count().map_err(|e| format!("cuInit/cuDeviceGetCount: {e:?}"))?;
        if n < 1 {
            return Err("the driver reports no CUDA device".into());
        }
        let ctx = CudaContext::new(0).map_err(|e| format!("creating a context: {e:?}"))?;
        let name = ctx.name().map_err(|e| format!("device name: {e:?}"))?;
        let capability = ctx
            .compute_capability()
            .map_err(|e| format!("compute capability: {e:?}"))?;
        let total_mem = ctx.total_mem().unwrap_or(0);
        Ok(Arc::new(Device {
            ctx,
            name,
            capability,
            total_mem,
            module: OnceLock::new(),
            functions: Mutex::new(HashMap::new()),
            generated: Mutex::new(HashMap::new()),
        }))
    });
    match r {
        Ok(r) => r,
        Err(p) => Err(format!(
            "the CUDA driver failed to load: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

/// Where the PTX of `src` for `arch` is cached between processes (compiling the kernel
/// program takes seconds): `$SMELT_KERNEL_CACHE`, else `$XDG_CACHE_HOME/smelt/cuda`, else
/// `~/.cache/smelt/cuda`, one file per (source, options) hash. None: no such folder (the
/// kernels are then compiled in every process). `SMELT_KERNEL_CACHE=off` disables it.
fn ptx_cache_path(src: &str, arch: &str) -> Option<std::path::PathBuf> {
    let dir = match smelt_core::settings::var("SMELT_KERNEL_CACHE") {
        Some(d) if d == "off" => return None,
        Some(d) => std::path::PathBuf::from(d),
        None => match std::env::var_os("XDG_CACHE_HOME") {
            Some(x) => std::path::PathBuf::from(x).join("smelt/cuda"),
            None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cache/smelt/cuda"),
        },
    };
    // FNV-1a over the source and the options: stable across builds and toolchains
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in src.bytes().chain(arch.bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    Some(dir.join(format!("kernels-{h:016x}.ptx")))
}

/// Writes the PTX cache file (a temporary file renamed into place, so a reader never sees
/// a partial one); failures only cost a recompile next time.
fn store_ptx(path: &std::path::Path, ptx: &str) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, ptx).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The PTX of `src` for the NVRTC `options` (the architecture first), from the disk cache
/// or compiled (and stored there).
fn compile_cached(src: &str, options: &[String]) -> std::result::Result<String, String> {
    let cache = ptx_cache_path(src, &options.join(" "));
    if let Some(ptx) = cache.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        return Ok(ptx);
    }
    let mut options = options.to_vec();
    options.push("--std=c++17".into());
    let opts = cudarc::nvrtc::CompileOptions {
        options,
        ..Default::default()
    };
    let ptx = cudarc::nvrtc::compile_ptx_with_opts(src, opts)
        .map_err(|e| format!("NVRTC failed to compile the kernels: {e:?}"))?
        .to_src();
    if let Some(p) = &cache {
        store_ptx(p, &ptx);
    }
    Ok(ptx)
}

/// The PTX of a generated program `src` after [`GENERATED_PRELUDE`] for the NVRTC option
/// `arch`, without floating-point contraction (a fused multiply and add round as the
/// unfused kernels do). Needs only libnvrtc.
pub(crate) fn compile_generated(src: &str, arch: &str) -> std::result::Result<String, String> {
    let full = format!("{}\n{src}", GENERATED_PRELUDE.join("\n"));
    compile_cached(&full, &[arch.to_string(), "--fmad=false".into()])
}

/// Whether libnvrtc can be loaded (it compiles kernels without a GPU).
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen the library.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Compiles every kernel source to PTX for `arch` ("compute_90") with NVRTC. Needs only
/// libnvrtc, no driver or GPU.
pub fn compile_kernels(arch: &str) -> std::result::Result<String, String> {
    if !nvrtc_present() {
        return Err("libnvrtc not found".into());
    }
    let opts = cudarc::nvrtc::CompileOptions {
        options: vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()],
        ..Default::default()
    };
    let src = SOURCES.join("\n");
    let ptx = std::panic::catch_unwind(|| cudarc::nvrtc::compile_ptx_with_opts(src, opts))
        .map_err(|_| "NVRTC panicked while loading".to_string())?
        .map_err(|e| format!("NVRTC failed to compile the kernels: {e:?}"))?;
    Ok(ptx.to_src())
}

impl Device {
    /// "NVIDIA H200 (sm_90, 139.8 GiB)".
    pub fn describe(&self) -> String {
        format!(
            "{} (sm_{}{}, {:.1} GiB)",
            self.name,
            self.capability.0,
            self.capability.1,
            self.total_mem as f64 / (1u64 << 30) as f64
        )
    }
    /// The compute capability (major, minor).
    pub fn capability(&self) -> (i32, i32) {
        self.capability
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub(crate) fn bind(&self) -> Result<()> {
        self.ctx
            .bind_to_thread()
            .map_err(|e| cuda_err("binding the context", e))
    }

    fn module(&self) -> Result<&Module> {
        self.module
            .get_or_init(|| {
                self.bind().map_err(|e| e.to_string())?;
                let arch = format!(
                    "--gpu-architecture=compute_{}{}",
                    self.capability.0, self.capability.1
                );
                let ptx = compile_cached(&SOURCES.join("\n"), &[arch])?;
                let text = CString::new(ptx).map_err(|e| format!("PTX: {e}"))?;
                // SAFETY: text is a NUL-terminated PTX image.
                let m =
                    unsafe { cudarc::driver::result::module::load_data(text.as_ptr() as *const _) }
                        .map_err(|e| format!("loading the PTX module: {e:?}"))?;
                Ok(Module(m))
            })
            .as_ref()
            .map_err(|e| Error::device("cuda", format!("{e}")))
    }

    /// The kernel `name` from the module (compiled on first use), cached.
    pub(crate) fn func(&self, name: &'static str) -> Result<Func> {
        if let Some(f) = self.functions.lock().unwrap().get(name) {
            return Ok(*f);
        }
        let m = self.module()?;
        let c = CString::new(name).map_err(|e| Error::invalid(e.to_string()))?;
        // SAFETY: the module is loaded and stays loaded for the process.
        let f = unsafe { cudarc::driver::result::module::get_function(m.0, c) }
            .map_err(|e| cuda_err(&format!("kernel '{name}'"), e))?;
        self.functions.lock().unwrap().insert(name, Func(f));
        Ok(Func(f))
    }

    /// Kernel `name` of the generated program `src` (compiled after [`GENERATED_PRELUDE`],
    /// without floating-point contraction, with the same PTX disk cache as the main
    /// program), cached per source.
    pub(crate) fn generated(&self, src: &str, name: &str) -> Result<Func> {
        if let Some(f) = self.generated.lock().unwrap().get(src) {
            return Ok(*f);
        }
        self.bind()?;
        let arch = format!(
            "--gpu-architecture=compute_{}{}",
            self.capability.0, self.capability.1
        );
        let ptx =
            compile_generated(src, &arch).map_err(|e| Error::device("cuda", format!("{e}")))?;
        let text = CString::new(ptx).map_err(|e| Error::invalid(format!("PTX: {e}")))?;
        // SAFETY: text is a NUL-terminated PTX image; the module stays loaded.
        let m = unsafe { cudarc::driver::result::module::load_data(text.as_ptr() as *const _) }
            .map_err(|e| cuda_err("loading a generated kernel", e))?;
        let c = CString::new(name).map_err(|e| Error::invalid(e.to_string()))?;
        // SAFETY: a loaded module.
        let f = unsafe { cudarc::driver::result::module::get_function(m, c) }
            .map_err(|e| cuda_err(&format!("generated kernel '{name}'"), e))?;
        self.generated
            .lock()
            .unwrap()
            .insert(src.to_string(), Func(f));
        Ok(Func(f))
    }

    /// Compiles the kernels now (a check, and to keep compile time out of timings).
    pub fn warm_up(&self) -> Result<()> {
        self.module().map(|_| ())
    }
}
