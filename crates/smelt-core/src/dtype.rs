//! Element types. Every tensor has one [`DType`]; [`Elem`] ties a Rust type to its dtype
//! and to the [`Data`] variant that stores it.
//!
//! Low-bit types (int4, uint4, float8 variants, float4) are stored unpacked, one element per
//! byte: `I4` in an `i8` buffer holding -8..=7, the others in a `u8` buffer holding the raw bits.

use crate::tensor::Data;
use half::{bf16, f16};
use std::fmt;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32,
    F16,
    BF16,
    F64,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Bool,
    String,
    F8E4M3FN,
    F8E4M3FNUZ,
    F8E5M2,
    F8E5M2FNUZ,
    F4E2M1,
    I4,
    U4,
}

impl DType {
    pub const ALL: [DType; 21] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::F64,
        DType::I8,
        DType::U8,
        DType::I16,
        DType::U16,
        DType::I32,
        DType::U32,
        DType::I64,
        DType::U64,
        DType::Bool,
        DType::String,
        DType::F8E4M3FN,
        DType::F8E4M3FNUZ,
        DType::F8E5M2,
        DType::F8E5M2FNUZ,
        DType::F4E2M1,
        DType::I4,
        DType::U4,
    ];

    /// Stable lowercase name, used in packages and messages.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F64 => "f64",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I16 => "i16",
            DType::U16 => "u16",
            DType::I32 => "i32",
            DType::U32 => "u32",
            DType::I64 => "i64",
            DType::U64 => "u64",
            DType::Bool => "bool",
            DType::String => "string",
            DType::F8E4M3FN => "f8e4m3fn",
            DType::F8E4M3FNUZ => "f8e4m3fnuz",
            DType::F8E5M2 => "f8e5m2",
            DType::F8E5M2FNUZ => "f8e5m2fnuz",
            DType::F4E2M1 => "f4e2m1",
            DType::I4 => "i4",
            DType::U4 => "u4",
        }
    }

    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.iter().copied().find(|d| d.name() == s)
    }

    /// The dtype of an ONNX `TensorProto.DataType` code. Op attributes that name a dtype
    /// (Cast's `to`, ...) use this numbering, as the IR keeps ONNX attribute conventions.
    pub fn from_onnx(code: i64) -> Option<DType> {
        Some(match code {
            1 => DType::F32,
            2 => DType::U8,
            3 => DType::I8,
            4 => DType::U16,
            5 => DType::I16,
            6 => DType::I32,
            7 => DType::I64,
            8 => DType::String,
            9 => DType::Bool,
            10 => DType::F16,
            11 => DType::F64,
            12 => DType::U32,
            13 => DType::U64,
            16 => DType::BF16,
            17 => DType::F8E4M3FN,
            18 => DType::F8E4M3FNUZ,
            19 => DType::F8E5M2,
            20 => DType::F8E5M2FNUZ,
            21 => DType::U4,
            22 => DType::I4,
            23 => DType::F4E2M1,
            _ => return None,
        })
    }

    /// The ONNX `TensorProto.DataType` code of this dtype.
    pub fn to_onnx(self) -> i64 {
        (1..=23)
            .find(|&c| DType::from_onnx(c) == Some(self))
            .unwrap_or(0)
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16 | DType::F64)
    }
    /// Float8 / float4 types, stored as raw bits.
    pub fn is_low_float(self) -> bool {
        matches!(
            self,
            DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ | DType::F4E2M1
        )
    }
    pub fn is_int(self) -> bool {
        matches!(
            self,
            DType::I8
                | DType::U8
                | DType::I16
                | DType::U16
                | DType::I32
                | DType::U32
                | DType::I64
                | DType::U64
                | DType::I4
                | DType::U4
        )
    }
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            DType::I8 | DType::I16 | DType::I32 | DType::I64 | DType::I4
        ) || self.is_float()
    }
    /// Numeric types with a native Rust element (everything but bool, string and low-bit).
    pub fn is_numeric(self) -> bool {
        self.is_float()
            || matches!(
                self,
                DType::I8
                    | DType::U8
                    | DType::I16
                    | DType::U16
                    | DType::I32
                    | DType::U32
                    | DType::I64
                    | DType::U64
            )
    }
    /// Size of one element as stored in memory (low-bit types take one byte each).
    /// The dtype whose Rust type stores this one's elements (u8 for float8 and float4, i8
    /// for int4, u8 for uint4; itself otherwise).
    pub fn storage(self) -> DType {
        crate::dispatch_any!(self, T => <T as Elem>::DTYPE)
    }

    pub fn size_of(self) -> usize {
        match self {
            DType::F64 | DType::I64 | DType::U64 => 8,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
            DType::String => std::mem::size_of::<String>(),
            _ => 1,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust element type that a tensor can hold.
pub trait Elem: Clone + Send + Sync + fmt::Debug + PartialEq + Default + 'static {
    const DTYPE: DType;
    fn slice(data: &Data) -> Option<&[Self]>;
    fn slice_mut(data: &mut Data) -> Option<&mut [Self]>;
    fn into_data(v: Vec<Self>) -> Data;
    fn from_data(d: Data) -> Result<Vec<Self>, Data>;
}

fn mapped_pod<T: Elem + bytemuck::Pod>(m: &crate::tensor::Mapped) -> Option<&[T]> {
    m.cast::<T>()
}
fn mapped_none<T>(_: &crate::tensor::Mapped) -> Option<&[T]> {
    None
}

macro_rules! elem {
    ($t:ty, $dt:ident, $var:ident) => {
        elem!($t, $dt, $var, mapped_none::<$t>);
    };
    (pod $t:ty, $dt:ident, $var:ident) => {
        elem!($t, $dt, $var, mapped_pod::<$t>);
    };
    ($t:ty, $dt:ident, $var:ident, $mapped:expr) => {
        impl Elem for $t {
            const DTYPE: DType = DType::$dt;
            fn slice(data: &Data) -> Option<&[Self]> {
                match data {
                    Data::$var(v) => Some(v),
                    Data::Mapped(m) => ($mapped)(m),
                    _ => None,
                }
            }
            fn slice_mut(data: &mut Data) -> Option<&mut [Self]> {
                match data {
                    Data::$var(v) => Some(v),
                    _ => None,
                }
            }
            fn into_data(v: Vec<Self>) -> Data {
                Data::$var(v)
            }
            fn from_data(d: Data) -> Result<Vec<Self>, Data> {
                match d {
                    Data::$var(v) => Ok(v),
                    Data::Mapped(m) => match ($mapped)(&m) {
                        Some(s) => Ok(s.to_vec()),
                        None => Err(Data::Mapped(m)),
                    },
                    d => Err(d),
                }
            }
        }
    };
}
elem!(pod f32, F32, F32);
elem!(pod f16, F16, F16);
elem!(pod bf16, BF16, BF16);
elem!(pod f64, F64, F64);
elem!(pod i8, I8, I8);
elem!(pod u8, U8, U8);
elem!(pod i16, I16, I16);
elem!(pod u16, U16, U16);
elem!(pod i32, I32, I32);
elem!(pod u32, U32, U32);
elem!(pod i64, I64, I64);
elem!(pod u64, U64, U64);
elem!(bool, Bool, Bool);
elem!(String, String, String);

/// Runs `$body` with `$T` bound to the Rust type of a numeric dtype; other dtypes fall to
/// `$fallback`.
///
/// ```ignore
/// dispatch_numeric!(t.dtype(), T => { let s = t.as_slice::<T>()?; ... }, other => bail!("{other}"))
/// ```
#[macro_export]
macro_rules! dispatch_numeric {
    ($dt:expr, $T:ident => $body:expr, $o:ident => $fallback:expr) => {
        match $dt {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::F16 => {
                type $T = $crate::f16;
                $body
            }
            $crate::DType::BF16 => {
                type $T = $crate::bf16;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DType::U32 => {
                type $T = u32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::U64 => {
                type $T = u64;
                $body
            }
            $o => $fallback,
        }
    };
}

/// Like [`dispatch_numeric!`] for the four float dtypes only.
#[macro_export]
macro_rules! dispatch_float {
    ($dt:expr, $T:ident => $body:expr, $o:ident => $fallback:expr) => {
        match $dt {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::F16 => {
                type $T = $crate::f16;
                $body
            }
            $crate::DType::BF16 => {
                type $T = $crate::bf16;
                $body
            }
            $o => $fallback,
        }
    };
}

/// Runs `$body` for every dtype with a Rust element type (numeric, bool, string): used by ops
/// that only move data (gather, concat, transpose ...). Low-bit types dispatch on their storage.
#[macro_export]
macro_rules! dispatch_any {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::F16 => {
                type $T = $crate::f16;
                $body
            }
            $crate::DType::BF16 => {
                type $T = $crate::bf16;
                $body
            }
            $crate::DType::I8 | $crate::DType::I4 => {
                type $T = i8;
                $body
            }
            $crate::DType::U8
            | $crate::DType::U4
            | $crate::DType::F8E4M3FN
            | $crate::DType::F8E4M3FNUZ
            | $crate::DType::F8E5M2
            | $crate::DType::F8E5M2FNUZ
            | $crate::DType::F4E2M1 => {
                type $T = u8;
                $body
            }
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DType::U32 => {
                type $T = u32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::U64 => {
                type $T = u64;
                $body
            }
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::DType::String => {
                type $T = String;
                $body
            }
        }
    };
}
