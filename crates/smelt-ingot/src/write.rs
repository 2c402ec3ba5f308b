//! Writing a package: the graph and info become a manifest, every constant tensor larger
//! than [`INLINE_MAX`] bytes becomes a 64-byte-aligned blob of the weights section.
//!
//! File order: header, section table, manifest, zero padding to a 4096-byte boundary,
//! weights. Writing to a path goes through a temporary file in the same folder that is
//! renamed into place only once complete, so a failed write leaves nothing behind.

use crate::header::{kind, Header, Section, BLOB_ALIGN, MAJOR, MINOR, SECTION_ALIGN};
use crate::info::Info;
use crate::proto::{self, attr_def::Value as AV, encoding};
use smelt_core::{DType, Dim, Error, Result, Tensor, ValueInfo};
use smelt_ir::{Attr, Graph};
use std::io::Write;
use std::path::Path;

/// Tensors of at most this many bytes are stored inline in the manifest.
pub const INLINE_MAX: usize = 256;

/// What a write produced.
#[derive(Clone, Debug, Default)]
pub struct WriteStats {
    pub file_bytes: u64,
    pub manifest_bytes: u64,
    pub weight_bytes: u64,
    pub blobs: usize,
    pub inline_tensors: usize,
}

/// Progress of a write: (bytes of weights written, total bytes of weights).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Writes a package to `path` atomically (temporary file, then rename), with the permissions
/// a new file gets from the umask.
pub fn write(path: &Path, graph: &Graph, info: &Info, progress: Progress) -> Result<WriteStats> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let io = |what: &str, e: std::io::Error| Error::io(format!("{what} {}", path.display()), e);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ingot-").suffix(".tmp");
    // A package is an ordinary file: created as 0666 less the umask (as `cp` or a compiler
    // would), not tempfile's private 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| io("creating a temporary file beside", e))?;
    let stats = {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        let stats = write_to(&mut w, graph, info, progress)?;
        w.flush().map_err(|e| io("writing", e))?;
        stats
    };
    tmp.as_file().sync_all().map_err(|e| io("syncing", e))?;
    tmp.persist(path)
        .map_err(|e| io("renaming into", e.error))?;
    Ok(stats)
}

/// The package as bytes (tests, fuzz seeds, in-memory use).
pub fn to_bytes(graph: &Graph, info: &Info) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    write_to(&mut v, graph, info, &mut |_, _| {})?;
    Ok(v)
}

