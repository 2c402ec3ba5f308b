//! Element-wise ops: the op codes the kernels switch on, their parameters from node
//! attributes, and the broadcast plan of binary and ternary ops.

use super::{broadcast_shape, broadcast_strides, pack_strides, Strides};
use smelt_core::Result;
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
            if approx != "none" {
                return Err(format!("Gelu approximate='{approx}' has no GPU kernel"));
            }
            (Gelu, 0.0, 0.0)
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
