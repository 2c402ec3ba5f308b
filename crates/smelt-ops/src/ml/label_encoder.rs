//! LabelEncoder (ai.onnx.ml 1, 2, 4): maps each element of X through a key → value table;
//! elements not in the table map to the default. Output has X's shape.
//!
//! Opset 2+: keys from `keys_strings` / `keys_int64s` / `keys_floats` / `keys_tensor`, values
//! from `values_*` / `values_tensor` (the output dtype is the values' dtype), defaults
//! `default_string` ("_Unused"), `default_int64` (-1), `default_float` (-0.0),
//! `default_tensor`. Opset 1: `classes_strings` maps strings to their index (int64) or
//! int64 indices to strings, with `default_int64` / `default_string`.
//! Float keys match by value, with NaN matching NaN.

use crate::prelude::*;
use crate::signal::from_f64_any;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    S(String),
    I(i64),
    /// f64 bits, with NaN and -0.0 canonicalized.
    F(u64),
}

fn fkey(x: f64) -> Key {
    Key::F(if x.is_nan() {
        f64::NAN.to_bits()
    } else if x == 0.0 {
        0
    } else {
        x.to_bits()
    })
}

#[derive(Debug, Clone)]
enum Vals {
    S(Vec<String>, String),
    N(Vec<f64>, f64, DType),
}

#[derive(Debug)]
pub struct LabelEncoder {
    map: HashMap<Key, usize>,
    vals: Vals,
    /// Keys are of this kind: 's', 'i' or 'f' ('1': the opset-1 form).
    kind: char,
    /// Opset 1: classes, default string, default int64.
    v1: Option<(Vec<String>, String, i64)>,
}

/// Keys of a tensor attribute.
fn tensor_keys(t: &Tensor) -> Result<(Vec<Key>, char)> {
    Ok(match t.dtype() {
        DType::String => (
            t.as_slice::<String>()?
                .iter()
                .cloned()
                .map(Key::S)
                .collect(),
            's',
        ),
        d if d.is_int() => (t.to_i64_vec()?.into_iter().map(Key::I).collect(), 'i'),
        _ => (t.to_f64_vec()?.into_iter().map(fkey).collect(), 'f'),
    })
}

fn build(c: &OpCtx) -> Result<LabelEncoder> {
    let a = c.attrs;
    let def_s = a.string_or("default_string", "_Unused".into())?;
    let def_i = a.int_or("default_int64", -1)? as f64;
    if c.opset < 2 {
        let classes = a.strings_or("classes_strings", vec![])?;
        return Ok(LabelEncoder {
            map: HashMap::new(),
            vals: Vals::S(vec![], String::new()),
            kind: '1',
            v1: Some((classes, def_s, def_i as i64)),
        });
    }
    let (keys, kind): (Vec<Key>, char) = if let Some(k) = a.strings("keys_strings")? {
        (k.into_iter().map(Key::S).collect(), 's')
    } else if let Some(k) = a.ints("keys_int64s")? {
        (k.into_iter().map(Key::I).collect(), 'i')
    } else if let Some(k) = a.floats("keys_floats")? {
        (k.into_iter().map(|x| fkey(x as f64)).collect(), 'f')
    } else if let Some(t) = a.tensor("keys_tensor")? {
        tensor_keys(&t)?
    } else {
        bail!("LabelEncoder: no keys_* attribute")
    };
    let def_t = a.tensor("default_tensor")?;
    let vals = if let Some(v) = a.strings("values_strings")? {
        Vals::S(v, def_s)
    } else if let Some(v) = a.ints("values_int64s")? {
        Vals::N(v.into_iter().map(|x| x as f64).collect(), def_i, DType::I64)
    } else if let Some(v) = a.floats("values_floats")? {
        Vals::N(
            v.into_iter().map(|x| x as f64).collect(),
            a.float_or("default_float", -0.0)? as f64,
            DType::F32,
        )
    } else if let Some(t) = a.tensor("values_tensor")? {
        if t.dtype() == DType::String {
            let d = match &def_t {
                Some(d) => d.as_slice::<String>()?.first().cloned().unwrap_or_default(),
                None => "_Unused".into(),
            };
            Vals::S(t.to_vec::<String>()?, d)
        } else {
            let d = match &def_t {
                Some(d) => d.to_f64_vec()?.first().copied().unwrap_or(0.0),
                None if t.dtype().is_int() => -1.0,
                None => -0.0,
            };
            Vals::N(t.to_f64_vec()?, d, t.dtype())
        }
    } else {
        bail!("LabelEncoder: no values_* attribute")
    };
    let nv = match &vals {
        Vals::S(v, _) => v.len(),
        Vals::N(v, _, _) => v.len(),
    };
    ensure!(
        nv == keys.len(),
        "LabelEncoder: {} keys but {nv} values",
        keys.len()
    );
    let mut map = HashMap::new();
    for (i, k) in keys.into_iter().enumerate() {
        map.entry(k).or_insert(i);
    }
    Ok(LabelEncoder {
        map,
        vals,
        kind,
        v1: None,
    })
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "LabelEncoder", |c| Ok(Box::new(build(c)?)));
}