/// Writes a package to any sink.
pub fn write_to(
    w: &mut dyn Write,
    graph: &Graph,
    info: &Info,
    progress: Progress,
) -> Result<WriteStats> {
    let mut blobs = Blobs::default();
    let manifest = proto::Manifest {
        name: info.name.clone(),
        version: info.version.clone(),
        author: info.author.clone(),
        license: info.license.clone(),
        description: info.description.clone(),
        metadata: info
            .metadata
            .iter()
            .map(|(k, v)| proto::KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        opsets: info
            .opsets
            .iter()
            .map(|(d, v)| proto::Opset {
                domain: d.clone(),
                version: *v,
            })
            .collect(),
        states: info
            .states
            .iter()
            .map(|s| proto::StateDef {
                name: s.name.clone(),
                input: s.input.clone(),
                output: s.output.clone(),
                description: s.description.clone(),
            })
            .collect(),
        graph: Some(graph_def(graph, info, &mut blobs, true)?),
        producer: info.producer.clone(),
        source: info.source.clone(),
    };
    let manifest = prost::Message::encode_to_vec(&manifest);
    let table_len = Header::encoded_len(2) as u64;
    let manifest_off = table_len;
    let weights_off = align(manifest_off + manifest.len() as u64, SECTION_ALIGN);
    let weights_len = blobs.end;
    let file_len = weights_off + weights_len;
    let header = Header {
        major: MAJOR,
        minor: MINOR,
        file_len,
        sections: vec![
            Section {
                kind: kind::MANIFEST,
                flags: 0,
                offset: manifest_off,
                length: manifest.len() as u64,
                crc32: crc32fast::hash(&manifest),
            },
            Section {
                kind: kind::WEIGHTS,
                flags: 0,
                offset: weights_off,
                length: weights_len,
                crc32: 0,
            },
        ],
    };
    let io = |e| Error::io("writing the package", e);
    w.write_all(&header.encode()).map_err(io)?;
    w.write_all(&manifest).map_err(io)?;
    let mut pos = manifest_off + manifest.len() as u64;
    zeros(w, weights_off - pos)?;
    pos = 0;
    progress(0, weights_len);
    for (off, t) in &blobs.list {
        zeros(w, off - pos)?;
        let bytes = t.le_bytes()?;
        w.write_all(&bytes).map_err(io)?;
        pos = off + bytes.len() as u64;
        progress(pos, weights_len);
    }
    zeros(w, weights_len - pos)?;
    progress(weights_len, weights_len);
    Ok(WriteStats {
        file_bytes: file_len,
        manifest_bytes: manifest.len() as u64,
        weight_bytes: weights_len,
        blobs: blobs.list.len(),
        inline_tensors: blobs.inline,
    })
}

fn align(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

fn zeros(w: &mut dyn Write, n: u64) -> Result<()> {
    const Z: [u8; 4096] = [0; 4096];
    let mut n = n;
    while n > 0 {
        let k = n.min(Z.len() as u64) as usize;
        w.write_all(&Z[..k])
            .map_err(|e| Error::io("writing the package", e))?;
        n -= k as u64;
    }
    Ok(())
}

/// Tensors bound for the weights section, with their offsets, in file order.
#[derive(Default)]
struct Blobs {
    list: Vec<(u64, Tensor)>,
    end: u64,
    inline: usize,
}

impl Blobs {
    fn tensor_def(&mut self, name: &str, t: &Tensor) -> Result<proto::TensorDef> {
        let mut def = proto::TensorDef {
            name: name.to_string(),
            dtype: t.dtype().to_onnx() as i32,
            shape: t.shape().iter().map(|&d| d as u64).collect(),
            encoding: encoding::RAW,
            ..Default::default()
        };
        if t.dtype() == DType::String {
            def.strings = t.as_slice::<String>()?.to_vec();
            self.inline += 1;
            return Ok(def);
        }
        let bytes = t.le_bytes()?;
        if bytes.len() <= INLINE_MAX {
            def.inline = bytes.into_owned();
            self.inline += 1;
        } else {
            let offset = align(self.end, BLOB_ALIGN);
            def.blob = Some(proto::Blob {
                offset,
                length: bytes.len() as u64,
                crc32: crc32fast::hash(&bytes),
            });
            self.end = offset + bytes.len() as u64;
            self.list.push((offset, t.clone()));
        }
        Ok(def)
    }
}

pub(crate) fn value_type(v: &ValueInfo) -> proto::ValueType {
    proto::ValueType {
        dtype: v.dtype.map_or(0, |d| d.to_onnx() as i32),
        has_shape: v.shape.is_some(),
        dims: v
            .shape
            .iter()
            .flatten()
            .map(|d| proto::DimDef {
                kind: match d {
                    Dim::Fixed(n) => Some(proto::dim_def::Kind::Fixed(*n as u64)),
                    Dim::Sym(s) => Some(proto::dim_def::Kind::Sym(s.clone())),
                    Dim::Unknown => None,
                },
            })
            .collect(),
    }
}

/// `top`: the model's graph, whose inputs and outputs carry the descriptions (a body's
/// values may share their names).
fn graph_def(g: &Graph, info: &Info, blobs: &mut Blobs, top: bool) -> Result<proto::GraphDef> {
    let io = |id: usize| proto::IoDef {
        name: g.values[id].name.clone(),
        r#type: Some(value_type(&g.values[id].info)),
        description: info
            .descriptions
            .get(&g.values[id].name)
            .filter(|_| top)
            .cloned()
            .unwrap_or_default(),
    };
    let name_of = |o: &Option<usize>| o.map_or(String::new(), |id| g.values[id].name.clone());
    let mut nodes = Vec::with_capacity(g.nodes.len());
    for n in &g.nodes {
        let mut attrs = Vec::with_capacity(n.attrs.0.len());
        for (k, a) in &n.attrs.0 {
            let value =
                attr_value(k, a, info, blobs).map_err(|e| e.in_node(&n.name, &n.op_type))?;
            attrs.push(proto::AttrDef {
                name: k.clone(),
                value: Some(value),
            });
        }
        nodes.push(proto::NodeDef {
            name: n.name.clone(),
            op_type: n.op_type.clone(),
            domain: n.domain.clone(),
            inputs: n.inputs.iter().map(name_of).collect(),
            outputs: n.outputs.iter().map(name_of).collect(),
            attrs,
        });
    }
    Ok(proto::GraphDef {
        name: g.name.clone(),
        inputs: g.inputs.iter().map(|&i| io(i)).collect(),
        outputs: g.outputs.iter().map(|&i| io(i)).collect(),
        initializers: g
            .initializers
            .iter()
            .map(|(&id, t)| blobs.tensor_def(&g.values[id].name, t))
            .collect::<Result<_>>()?,
        nodes,
        captures: g
            .captures
            .iter()
            .map(|&c| g.values[c].name.clone())
            .collect(),
    })
}

fn attr_value(name: &str, a: &Attr, info: &Info, blobs: &mut Blobs) -> Result<AV> {
    Ok(match a {
        Attr::Float(f) => AV::F(*f),
        Attr::Int(i) => AV::I(*i),
        Attr::String(s) => AV::S(s.clone()),
        Attr::Tensor(t) => AV::T(blobs.tensor_def(name, t)?),
        Attr::Graph(g) => AV::G(graph_def(g, info, blobs, false)?),
        Attr::Type(t) => AV::Type(value_type(t)),
        Attr::Floats(v) => AV::Floats(proto::Floats { v: v.clone() }),
        Attr::Ints(v) => AV::Ints(proto::Ints { v: v.clone() }),
        Attr::Strings(v) => AV::Strings(proto::Strings { v: v.clone() }),
        Attr::Tensors(ts) => AV::Tensors(proto::Tensors {
            v: ts
                .iter()
                .map(|t| blobs.tensor_def(name, t))
                .collect::<Result<_>>()?,
        }),
        Attr::Graphs(gs) => AV::Graphs(proto::Graphs {
            v: gs
                .iter()
                .map(|g| graph_def(g, info, blobs, false))
                .collect::<Result<_>>()?,
        }),
        Attr::Types(ts) => AV::Types(proto::Types {
            v: ts.iter().map(value_type).collect(),
        }),
    })
}
