//! Loading a package: the header and manifest are checked and decoded, the graph is rebuilt
//! through [`GraphBuilder`] (so every op is validated by its factory), and blob tensors are
//! used in place from the mapped file.
//!
//! Every problem is an `Error::Format` naming what is wrong and where: truncation, a bad
//! checksum, an unknown dtype or encoding, a blob out of bounds, a shape whose byte size does
//! not match its data. Nothing is allocated from a size read from the file before that size
//! has been checked against the bytes actually present.

use crate::header::{kind, Header, BLOB_ALIGN};
use crate::info::{Info, StateDecl};
use crate::proto::{self, attr_def::Value as AV, encoding};
use smelt_core::tensor::Mapped;
use smelt_core::{DType, Data, Dim, Error, Result, Tensor, ValueInfo};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::{GraphBuilder, V};
use std::path::Path;
use std::sync::Arc;

/// Bytes a package is read from: a mapped file or any buffer.
pub type Bytes = smelt_core::tensor::SharedBytes;

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Check every blob's CRC-32 while loading (reads each weight page once; the pages are
    /// then released, so resident memory does not keep them). Off: only the header and
    /// manifest are checked, and a corrupt weight goes unnoticed.
    pub verify_weights: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            verify_weights: true,
        }
    }
}

/// What loading did with the weights.
#[derive(Clone, Debug, Default)]
pub struct LoadStats {
    pub file_bytes: u64,
    pub manifest_bytes: u64,
    /// Tensors used in place from the file, and their bytes.
    pub mapped_tensors: usize,
    pub mapped_bytes: u64,
    /// Tensors copied out (inline ones, strings, and types that must be validated: bool,
    /// int4, uint4, float4), and their bytes.
    pub copied_tensors: usize,
    pub copied_bytes: u64,
    pub format_version: (u16, u16),
}

/// A loaded package.
#[derive(Debug)]
pub struct Package {
    pub info: Info,
    pub graph: Graph,
    pub stats: LoadStats,
}