impl Op for LabelEncoder {
    fn op_type(&self) -> &str {
        "LabelEncoder"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let shape = x.shape().to_vec();
        if let Some((classes, def_s, def_i)) = &self.v1 {
            let def_i = *def_i;
            return Ok(vec![if x.dtype() == DType::String {
                let v: Vec<i64> = x
                    .as_slice::<String>()?
                    .iter()
                    .map(|s| {
                        classes
                            .iter()
                            .position(|c| c == s)
                            .map_or(def_i, |p| p as i64)
                    })
                    .collect();
                Tensor::from_vec(shape, v)?
            } else {
                let v: Vec<String> = x
                    .to_i64_vec()?
                    .iter()
                    .map(|&i| {
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| classes.get(i))
                            .cloned()
                            .unwrap_or_else(|| def_s.clone())
                    })
                    .collect();
                Tensor::from_vec(shape, v)?
            }]);
        }
        let keys: Vec<Key> = match (self.kind, x.dtype()) {
            ('s', DType::String) => x
                .as_slice::<String>()?
                .iter()
                .cloned()
                .map(Key::S)
                .collect(),
            ('i', d) if d.is_int() => x.to_i64_vec()?.into_iter().map(Key::I).collect(),
            ('f', d) if d.is_float() => x.to_f64_vec()?.into_iter().map(fkey).collect(),
            (k, d) => bail!(
                "LabelEncoder: input dtype {d} does not match the keys ({})",
                match k {
                    's' => "strings",
                    'i' => "integers",
                    _ => "floats",
                }
            ),
        };
        let idx: Vec<Option<usize>> = keys.iter().map(|k| self.map.get(k).copied()).collect();
        Ok(vec![match &self.vals {
            Vals::S(v, d) => Tensor::from_vec(
                shape,
                idx.iter()
                    .map(|i| i.map_or_else(|| d.clone(), |i| v[i].clone()))
                    .collect::<Vec<_>>(),
            )?,
            Vals::N(v, d, dt) => from_f64_any(
                *dt,
                shape,
                idx.iter().map(|i| i.map_or(*d, |i| v[i])).collect(),
            )?,
        }])
    }
}

#[cfg(test)]
mod tests {
    use crate::GraphBuilder;
    use smelt_core::{Dim, Tensor};
    use smelt_ir::{Attr, Attributes};

    fn run(opset: i64, a: Attributes, x: Tensor) -> smelt_core::Result<Tensor> {
        let mut g = GraphBuilder::new("g");
        g.set_opset("ai.onnx.ml", opset);
        let dims: Vec<Dim> = x.shape().iter().map(|&d| Dim::Fixed(d)).collect();
        let v = g.placeholder("x", x.dtype(), &dims);
        let y = g.add_node(
            "",
            "ai.onnx.ml",
            "LabelEncoder",
            &[Some(v)],
            &["y".into()],
            a,
        )?[0]
            .unwrap();
        g.output(y, "y");
        Ok(smelt_cpu::run(&g.build()?, vec![("x".into(), x)])?
            .remove(0)
            .1)
    }
    fn strs(v: &[&str]) -> Tensor {
        Tensor::from_vec(
            vec![v.len()],
            v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn opset1_both_directions() {
        let a = Attributes::new()
            .with(
                "classes_strings",
                Attr::Strings(vec!["a".into(), "b".into()]),
            )
            .with("default_string", Attr::String("?".into()));
        let y = run(1, a.clone(), strs(&["b", "z", "a"])).unwrap();
        assert_eq!(y.as_slice::<i64>().unwrap(), &[1, -1, 0]);
        let y = run(1, a, Tensor::from_vec(vec![3], vec![0i64, 5, 1]).unwrap()).unwrap();
        assert_eq!(y, strs(&["a", "?", "b"]));
    }

    #[test]
    fn float_keys_match_nan_and_dtype_mismatch_errors() {
        let a = Attributes::new()
            .with("keys_floats", Attr::Floats(vec![f32::NAN, 1.5]))
            .with(
                "values_strings",
                Attr::Strings(vec!["nan".into(), "one".into()]),
            );
        let y = run(
            2,
            a.clone(),
            Tensor::from_vec(vec![3], vec![1.5f32, f32::NAN, 2.0]).unwrap(),
        )
        .unwrap();
        assert_eq!(y, strs(&["one", "nan", "_Unused"]));
        assert!(run(2, a, strs(&["x"])).is_err());
    }
}
