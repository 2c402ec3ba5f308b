"""smelt.convert from a path and from an onnx.ModelProto (metadata, states, descriptions,
passes, errors), and stateful prediction through Model.new_state."""

import numpy as np
import pytest

import smelt
from conftest import onnx_model, save

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as TP, helper, numpy_helper  # noqa: E402


def accumulator():
    """y = x + h; the new h is y (a running sum once h is declared a state)."""
    nodes = [
        helper.make_node("Add", ["x", "h"], ["sum"]),
        helper.make_node("Identity", ["sum"], ["y"]),
        helper.make_node("Identity", ["sum"], ["h_out"]),
    ]
    return onnx_model(
        nodes,
        [("x", TP.FLOAT, [1, 4]), ("h", TP.FLOAT, [1, 4])],
        [("y", TP.FLOAT, [1, 4]), ("h_out", TP.FLOAT, [1, 4])],
        name="acc",
    )


def test_convert_path_with_metadata(tmp_path, mnist_onnx, digits, logits):
    out = tmp_path / "m.ingot"
    m = smelt.convert(
        mnist_onnx,
        out,
        name="digits",
        version="2.0",
        author="me",
        license="MIT",
        description="an MNIST CNN",
        metadata={"dataset": "mnist", "classes": "10"},
        descriptions={"input": "normalised 28x28 digits", "logits": "class scores"},
    )
    assert out.exists() and str(m.path) == str(out)
    md = m.metadata
    assert (md["name"], md["version"], md["author"], md["license"]) == ("digits", "2.0", "me", "MIT")
    assert md["description"] == "an MNIST CNN"
    assert md["user"] == {"dataset": "mnist", "classes": "10"}
    assert md["producer"].startswith("smelt ") and md["source"].startswith("onnx")
    assert m.inputs[0].description == "normalised 28x28 digits"
    assert m.outputs[0].description == "class scores"
    np.testing.assert_allclose(m.predict({"input": digits})["logits"], logits, rtol=1e-4, atol=1e-4)
    # reloaded from disk, the same
    again = smelt.load(out)
    assert again.metadata == md


def test_convert_default_output_is_next_to_the_source(tmp_path, mnist_onnx):
    src = tmp_path / "net.onnx"
    src.write_bytes(mnist_onnx.read_bytes())
    m = smelt.convert(src)
    assert (tmp_path / "net.ingot").exists() and str(m.path) == str(tmp_path / "net.ingot")
    assert m.metadata["name"] == "net"
    with pytest.raises(ValueError, match="is the source"):
        smelt.convert(src, src)


def test_convert_keep_graph_and_passes(tmp_path, mnist_onnx, digits):
    a = smelt.convert(mnist_onnx, tmp_path / "a.ingot")
    b = smelt.convert(mnist_onnx, tmp_path / "b.ingot", keep_graph=True)
    assert len(b.plan()["nodes"]) >= len(a.plan()["nodes"])
    np.testing.assert_allclose(
        a.predict({"input": digits})["logits"], b.predict({"input": digits})["logits"], rtol=1e-5, atol=1e-5
    )


def test_convert_model_proto(tmp_path):
    m = smelt.convert(accumulator(), tmp_path / "acc.ingot")
    assert m.metadata["name"] == "acc"
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    out = m.predict({"x": x, "h": np.ones((1, 4), np.float32)})
    np.testing.assert_array_equal(out["y"], x + 1)
    # no output path: a temporary package, and a name of the caller's
    t = smelt.convert(accumulator(), name="my model")
    assert t.metadata["name"] == "my model" and str(t.path).endswith("my_model.ingot")


def test_convert_model_proto_with_initializers(tmp_path):
    w = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    model = onnx_model(
        nodes, [("x", TP.FLOAT, ["n", 4])], [("y", TP.FLOAT, ["n", 3])], [numpy_helper.from_array(w, "w")]
    )
    m = smelt.convert(model, tmp_path / "mm.ingot")
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(m.predict({"x": x})["y"], x @ w, rtol=1e-5, atol=1e-5)


def test_states(tmp_path):
    m = smelt.convert(accumulator(), tmp_path / "acc.ingot", states={"h": "h_out"})
    assert [f.name for f in m.inputs] == ["x"]
    assert [f.name for f in m.outputs] == ["y"]
    (s,) = m.states
    assert (s.name, s.dtype, s.shape) == ("h", "float32", (1, 4))
    st = m.new_state()
    assert st.names == ["h"] and len(st) == 1 and "h" in st and "y" not in st
    np.testing.assert_array_equal(st["h"], np.zeros((1, 4), np.float32))
    x = np.array([[1, 2, 3, 4]], np.float32)
    for k in range(1, 4):
        y = m.predict({"x": x}, state=st)["y"]
        np.testing.assert_array_equal(y, k * x)
        np.testing.assert_array_equal(st["h"], k * x)
    st["h"] = np.full((1, 4), 10, np.float32)
    np.testing.assert_array_equal(m.predict({"x": x}, state=st)["y"], x + 10)
    assert "h: float32[1, 4]" in repr(st)
    # a fresh state starts from zeros again; states are independent
    np.testing.assert_array_equal(m.predict({"x": x}, state=m.new_state())["y"], x)

    with pytest.raises(ValueError, match=r"declares states \(h\): pass state=model.new_state\(\)"):
        m.predict({"x": x})
    with pytest.raises(ValueError, match="input 'h': is a declared state"):
        m.predict({"x": x, "h": x}, state=st)
    other = smelt.convert(accumulator(), tmp_path / "acc2.ingot", states={"h": "h_out"})
    with pytest.raises(ValueError, match="made by another model"):
        m.predict({"x": x}, state=other.new_state())
    with pytest.raises(ValueError, match="state is f32"):
        st["h"] = np.zeros((2, 4), np.float32)
    with pytest.raises(KeyError, match="no state named 'q'"):
        st["q"]
    with pytest.raises(TypeError):
        m.predict({"x": x}, state="h")


def test_bad_state_declaration_leaves_no_file(tmp_path):
    out = tmp_path / "bad.ingot"
    with pytest.raises(ValueError, match="nope"):
        smelt.convert(accumulator(), out, states={"h": "nope"})
    assert not out.exists()
    with pytest.raises(ValueError, match="not an input or output"):
        smelt.convert(accumulator(), out, descriptions={"zzz": "text"})
    assert not out.exists()
    with pytest.raises(TypeError, match="a dict or \\(key, value\\) pairs"):
        smelt.convert(accumulator(), out, states=["h"])


def test_convert_bad_sources(tmp_path):
    with pytest.raises(TypeError, match="convert takes a path to an .onnx model, an onnx.ModelProto or a torch.nn.Module"):
        smelt.convert(42)
    with pytest.raises(FileNotFoundError, match="no such file"):
        smelt.convert(tmp_path / "missing.onnx", tmp_path / "x.ingot")
    pt = tmp_path / "weights.pt"
    pt.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ValueError, match="zip"):
        smelt.convert(pt, tmp_path / "x.ingot")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff")
    with pytest.raises(ValueError):
        smelt.convert(bad, tmp_path / "x.ingot")
    assert not (tmp_path / "x.ingot").exists()
