//! NumPy `.npy` files: read and write host tensors.
//!
//! Format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
//! the magic `\x93NUMPY`, a major and a minor version byte, the header length (u16 LE for
//! version 1, u32 LE for versions 2 and 3), then the header: a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and ending
//! in `\n`, then the raw elements.
//!
//! Supported: little-endian (or byte-order-free) f16 f32 f64 i8 u8 i16 u16 i32 u32 i64 u64
//! bool, C order. Fortran order, big-endian, object and structured dtypes are errors that say
//! why. A malformed file (truncated, bad header, data length that does not match the shape)
//! is an [`Error::Format`], never a panic.

use crate::{DType, Data, Error, Result, Tensor};
use half::f16;
use std::path::Path;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Reads a `.npy` file into a tensor.
pub fn read(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    from_bytes(&bytes).map_err(|e| match e {
        Error::Format(m) => Error::format(format!("{}: {m}", path.display())),
        e => e,
    })
}

/// Writes a tensor as a `.npy` file. The bytes go to `<path>.tmp` first, which is then
/// renamed over `path`, so a reader never sees a half-written file.
pub fn write(path: impl AsRef<Path>, t: &Tensor) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_bytes(t)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, &bytes).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(
            format!("renaming {} to {}", tmp.display(), path.display()),
            e,
        )
    })
}

/// The numpy descr of a dtype (`<f4`, `|u1`, ...), or None when numpy has no such type.
pub fn descr(dtype: DType) -> Option<&'static str> {
    Some(match dtype {
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::I16 => "<i2",
        DType::U16 => "<u2",
        DType::I32 => "<i4",
        DType::U32 => "<u4",
        DType::I64 => "<i8",
        DType::U64 => "<u8",
        DType::Bool => "|b1",
        _ => return None,
    })
}

/// Parses a numpy descr. Byte order `<` (little), `|` (not applicable) and `=` (native, which
/// is little-endian on every host smelt supports) are accepted; `>` only for one-byte types.
fn parse_descr(s: &str) -> Result<DType> {
    let bad = || Error::format(format!("unsupported dtype descr '{s}'"));
    if s.len() < 2 || !s.is_ascii() {
        return Err(bad());
    }
    let (order, code) = s.split_at(1);
    let dt = match code {
        "f2" | "e" => DType::F16,
        "f4" | "f" => DType::F32,
        "f8" | "d" => DType::F64,
        "i1" | "b" => DType::I8,
        "u1" | "B" => DType::U8,
        "i2" | "h" => DType::I16,
        "u2" | "H" => DType::U16,
        "i4" | "i" => DType::I32,
        "u4" | "I" => DType::U32,
        "i8" | "q" => DType::I64,
        "u8" | "Q" => DType::U64,
        "b1" | "?" => DType::Bool,
        _ => return Err(bad()),
    };
    match order {
        "<" | "|" | "=" => Ok(dt),
        ">" if dt.size_of() == 1 => Ok(dt),
        ">" => Err(Error::format(format!(
            "big-endian data ('{s}') is not supported"
        ))),
        _ => Err(bad()),
    }
}

