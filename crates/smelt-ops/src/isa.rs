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

impl Isa {
    /// The best instruction set this CPU supports (detected on first use).
    pub fn detect() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512cd")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    return Isa::Avx512;
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    return Isa::Avx2Fma;
                }
            }
            Isa::Portable
        })
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