/// Maps a file and loads it. The file must not be modified while the package is in use.
pub fn open(path: &Path, opts: &LoadOptions) -> Result<Package> {
    let ctx = |e: Error| match e {
        Error::Format(m) => Error::Format(format!("{}: {m}", path.display())),
        e => e,
    };
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
        .len();
    if len < crate::header::HEADER_LEN as u64 {
        // too short to map usefully (and an empty file cannot be mapped): read it for the error
        let b =
            std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        return Err(ctx(Header::decode(&b).err().unwrap_or_else(|| {
            Error::format("file is shorter than the header")
        })));
    }
    // SAFETY: the map is read-only; the format's contract is that the file is not modified
    // while a package built from it is alive.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| Error::io(format!("mapping {}", path.display()), e))?;
    let map = Arc::new(map);
    let m2 = map.clone();
    // Verified weight pages are dropped from this process's resident set: they stay in the
    // page cache and fault back in when an op reads them.
    let release = move |off: usize, len: usize| {
        let page = 4096;
        let start = off / page * page;
        let end = (off + len).min(m2.len());
        if end > start {
            // SAFETY: DontNeed on a read-only private file mapping only drops resident
            // pages; later reads fault them back in with the same contents.
            let _ = unsafe {
                m2.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    };
    load_with(map, opts, Some(&release)).map_err(ctx)
}

/// Loads a package from bytes in memory.
pub fn from_bytes(bytes: Bytes, opts: &LoadOptions) -> Result<Package> {
    load_with(bytes, opts, None)
}

fn load_with(
    bytes: Bytes,
    opts: &LoadOptions,
    release: Option<&dyn Fn(usize, usize)>,
) -> Result<Package> {
    let b: &[u8] = (*bytes).as_ref();
    let header = Header::decode(b)?;
    let ms = header
        .section(kind::MANIFEST)?
        .ok_or_else(|| Error::format("no manifest section"))?;
    let mbytes = &b[ms.offset as usize..(ms.offset + ms.length) as usize];
    let crc = crc32fast::hash(mbytes);
    if crc != ms.crc32 {
        return Err(Error::format(format!(
            "manifest checksum mismatch (stored {:08x}, computed {crc:08x}): corrupt file",
            ms.crc32
        )));
    }
    let manifest: proto::Manifest = prost::Message::decode(mbytes)
        .map_err(|e| Error::format(format!("manifest does not decode: {e}")))?;
    let (wbase, wlen) = match header.section(kind::WEIGHTS)? {
        Some(s) if s.offset % BLOB_ALIGN != 0 => {
            return Err(Error::format(format!(
                "weights section at {} is not {BLOB_ALIGN}-byte aligned",
                s.offset
            )))
        }
        Some(s) => (s.offset as usize, s.length as usize),
        None => (0, 0),
    };
    let mut r = Reader {
        bytes: bytes.clone(),
        wbase,
        wlen,
        verify: opts.verify_weights,
        release,
        stats: LoadStats {
            file_bytes: b.len() as u64,
            manifest_bytes: ms.length,
            format_version: (header.major, header.minor),
            ..Default::default()
        },
        opsets: manifest
            .opsets
            .iter()
            .map(|o| (o.domain.clone(), o.version))
            .collect(),
    };
    let gd = manifest
        .graph
        .as_ref()
        .ok_or_else(|| Error::format("manifest has no graph"))?;
    let graph = r.graph(gd)?;
    let info = Info {
        name: manifest.name,
        version: manifest.version,
        author: manifest.author,
        license: manifest.license,
        description: manifest.description,
        metadata: manifest
            .metadata
            .into_iter()
            .map(|kv| (kv.key, kv.value))
            .collect(),
        opsets: r.opsets.clone(),
        states: manifest
            .states
            .into_iter()
            .map(|s| StateDecl {
                name: s.name,
                input: s.input,
                output: s.output,
                description: s.description,
            })
            .collect(),
        descriptions: gd
            .inputs
            .iter()
            .chain(&gd.outputs)
            .filter(|io| !io.description.is_empty())
            .map(|io| (io.name.clone(), io.description.clone()))
            .collect(),
        producer: manifest.producer,
        source: manifest.source,
    };
    check_states(&info, &graph)?;
    Ok(Package {
        info,
        graph,
        stats: r.stats,
    })
}

/// Every declared state pairs a graph input with a graph output of the same dtype, and no
/// value is used by two states.
pub fn check_states(info: &Info, g: &Graph) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for s in &info.states {
        let bad = |m: String| Error::format(format!("state '{}': {m}", s.name));
        let i = g
            .value_id(&s.input)
            .filter(|i| g.inputs.contains(i))
            .ok_or_else(|| bad(format!("'{}' is not a graph input", s.input)))?;
        let o = g
            .value_id(&s.output)
            .filter(|o| g.outputs.contains(o))
            .ok_or_else(|| bad(format!("'{}' is not a graph output", s.output)))?;
        if !seen.insert(s.input.clone()) || !seen.insert(s.output.clone()) {
            return Err(bad("its input or output belongs to another state".into()));
        }
        let (vi, vo) = (&g.values[i].info, &g.values[o].info);
        if let (Some(si), Some(so)) = (&vi.shape, &vo.shape) {
            let clash = si.len() != so.len()
                || si
                    .iter()
                    .zip(so)
                    .any(|(a, b)| matches!((a.fixed(), b.fixed()), (Some(x), Some(y)) if x != y));
            if clash {
                return Err(bad(format!(
                    "input '{}' ({vi}) and output '{}' ({vo}) have different shapes",
                    s.input, s.output
                )));
            }
        }
        let (di, d_o) = (vi.dtype, vo.dtype);
        if di.is_none() || (d_o.is_some() && di != d_o) {
            return Err(bad(format!(
                "input '{}' ({}) and output '{}' ({}) must have one declared dtype",
                s.input, g.values[i].info, s.output, g.values[o].info
            )));
        }
    }
    Ok(())
}

struct Reader<'a> {
    bytes: Bytes,
    wbase: usize,
    wlen: usize,
    verify: bool,
    release: Option<&'a dyn Fn(usize, usize)>,
    stats: LoadStats,
    opsets: Vec<(String, i64)>,
}

pub(crate) fn value_info(t: Option<&proto::ValueType>) -> Result<ValueInfo> {
    let Some(t) = t else {
        return Ok(ValueInfo::unknown());
    };
    let dtype = match t.dtype {
        0 => None,
        c => Some(dtype(c)?),
    };
    let shape = t.has_shape.then(|| {
        t.dims
            .iter()
            .map(|d| match &d.kind {
                Some(proto::dim_def::Kind::Fixed(n)) => usize::try_from(*n)
                    .ok()
                    .filter(|&n| n <= i64::MAX as usize)
                    .map_or(Dim::Unknown, Dim::Fixed),
                Some(proto::dim_def::Kind::Sym(s)) => Dim::Sym(s.clone()),
                None => Dim::Unknown,
            })
            .collect::<Vec<_>>()
    });
    if let Some(dims) = &shape {
        smelt_core::check_dims(dims).map_err(|e| Error::format(e.to_string()))?;
    }
    Ok(ValueInfo { dtype, shape })
}

