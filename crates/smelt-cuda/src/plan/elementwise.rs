//! Element-wise ops: the op codes the kernels switch on, their parameters from node
//! attributes, and the broadcast plan of binary and ternary ops.

use super::{broadcast_shape, broadcast_strides, pack_strides, Strides};
use smelt_core::{DType, Result};
use smelt_ir::Attributes;

/// Unary ops, with the kernel's op code as discriminant (see `unary_f` in the kernels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum UnaryOp {
    Relu = 0,
    Sigmoid = 1,
    Tanh = 2,
    Exp = 3,
    Log = 4,
    Sqrt = 5,
    Neg = 6,
    Abs = 7,
    Erf = 8,
    Gelu = 9,
    Clip = 10,
    LeakyRelu = 11,
    Reciprocal = 12,
    Floor = 13,
    Ceil = 14,
    Sin = 15,
    Cos = 16,
    Softplus = 17,
    HardSigmoid = 18,
    Elu = 19,
    Identity = 20,
    Sign = 21,
    Round = 22,
    HardSwish = 23,
    Selu = 24,
    Softsign = 25,
    Tan = 27,
    Asin = 28,
    Acos = 29,
    Atan = 30,
    Sinh = 31,
    Cosh = 32,
    Asinh = 33,
    Acosh = 34,
    Atanh = 35,
    Shrink = 36,
    ThresholdedRelu = 37,
    GeluTanh = 38,
    Mish = 39,
    /// Integers: `!x`.
    BitwiseNot = 40,
    /// Bool: logical not.
    Not = 41,
    Celu = 42,
}

impl UnaryOp {
    /// Whether the op runs on `d`: float math on f32/f64/f16/bf16; Relu, Neg, Abs, Sign
    /// also on integers (wrapping, as the CPU); BitwiseNot on integers; Not on bool.
    pub fn takes(self, d: DType) -> bool {
        use UnaryOp::*;
        match self {
            Not => d == DType::Bool,
            BitwiseNot => is_int(d),
            Relu | Neg | Abs | Sign | Identity => is_float(d) || is_int(d),
            _ => is_float(d),
        }
    }
    /// Whether the f32 kernel of elementwise.cu has the op (newer codes use `unary_t_f32`).
    pub fn in_f32_table(self) -> bool {
        (self as i32) <= 25
    }
}

/// The float dtypes the typed kernels compute (f16/bf16 in float).
pub fn is_float(d: DType) -> bool {
    d.is_float()
}
/// The 8- to 64-bit integer dtypes (not the 4-bit ones, stored a byte each).
pub fn is_int(d: DType) -> bool {
    d.is_int() && !matches!(d, DType::I4 | DType::U4)
}
fn is_unsigned(d: DType) -> bool {
    matches!(d, DType::U8 | DType::U16 | DType::U32 | DType::U64)
}

/// The kernels' suffix of a dtype (`binary_i64`, `unary_f16`, ...); bool shares u8's.
pub fn suffix(d: DType) -> Option<&'static str> {
    Some(match d {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        DType::I8 => "i8",
        DType::U8 | DType::Bool => "u8",
        DType::I16 => "i16",
        DType::U16 => "u16",
        DType::I32 => "i32",
        DType::U32 => "u32",
        DType::I64 => "i64",
        DType::U64 => "u64",
        _ => return None,
    })
}

/// The dtype code of the `cast_any` kernel (cast.cu), or None for a dtype it does not take:
/// the numeric dtypes, bool, and the low-bit ones (float8, float4, int4, uint4 one per byte).
pub fn cast_code(d: DType) -> Option<i32> {
    Some(match d {
        DType::F32 => 0,
        DType::F64 => 1,
        DType::F16 => 2,
        DType::BF16 => 3,
        DType::I8 => 4,
        DType::U8 => 5,
        DType::I16 => 6,
        DType::U16 => 7,
        DType::I32 => 8,
        DType::U32 => 9,
        DType::I64 => 10,
        DType::U64 => 11,
        DType::Bool => 12,
        DType::F8E4M3FN => 13,
        DType::F8E4M3FNUZ => 14,
        DType::F8E5M2 => 15,
        DType::F8E5M2FNUZ => 16,
        DType::F4E2M1 => 17,
        DType::I4 => 18,
        DType::U4 => 19,
        _ => return None,
    })
}

