"""smelt.compress (modes, options, the per-weight report, accuracy, errors) and
smelt.compare checked against the same metrics computed with numpy."""

import math

import numpy as np
import pytest

import smelt
from conftest import onnx_model, save


def test_linear_int8_per_channel(tmp_path, mnist_onnx, digits, logits):
    out = tmp_path / "q8.ingot"
    r = smelt.compress(mnist_onnx, out, mode="linear")
    assert isinstance(r, list) and isinstance(r, smelt.CompressReport)
    assert len(r) == 2 and out.exists() and r.output == out
    for w in r:
        assert set(w) == {"name", "op_type", "shape", "grid", "bytes_before", "bytes_after", "snr_db", "seconds", "note"}
        assert w["op_type"] in ("Conv", "Gemm", "MatMul")
        assert isinstance(w["shape"], tuple) and len(w["grid"]) == len(w["shape"])
        # one scale per output channel
        assert math.prod(w["grid"]) in w["shape"]
        assert w["bytes_after"] < w["bytes_before"] / 3.5
        assert w["snr_db"] > 35
    assert r.bytes_before == sum(w["bytes_before"] for w in r)
    assert r.file_bytes == out.stat().st_size
    assert r.accuracy is None
    assert len(r.skipped) == 2  # the two small weights, under the threshold
    assert "weights" in repr(r)
    y = smelt.load(out).predict({"input": digits})["logits"]
    assert (y.argmax(1) == logits.argmax(1)).all()
    np.testing.assert_allclose(y, logits, rtol=0.02, atol=0.5)


def test_linear_int4_per_block_and_palettize(tmp_path, mnist_onnx):
    r4 = smelt.compress(mnist_onnx, tmp_path / "q4.ingot", dtype="int4", granularity="per_block", block_size=16, symmetric=False)
    p4 = smelt.compress(
        smelt.load(mnist_onnx), tmp_path / "p4.ingot", mode="palettize", nbits=4, granularity="per-grouped-channel", group_size=8
    )
    p2 = smelt.compress(mnist_onnx, tmp_path / "p2.ingot", mode="palettize", nbits=2, method="uniform")
    # 4 bits with a scale and zero point per 16 elements; 4 and 2 bits with small tables
    assert len(r4) == 2 and r4.bytes_after < r4.bytes_before / 4.5
    assert len(p4) == 2 and p4.bytes_after < p4.bytes_before / 7
    assert len(p2) == 2 and p2.bytes_after < p2.bytes_before / 14
    assert min(w["snr_db"] for w in p4) > min(w["snr_db"] for w in p2)


def test_threshold_ops_and_skip(tmp_path, mnist_onnx):
    r = smelt.compress(mnist_onnx, tmp_path / "a.ingot", ops=["Conv"])
    assert [w["op_type"] for w in r] == ["Conv"]
    names = [w["name"] for w in smelt.compress(mnist_onnx, tmp_path / "b.ingot")]
    r = smelt.compress(mnist_onnx, tmp_path / "c.ingot", skip=[names[0], "nothing"])
    assert [w["name"] for w in r] == names[1:]
    assert r.unused_skip == ["nothing"]
    r = smelt.compress(mnist_onnx, tmp_path / "d.ingot", weight_threshold=10)
    assert len(r) == 4


def test_accuracy_on_inputs(tmp_path, mnist_onnx, digits):
    r = smelt.compress(mnist_onnx, tmp_path / "p.ingot", mode="palettize", nbits=3, inputs={"input": digits})
    acc = r.accuracy
    assert acc["runs"] == 1
    (o,) = acc["outputs"]
    assert o["name"] == "logits" and o["shape"] == (16, 10) and o["dtype"] == "float32"
    assert 5 < o["snr_db"] < 60 and o["top1"][1] == 16
    assert [w["name"] for w in acc["weights"]] and all(w["output_snr_db"] > o["snr_db"] for w in acc["weights"])
    # the same numbers as smelt.compare on those inputs
    c = smelt.compare(mnist_onnx, r.output, {"input": digits})["logits"]
    assert c["snr_db"] == pytest.approx(o["snr_db"], rel=1e-9)
    assert c["cosine"] == pytest.approx(o["cosine"], rel=1e-9)
    assert c["top1"] == tuple(o["top1"])


def test_calibration_gptq(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto as TP, helper, numpy_helper

    model = onnx_model(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [("x", TP.FLOAT, ["n", 64])],
        [("y", TP.FLOAT, ["n", 64])],
        [numpy_helper.from_array(w, "w")],
    )
    src = save(model, tmp_path / "mm.onnx")
    x = (rng.standard_normal((128, 64)) * np.linspace(0.1, 3, 64)).astype(np.float32)
    r = smelt.compress(src, tmp_path / "g.ingot", dtype="int4", granularity="per_tensor", calibration={"x": x})
    assert r[0]["note"] == "calibrated"
    assert r.accuracy is not None and r.accuracy["outputs"][0]["name"] == "y"
    plain = smelt.compress(src, tmp_path / "p.ingot", dtype="int4", granularity="per_tensor", inputs={"x": x})
    assert r.accuracy["outputs"][0]["snr_db"] > plain.accuracy["outputs"][0]["snr_db"]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"mode": "linear", "nbits": 4}, "nbits is for mode='palettize'"),
        ({"mode": "palettize", "dtype": "int8"}, "dtype is for mode='linear'"),
        ({"mode": "palettize", "symmetric": False}, "symmetric is for mode='linear'"),
        ({"mode": "linear", "block_size": 8}, "block_size is for granularity='per_block'"),
        ({"mode": "palettize", "group_size": 8}, "group_size is for granularity='per_grouped_channel'"),
        ({"mode": "linear", "granularity": "per_grouped_channel"}, "mode='linear' takes"),
        ({"mode": "palettize", "granularity": "per_channel"}, "mode='palettize' takes"),
        ({"mode": "palettize", "nbits": 9}, "nbits must be 1 to 8, got 9"),
        ({"mode": "linear", "dtype": "int2"}, "dtype 'int2'"),
        ({"mode": "linear", "granularity": "per_block", "block_size": 0}, "block_size must be at least 1"),
        ({"mode": "quantize"}, "mode 'quantize': 'linear' or 'palettize'"),
        ({"mode": "linear", "ops": ["Relu"]}, "Relu: compress reads weights of Conv"),
        ({"mode": "linear", "weight_threshold": 10**9}, "no weight"),
    ],
)
def test_bad_options_are_value_errors_and_write_nothing(tmp_path, mnist_onnx, kwargs, message):
    out = tmp_path / "x.ingot"
    with pytest.raises(ValueError, match=message):
        smelt.compress(mnist_onnx, out, **kwargs)
    assert not out.exists()