/// A value of the header dict.
#[derive(Debug, PartialEq)]
enum PyVal {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

/// A tiny parser for the Python literal subset numpy writes in headers.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] as char).is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> Result<()> {
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            Some(x) => Err(Error::format(format!(
                "header: expected '{}' at byte {}, found '{}'",
                c as char, self.i, x as char
            ))),
            None => Err(Error::format(format!(
                "header: expected '{}', found the end",
                c as char
            ))),
        }
    }
    fn string(&mut self) -> Result<String> {
        let q = self
            .peek()
            .ok_or_else(|| Error::format("header: expected a string, found the end"))?;
        if q != b'\'' && q != b'"' {
            return Err(Error::format(format!(
                "header: expected a string at byte {}",
                self.i
            )));
        }
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q {
            if self.s[self.i] == b'\\' {
                return Err(Error::format(
                    "header: escapes in strings are not supported",
                ));
            }
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err(Error::format("header: unterminated string"));
        }
        let v = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.i += 1;
        Ok(v)
    }
    fn ident(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn value(&mut self) -> Result<PyVal> {
        match self.peek() {
            Some(b'\'') | Some(b'"') => Ok(PyVal::Str(self.string()?)),
            Some(b'(') => {
                self.i += 1;
                let mut dims = Vec::new();
                loop {
                    if self.peek() == Some(b')') {
                        self.i += 1;
                        break;
                    }
                    let tok = self.ident();
                    // Python 2 era files may write `3L`.
                    let num = tok.strip_suffix('L').unwrap_or(&tok);
                    let d: u64 = num.parse().map_err(|_| {
                        Error::format(format!("header: bad dimension '{tok}' in shape"))
                    })?;
                    dims.push(d);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b')') => {}
                        _ => return Err(Error::format("header: expected ',' or ')' in shape")),
                    }
                }
                Ok(PyVal::Tuple(dims))
            }
            Some(_) => match self.ident().as_str() {
                "True" => Ok(PyVal::Bool(true)),
                "False" => Ok(PyVal::Bool(false)),
                "" => Err(Error::format(format!(
                    "header: unexpected character at byte {}",
                    self.i
                ))),
                other => Err(Error::format(format!(
                    "header: unsupported value '{other}'"
                ))),
            },
            None => Err(Error::format("header: expected a value, found the end")),
        }
    }
}

/// Parses the header dict into (dtype, fortran_order, shape).
fn parse_header(h: &[u8]) -> Result<(DType, bool, Vec<usize>)> {
    let mut lx = Lexer { s: h, i: 0 };
    lx.eat(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if lx.peek() == Some(b'}') {
            lx.i += 1;
            break;
        }
        let key = lx.string()?;
        lx.eat(b':')?;
        let v = lx.value()?;
        match (key.as_str(), v) {
            ("descr", PyVal::Str(s)) => descr = Some(s),
            ("fortran_order", PyVal::Bool(b)) => fortran = Some(b),
            ("shape", PyVal::Tuple(t)) => shape = Some(t),
            (k @ ("descr" | "fortran_order" | "shape"), v) => {
                return Err(Error::format(format!(
                    "header: key '{k}' has a value of the wrong kind: {v:?}"
                )))
            }
            (k, _) => return Err(Error::format(format!("header: unknown key '{k}'"))),
        }
        match lx.peek() {
            Some(b',') => lx.i += 1,
            Some(b'}') => {}
            _ => return Err(Error::format("header: expected ',' or '}' after a value")),
        }
    }
    if lx.peek().is_some() {
        return Err(Error::format("header: trailing bytes after the dict"));
    }
    let descr = descr.ok_or_else(|| Error::format("header: missing 'descr'"))?;
    let fortran = fortran.ok_or_else(|| Error::format("header: missing 'fortran_order'"))?;
    let shape = shape.ok_or_else(|| Error::format("header: missing 'shape'"))?;
    let dtype = parse_descr(&descr)?;
    let shape = shape
        .into_iter()
        .map(|d| {
            usize::try_from(d)
                .map_err(|_| Error::format(format!("header: dimension {d} is too large")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((dtype, fortran, shape))
}

/// Decodes the bytes of a `.npy` file.
pub fn from_bytes(b: &[u8]) -> Result<Tensor> {
    if b.len() < 10 {
        return Err(Error::format(format!(
            "file of {} bytes is too short for an npy header",
            b.len()
        )));
    }
    if &b[..6] != MAGIC {
        return Err(Error::format("not an npy file (bad magic)"));
    }
    let major = b[6];
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10usize),
        2 | 3 => {
            if b.len() < 12 {
                return Err(Error::format("truncated npy header"));
            }
            (
                u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize,
                12usize,
            )
        }
        v => {
            return Err(Error::format(format!(
                "unsupported npy version {v}.{}",
                b[7]
            )))
        }
    };
    let end = start
        .checked_add(hlen)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| {
            Error::format(format!(
                "truncated npy header: needs {hlen} bytes, file has {}",
                b.len().saturating_sub(start)
            ))
        })?;
    let header = &b[start..end];
    if major < 3 && !header.is_ascii() {
        return Err(Error::format("npy header is not ASCII"));
    }
    if major == 3 && std::str::from_utf8(header).is_err() {
        return Err(Error::format("npy v3 header is not UTF-8"));
    }
    let (dtype, fortran, shape) = parse_header(header)?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::format(format!("shape {shape:?} overflows")))?;
    if fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(Error::format(
            "Fortran-order arrays are not supported (save with np.ascontiguousarray)",
        ));
    }
    let body = &b[end..];
    let size = dtype.size_of();
    let want = n
        .checked_mul(size)
        .ok_or_else(|| Error::format(format!("shape {shape:?} overflows")))?;
    if body.len() != want {
        return Err(Error::format(format!(
            "shape {shape:?} of {dtype} needs {want} data bytes, file has {}",
            body.len()
        )));
    }
    let data = decode(dtype, body);
    Tensor::new(dtype, shape, data)
}

