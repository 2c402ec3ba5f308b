//! The metadata key/value section and its typed getters.
//!
//! ```text
//! metadata count x {
//!     key    string           (u64 length + UTF-8 bytes; keys are unique)
//!     type   u32              (a ValueType number, 0..=12)
//!     value                   (by type: see below)
//! }
//! UINT8 0, INT8 1, UINT16 2, INT16 3, UINT32 4, INT32 5, FLOAT32 6, BOOL 7 (one byte, 0 or 1),
//! STRING 8, ARRAY 9, UINT64 10, INT64 11, FLOAT64 12; all little-endian.
//! ARRAY = element type u32, element count u64, elements (an element ARRAY carries its own
//!         element type and count, so arrays nest)
//! ```
//!
//! Every length and count is checked against the bytes left before anything is allocated
//! from it (an element takes at least one byte: a string 8, a nested array 12), so memory is
//! bounded by a small multiple of the file size. Arrays nest at most [`MAX_NESTING`] deep.

use crate::error::{Error, Result};
use crate::reader::{Reader, What};
use std::collections::HashMap;
use std::fmt;

/// How deep arrays may nest (an array of arrays is depth 2).
pub const MAX_NESTING: usize = 16;

/// The type of a metadata value, numbered as in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    pub fn from_u32(v: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match v {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The name the GGUF specification uses (`UINT32`, `STRING`, ...).
    pub fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "UINT8",
            I8 => "INT8",
            U16 => "UINT16",
            I16 => "INT16",
            U32 => "UINT32",
            I32 => "INT32",
            F32 => "FLOAT32",
            Bool => "BOOL",
            String => "STRING",
            Array => "ARRAY",
            U64 => "UINT64",
            I64 => "INT64",
            F64 => "FLOAT64",
        }
    }

    /// The fewest bytes one value of this type takes in the file.
    fn min_size(self) -> u64 {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 => 8,
            String => 8,
            Array => 12,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A metadata array: its elements, stored by element type (an array of `u8` costs one byte
/// per element, not one `Value`).
#[derive(Clone, Debug, PartialEq)]
pub enum Array {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    Array(Vec<Array>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// The type as error messages name it: `UINT32`, `ARRAY of STRING`, ...
    pub fn describe(&self) -> String {
        match self {
            Value::Array(a) => a.describe(),
            v => v.value_type().name().to_string(),
        }
    }

    /// Any integer type, as a `u64`, if it is not negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer type, as an `i64`, if it fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => i64::try_from(v).ok(),
            Value::I8(v) => Some(v.into()),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    /// FLOAT32 or FLOAT64, as an `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => None,
        }
    }
}

macro_rules! array_views {
    ($($fn:ident, $variant:ident, $t:ty;)*) => {
        impl Array {
            $(
                #[doc = concat!("The elements, if this is an array of `", stringify!($variant), "`.")]
                pub fn $fn(&self) -> Option<&[$t]> {
                    match self {
                        Array::$variant(v) => Some(v),
                        _ => None,
                    }
                }
            )*
        }
    };
}

array_views! {
    as_u8, U8, u8;
    as_i8, I8, i8;
    as_u16, U16, u16;
    as_i16, I16, i16;
    as_u32, U32, u32;
    as_i32, I32, i32;
    as_f32, F32, f32;
    as_bool, Bool, bool;
    as_strings, String, String;
    as_arrays, Array, Array;
    as_u64, U64, u64;
    as_i64, I64, i64;
    as_f64, F64, f64;
}

impl Array {
    pub fn element_type(&self) -> ValueType {
        match self {
            Array::U8(_) => ValueType::U8,
            Array::I8(_) => ValueType::I8,
            Array::U16(_) => ValueType::U16,
            Array::I16(_) => ValueType::I16,
            Array::U32(_) => ValueType::U32,
            Array::I32(_) => ValueType::I32,
            Array::F32(_) => ValueType::F32,
            Array::Bool(_) => ValueType::Bool,
            Array::String(_) => ValueType::String,
            Array::Array(_) => ValueType::Array,
            Array::U64(_) => ValueType::U64,
            Array::I64(_) => ValueType::I64,
            Array::F64(_) => ValueType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Array::U8(v) => v.len(),
            Array::I8(v) => v.len(),
            Array::U16(v) => v.len(),
            Array::I16(v) => v.len(),
            Array::U32(v) => v.len(),
            Array::I32(v) => v.len(),
            Array::F32(v) => v.len(),
            Array::Bool(v) => v.len(),
            Array::String(v) => v.len(),
            Array::Array(v) => v.len(),
            Array::U64(v) => v.len(),
            Array::I64(v) => v.len(),
            Array::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `ARRAY of UINT32`, `ARRAY of ARRAY`, ...
    pub fn describe(&self) -> String {
        format!("ARRAY of {}", self.element_type())
    }
}

/// The metadata section: keys in file order, with lookup by key.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

macro_rules! getters {
    ($($fn:ident, $variant:ident, $t:ty;)*) => {
        $(
            #[doc = concat!("The value of `key`, which must be of type `", stringify!($variant), "`.")]
            pub fn $fn(&self, key: &str) -> Result<$t> {
                match self.require(key)? {
                    Value::$variant(v) => Ok(*v),
                    v => Err(wrong_type(key, ValueType::$variant.name(), v)),
                }
            }
        )*
    };
}

impl Metadata {
    /// The entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// The value of `key`, or [`Error::MissingKey`].
    pub fn require(&self, key: &str) -> Result<&Value> {
        self.get(key)
            .ok_or_else(|| Error::MissingKey { key: key.into() })
    }

    getters! {
        get_u8, U8, u8;
        get_i8, I8, i8;
        get_u16, U16, u16;
        get_i16, I16, i16;
        get_u32, U32, u32;
        get_i32, I32, i32;
        get_u64, U64, u64;
        get_i64, I64, i64;
        get_f32, F32, f32;
        get_f64, F64, f64;
        get_bool, Bool, bool;
    }

    /// The value of `key`, which must be a `STRING`.
    pub fn get_str(&self, key: &str) -> Result<&str> {
        match self.require(key)? {
            Value::String(s) => Ok(s),
            v => Err(wrong_type(key, "STRING", v)),
        }
    }

    /// The value of `key`, which must be an `ARRAY`.
    pub fn get_array(&self, key: &str) -> Result<&Array> {
        match self.require(key)? {
            Value::Array(a) => Ok(a),
            v => Err(wrong_type(key, "ARRAY", v)),
        }
    }

    /// The value of `key`, which must be an `ARRAY of STRING`.
    pub fn get_str_array(&self, key: &str) -> Result<&[String]> {
        match self.require(key)? {
            Value::Array(Array::String(v)) => Ok(v),
            v => Err(wrong_type(key, "ARRAY of STRING", v)),
        }
    }

    /// The value of `key`, which must be an `ARRAY of FLOAT32`.
    pub fn get_f32_array(&self, key: &str) -> Result<&[f32]> {
        match self.require(key)? {
            Value::Array(Array::F32(v)) => Ok(v),
            v => Err(wrong_type(key, "ARRAY of FLOAT32", v)),
        }
    }

    /// The value of `key`, which must be an `ARRAY of INT32`.
    pub fn get_i32_array(&self, key: &str) -> Result<&[i32]> {
        match self.require(key)? {
            Value::Array(Array::I32(v)) => Ok(v),
            v => Err(wrong_type(key, "ARRAY of INT32", v)),
        }
    }

    /// The value of `key` as a `u64`, from any integer type that holds a value >= 0
    /// (writers differ on UINT32 against UINT64 for the same key).
    pub fn get_uint(&self, key: &str) -> Result<u64> {
        let v = self.require(key)?;
        v.as_u64()
            .ok_or_else(|| wrong_type(key, "a non-negative integer", v))
    }

    /// The value of `key` as an `f64`, from FLOAT32 or FLOAT64.
    pub fn get_float(&self, key: &str) -> Result<f64> {
        let v = self.require(key)?;
        v.as_f64().ok_or_else(|| wrong_type(key, "a float", v))
    }
}

fn wrong_type(key: &str, expected: &str, found: &Value) -> Error {
    let found = match found {
        Value::Array(a) => a.describe(),
        Value::String(s) => format!("STRING \"{}\"", s.escape_debug()),
        Value::Bool(b) => format!("BOOL {b}"),
        Value::F32(v) => format!("FLOAT32 {v}"),
        Value::F64(v) => format!("FLOAT64 {v}"),
        v => {
            let n = v.as_i64().map(|x| x.to_string());
            let n = n.or_else(|| v.as_u64().map(|x| x.to_string()));
            format!("{} {}", v.value_type(), n.unwrap_or_default())
        }
    };
    Error::WrongType {
        key: key.into(),
        expected: expected.into(),
        found,
    }
}

/// Reads the `count` entries that follow the header (`count_at`: where the count was read).
pub(crate) fn read(r: &mut Reader, count: u64, count_at: u64) -> Result<Metadata> {
    // smallest entry: an empty key (8), the type (4) and a one-byte value
    let count = r.check_count(count, 8 + 4 + 1, count_at, &|| "the metadata count".into())?;
    let mut m = Metadata {
        entries: Vec::with_capacity(count),
        index: HashMap::with_capacity(count),
    };
    for i in 0..count {
        let at = r.pos();
        let key = r.string(&|| format!("the key of metadata entry {i}"))?;
        let key_what = || format!("metadata key '{key}'");
        let ty_at = r.pos();
        let raw = r.u32(&|| format!("the value type of {}", key_what()))?;
        let ty = ValueType::from_u32(raw).ok_or_else(|| Error::UnknownValueType {
            what: key_what(),
            offset: ty_at,
            ty: raw,
        })?;
        let value = read_value(r, ty, &key_what)?;
        if m.index.insert(key.to_string(), i).is_some() {
            return Err(Error::DuplicateKey {
                key: key.into(),
                offset: at,
            });
        }
        m.entries.push((key.to_string(), value));
    }
    Ok(m)
}

fn read_value(r: &mut Reader, ty: ValueType, what: What) -> Result<Value> {
    Ok(match ty {
        ValueType::U8 => Value::U8(r.u8(what)?),
        ValueType::I8 => Value::I8(r.u8(what)? as i8),
        ValueType::U16 => Value::U16(u16::from_le_bytes(r.array(what)?)),
        ValueType::I16 => Value::I16(i16::from_le_bytes(r.array(what)?)),
        ValueType::U32 => Value::U32(r.u32(what)?),
        ValueType::I32 => Value::I32(i32::from_le_bytes(r.array(what)?)),
        ValueType::F32 => Value::F32(f32::from_le_bytes(r.array(what)?)),
        ValueType::U64 => Value::U64(r.u64(what)?),
        ValueType::I64 => Value::I64(i64::from_le_bytes(r.array(what)?)),
        ValueType::F64 => Value::F64(f64::from_le_bytes(r.array(what)?)),
        ValueType::Bool => Value::Bool(read_bool(r, what)?),
        ValueType::String => Value::String(r.string(what)?.to_string()),
        ValueType::Array => Value::Array(read_array(r, 1, what)?),
    })
}

fn read_bool(r: &mut Reader, what: What) -> Result<bool> {
    let at = r.pos();
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(Error::BadBool {
            what: what(),
            offset: at,
            value,
        }),
    }
}

/// Reads `n` fixed-size little-endian numbers in one bounds check.
fn numbers<const N: usize, T>(
    r: &mut Reader,
    n: usize,
    what: What,
    from: fn([u8; N]) -> T,
) -> Result<Vec<T>> {
    let b = r.bytes((n * N) as u64, what)?;
    Ok(b.chunks_exact(N)
        .map(|c| from(c.try_into().unwrap()))
        .collect())
}

/// An array value (the part after its ARRAY type): element type, count, elements.
/// `depth` is 1 for an array directly under a key.
fn read_array(r: &mut Reader, depth: usize, what: What) -> Result<Array> {
    if depth > MAX_NESTING {
        return Err(Error::NestingTooDeep {
            what: what(),
            offset: r.pos(),
            max: MAX_NESTING,
        });
    }
    let ty_at = r.pos();
    let raw = r.u32(&|| format!("the element type of {}", what()))?;
    let ty = ValueType::from_u32(raw).ok_or_else(|| Error::UnknownValueType {
        what: format!("the element type of {}", what()),
        offset: ty_at,
        ty: raw,
    })?;
    let n_at = r.pos();
    let n = r.u64(&|| format!("the length of {}", what()))?;
    let n = r.check_count(n, ty.min_size(), n_at, &|| {
        format!("the length of {} ({} elements)", what(), ty.name())
    })?;
    let elems = || format!("the elements of {}", what());
    Ok(match ty {
        ValueType::U8 => Array::U8(r.bytes(n as u64, &elems)?.to_vec()),
        ValueType::I8 => Array::I8(numbers(r, n, &elems, i8::from_le_bytes)?),
        ValueType::U16 => Array::U16(numbers(r, n, &elems, u16::from_le_bytes)?),
        ValueType::I16 => Array::I16(numbers(r, n, &elems, i16::from_le_bytes)?),
        ValueType::U32 => Array::U32(numbers(r, n, &elems, u32::from_le_bytes)?),
        ValueType::I32 => Array::I32(numbers(r, n, &elems, i32::from_le_bytes)?),
        ValueType::F32 => Array::F32(numbers(r, n, &elems, f32::from_le_bytes)?),
        ValueType::U64 => Array::U64(numbers(r, n, &elems, u64::from_le_bytes)?),
        ValueType::I64 => Array::I64(numbers(r, n, &elems, i64::from_le_bytes)?),
        ValueType::F64 => Array::F64(numbers(r, n, &elems, f64::from_le_bytes)?),
        ValueType::Bool => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(read_bool(r, &|| format!("element {i} of {}", what()))?);
            }
            Array::Bool(v)
        }
        ValueType::String => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(
                    r.string(&|| format!("element {i} of {}", what()))?
                        .to_string(),
                );
            }
            Array::String(v)
        }
        ValueType::Array => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(read_array(r, depth + 1, &|| {
                    format!("element {i} of {}", what())
                })?);
            }
            Array::Array(v)
        }
    })
}
