//! ONNX importer: a ModelProto (bytes or file, with external data) becomes a smelt [`Graph`]
//! built through the same [`GraphBuilder`] API users call.
//!
//! Every failure is a typed error naming the node, op and value concerned: malformed
//! protobuf, unknown op or domain, a value read before it is defined, a missing external
//! data file.

pub mod proto;
pub mod tensor;

use prost::Message;
use proto::{attr_type, AttributeProto, GraphProto, ModelProto, TypeProto, ValueInfoProto};
use smelt_core::{Dim, Error, Result, Tensor, ValueInfo};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::{GraphBuilder, V};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

pub use tensor::{dtype_from_onnx, tensor_from_proto};

/// An imported model: the graph plus the ModelProto's metadata.
#[derive(Debug, Clone)]
pub struct Model {
    pub graph: Graph,
    pub opsets: Vec<(String, i64)>,
    pub ir_version: i64,
    pub producer: String,
    pub doc: String,
    pub metadata: Vec<(String, String)>,
}

/// Loads a model file; external data resolves relative to its folder.
pub fn load_path(path: &Path) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    load_bytes(&bytes, Some(path.parent().unwrap_or(Path::new(".")))).map_err(|e| match e {
        Error::Format(m) => Error::Format(format!("{}: {m}", path.display())),
        e => e,
    })
}

/// Loads a model from bytes. `base_dir` is where external data files live (None: none allowed).
pub fn load_bytes(bytes: &[u8], base_dir: Option<&Path>) -> Result<Model> {
    let m = ModelProto::decode(bytes)
        .map_err(|e| Error::format(format!("not a valid ONNX model (protobuf: {e})")))?;
    let gp = m
        .graph
        .as_ref()
        .ok_or_else(|| Error::format("ModelProto has no graph"))?;
    let mut opsets: Vec<(String, i64)> = m
        .opset_import
        .iter()
        .map(|o| (o.domain.clone(), o.version))
        .collect();
    if opsets.is_empty() {
        opsets.push((String::new(), 1));
    }
    if !m.functions.is_empty() {
        let used: HashSet<(&str, &str)> = gp
            .node
            .iter()
            .map(|n| (n.domain.as_str(), n.op_type.as_str()))
            .collect();
        if let Some(f) = m
            .functions
            .iter()
            .find(|f| used.contains(&(f.domain.as_str(), f.name.as_str())))
        {
            return Err(Error::UnsupportedOp {
                domain: f.domain.clone(),
                op_type: f.name.clone(),
                detail: "model-local function".into(),
            });
        }
    }
    let imp = Importer {
        opsets: &opsets,
        base_dir,
    };
    let graph = imp.graph(gp, &[])?;
    Ok(Model {
        graph,
        opsets,
        ir_version: m.ir_version,
        producer: format!("{} {}", m.producer_name, m.producer_version)
            .trim()
            .to_string(),
        doc: m.doc_string.clone(),
        metadata: m
            .metadata_props
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect(),
    })
}

/// Decodes a serialized TensorProto (the `.pb` files of the ONNX test suite).
pub fn load_tensor_bytes(bytes: &[u8]) -> Result<Tensor> {
    let t = proto::TensorProto::decode(bytes)
        .map_err(|e| Error::format(format!("not a valid TensorProto: {e}")))?;
    tensor_from_proto(&t, None)
}

/// The value type of a ValueInfoProto; non-tensor types are unsupported.
pub fn value_info(v: &ValueInfoProto) -> Result<ValueInfo> {
    match &v.r#type {
        None => Ok(ValueInfo::unknown()),
        Some(t) => type_info(t).map_err(|e| match e {
            Error::Unsupported(m) => Error::Unsupported(format!("value '{}': {m}", v.name)),
            e => Error::format(format!("value '{}': {e}", v.name)),
        }),
    }
}

fn type_info(t: &TypeProto) -> Result<ValueInfo> {
    use proto::tensor_shape_proto::dimension::Value as D;
    use proto::type_proto::Value;
    match &t.value {
        Some(Value::TensorType(tt)) => {
            let dtype = if tt.elem_type == 0 {
                None
            } else {
                Some(dtype_from_onnx(tt.elem_type)?)
            };
            let shape = tt.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(D::DimValue(v)) if *v >= 0 => Dim::Fixed(*v as usize),
                        Some(D::DimParam(p)) if !p.is_empty() => Dim::Sym(p.clone()),
                        _ => Dim::Unknown,
                    })
                    .collect::<Vec<_>>()
            });
            if let Some(dims) = &shape {
                smelt_core::check_dims(dims)?;
            }
            Ok(ValueInfo { dtype, shape })
        }
        None => Ok(ValueInfo::unknown()),
        Some(Value::SequenceType(_)) => Err(Error::Unsupported(
            "sequence type: sequence values are not supported yet".into(),
        )),
        Some(Value::MapType(_)) => Err(Error::Unsupported(
            "map type: map values are not supported yet".into(),
        )),
        Some(Value::OptionalType(_)) => Err(Error::Unsupported(
            "optional type: optional values are not supported yet".into(),
        )),
        Some(Value::SparseTensorType(_)) => Err(Error::Unsupported("sparse tensor type".into())),
    }
}