fn chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    b.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// Decodes little-endian elements; `body.len()` is a multiple of the element size.
fn decode(dtype: DType, body: &[u8]) -> Data {
    match dtype {
        DType::F16 => Data::F16(
            chunks::<2>(body)
                .map(|a| f16::from_bits(u16::from_le_bytes(a)))
                .collect(),
        ),
        DType::F32 => Data::F32(chunks::<4>(body).map(f32::from_le_bytes).collect()),
        DType::F64 => Data::F64(chunks::<8>(body).map(f64::from_le_bytes).collect()),
        DType::I8 => Data::I8(body.iter().map(|&x| x as i8).collect()),
        DType::U8 => Data::U8(body.to_vec()),
        DType::I16 => Data::I16(chunks::<2>(body).map(i16::from_le_bytes).collect()),
        DType::U16 => Data::U16(chunks::<2>(body).map(u16::from_le_bytes).collect()),
        DType::I32 => Data::I32(chunks::<4>(body).map(i32::from_le_bytes).collect()),
        DType::U32 => Data::U32(chunks::<4>(body).map(u32::from_le_bytes).collect()),
        DType::I64 => Data::I64(chunks::<8>(body).map(i64::from_le_bytes).collect()),
        DType::U64 => Data::U64(chunks::<8>(body).map(u64::from_le_bytes).collect()),
        DType::Bool => Data::Bool(body.iter().map(|&x| x != 0).collect()),
        // parse_descr yields only the dtypes above.
        other => Data::zeros(other, 0),
    }
}