def test_compress_bad_sources(tmp_path, mnist_onnx):
    with pytest.raises(FileNotFoundError, match="no such file"):
        smelt.compress(tmp_path / "none.onnx", tmp_path / "x.ingot")
    with pytest.raises(ValueError, match="is the source"):
        smelt.compress(mnist_onnx, mnist_onnx)
    with pytest.raises(TypeError, match="a smelt.Model or a path"):
        smelt.compress(3, tmp_path / "x.ingot")
    with pytest.raises(TypeError, match="inputs: a dict"):
        smelt.compress(mnist_onnx, tmp_path / "x.ingot", inputs=[1, 2])


def numpy_metrics(a, b):
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    snr = 10 * np.log10(np.sum(a**2) / np.sum((a - b) ** 2))
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return snr, cos, np.max(np.abs(a - b))


def test_compare_against_numpy(tmp_path, mnist_onnx, digits):
    q = smelt.compress(mnist_onnx, tmp_path / "q.ingot", mode="palettize", nbits=2).output
    a = smelt.load(mnist_onnx).predict({"input": digits})["logits"]
    b = smelt.load(q).predict({"input": digits})["logits"]
    c = smelt.compare(mnist_onnx, q, {"input": digits})
    assert list(c) == ["logits"]
    m = c["logits"]
    snr, cos, mx = numpy_metrics(a, b)
    assert m["snr_db"] == pytest.approx(snr, rel=1e-9)
    assert m["cosine"] == pytest.approx(cos, rel=1e-9)
    assert m["max_abs"] == pytest.approx(mx, rel=1e-12)
    assert m["top1"] == (int(np.sum(a.argmax(1) == b.argmax(1))), 16)
    assert (m["dtype"], m["shape"], m["values"], m["finite"]) == ("float32", (16, 10), 160, 160)
    assert m["exact"] == pytest.approx(np.mean(a == b))
    # two feeds: sums over both
    halves = [{"input": digits[:8]}, {"input": digits[8:]}]
    two = smelt.compare(smelt.load(mnist_onnx), smelt.load(q), halves)["logits"]
    assert two["snr_db"] == pytest.approx(snr, rel=1e-6) and two["values"] == 160
    assert two["shape"] == (8, 10)
    # a model against itself
    same = smelt.compare(mnist_onnx, mnist_onnx, {"input": digits})["logits"]
    assert (same["snr_db"], same["cosine"], same["max_abs"], same["exact"]) == (math.inf, 1.0, 0.0, 1.0)


def test_compare_nan_int_and_mismatches(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto as TP, helper, numpy_helper

    def model(op, name):
        nodes = [helper.make_node(op, ["x"], ["f"]), helper.make_node("Cast", ["x"], ["i"], to=TP.INT64)]
        m = onnx_model(nodes, [("x", TP.FLOAT, [6])], [("f", TP.FLOAT, [6]), ("i", TP.INT64, [6])])
        return save(m, tmp_path / name)

    a, b = model("Sqrt", "a.onnx"), model("Abs", "b.onnx")
    x = np.array([-4, -1, 0, 1, 4, 9], np.float32)
    c = smelt.compare(a, b, {"x": x, "unused": x})
    with np.errstate(invalid="ignore"):
        fa, fb = np.sqrt(x), np.abs(x)
    finite = np.isfinite(fa) & np.isfinite(fb)
    f = c["f"]
    assert (f["nonfinite_a"], f["nonfinite_b"], f["finite"]) == (2, 0, 4)
    snr, cos, mx = numpy_metrics(fa[finite], fb[finite])
    assert f["snr_db"] == pytest.approx(snr) and f["cosine"] == pytest.approx(cos) and f["max_abs"] == pytest.approx(mx)
    assert f["top1"] is None
    assert c["i"]["exact"] == 1.0 and "snr_db" not in c["i"]
    assert c["i"]["dtype"] == "int64"
    # an output of another shape
    shape = numpy_helper.from_array(np.array([2, 3], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["f"])]
    m = onnx_model(nodes, [("x", TP.FLOAT, [6])], [("f", TP.FLOAT, [2, 3])], [shape])
    other = save(m, tmp_path / "o.onnx")
    with pytest.raises(ValueError, match=r"output 'f': float32\[6\] in a, float32\[2, 3\] in b"):
        smelt.compare(a, other, {"x": x})
    with pytest.raises(ValueError, match="at least one feed"):
        smelt.compare(a, b, [])