struct Importer<'a> {
    opsets: &'a [(String, i64)],
    base_dir: Option<&'a Path>,
}

impl Importer<'_> {
    /// Imports a graph. `outer` lists the names visible from enclosing graphs (innermost last).
    fn graph(&self, gp: &GraphProto, outer: &[&HashSet<String>]) -> Result<Graph> {
        let mut b = GraphBuilder::new(if gp.name.is_empty() {
            "graph"
        } else {
            &gp.name
        });
        for (d, v) in self.opsets {
            b.set_opset(d, *v);
        }
        let mut inits = HashSet::new();
        for t in &gp.initializer {
            let tensor = tensor_from_proto(t, self.base_dir)?;
            if b.find(&t.name).is_some() {
                return Err(Error::format(format!(
                    "graph '{}': initializer '{}' defined twice",
                    gp.name, t.name
                )));
            }
            b.constant(&t.name, tensor);
            inits.insert(t.name.clone());
        }
        for s in &gp.sparse_initializer {
            let t = densify(s, self.base_dir)?;
            let name = s
                .values
                .as_ref()
                .map(|v| v.name.clone())
                .unwrap_or_default();
            b.constant(&name, t);
            inits.insert(name);
        }
        for i in &gp.input {
            if inits.contains(&i.name) {
                continue; // an initializer listed as input: a constant with a default value
            }
            b.input_info(&i.name, value_info(i)?)?;
        }
        // names visible to subgraphs of this graph: outer ones plus what is defined so far
        let mut visible: HashSet<String> = HashSet::new();
        for name in gp
            .input
            .iter()
            .map(|i| &i.name)
            .chain(gp.initializer.iter().map(|t| &t.name))
        {
            visible.insert(name.clone());
        }
        for (k, n) in gp.node.iter().enumerate() {
            let node_name = if n.name.is_empty() {
                format!("{}_{k}", n.op_type)
            } else {
                n.name.clone()
            };
            let mut inputs: Vec<Option<V>> = Vec::with_capacity(n.input.len());
            for name in &n.input {
                if name.is_empty() {
                    inputs.push(None);
                } else if let Some(v) = b.find(name) {
                    inputs.push(Some(v));
                } else if outer.iter().any(|s| s.contains(name)) {
                    inputs.push(Some(b.capture(name)?));
                } else {
                    return Err(Error::format(format!(
                        "node '{node_name}' ({}): input '{name}' is not defined before use",
                        n.op_type
                    )));
                }
            }
            let mut attrs = Attributes::new();
            let mut scopes: Vec<&HashSet<String>> = outer.to_vec();
            scopes.push(&visible);
            for a in &n.attribute {
                let v = self
                    .attr(a, &scopes)
                    .map_err(|e| e.in_node(&node_name, &n.op_type))?;
                attrs.0.insert(a.name.clone(), v);
            }
            // a subgraph may read values of this graph that are only captured from further out
            b.add_node(&node_name, &n.domain, &n.op_type, &inputs, &n.output, attrs)?;
            for o in n.output.iter().filter(|o| !o.is_empty()) {
                visible.insert(o.clone());
            }
        }
        let mut outs = Vec::new();
        for o in &gp.output {
            let v = match b.find(&o.name) {
                Some(v) => v,
                None if outer.iter().any(|s| s.contains(&o.name)) => b.capture(&o.name)?,
                None => {
                    return Err(Error::format(format!(
                        "graph '{}': output '{}' is never produced",
                        gp.name, o.name
                    )))
                }
            };
            outs.push((v, o));
        }
        for (v, o) in outs {
            let info = value_info(o)?;
            let cur = &mut b.graph_mut().values[v.0].info;
            merge_info(cur, info);
            b.output(v, "");
        }
        for vi in &gp.value_info {
            if let (Some(v), Ok(info)) = (b.find(&vi.name), value_info(vi)) {
                merge_info(&mut b.graph_mut().values[v.0].info, info);
            }
        }
        b.build()
    }

    fn attr(&self, a: &AttributeProto, scopes: &[&HashSet<String>]) -> Result<Attr> {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let ty = if a.r#type != 0 {
            a.r#type
        } else {
            infer_attr_type(a)
        };
        Ok(match ty {
            attr_type::FLOAT => Attr::Float(a.f),
            attr_type::INT => Attr::Int(a.i),
            attr_type::STRING => Attr::String(s(&a.s)),
            attr_type::TENSOR => Attr::Tensor(tensor_from_proto(
                a.t.as_ref().ok_or_else(|| {
                    Error::format(format!("attribute '{}' has no tensor", a.name))
                })?,
                self.base_dir,
            )?),
            attr_type::GRAPH => {
                Attr::Graph(Arc::new(self.graph(
                    a.g.as_ref().ok_or_else(|| {
                        Error::format(format!("attribute '{}' has no graph", a.name))
                    })?,
                    scopes,
                )?))
            }
            attr_type::FLOATS => Attr::Floats(a.floats.clone()),
            attr_type::INTS => Attr::Ints(a.ints.clone()),
            attr_type::STRINGS => Attr::Strings(a.strings.iter().map(|x| s(x)).collect()),
            attr_type::TENSORS => Attr::Tensors(
                a.tensors
                    .iter()
                    .map(|t| tensor_from_proto(t, self.base_dir))
                    .collect::<Result<_>>()?,
            ),
            attr_type::GRAPHS => Attr::Graphs(
                a.graphs
                    .iter()
                    .map(|g| self.graph(g, scopes).map(Arc::new))
                    .collect::<Result<_>>()?,
            ),
            attr_type::SPARSE_TENSOR => Attr::Tensor(densify(
                a.sparse_tensor.as_ref().ok_or_else(|| {
                    Error::format(format!("attribute '{}' has no sparse tensor", a.name))
                })?,
                self.base_dir,
            )?),
            attr_type::TYPE_PROTO => Attr::Type(
                a.tp.as_ref()
                    .map(type_info)
                    .transpose()?
                    .unwrap_or_default(),
            ),
            attr_type::TYPE_PROTOS => {
                Attr::Types(a.type_protos.iter().map(type_info).collect::<Result<_>>()?)
            }
            attr_type::SPARSE_TENSORS => {
                return Err(Error::Unsupported(format!(
                    "sparse tensors attribute '{}'",
                    a.name
                )))
            }
            t => {
                return Err(Error::format(format!(
                    "attribute '{}' has unknown type {t}",
                    a.name
                )))
            }
        })
    }
}

