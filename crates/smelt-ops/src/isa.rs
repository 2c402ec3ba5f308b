//! Runtime choice of the vector instruction set for the CPU kernels. The default build
//! targets baseline x86-64 (or the target's baseline elsewhere); a kernel written with
//! [`multiversion!`](crate::multiversion) is compiled once per [`Isa`] and runs the best
//! one the CPU has, detected once per process.

use std::sync::OnceLock;

/// The instruction sets kernels are compiled for, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// x86-64-v4's AVX-512: F, BW, CD, DQ and VL.
    Avx512,
    /// AVX2 with FMA (x86-64).
    Avx2Fma,
    /// The target's baseline.
    Portable,
}

/// The CPU features kernels choose by, detected once per process: the one place the CPU is
/// asked (kernels with their own variants, such as the int8 GEMM, pick from these).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    pub avx2: bool,
    pub fma: bool,
    /// x86-64-v4's AVX-512 set: F, BW, CD, DQ and VL.
    pub avx512: bool,
    /// AVX-512 VNNI (`vpdpbusd`), with F.
    pub avx512_vnni: bool,
}

impl Features {
    pub fn get() -> Features {
        static F: OnceLock<Features> = OnceLock::new();
        *F.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                let f = has!("avx512f");
                Features {
                    avx2: has!("avx2"),
                    fma: has!("fma"),
                    avx512: f
                        && has!("avx512bw")
                        && has!("avx512cd")
                        && has!("avx512dq")
                        && has!("avx512vl"),
                    avx512_vnni: f && has!("avx512vnni"),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            Features::default()
        })
    }
}

impl Isa {
    /// The best instruction set this CPU supports (detected on first use).
    pub fn detect() -> Isa {
        let f = Features::get();
        if f.avx512 {
            Isa::Avx512
        } else if f.avx2 && f.fma {
            Isa::Avx2Fma
        } else {
            Isa::Portable
        }
    }
}

/// `multiversion!(pub fn name(a: A, b: B) { body })`: defines `name`, whose body is compiled
/// for each [`Isa`] (the compiler vectorizes it for that width) and which runs the variant
/// [`Isa::detect`] picks. The body must be safe code; only the dispatch is `unsafe`.
#[macro_export]
macro_rules! multiversion {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512cd,avx512dq,avx512vl")]
                unsafe fn wide($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                match $crate::isa::Isa::detect() {
                    // SAFETY: detect() found every feature `wide` is built for.
                    $crate::isa::Isa::Avx512 => return unsafe { wide($($arg),*) },
                    // SAFETY: detect() found AVX2 and FMA, the features `avx2` is built for.
                    $crate::isa::Isa::Avx2Fma => return unsafe { avx2($($arg),*) },
                    $crate::isa::Isa::Portable => {}
                }
            }
            body($($arg),*)
        }
    };
}
