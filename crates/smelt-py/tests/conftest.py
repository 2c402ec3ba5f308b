"""Shared fixtures: the repository's MNIST CNN with 16 real digits (tests/golden/mnist_cnn)
and tiny ONNX models built with the onnx package's helper."""

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
MNIST_DIR = ROOT / "tests" / "golden" / "mnist_cnn"


@pytest.fixture(scope="session")
def mnist_onnx() -> Path:
    return MNIST_DIR / "mnist_cnn.onnx"


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """16 MNIST digits, float32 [16, 1, 28, 28], normalised as the model expects."""
    return np.load(MNIST_DIR / "in_input.npy")


@pytest.fixture(scope="session")
def logits() -> np.ndarray:
    """ONNX Runtime's logits for the 16 digits."""
    return np.load(MNIST_DIR / "out_logits.npy")


@pytest.fixture(scope="session")
def mnist_ingot(tmp_path_factory, mnist_onnx) -> Path:
    import smelt

    out = tmp_path_factory.mktemp("mnist") / "mnist_cnn.ingot"
    smelt.convert(mnist_onnx, out)
    return out


def onnx_model(nodes, inputs, outputs, initializers=(), opset=17, name="tiny", check=True):
    """An onnx.ModelProto from (name, elem_type, shape) triples and helper nodes."""
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    return model


def save(model, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path