/// The unary op of an ONNX op type with its two float parameters, or `None` if `op_type`
/// is not a unary op of this table. An attribute of the wrong type is an error.
pub fn unary(
    op_type: &str,
    a: &Attributes,
) -> std::result::Result<Option<(UnaryOp, f32, f32)>, String> {
    use UnaryOp::*;
    let f = |name: &str, d: f32| a.float_or(name, d).map_err(|e| e.to_string());
    Ok(Some(match op_type {
        "Relu" => (Relu, 0.0, 0.0),
        "Sigmoid" => (Sigmoid, 0.0, 0.0),
        "Tanh" => (Tanh, 0.0, 0.0),
        "Exp" => (Exp, 0.0, 0.0),
        "Log" => (Log, 0.0, 0.0),
        "Sqrt" => (Sqrt, 0.0, 0.0),
        "Neg" => (Neg, 0.0, 0.0),
        "Abs" => (Abs, 0.0, 0.0),
        "Erf" => (Erf, 0.0, 0.0),
        "Gelu" => {
            let approx = a
                .string_or("approximate", "none".into())
                .map_err(|e| e.to_string())?;
            match approx.as_str() {
                "none" => (Gelu, 0.0, 0.0),
                "tanh" => (GeluTanh, 0.0, 0.0),
                _ => return Err(format!("Gelu approximate='{approx}' has no GPU kernel")),
            }
        }
        "LeakyRelu" => (LeakyRelu, f("alpha", 0.01)?, 0.0),
        "Reciprocal" => (Reciprocal, 0.0, 0.0),
        "Floor" => (Floor, 0.0, 0.0),
        "Ceil" => (Ceil, 0.0, 0.0),
        "Sin" => (Sin, 0.0, 0.0),
        "Cos" => (Cos, 0.0, 0.0),
        "Softplus" => (Softplus, 0.0, 0.0),
        "HardSigmoid" => (HardSigmoid, f("alpha", 0.2)?, f("beta", 0.5)?),
        "Elu" => (Elu, f("alpha", 1.0)?, 0.0),
        "Sign" => (Sign, 0.0, 0.0),
        "Round" => (Round, 0.0, 0.0),
        "HardSwish" => (HardSwish, 0.0, 0.0),
        "Selu" => (Selu, f("alpha", 1.673_263_2)?, f("gamma", 1.050_701)?),
        "Softsign" => (Softsign, 0.0, 0.0),
        "Tan" => (Tan, 0.0, 0.0),
        "Asin" => (Asin, 0.0, 0.0),
        "Acos" => (Acos, 0.0, 0.0),
        "Atan" => (Atan, 0.0, 0.0),
        "Sinh" => (Sinh, 0.0, 0.0),
        "Cosh" => (Cosh, 0.0, 0.0),
        "Asinh" => (Asinh, 0.0, 0.0),
        "Acosh" => (Acosh, 0.0, 0.0),
        "Atanh" => (Atanh, 0.0, 0.0),
        "Shrink" => (Shrink, f("lambd", 0.5)?, f("bias", 0.0)?),
        "ThresholdedRelu" => (ThresholdedRelu, f("alpha", 1.0)?, 0.0),
        "Mish" => (Mish, 0.0, 0.0),
        "Celu" => (Celu, f("alpha", 1.0)?, 0.0),
        "BitwiseNot" => (BitwiseNot, 0.0, 0.0),
        "Not" => (Not, 0.0, 0.0),
        _ => return Ok(None),
    }))
}

/// Binary ops, with the kernel's op code as discriminant (see `binary_f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum BinaryOp {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    Pow = 4,
    Max = 5,
    Min = 6,
    PRelu = 7,
    /// Mod with the divisor's sign (fmod=0); `FMod`: the dividend's (fmod=1).
    Mod = 8,
    FMod = 9,
    /// BitwiseAnd/Or/Xor on integers, And/Or/Xor on bool.
    BitAnd = 10,
    BitOr = 11,
    BitXor = 12,
    /// BitShift LEFT / RIGHT (unsigned integers; shifting by the width or more gives 0).
    Shl = 13,
    Shr = 14,
}

