"""smelt.load and Model: features, metadata, plan, predict on real digits, and every kind of
bad input giving a Python exception with a clear message."""

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import smelt


def test_load_onnx_and_ingot_give_onnxruntimes_logits(mnist_onnx, mnist_ingot, digits, logits):
    for path in (mnist_onnx, mnist_ingot):
        m = smelt.load(path)
        out = m.predict({"input": digits})
        assert list(out) == ["logits"]
        y = out["logits"]
        assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (16, 10)
        np.testing.assert_allclose(y, logits, rtol=1e-4, atol=1e-4)
        assert (y.argmax(1) == logits.argmax(1)).all()
        assert y.flags.c_contiguous and y.flags.writeable


def test_features_metadata_and_plan(mnist_onnx):
    m = smelt.load(mnist_onnx, compute_units="cpu_only", threads=1)
    (i,) = m.inputs
    (o,) = m.outputs
    assert (i.name, i.dtype, i.shape) == ("input", "float32", ("N", 1, 28, 28))
    assert (o.name, o.dtype, o.shape) == ("logits", "float32", ("N", 10))
    assert repr(i) == "Feature(name='input', dtype='float32', shape=('N', 1, 28, 28))"
    assert m.states == []
    assert m.threads == 1 and m.compute_units == "cpu_only"
    assert str(m.path) == str(mnist_onnx)
    md = m.metadata
    assert md["name"] == "mnist_cnn"
    assert "MNIST" in md["description"]
    assert md["opsets"][""] == 13 and md["user"] == {}
    plan = m.plan()
    assert plan["compute_units"] == "cpu_only"
    assert [d["kind"] for d in plan["devices"]] == ["cpu"]
    ops = [n["op_type"] for n in plan["nodes"]]
    assert "Conv" in ops and "Gemm" in ops or "MatMul" in ops
    assert all(n["device"] == "cpu" and n["reason"] for n in plan["nodes"])
    assert plan["transfers"] == 0
    assert any("excludes" in n or "no GPU" in n for n in plan["notes"])
    assert smelt.available_devices()[-1]["kind"] == "cpu"


def test_compute_units_precision_threads_options(mnist_onnx, digits, logits):
    for cu in ("all", "cpu_only", "cpu_and_gpu", "CPU-ONLY"):
        y = smelt.load(mnist_onnx, compute_units=cu).predict({"input": digits[:2]})["logits"]
        np.testing.assert_allclose(y, logits[:2], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="unknown compute_units 'npu'"):
        smelt.load(mnist_onnx, compute_units="npu")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        smelt.load(mnist_onnx, precision="fp8")
    with pytest.raises(ValueError, match="threads must be at least 1"):
        smelt.load(mnist_onnx, threads=0)
    with pytest.raises(OverflowError):
        smelt.load(mnist_onnx, threads=-1)
    assert smelt.load(mnist_onnx, precision="bf16").predict({"input": digits})["logits"].shape == (16, 10)


def test_batch_sizes_and_non_contiguous_inputs(mnist_onnx, digits, logits):
    m = smelt.load(mnist_onnx)
    for n in (1, 3, 16):
        np.testing.assert_allclose(
            m.predict({"input": digits[:n]})["logits"], logits[:n], rtol=1e-4, atol=1e-4
        )
    # every other digit (strided), a Fortran-order copy, a big-endian copy
    cases = [
        (digits[::2], logits[::2]),
        (np.asfortranarray(digits), logits),
        (digits.astype(">f4"), logits),
    ]
    for x, want in cases:
        assert not (x.flags.c_contiguous and x.dtype.isnative)
        np.testing.assert_allclose(m.predict({"input": x})["logits"], want, rtol=1e-4, atol=1e-4)
    # a list goes through numpy.asarray with the declared dtype
    y = m.predict({"input": digits[:1].tolist()})["logits"]
    np.testing.assert_allclose(y, logits[:1], rtol=1e-4, atol=1e-4)


def test_inputs_are_used_in_place_and_left_alone(mnist_onnx, digits):
    m = smelt.load(mnist_onnx)
    x = digits.copy()
    before = x.copy()
    m.predict({"input": x})
    np.testing.assert_array_equal(x, before)
    # the model keeps no reference to the caller's array after predict returns
    import sys

    base = sys.getrefcount(x)
    for _ in range(3):
        m.predict({"input": x})
    assert sys.getrefcount(x) == base