/// Encodes a tensor as `.npy` bytes (version 1 header when it fits, else version 2; the data
/// starts at a multiple of 64 bytes as numpy does).
pub fn to_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let d =
        descr(t.dtype()).ok_or_else(|| Error::dtype(t.dtype(), "npy (numpy has no such dtype)"))?;
    let shape = match t.shape() {
        [] => "()".to_string(),
        [x] => format!("({x},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!("{{'descr': '{d}', 'fortran_order': False, 'shape': {shape}, }}");
    let mut out = Vec::with_capacity(128 + t.byte_size());
    out.extend_from_slice(MAGIC);
    // Header length including the padding and the final newline.
    let pad_to = |prefix: usize| -> usize { (prefix + dict.len() + 1).div_ceil(64) * 64 - prefix };
    let hlen = if pad_to(10) <= u16::MAX as usize {
        let hlen = pad_to(10);
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(hlen as u16).to_le_bytes());
        hlen
    } else {
        let hlen = pad_to(12);
        let h32 =
            u32::try_from(hlen).map_err(|_| Error::invalid("npy header longer than 4 GiB"))?;
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&h32.to_le_bytes());
        hlen
    };
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + hlen - dict.len() - 1, b' ');
    out.push(b'\n');
    match &*t.data().owned() {
        Data::F16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_bits().to_le_bytes())),
        Data::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        Data::U8(v) => out.extend_from_slice(v),
        Data::I16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::U16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::I32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::U32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::U64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::Bool(v) => out.extend(v.iter().map(|&x| x as u8)),
        _ => return Err(Error::dtype(t.dtype(), "npy")),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bf16;

    fn header(v: u8, dict: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[v, 0]);
        if v == 1 {
            b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(dict.as_bytes());
        b
    }

    fn roundtrip(t: Tensor) {
        let b = to_bytes(&t).unwrap();
        let data_start = b.len() - t.byte_size();
        assert_eq!(data_start % 64, 0);
        assert_eq!(b[data_start - 1], b'\n');
        assert_eq!(from_bytes(&b).unwrap(), t);
    }

    #[test]
    fn roundtrip_all_dtypes() {
        let n = 33;
        roundtrip(
            Tensor::from_vec(
                vec![3, 11],
                (0..n).map(|i| i as f32 * 0.37 - 4.0).collect::<Vec<_>>(),
            )
            .unwrap(),
        );
        roundtrip(
            Tensor::from_vec(
                vec![n],
                (0..n)
                    .map(|i| f16::from_f32(i as f32 * 0.5 - 3.0))
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
        );
        roundtrip(
            Tensor::from_vec(
                vec![1, n, 1],
                (0..n).map(|i| i as f64 * 1.1e-3).collect::<Vec<_>>(),
            )
            .unwrap(),
        );
        roundtrip(
            Tensor::from_vec(vec![n], (0..n).map(|i| i as i8 - 16).collect::<Vec<_>>()).unwrap(),
        );
        roundtrip(
            Tensor::from_vec(vec![n], (0..n).map(|i| (i * 7) as u8).collect::<Vec<_>>()).unwrap(),
        );
        roundtrip(
            Tensor::from_vec(vec![n], (0..n).map(|i| i as i16 * -300).collect::<Vec<_>>()).unwrap(),
        );
        roundtrip(
            Tensor::from_vec(vec![n], (0..n).map(|i| i as u16 * 1900).collect::<Vec<_>>()).unwrap(),
        );
        roundtrip(
            Tensor::from_vec(
                vec![n],
                (0..n).map(|i| i as i32 * -70001).collect::<Vec<_>>(),
            )
            .unwrap(),
        );
        roundtrip(
            Tensor::from_vec(
                vec![n],
                (0..n).map(|i| i as u32 * 100_000_007).collect::<Vec<_>>(),
            )
            .unwrap(),
        );
        roundtrip(
            Tensor::from_vec(
                vec![n],
                (0..n).map(|i| i as i64 * -(1 << 40)).collect::<Vec<_>>(),
            )
            .unwrap(),
        );
        roundtrip(
            Tensor::from_vec(
                vec![n],
                (0..n).map(|i| (i as u64) << 58).collect::<Vec<_>>(),
            )
            .unwrap(),
        );
        roundtrip(
            Tensor::from_vec(vec![n], (0..n).map(|i| i % 3 == 0).collect::<Vec<_>>()).unwrap(),
        );
        roundtrip(Tensor::scalar(2.5f32));
        roundtrip(Tensor::from_vec::<f32>(vec![0, 4], vec![]).unwrap());
    }

    #[test]
    fn reads_numpy_output() {
        // Bytes as written by numpy 2.x: np.save(f, np.arange(6, dtype='<i4').reshape(2, 3)).
        let mut b = header(
            1,
            "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
        );
        let pad = 64 - (b.len() + 1) % 64;
        let hl = (b.len() - 10 + pad + 1) as u16;
        b[8..10].copy_from_slice(&hl.to_le_bytes());
        b.resize(b.len() + pad, b' ');
        b.push(b'\n');
        for i in 0..6i32 {
            b.extend_from_slice(&i.to_le_bytes());
        }
        let t = from_bytes(&b).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.as_slice::<i32>().unwrap(), &[0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn v2_and_v3_headers() {
        for v in [2u8, 3] {
            let mut b = header(
                v,
                "{\"descr\": \"<u2\", \"fortran_order\": False, \"shape\": (2L,)}\n",
            );
            b.extend_from_slice(&[1, 0, 2, 1]);
            let t = from_bytes(&b).unwrap();
            assert_eq!(t.as_slice::<u16>().unwrap(), &[1, 258]);
        }
    }

    #[test]
    fn fortran_order_of_a_vector_is_fine_of_a_matrix_is_an_error() {
        let mut b = header(
            1,
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
        );
        b.extend_from_slice(&[0; 8]);
        assert!(from_bytes(&b).is_ok());
        let mut b = header(
            1,
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
        );
        b.extend_from_slice(&[0; 16]);
        let e = from_bytes(&b).unwrap_err().to_string();
        assert!(e.contains("Fortran"), "{e}");
    }

    #[test]
    fn unsupported_dtypes_are_errors() {
        for (d, what) in [
            (">f4", "big-endian"),
            ("<c8", "unsupported"),
            ("|O", "unsupported"),
            ("<U3", "unsupported"),
            ("", "unsupported"),
        ] {
            let mut b = header(
                1,
                &format!("{{'descr': '{d}', 'fortran_order': False, 'shape': (1,), }}"),
            );
            b.extend_from_slice(&[0; 16]);
            let e = from_bytes(&b).unwrap_err().to_string();
            assert!(e.contains(what), "{d}: {e}");
        }
        let structured = header(
            1,
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
        );
        assert!(from_bytes(&structured).is_err());
        assert!(to_bytes(&Tensor::from_vec(vec![1], vec![bf16::ONE]).unwrap()).is_err());
        assert!(to_bytes(&Tensor::from_vec(vec![1], vec!["a".to_string()]).unwrap()).is_err());
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        let good = to_bytes(
            &Tensor::from_vec(vec![2, 5], (0..10).map(|i| i as f32).collect::<Vec<_>>()).unwrap(),
        )
        .unwrap();
        // Every truncation.
        for n in 0..good.len() {
            assert!(from_bytes(&good[..n]).is_err(), "truncated to {n}");
        }
        // Extra data.
        let mut long = good.clone();
        long.push(0);
        assert!(from_bytes(&long)
            .unwrap_err()
            .to_string()
            .contains("data bytes"));
        // Every single-byte corruption of the header must give Ok or Err, never a panic.
        for i in 0..good.len() - 40 {
            for v in [0u8, b'(', b')', b'\'', b'{', b'}', b',', b'9', 0xff] {
                let mut c = good.clone();
                c[i] = v;
                let _ = from_bytes(&c);
            }
        }
        let cases = [
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5), ",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -5), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'shape': (10,)}",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (10,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': [10]}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (10,), 'x': 1}",
            "{'descr: '<f4', 'fortran_order': False, 'shape': (10,)}",
            "{'descr': '<f4' 'fortran_order': False, 'shape': (10,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (10,)} junk",
            "['descr']",
            "",
        ];
        for h in cases {
            let mut b = header(1, h);
            b.extend_from_slice(&good[good.len() - 40..]);
            assert!(from_bytes(&b).is_err(), "{h}");
        }
        // Header length pointing past the end (v1 and v2).
        let mut b = good.clone();
        b[8] = 0xff;
        b[9] = 0xff;
        assert!(from_bytes(&b)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let mut b = header(2, "{}");
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(from_bytes(&b).is_err());
        // Wrong magic and version.
        let mut b = good.clone();
        b[1] = b'X';
        assert!(from_bytes(&b).unwrap_err().to_string().contains("magic"));
        let mut b = good.clone();
        b[6] = 9;
        assert!(from_bytes(&b).unwrap_err().to_string().contains("version"));
        // Shape / length mismatch.
        let mut b = header(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
        );
        b.extend_from_slice(&[0; 23]);
        assert!(from_bytes(&b).unwrap_err().to_string().contains("needs 24"));
    }

    #[test]
    fn write_then_read_file() {
        let dir = std::env::temp_dir().join(format!("smelt-npy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        let t = Tensor::from_vec(
            vec![4, 8],
            (0..32).map(|i| (i as f32).sin()).collect::<Vec<_>>(),
        )
        .unwrap();
        write(&p, &t).unwrap();
        assert!(!dir.join("a.npy.tmp").exists());
        assert_eq!(read(&p).unwrap(), t);
        std::fs::write(&p, b"\x93NUMPY\x01\x00").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("a.npy"), "{e}");
        assert!(read(dir.join("missing.npy")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