impl BinaryOp {
    /// Whether the op runs on operands of dtypes `a` and `b` (equal, except Pow's).
    pub fn takes(self, a: DType, b: DType) -> bool {
        use BinaryOp::*;
        match self {
            Pow => (is_float(a) || is_int(a)) && (is_float(b) || is_int(b)),
            _ if a != b => false,
            Add | Sub | Mul | Div | Max | Min | Mod | FMod => is_float(a) || is_int(a),
            PRelu => is_float(a),
            BitAnd | BitOr | BitXor => is_int(a) || a == DType::Bool,
            Shl | Shr => is_unsigned(a),
        }
    }
    /// Whether the f32 kernels of elementwise.cu have the op (others: `binary_t_f32`).
    pub fn in_f32_table(self) -> bool {
        (self as i32) <= 7
    }
    /// Integer Div and Mod check their divisor for 0 (the CPU reports it as an error).
    pub fn checks_divisor(self, d: DType) -> bool {
        matches!(self, BinaryOp::Div | BinaryOp::Mod | BinaryOp::FMod) && is_int(d)
    }
}

/// The binary op of an ONNX op type with its attributes (Mod's fmod, BitShift's direction;
/// And/Or/Xor are the bitwise ops on bool), `Ok(None)` if not a binary op of this table.
pub fn binary_attrs(
    op_type: &str,
    a: &Attributes,
) -> std::result::Result<Option<BinaryOp>, String> {
    use BinaryOp::*;
    Ok(Some(match op_type {
        "Mod" => match a.int_or("fmod", 0).map_err(|e| e.to_string())? {
            0 => Mod,
            1 => FMod,
            v => return Err(format!("Mod: fmod must be 0 or 1, got {v}")),
        },
        "BitwiseAnd" | "And" => BitAnd,
        "BitwiseOr" | "Or" => BitOr,
        "BitwiseXor" | "Xor" => BitXor,
        "BitShift" => match a
            .string_or("direction", String::new())
            .map_err(|e| e.to_string())?
            .as_str()
        {
            "LEFT" => Shl,
            "RIGHT" => Shr,
            d => {
                return Err(format!(
                    "BitShift: direction must be LEFT or RIGHT, got '{d}'"
                ))
            }
        },
        t => return Ok(binary(t)),
    }))
}

/// Whether `op_type` is a logical op (And/Or/Xor): bool operands only.
pub fn logical(op_type: &str) -> bool {
    matches!(op_type, "And" | "Or" | "Xor")
}

/// Sum / Mean / Max / Min over one or more inputs: the binary op folded over them, and
/// whether the result is then divided by the count (Mean).
pub fn variadic(op_type: &str) -> Option<(BinaryOp, bool)> {
    Some(match op_type {
        "Sum" => (BinaryOp::Add, false),
        "Mean" => (BinaryOp::Add, true),
        "Max" => (BinaryOp::Max, false),
        "Min" => (BinaryOp::Min, false),
        _ => return None,
    })
}

pub fn binary(op_type: &str) -> Option<BinaryOp> {
    use BinaryOp::*;
    Some(match op_type {
        "Add" => Add,
        "Sub" => Sub,
        "Mul" => Mul,
        "Div" => Div,
        "Pow" => Pow,
        "Max" => Max,
        "Min" => Min,
        "PRelu" => PRelu,
        _ => return None,
    })
}

/// Comparisons of f32 operands giving bool, with the kernel's op code (`compare_f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum CompareOp {
    Equal = 0,
    Less = 1,
    Greater = 2,
    LessOrEqual = 3,
    GreaterOrEqual = 4,
}

pub fn compare(op_type: &str) -> Option<CompareOp> {
    use CompareOp::*;
    Some(match op_type {
        "Equal" => Equal,
        "Less" => Less,
        "Greater" => Greater,
        "LessOrEqual" => LessOrEqual,
        "GreaterOrEqual" => GreaterOrEqual,
        _ => return None,
    })
}

/// How a broadcasting element-wise op runs: the output shape, and either `None` (every
/// operand has the output's shape: a flat kernel) or the strides of each operand.
#[derive(Clone, Debug)]
pub struct BroadcastPlan {
    pub out_shape: Vec<usize>,
    pub n: usize,
    pub strides: Option<Strides>,
}

/// Plans an op over operands of `shapes` (two or three) broadcast together.
pub fn broadcast(shapes: &[&[usize]]) -> Result<BroadcastPlan> {
    let out = broadcast_shape(shapes)?;
    let n = out.iter().product();
    super::i32_of(n, "element count")?;
    let strides = if shapes.iter().all(|s| *s == out.as_slice()) {
        None
    } else {
        let st: Vec<Vec<i64>> = shapes.iter().map(|s| broadcast_strides(s, &out)).collect();
        let refs: Vec<&[i64]> = st.iter().map(|v| v.as_slice()).collect();
        Some(pack_strides(&out, &refs)?)
    };
    Ok(BroadcastPlan {
        out_shape: out,
        n,
        strides,
    })
}