def test_wrong_input_name(mnist_onnx, digits):
    m = smelt.load(mnist_onnx)
    with pytest.raises(ValueError, match=r"input 'image': not an input of the model \(inputs: input\)"):
        m.predict({"image": digits})
    with pytest.raises(ValueError, match=r"input 'image': not an input"):
        m.predict({"input": digits, "image": digits})
    with pytest.raises(ValueError, match=r"missing input\(s\): 'input' f32\[N,1,28,28\]"):
        m.predict({})
    with pytest.raises(TypeError, match="input names must be str"):
        m.predict({0: digits})
    with pytest.raises(TypeError, match=r"inputs must be a dict \{name: array\}, got ndarray"):
        m.predict(digits)


def test_wrong_dtype(mnist_onnx, digits):
    m = smelt.load(mnist_onnx)
    with pytest.raises(
        TypeError,
        match=r"input 'input': expected dtype float32, got float64 \(convert it with \.astype\(numpy\.float32\)\)",
    ):
        m.predict({"input": digits.astype(np.float64)})
    with pytest.raises(TypeError, match="expected dtype float32, got int64"):
        m.predict({"input": digits.astype(np.int64)})
    with pytest.raises(TypeError, match="numpy dtype complex64 has no smelt dtype"):
        m.predict({"input": digits.astype(np.complex64)})
    with pytest.raises(TypeError, match="input 'input': cannot be made a numpy array"):
        m.predict({"input": "not a number"})


def test_wrong_shape(mnist_onnx, digits):
    m = smelt.load(mnist_onnx)
    with pytest.raises(ValueError, match=r"input 'input': expected shape \(N, 1, 28, 28\), got \(16, 28, 28\)"):
        m.predict({"input": digits[:, 0]})
    with pytest.raises(ValueError, match=r"expected shape \(N, 1, 28, 28\), got \(16, 1, 28, 27\)"):
        m.predict({"input": digits[..., :27]})
    with pytest.raises(ValueError, match=r"got \(\)"):
        m.predict({"input": np.float32(1.0)})


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.ingot"
    with pytest.raises(FileNotFoundError, match=f"{missing}: no such file"):
        smelt.load(missing)
    with pytest.raises(FileNotFoundError, match="no such file"):
        smelt.load(str(tmp_path / "nope.onnx"))
    with pytest.raises(IsADirectoryError, match="is a folder, not a model file"):
        smelt.load(tmp_path)


def test_truncated_and_garbage_files(tmp_path, mnist_onnx, mnist_ingot, digits):
    for src in (mnist_ingot, mnist_onnx):
        data = src.read_bytes()
        for n in (0, 7, 8, 64, 1000, len(data) // 2, len(data) - 1):
            p = tmp_path / f"cut{n}{src.suffix}"
            p.write_bytes(data[:n])
            with pytest.raises(ValueError) as e:
                smelt.load(p).predict({"input": digits})
            assert str(e.value), "an empty message"
    # a flipped byte in a package's weights fails its checksum
    data = bytearray(mnist_ingot.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p = tmp_path / "flipped.ingot"
    p.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum|crc|corrupt"):
        smelt.load(p)
    p = tmp_path / "model.gguf"
    p.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ValueError, match="GGUF"):
        smelt.load(p)


def test_save_copies_the_package(tmp_path, mnist_onnx, mnist_ingot, digits):
    m = smelt.load(mnist_ingot)
    m.save(tmp_path / "copy.ingot")
    assert (tmp_path / "copy.ingot").read_bytes() == mnist_ingot.read_bytes()
    with pytest.raises(ValueError, match="not an .ingot package"):
        smelt.load(mnist_onnx).save(tmp_path / "x.ingot")


def test_eight_threads_on_one_model_give_the_serial_results(mnist_ingot, digits):
    m = smelt.load(mnist_ingot)
    feeds = [digits[i : i + 1 + i % 4] for i in range(12)]
    serial = [m.predict({"input": x})["logits"] for x in feeds]
    start = threading.Barrier(8)

    def work(k):
        start.wait()
        out = []
        for r in range(6):
            i = (k + r) % len(feeds)
            out.append((i, m.predict({"input": feeds[i]})["logits"]))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for res in results:
        for i, y in res:
            np.testing.assert_array_equal(y, serial[i])


def test_predict_releases_the_gil(mnist_ingot, digits):
    """A Python thread keeps running while another thread predicts: its loop rate stays a
    good fraction of the rate it has alone (a held GIL would starve it)."""
    import time

    m = smelt.load(mnist_ingot, threads=1)
    big = np.repeat(digits, 8, axis=0)
    m.predict({"input": big})

    def rate(seconds):
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        return n / seconds

    alone = rate(0.2)
    busy = threading.Event()
    done = threading.Event()

    def predict_loop():
        busy.set()
        while not done.is_set():
            m.predict({"input": big})

    t = threading.Thread(target=predict_loop)
    t.start()
    busy.wait()
    try:
        during = rate(0.5)
    finally:
        done.set()
        t.join()
    assert during > 0.25 * alone, (during, alone)