fn dtype(code: i32) -> Result<DType> {
    DType::from_onnx(code as i64).ok_or_else(|| Error::format(format!("unknown dtype code {code}")))
}

impl Reader<'_> {
    fn graph(&mut self, gd: &proto::GraphDef) -> Result<Graph> {
        let gname = if gd.name.is_empty() {
            "graph"
        } else {
            &gd.name
        };
        let mut b = GraphBuilder::new(gname);
        for (d, v) in &self.opsets {
            b.set_opset(d, *v);
        }
        let err = |m: String| Error::format(format!("graph '{gname}': {m}"));
        // a nested format error keeps one "model format:" prefix
        let msg = |e: Error| match e {
            Error::Format(m) => m,
            e => e.to_string(),
        };
        for t in &gd.initializers {
            if b.find(&t.name).is_some() || t.name.is_empty() {
                return Err(err(format!(
                    "initializer '{}' is unnamed or defined twice",
                    t.name
                )));
            }
            let tensor = self.tensor(t).map_err(|e| err(msg(e)))?;
            b.constant(&t.name, tensor);
        }
        for i in &gd.inputs {
            let info = value_info(i.r#type.as_ref())
                .map_err(|e| err(format!("input '{}': {}", i.name, msg(e))))?;
            b.input_info(&i.name, info)
                .map_err(|e| err(format!("input '{}': {e}", i.name)))?;
        }
        for c in &gd.captures {
            b.capture(c)
                .map_err(|e| err(format!("capture '{c}': {e}")))?;
        }
        for n in &gd.nodes {
            let mut inputs: Vec<Option<V>> = Vec::with_capacity(n.inputs.len());
            for name in &n.inputs {
                if name.is_empty() {
                    inputs.push(None);
                } else {
                    inputs.push(Some(b.find(name).ok_or_else(|| {
                        err(format!(
                            "node '{}' ({}): input '{name}' is not defined before use",
                            n.name, n.op_type
                        ))
                    })?));
                }
            }
            let mut attrs = Attributes::new();
            for a in &n.attrs {
                let v = self.attr(a).map_err(|e| {
                    err(format!(
                        "node '{}' ({}): attribute '{}': {e}",
                        n.name, n.op_type, a.name
                    ))
                })?;
                attrs.0.insert(a.name.clone(), v);
            }
            b.add_node(&n.name, &n.domain, &n.op_type, &inputs, &n.outputs, attrs)?;
        }
        for o in &gd.outputs {
            let v = b
                .find(&o.name)
                .ok_or_else(|| err(format!("output '{}' is never produced", o.name)))?;
            let declared = value_info(o.r#type.as_ref())
                .map_err(|e| err(format!("output '{}': {}", o.name, msg(e))))?;
            let cur = &mut b.graph_mut().values[v.0].info;
            if declared.dtype.is_some() {
                cur.dtype = declared.dtype;
            }
            if declared.shape.is_some() {
                cur.shape = declared.shape;
            }
            b.output(v, "");
        }
        b.build()
    }

    fn attr(&mut self, a: &proto::AttrDef) -> Result<Attr> {
        let v = a.value.as_ref().ok_or_else(|| Error::format("no value"))?;
        Ok(match v {
            AV::F(f) => Attr::Float(*f),
            AV::I(i) => Attr::Int(*i),
            AV::S(s) => Attr::String(s.clone()),
            AV::T(t) => Attr::Tensor(self.tensor(t)?),
            AV::G(g) => Attr::Graph(Arc::new(self.graph(g)?)),
            AV::Type(t) => Attr::Type(value_info(Some(t))?),
            AV::Floats(v) => Attr::Floats(v.v.clone()),
            AV::Ints(v) => Attr::Ints(v.v.clone()),
            AV::Strings(v) => Attr::Strings(v.v.clone()),
            AV::Tensors(v) => {
                Attr::Tensors(v.v.iter().map(|t| self.tensor(t)).collect::<Result<_>>()?)
            }
            AV::Graphs(v) => Attr::Graphs(
                v.v.iter()
                    .map(|g| self.graph(g).map(Arc::new))
                    .collect::<Result<_>>()?,
            ),
            AV::Types(v) => Attr::Types(
                v.v.iter()
                    .map(|t| value_info(Some(t)))
                    .collect::<Result<_>>()?,
            ),
        })
    }

    /// A constant tensor, mapped in place where its bytes can be used as they are.
    fn tensor(&mut self, t: &proto::TensorDef) -> Result<Tensor> {
        let name = &t.name;
        let bad = |m: String| Error::format(format!("tensor '{name}': {m}"));
        let dt = dtype(t.dtype).map_err(|e| bad(e.to_string()))?;
        if t.encoding != encoding::RAW {
            return Err(bad(format!(
                "encoding {} is not known to this reader (written by a newer smelt?)",
                t.encoding
            )));
        }
        let shape: Vec<usize> = t
            .shape
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| bad(format!("dimension {d} is too large"))))
            .collect::<Result<_>>()?;
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
        if dt == DType::String {
            if t.strings.len() != n {
                return Err(bad(format!(
                    "shape {shape:?} needs {n} strings, {} stored",
                    t.strings.len()
                )));
            }
            self.stats.copied_tensors += 1;
            return Tensor::from_vec(shape, t.strings.clone());
        }
        let nbytes = n
            .checked_mul(dt.storage().size_of())
            .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
        let Some(blob) = &t.blob else {
            if t.inline.len() != nbytes {
                return Err(bad(format!(
                    "shape {shape:?} of {dt} needs {nbytes} bytes, {} stored inline",
                    t.inline.len()
                )));
            }
            self.stats.copied_tensors += 1;
            self.stats.copied_bytes += nbytes as u64;
            return Tensor::from_le_bytes(dt, shape, &t.inline).map_err(|e| bad(e.to_string()));
        };
        if blob.length != nbytes as u64 {
            return Err(bad(format!(
                "shape {shape:?} of {dt} needs {nbytes} bytes, the blob holds {}",
                blob.length
            )));
        }
        let in_bounds = blob
            .offset
            .checked_add(blob.length)
            .is_some_and(|e| e <= self.wlen as u64);
        if !in_bounds || blob.offset % BLOB_ALIGN != 0 {
            return Err(bad(format!(
                "blob {}+{} is not a {BLOB_ALIGN}-aligned range of the {}-byte weights section",
                blob.offset, blob.length, self.wlen
            )));
        }
        let start = self.wbase + blob.offset as usize;
        let bytes = &(*self.bytes).as_ref()[start..start + nbytes];
        if self.verify {
            let crc = crc32fast::hash(bytes);
            if crc != blob.crc32 {
                return Err(bad(format!(
                    "checksum mismatch in the weights section (stored {:08x}, computed {crc:08x}): corrupt file",
                    blob.crc32
                )));
            }
        }
        // Types with invalid bit patterns are validated into owned storage.
        let validate = matches!(dt, DType::Bool | DType::I4 | DType::U4 | DType::F4E2M1);
        if !validate {
            if let Ok(m) = Mapped::new(self.bytes.clone(), start, nbytes, dt) {
                if let Some(release) = self.release.filter(|_| self.verify) {
                    release(start, nbytes);
                }
                self.stats.mapped_tensors += 1;
                self.stats.mapped_bytes += nbytes as u64;
                return Tensor::new(dt, shape, Data::Mapped(m));
            }
        }
        self.stats.copied_tensors += 1;
        self.stats.copied_bytes += nbytes as u64;
        Tensor::from_le_bytes(dt, shape, bytes).map_err(|e| bad(e.to_string()))
    }
}

/// Reads a package's manifest only (no graph is built, no weight is touched): for tools
/// that list what a file holds.
pub fn read_manifest(path: &Path) -> Result<proto::Manifest> {
    let b = std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let h = Header::decode(&b)?;
    let ms = h
        .section(kind::MANIFEST)?
        .ok_or_else(|| Error::format("no manifest section"))?;
    let m = &b[ms.offset as usize..(ms.offset + ms.length) as usize];
    if crc32fast::hash(m) != ms.crc32 {
        return Err(Error::format("manifest checksum mismatch: corrupt file"));
    }
    prost::Message::decode(m).map_err(|e| Error::format(format!("manifest does not decode: {e}")))
}
