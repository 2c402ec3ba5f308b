//! numpy arrays <-> smelt tensors.
//!
//! Inputs: a C-contiguous, aligned, native-endian array is used in place (the tensor's storage
//! is the array's memory, kept alive by a reference to the array); any other layout is made
//! contiguous by numpy first. bool and 4-bit types are copied (their values are checked).
//! Outputs: the tensor's buffer becomes the array's buffer (no copy when the tensor owns it).
//! bfloat16 and the float8 / float4 / int4 types are numpy dtypes of the `ml_dtypes`
//! package: their arrays are views of the raw storage with that dtype.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyList;
use smelt::{DType, Tensor};
use smelt_core::tensor::Mapped;
use smelt_core::{bf16, f16, Data};
use std::sync::Arc;

/// numpy's name of a dtype (`numpy.dtype(name)`; the `ml_dtypes` names for bfloat16 and the
/// low-bit types; "object" for strings, held as Python `str` in object arrays).
pub fn numpy_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float32",
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
        DType::F64 => "float64",
        DType::I8 => "int8",
        DType::U8 => "uint8",
        DType::I16 => "int16",
        DType::U16 => "uint16",
        DType::I32 => "int32",
        DType::U32 => "uint32",
        DType::I64 => "int64",
        DType::U64 => "uint64",
        DType::Bool => "bool",
        DType::String => "object",
        DType::F8E4M3FN => "float8_e4m3fn",
        DType::F8E4M3FNUZ => "float8_e4m3fnuz",
        DType::F8E5M2 => "float8_e5m2",
        DType::F8E5M2FNUZ => "float8_e5m2fnuz",
        DType::F4E2M1 => "float4_e2m1fn",
        DType::I4 => "int4",
        DType::U4 => "uint4",
    }
}

/// The dtype of an `ml_dtypes` type name.
fn from_ml_dtypes(name: &str) -> Option<DType> {
    [
        DType::BF16,
        DType::F8E4M3FN,
        DType::F8E4M3FNUZ,
        DType::F8E5M2,
        DType::F8E5M2FNUZ,
        DType::F4E2M1,
        DType::I4,
        DType::U4,
    ]
    .into_iter()
    .find(|&d| numpy_name(d) == name)
}

/// The smelt dtype of a numpy array.
pub fn dtype_of(a: &Bound<'_, PyUntypedArray>) -> PyResult<DType> {
    let d = a.dtype();
    Ok(match (d.kind(), d.itemsize()) {
        (b'f', 2) => DType::F16,
        (b'f', 4) => DType::F32,
        (b'f', 8) => DType::F64,
        (b'i', 1) => DType::I8,
        (b'i', 2) => DType::I16,
        (b'i', 4) => DType::I32,
        (b'i', 8) => DType::I64,
        (b'u', 1) => DType::U8,
        (b'u', 2) => DType::U16,
        (b'u', 4) => DType::U32,
        (b'u', 8) => DType::U64,
        (b'b', 1) => DType::Bool,
        (b'U', _) | (b'O', _) => DType::String,
        _ => {
            let name: String = d.getattr("name")?.extract()?;
            from_ml_dtypes(&name).ok_or_else(|| {
                PyTypeError::new_err(format!(
                    "numpy dtype {name} has no smelt dtype (smelt takes float16, float32, \
                     float64, int8-int64, uint8-uint64, bool, str, and ml_dtypes' bfloat16, \
                     float8, float4 and int4 types)"
                ))
            })?
        }
    })
}

/// Array memory that a tensor uses in place: the array is kept alive (and so its buffer)
/// for as long as any tensor refers to it.
struct ArrayBytes {
    _array: Py<PyAny>,
    ptr: *const u8,
    len: usize,
}

// SAFETY: the buffer belongs to the array held in `_array` (a reference that keeps it
// alive); it is only read. `Py<PyAny>` may be dropped on any thread (PyO3 defers the
// decref until a thread is attached to the interpreter).
unsafe impl Send for ArrayBytes {}
unsafe impl Sync for ArrayBytes {}
impl std::panic::RefUnwindSafe for ArrayBytes {}

impl AsRef<[u8]> for ArrayBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: ptr..ptr+len is the array's buffer (checked C-contiguous, so exactly
        // size * itemsize bytes) and the array outlives self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

static ASARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn numpy_fn<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(cell
        .get_or_try_init(py, || {
            PyResult::Ok(py.import("numpy")?.getattr(name)?.unbind())
        })?
        .bind(py)
        .clone())
}

/// A Python value as a tensor. A value that is not an ndarray (a number, a list, a numpy
/// scalar) goes through `numpy.asarray`, with the dtype `like` when given (the input's
/// declared dtype). `what` names the value in messages.
pub fn to_tensor(v: &Bound<'_, PyAny>, like: Option<DType>, what: &str) -> PyResult<Tensor> {
    let py = v.py();
    let arr = match v.cast::<PyUntypedArray>() {
        Ok(a) => a.clone(),
        Err(_) => {
            let asarray = numpy_fn(py, &ASARRAY, "asarray")?;
            let converted = match like {
                Some(d) if d.is_numeric() || d == DType::Bool => asarray.call1((v, numpy_name(d))),
                _ => asarray.call1((v,)),
            };
            converted
                .map_err(|e| {
                    PyTypeError::new_err(format!(
                        "{what}: cannot be made a numpy array: {}",
                        e.value(py)
                    ))
                })?
                .cast_into::<PyUntypedArray>()
                .map_err(|e| PyTypeError::new_err(format!("{what}: {e}")))?
        }
    };
    array_to_tensor(&arr, what)
}

