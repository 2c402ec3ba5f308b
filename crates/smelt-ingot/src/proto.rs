//! The manifest schema: protobuf messages (prost derives, no protoc). Field numbers are the
//! format; never reuse or renumber one. docs/ingot-format.md lists the same schema as .proto.
//!
//! Everything is named by string: values, tensors, nodes. Ordinals appear only as byte
//! offsets into the weights section.

/// The whole manifest (section kind 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Manifest {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(string, tag = "3")]
    pub author: String,
    #[prost(string, tag = "4")]
    pub license: String,
    #[prost(string, tag = "5")]
    pub description: String,
    #[prost(message, repeated, tag = "6")]
    pub metadata: Vec<KeyValue>,
    /// Opset version per op domain ("" is the default ONNX domain).
    #[prost(message, repeated, tag = "7")]
    pub opsets: Vec<Opset>,
    #[prost(message, repeated, tag = "8")]
    pub states: Vec<StateDef>,
    #[prost(message, optional, tag = "9")]
    pub graph: Option<GraphDef>,
    /// What wrote the file ("smelt 0.1.0").
    #[prost(string, tag = "10")]
    pub producer: String,
    /// What it was converted from ("onnx: pytorch 2.1, ir 8").
    #[prost(string, tag = "11")]
    pub source: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Opset {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// A declared state: graph input `input` is fed from the state, graph output `output` is
/// written back to it after each prediction. Its type is the input's type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StateDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub input: String,
    #[prost(string, tag = "3")]
    pub output: String,
    #[prost(string, tag = "4")]
    pub description: String,
}

/// A graph (the model's, or an If / Loop / Scan body).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub inputs: Vec<IoDef>,
    #[prost(message, repeated, tag = "3")]
    pub outputs: Vec<IoDef>,
    #[prost(message, repeated, tag = "4")]
    pub initializers: Vec<TensorDef>,
    /// In topological order.
    #[prost(message, repeated, tag = "5")]
    pub nodes: Vec<NodeDef>,
    /// Values a body reads from enclosing graphs, by name.
    #[prost(string, repeated, tag = "6")]
    pub captures: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct IoDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<ValueType>,
    #[prost(string, tag = "3")]
    pub description: String,
}

/// A value's type: dtype (ONNX TensorProto.DataType code, 0 = unknown) and shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueType {
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// False: the rank is unknown (and `dims` is empty).
    #[prost(bool, tag = "2")]
    pub has_shape: bool,
    #[prost(message, repeated, tag = "3")]
    pub dims: Vec<DimDef>,
}

/// A dimension: a size, a symbol, or neither (unknown).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DimDef {
    #[prost(oneof = "dim_def::Kind", tags = "1, 2")]
    pub kind: Option<dim_def::Kind>,
}

pub mod dim_def {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(uint64, tag = "1")]
        Fixed(u64),
        #[prost(string, tag = "2")]
        Sym(String),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub op_type: String,
    #[prost(string, tag = "3")]
    pub domain: String,
    /// Value names; "" is an omitted optional input.
    #[prost(string, repeated, tag = "4")]
    pub inputs: Vec<String>,
    /// Value names; "" is an omitted optional output.
    #[prost(string, repeated, tag = "5")]
    pub outputs: Vec<String>,
    #[prost(message, repeated, tag = "6")]
    pub attrs: Vec<AttrDef>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AttrDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(
        oneof = "attr_def::Value",
        tags = "2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13"
    )]
    pub value: Option<attr_def::Value>,
}

pub mod attr_def {
    use super::*;
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(float, tag = "2")]
        F(f32),
        #[prost(int64, tag = "3")]
        I(i64),
        #[prost(string, tag = "4")]
        S(String),
        #[prost(message, tag = "5")]
        T(TensorDef),
        #[prost(message, tag = "6")]
        G(GraphDef),
        #[prost(message, tag = "7")]
        Type(ValueType),
        #[prost(message, tag = "8")]
        Floats(Floats),
        #[prost(message, tag = "9")]
        Ints(Ints),
        #[prost(message, tag = "10")]
        Strings(Strings),
        #[prost(message, tag = "11")]
        Tensors(Tensors),
        #[prost(message, tag = "12")]
        Graphs(Graphs),
        #[prost(message, tag = "13")]
        Types(Types),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Floats {
    #[prost(float, repeated, tag = "1")]
    pub v: Vec<f32>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ints {
    #[prost(int64, repeated, tag = "1")]
    pub v: Vec<i64>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Strings {
    #[prost(string, repeated, tag = "1")]
    pub v: Vec<String>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tensors {
    #[prost(message, repeated, tag = "1")]
    pub v: Vec<TensorDef>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Graphs {
    #[prost(message, repeated, tag = "1")]
    pub v: Vec<GraphDef>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct Types {
    #[prost(message, repeated, tag = "1")]
    pub v: Vec<ValueType>,
}

/// How a tensor's bytes encode its elements. A reader that meets a value it does not know
/// refuses the tensor by name (a newer writer's encoding), never guesses.
pub mod encoding {
    /// Elements in row-major order, little-endian, one byte per element for 1-byte and
    /// low-bit types (int4, uint4, float8, float4) and for bool (0 or 1).
    pub const RAW: u32 = 0;
}

/// A constant tensor: its type, its encoding and where its bytes are.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorDef {
    #[prost(string, tag = "1")]
    pub name: String,
    /// ONNX TensorProto.DataType code of the logical elements.
    #[prost(int32, tag = "2")]
    pub dtype: i32,
    #[prost(uint64, repeated, tag = "3")]
    pub shape: Vec<u64>,
    /// See [`encoding`].
    #[prost(uint32, tag = "4")]
    pub encoding: u32,
    /// Bytes in the weights section (large tensors).
    #[prost(message, optional, tag = "5")]
    pub blob: Option<Blob>,
    /// Bytes inline in the manifest (small tensors).
    #[prost(bytes = "vec", tag = "6")]
    pub inline: Vec<u8>,
    /// Elements of a string tensor.
    #[prost(string, repeated, tag = "7")]
    pub strings: Vec<String>,
    /// Extra tensors an encoding needs (scales, zero points, lookup tables), by role name.
    #[prost(message, repeated, tag = "8")]
    pub params: Vec<TensorDef>,
}

/// A byte range of the weights section, with the CRC-32 (IEEE) of its bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Blob {
    /// From the start of the weights section; a multiple of 64.
    #[prost(uint64, tag = "1")]
    pub offset: u64,
    #[prost(uint64, tag = "2")]
    pub length: u64,
    #[prost(uint32, tag = "3")]
    pub crc32: u32,
}