/// Old writers leave `type` unset: guess it from the populated field.
fn infer_attr_type(a: &AttributeProto) -> i32 {
    if a.t.is_some() {
        attr_type::TENSOR
    } else if a.g.is_some() {
        attr_type::GRAPH
    } else if !a.floats.is_empty() {
        attr_type::FLOATS
    } else if !a.ints.is_empty() {
        attr_type::INTS
    } else if !a.strings.is_empty() {
        attr_type::STRINGS
    } else if !a.s.is_empty() {
        attr_type::STRING
    } else if a.f != 0.0 {
        attr_type::FLOAT
    } else {
        attr_type::INT
    }
}

/// Declared info fills in what inference left unknown.
fn merge_info(cur: &mut ValueInfo, declared: ValueInfo) {
    if declared.dtype.is_some() {
        cur.dtype = declared.dtype;
    }
    if declared.shape.is_some() {
        cur.shape = declared.shape;
    }
}

/// The largest dense tensor a sparse one may expand to. Its size comes from `dims` only,
/// which a small (or corrupt) file can set to anything.
pub const MAX_DENSE_BYTES: usize = 1 << 30;

/// SparseTensorProto to a dense tensor (indices flat [NNZ] or coordinates [NNZ, rank]).
fn densify(s: &proto::SparseTensorProto, base: Option<&Path>) -> Result<Tensor> {
    let values = tensor_from_proto(
        s.values
            .as_ref()
            .ok_or_else(|| Error::format("sparse tensor without values"))?,
        base,
    )?;
    let indices = tensor_from_proto(
        s.indices
            .as_ref()
            .ok_or_else(|| Error::format("sparse tensor without indices"))?,
        base,
    )?
    .to_i64_vec()?;
    let shape: Vec<usize> = s
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| Error::format(format!("sparse dim {d}"))))
        .collect::<Result<_>>()?;
    // the dense tensor is sized by `dims` alone, not by bytes in the file: bound it
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| {
            n.checked_mul(values.dtype().size_of())
                .is_some_and(|b| b <= MAX_DENSE_BYTES)
        })
        .ok_or_else(|| {
            Error::format(format!(
                "sparse tensor of shape {shape:?} {} would densify to more than {MAX_DENSE_BYTES} bytes",
                values.dtype()
            ))
        })?;
    let nnz = values.len();
    let rank = shape.len();
    let out_of_range = || Error::format("sparse tensor index out of range");
    let flat: Vec<usize> = if indices.len() == nnz {
        indices
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .filter(|&i| i < n)
                    .ok_or_else(out_of_range)
            })
            .collect::<Result<_>>()?
    } else if Some(indices.len()) == nnz.checked_mul(rank) {
        let st = smelt_core::tensor::strides(&shape);
        indices
            .chunks(rank.max(1))
            .map(|c| {
                c.iter()
                    .zip(&shape)
                    .zip(&st)
                    .try_fold(0usize, |acc, ((&i, &d), &s)| {
                        // each coordinate is below its dim, so the offset stays below n
                        let i = usize::try_from(i)
                            .ok()
                            .filter(|&i| i < d)
                            .ok_or_else(out_of_range)?;
                        Ok(acc + i * s)
                    })
            })
            .collect::<Result<_>>()?
    } else {
        return Err(Error::format("sparse tensor indices do not match values"));
    };
    smelt_core::dispatch_any!(values.dtype(), T => {
        let mut out = vec![T::default(); n];
        let vals = values.as_slice::<T>()?;
        for (k, &i) in flat.iter().enumerate() {
            out[i] = vals[k].clone();
        }
        Tensor::new(values.dtype(), shape, <T as smelt_core::Elem>::into_data(out))
    })
}