fn array_to_tensor(arr: &Bound<'_, PyUntypedArray>, what: &str) -> PyResult<Tensor> {
    let dtype = dtype_of(arr).map_err(|e| prefix(e, arr.py(), what))?;
    let shape = arr.shape().to_vec();
    let err = |e: smelt::Error| PyValueError::new_err(format!("{what}: {e}"));
    if dtype == DType::String {
        let flat = arr.call_method0("ravel")?.call_method0("tolist")?;
        let v: Vec<String> = flat.extract().map_err(|_| {
            PyTypeError::new_err(format!("{what}: an object array must hold str values only"))
        })?;
        return Tensor::from_vec(shape, v).map_err(err);
    }
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(Tensor::zeros(dtype, shape));
    }
    let d = arr.dtype();
    let mut arr = arr.clone();
    if d.is_native_byteorder() == Some(false) {
        let native = d.call_method1("newbyteorder", ("=",))?;
        arr = arr
            .call_method1("astype", (native,))?
            .cast_into::<PyUntypedArray>()?;
    }
    if !(arr.is_c_contiguous() && arr.is_aligned()) {
        // a fresh C-order buffer, aligned (ascontiguousarray keeps an unaligned one as is)
        arr = arr.call_method0("copy")?.cast_into::<PyUntypedArray>()?;
    }
    let len = n * dtype.storage().size_of();
    // SAFETY: the array is C-contiguous with n elements of `itemsize` bytes (the storage
    // size of `dtype`, matched by dtype_of) at `data`.
    let ptr = unsafe { (*arr.as_array_ptr()).fields.data as *const u8 };
    match dtype {
        // one byte per element whose values must be checked (0/1, -8..=7, 0..=15): copied
        DType::Bool | DType::I4 | DType::U4 | DType::F4E2M1 => {
            let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
            Tensor::from_le_bytes(dtype, shape, bytes).map_err(err)
        }
        _ => {
            let owner = Arc::new(ArrayBytes {
                _array: arr.clone().into_any().unbind(),
                ptr,
                len,
            });
            let m = Mapped::new(owner, 0, len, dtype).map_err(err)?;
            Tensor::new(dtype, shape, Data::Mapped(m)).map_err(err)
        }
    }
}

fn prefix(e: PyErr, py: Python<'_>, what: &str) -> PyErr {
    if e.is_instance_of::<PyTypeError>(py) {
        PyTypeError::new_err(format!("{what}: {}", e.value(py)))
    } else {
        e
    }
}

static ML_DTYPES: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The `ml_dtypes` dtype named `name`, or a TypeError saying that package is needed.
fn ml_dtype<'py>(py: Python<'py>, name: &str, what: &str) -> PyResult<Bound<'py, PyAny>> {
    let m = ML_DTYPES
        .get_or_try_init(py, || py.import("ml_dtypes").map(Bound::unbind))
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} is {name}: numpy has that dtype only through the ml_dtypes package \
                 (pip install ml_dtypes)"
            ))
        })?;
    m.bind(py).getattr(name)
}

/// A tensor as a numpy array (moving the tensor's buffer into it when the tensor owns it).
pub fn to_numpy<'py>(py: Python<'py>, t: Tensor, what: &str) -> PyResult<Bound<'py, PyAny>> {
    let dtype = t.dtype();
    let shape = t.shape().to_vec();
    let err = |e: smelt::Error| PyValueError::new_err(format!("{what}: {e}"));
    macro_rules! array {
        ($T:ty, $v:expr) => {
            ArrayD::<$T>::from_shape_vec(IxDyn(&shape), $v)
                .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))?
                .into_pyarray(py)
                .into_any()
        };
        ($T:ty) => {
            array!($T, t.into_vec::<$T>().map_err(err)?)
        };
    }
    Ok(match dtype {
        DType::F32 => array!(f32),
        DType::F64 => array!(f64),
        DType::F16 => array!(f16),
        DType::I8 => array!(i8),
        DType::U8 => array!(u8),
        DType::I16 => array!(i16),
        DType::U16 => array!(u16),
        DType::I32 => array!(i32),
        DType::U32 => array!(u32),
        DType::I64 => array!(i64),
        DType::U64 => array!(u64),
        DType::Bool => array!(bool),
        DType::BF16 => {
            let ml = ml_dtype(py, "bfloat16", what)?;
            let bits: Vec<u16> = t
                .as_slice::<bf16>()
                .map_err(err)?
                .iter()
                .map(|x| x.to_bits())
                .collect();
            array!(u16, bits).call_method1("view", (ml,))?
        }
        DType::I4 => {
            let ml = ml_dtype(py, "int4", what)?;
            array!(i8).call_method1("view", (ml,))?
        }
        DType::U4
        | DType::F8E4M3FN
        | DType::F8E4M3FNUZ
        | DType::F8E5M2
        | DType::F8E5M2FNUZ
        | DType::F4E2M1 => {
            let ml = ml_dtype(py, numpy_name(dtype), what)?;
            array!(u8).call_method1("view", (ml,))?
        }
        DType::String => {
            let v = t.into_vec::<String>().map_err(err)?;
            let list = PyList::new(py, v)?;
            let np = py.import("numpy")?;
            let a = np.call_method1("empty", (list.len(), "object"))?;
            a.set_item(pyo3::types::PySlice::full(py), list)?;
            a.call_method1("reshape", (shape,))?
        }
    })
}
