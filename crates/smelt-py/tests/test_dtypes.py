"""numpy -> predict -> numpy for every dtype: an Identity model (the output aliases the
input) and a model that computes (Add, or Xor for bool), from tiny ONNX models."""

import numpy as np
import pytest

import smelt
from conftest import onnx_model, save

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as TP, helper  # noqa: E402

NUMERIC = [
    (np.float16, TP.FLOAT16),
    (np.float32, TP.FLOAT),
    (np.float64, TP.DOUBLE),
    (np.int8, TP.INT8),
    (np.int16, TP.INT16),
    (np.int32, TP.INT32),
    (np.int64, TP.INT64),
    (np.uint8, TP.UINT8),
    (np.uint16, TP.UINT16),
    (np.uint32, TP.UINT32),
    (np.uint64, TP.UINT64),
]


def identity_and_op(tmp_path, elem, op):
    nodes = [helper.make_node("Identity", ["x"], ["same"])]
    outputs = [("same", elem, ["n", 3])]
    if op is not None:
        nodes.append(helper.make_node(op, ["x", "y"], ["z"]))
        outputs.append(("z", elem, ["n", 3]))
    m = onnx_model(nodes, [("x", elem, ["n", 3]), ("y", elem, ["n", 3])], outputs)
    return smelt.load(save(m, tmp_path / f"m{elem}.onnx"))


def values(dtype, n=4):
    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else np.iinfo(dtype)
    rng = np.random.default_rng(int(np.dtype(dtype).num))
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal((n, 3)).astype(dtype)
        x[0, :3] = [info.max, info.tiny, -0.0]
    else:
        lo, hi = max(info.min, -50), min(info.max, 50)
        x = rng.integers(lo, hi, size=(n, 3)).astype(dtype)
        x[0, :2] = [info.min, info.max]
    return x


@pytest.mark.parametrize("dtype,elem", NUMERIC, ids=[np.dtype(d).name for d, _ in NUMERIC])
def test_numeric_round_trip(tmp_path, dtype, elem):
    m = identity_and_op(tmp_path, elem, "Add")
    assert m.inputs[0].dtype == np.dtype(dtype).name
    x, y = values(dtype), values(dtype)[::-1].copy()
    y[0] = 0  # keeps the extreme values of x exact in the sum
    out = m.predict({"x": x, "y": y})
    assert out["same"].dtype == dtype and out["z"].dtype == dtype
    np.testing.assert_array_equal(out["same"], x)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out["z"], x + y)
    # the output owns its memory: the input stays as it was when the output is changed
    out["same"][...] = 0
    assert (x != 0).any()


def test_bool_round_trip(tmp_path):
    m = identity_and_op(tmp_path, TP.BOOL, "Xor")
    x = np.array([[True, False, True]] * 2)
    y = np.array([[True, True, False], [False, False, False]])
    out = m.predict({"x": x, "y": y})
    assert out["same"].dtype == np.bool_
    np.testing.assert_array_equal(out["same"], x)
    np.testing.assert_array_equal(out["z"], x ^ y)


def test_string_round_trip(tmp_path):
    m = identity_and_op(tmp_path, TP.STRING, None)
    x = np.array([["a", "bc", "d"], ["é", "", "xyz"]])
    out = m.predict({"x": x, "y": x})["same"]
    assert out.dtype == object and out.shape == (2, 3)
    assert out.tolist() == x.tolist()
    out = m.predict({"x": x.astype(object), "y": x})["same"]
    assert out.tolist() == x.tolist()
    with pytest.raises(TypeError, match="an object array must hold str values only"):
        m.predict({"x": np.array([[1, 2, 3]], dtype=object), "y": x})


def test_bfloat16_round_trip_through_ml_dtypes(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is not installed")
    m = identity_and_op(tmp_path, TP.BFLOAT16, None)
    assert m.inputs[0].dtype == "bfloat16"
    x = np.array([[1.5, -2.0, 3.0e38]], dtype=ml_dtypes.bfloat16)
    out = m.predict({"x": x, "y": x})["same"]
    assert out.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(out.view(np.uint16), x.view(np.uint16))


def test_float8_round_trip_through_ml_dtypes(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is not installed")
    m = identity_and_op(tmp_path, TP.FLOAT8E4M3FN, None)
    x = np.array([[0.5, -1.0, 448.0]], dtype=ml_dtypes.float8_e4m3fn)
    out = m.predict({"x": x, "y": x})["same"]
    assert out.dtype == ml_dtypes.float8_e4m3fn
    np.testing.assert_array_equal(out.view(np.uint8), x.view(np.uint8))


def test_bfloat16_without_ml_dtypes_is_a_clear_error(tmp_path):
    """In a fresh interpreter where importing ml_dtypes fails."""
    import subprocess
    import sys

    nodes = [helper.make_node("Cast", ["x"], ["b"], to=TP.BFLOAT16)]
    path = save(onnx_model(nodes, [("x", TP.FLOAT, [2])], [("b", TP.BFLOAT16, [2])]), tmp_path / "c.onnx")
    script = f"""
import sys
sys.modules["ml_dtypes"] = None
import numpy as np, smelt
m = smelt.load({str(path)!r})
assert m.outputs[0].dtype == "bfloat16"
try:
    m.predict({{"x": np.ones(2, np.float32)}})
except TypeError as e:
    print(e)
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "output 'b' is bfloat16: numpy has that dtype only through the ml_dtypes package" in r.stdout


def test_scalars_empty_and_high_rank(tmp_path):
    nodes = [helper.make_node("Identity", ["x"], ["y"])]
    model = onnx_model(nodes, [("x", TP.FLOAT, None)], [("y", TP.FLOAT, None)], check=False)
    m = smelt.load(save(model, tmp_path / "i.onnx"))
    assert m.inputs[0].shape is None
    for x in (
        np.float32(2.5),
        np.array(2.5, np.float32),
        np.zeros((0, 3), np.float32),
        np.arange(2 * 3 * 1 * 2 * 1 * 2, dtype=np.float32).reshape(2, 3, 1, 2, 1, 2),
    ):
        y = m.predict({"x": x})["y"]
        assert y.shape == np.shape(x) and y.dtype == np.float32
        np.testing.assert_array_equal(y, x)
    # a Python float becomes the declared float32
    assert m.predict({"x": 1.25})["y"].dtype == np.float32


def test_unaligned_input_is_copied(tmp_path):
    nodes = [helper.make_node("Identity", ["x"], ["y"])]
    m = smelt.load(save(onnx_model(nodes, [("x", TP.DOUBLE, [4])], [("y", TP.DOUBLE, [4])]), tmp_path / "i.onnx"))
    buf = np.zeros(4 * 8 + 1, np.uint8)
    x = np.frombuffer(buf.data, dtype=np.float64, count=4, offset=1)
    assert not x.flags.aligned
    y = m.predict({"x": x})["y"]
    np.testing.assert_array_equal(y, np.zeros(4))
