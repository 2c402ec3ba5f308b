//! The element types a safetensors header names, their sizes and their smelt dtypes.

use smelt_core::DType;

/// A tensor's element type as the header spells it (`"F32"`, `"BF16"`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    Bool,
    U8,
    I8,
    F8E5M2,
    F8E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

/// Every dtype with its header name, in the order of the format's specification.
const ALL: [(Dtype, &str); 15] = [
    (Dtype::Bool, "BOOL"),
    (Dtype::U8, "U8"),
    (Dtype::I8, "I8"),
    (Dtype::F8E5M2, "F8_E5M2"),
    (Dtype::F8E4M3, "F8_E4M3"),
    (Dtype::I16, "I16"),
    (Dtype::U16, "U16"),
    (Dtype::F16, "F16"),
    (Dtype::BF16, "BF16"),
    (Dtype::I32, "I32"),
    (Dtype::U32, "U32"),
    (Dtype::F32, "F32"),
    (Dtype::F64, "F64"),
    (Dtype::I64, "I64"),
    (Dtype::U64, "U64"),
];

/// The known header names, comma-separated (for messages).
pub fn known_names() -> String {
    ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

impl Dtype {
    /// The dtype named `name` in a header, if known.
    pub fn from_name(name: &str) -> Option<Dtype> {
        ALL.iter().find(|(_, n)| *n == name).map(|(d, _)| *d)
    }

    /// The header name.
    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(d, _)| *d == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            Dtype::Bool | Dtype::U8 | Dtype::I8 | Dtype::F8E5M2 | Dtype::F8E4M3 => 1,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }

    /// The smelt dtype of the same values (F8_E4M3 is `F8E4M3FN`, the format PyTorch's
    /// `float8_e4m3fn` writes under this name).
    pub fn smelt(self) -> DType {
        match self {
            Dtype::Bool => DType::Bool,
            Dtype::U8 => DType::U8,
            Dtype::I8 => DType::I8,
            Dtype::F8E5M2 => DType::F8E5M2,
            Dtype::F8E4M3 => DType::F8E4M3FN,
            Dtype::I16 => DType::I16,
            Dtype::U16 => DType::U16,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::I32 => DType::I32,
            Dtype::U32 => DType::U32,
            Dtype::F32 => DType::F32,
            Dtype::F64 => DType::F64,
            Dtype::I64 => DType::I64,
            Dtype::U64 => DType::U64,
        }
    }

    /// Whether the values are floating point.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            Dtype::F8E5M2 | Dtype::F8E4M3 | Dtype::F16 | Dtype::BF16 | Dtype::F32 | Dtype::F64
        )
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
