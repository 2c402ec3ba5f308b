"""smelt.convert(torch.nn.Module, example_inputs=...) gives the module's outputs within 1e-4.

Skips (saying why) where PyTorch is not installed. Runs without pytest too
(`python tests/test_torch.py`), for machines that have torch but not pytest (gpu_check.sh).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

try:
    import pytest
except ImportError:  # run as a script
    pytest = None

try:
    import torch
except ImportError:
    torch = None

import smelt

WHY = "PyTorch is not installed (pip install torch to run the torch conversion test)"
if torch is None and pytest is not None and __name__ != "__main__":
    pytest.skip(WHY, allow_module_level=True)

TOL = 1e-4


def modules():
    """(name, module, example inputs): a CNN with BatchNorm, an MLP with LayerNorm and GELU,
    a two-input two-output module, and attention."""
    torch.manual_seed(0)

    class Cnn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3, padding=1),
                torch.nn.BatchNorm2d(8),
                torch.nn.ReLU(),
                torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(8, 16, 3, stride=2),
                torch.nn.ReLU(),
                torch.nn.AdaptiveAvgPool2d(1),
                torch.nn.Flatten(),
                torch.nn.Linear(16, 10),
            )

        def forward(self, image):
            return torch.softmax(self.body(image), dim=-1)

    class Mlp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(32, 64), torch.nn.LayerNorm(64), torch.nn.GELU(), torch.nn.Linear(64, 8)
            )

        def forward(self, x):
            return self.net(x)

    class TwoInTwoOut(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(6, 4)

        def forward(self, x, y):
            h = torch.tanh(self.a(x)) * torch.sigmoid(y)
            return h.sum(dim=-1), torch.cat([h, y], dim=-1)

    class Attention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)

        def forward(self, tokens):
            out, _ = self.attn(tokens, tokens, tokens, need_weights=False)
            return out

    cnn = Cnn().eval()
    # BatchNorm statistics that are not the identity
    with torch.no_grad():
        bn = cnn.body[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return [
        ("cnn", cnn, (torch.randn(2, 3, 16, 16),)),
        ("mlp", Mlp().eval(), torch.randn(5, 32)),
        ("two_in_two_out", TwoInTwoOut().eval(), (torch.randn(3, 6), torch.randn(3, 4))),
        ("attention", Attention().eval(), (torch.randn(2, 7, 16),)),
    ]


def check_module(name, module, example, compute_units):
    args = example if isinstance(example, tuple) else (example,)
    with torch.no_grad():
        want = module(*args)
    want = list(want) if isinstance(want, (tuple, list)) else [want]
    with tempfile.TemporaryDirectory() as d:
        m = smelt.convert(module, Path(d) / f"{name}.ingot", example_inputs=example, compute_units=compute_units)
        names = [f.name for f in m.inputs]
        got = m.predict({n: a.numpy() for n, a in zip(names, args)})
    assert len(got) == len(want), (name, list(got))
    worst = 0.0
    for (out_name, g), w in zip(got.items(), want):
        w = w.numpy()
        assert g.shape == w.shape and g.dtype == w.dtype, (name, out_name, g.shape, w.shape)
        err = float(np.max(np.abs(g - w))) if g.size else 0.0
        worst = max(worst, err)
        assert np.allclose(g, w, rtol=TOL, atol=TOL), f"{name} {out_name} ({compute_units}): max abs error {err}"
    print(f"{name:<16} {compute_units:<9} outputs {len(got)}  max abs error {worst:.2e}  inputs {names}")


def test_torch_modules_convert_within_1e_4():
    units = ["cpu_only"]
    if any(d["kind"] == "gpu" for d in smelt.available_devices()):
        units.append("all")
    for name, module, example in modules():
        for cu in units:
            check_module(name, module, example, cu)


def test_torch_input_names_and_errors():
    mlp = modules()[1][1]
    with tempfile.TemporaryDirectory() as d:
        m = smelt.convert(mlp, Path(d) / "mlp.ingot", example_inputs=torch.randn(2, 32))
        assert [f.name for f in m.inputs] == ["x"] and [f.name for f in m.outputs] == ["output"]
        assert m.metadata["name"] == "mlp"
        m = smelt.convert(
            mlp,
            example_inputs=(torch.randn(2, 32),),
            input_names=["features"],
            output_names=["scores"],
            dynamic_axes={"features": {0: "batch"}, "scores": {0: "batch"}},
        )
        assert m.inputs[0].shape == ("batch", 32)
        y = m.predict({"features": np.zeros((7, 32), np.float32)})["scores"]
        assert y.shape == (7, 8)
    try:
        smelt.convert(mlp)
    except TypeError as e:
        assert "needs example_inputs" in str(e)
    else:
        raise AssertionError("no error without example_inputs")


if __name__ == "__main__":
    if torch is None:
        print(f"SKIP: {WHY}")
        sys.exit(0)
    print(f"torch {torch.__version__}, smelt {smelt.__version__}, devices {smelt.available_devices()}")
    for test in (test_torch_modules_convert_within_1e_4, test_torch_input_names_and_errors):
        test()
        print(f"PASS {test.__name__}")
