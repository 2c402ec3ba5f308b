"""What calling smelt from Python costs: `model.predict` from Python against the same
prediction through the Rust API (`smelt run --repeat N`, the CLI's timing loop around
`Model::predict`) and against ONNX Runtime's `InferenceSession.run` in this process, on the
MNIST CNN (tests/golden/mnist_cnn) with its 16 real digits and with one digit.

    pip install ./crates/smelt-py onnxruntime       # onnxruntime: for this bench only
    cargo build --release -p smelt-cli
    python bench/python_overhead.py [--runs 2000] [--rounds 5] [--smelt target/release/smelt]

Each round times every contender in turn (smelt from Python and ONNX Runtime in this process,
then the CLI in its own process), `--runs` predictions each after a warm-up; the table gives
the median over rounds of each round's median, the spread of those medians (min-max), and
the 10th-90th percentile of single calls pooled over the rounds. Thread pools are left at
their defaults (one thread per core for smelt and ONNX Runtime alike). `smelt run` prints
milliseconds to 3 decimals: its times have a resolution of 1 µs.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "tests" / "golden" / "mnist_cnn"


def time_calls(f, runs, warmup=50):
    for _ in range(warmup):
        f()
    out = np.empty(runs)
    for i in range(runs):
        t = time.perf_counter_ns()
        f()
        out[i] = time.perf_counter_ns() - t
    return out / 1e3  # µs


def cli_median(smelt_bin, model, npy, runs, tmp):
    r = subprocess.run(
        [str(smelt_bin), "run", str(model), "--input", f"input={npy}", "--repeat", str(runs),
         "--output-dir", str(tmp)],
        capture_output=True, text=True, check=True,
    )
    m = re.search(r"latency over \d+ runs: median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms", r.stdout)
    if not m:
        sys.exit(f"no latency line in smelt run's output:\n{r.stdout}\n{r.stderr}")
    return float(m.group(1)) * 1e3, float(m.group(2)) * 1e3


def tiny_identity(path):
    """A one-node Identity model (needs the onnx package; None without it)."""
    try:
        from onnx import TensorProto, helper
    except ImportError:
        return None
    g = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])], "identity",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 16])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path.write_bytes(m.SerializeToString())
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--smelt", type=Path, default=ROOT / "target" / "release" / "smelt",
                    help="the smelt command (release build)")
    ap.add_argument("--model", type=Path, default=MNIST / "mnist_cnn.onnx")
    a = ap.parse_args()

    import onnxruntime as ort

    import smelt

    if not a.smelt.exists():
        sys.exit(f"{a.smelt}: no such file (cargo build --release -p smelt-cli, or give --smelt)")
    digits = np.load(MNIST / "in_input.npy")
    model = smelt.load(a.model)
    sess = ort.InferenceSession(str(a.model), providers=["CPUExecutionProvider"])
    print(f"model {a.model.name}; smelt {smelt.__version__} ({model.threads} threads), "
          f"onnxruntime {ort.__version__}; {os.cpu_count()} cores; {a.rounds} rounds x {a.runs} runs")
    print(f"{'input':<18}{'contender':<30}{'median µs':>10}{'spread':>18}{'p10-p90 (calls)':>20}")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("16 digits", a.model, model, sess, digits),
            ("1 digit", a.model, model, sess, np.ascontiguousarray(digits[:1])),
        ]
        identity = tiny_identity(Path(tmp) / "identity.onnx")
        if identity is not None:
            # no work at all: what remains is the cost of a call
            x = np.zeros((1, 16), np.float32)
            cases.append(("Identity [1,16]", identity, smelt.load(identity),
                          ort.InferenceSession(str(identity), providers=["CPUExecutionProvider"]), x))
        for label, path, model, sess, x in cases:
            npy = Path(tmp) / "x.npy"
            np.save(npy, x)
            feed = {"input": x}
            want = sess.run(None, feed)[0]
            got = list(model.predict(feed).values())[0]
            assert np.allclose(got, want, rtol=1e-4, atol=1e-4)
            py, ort_t, cli = [], [], []
            for _ in range(a.rounds):
                py.append(time_calls(lambda: model.predict(feed), a.runs))
                ort_t.append(time_calls(lambda: sess.run(None, feed), a.runs))
                cli.append(cli_median(a.smelt, path, npy, a.runs, tmp))
            rows = [
                ("smelt, Python predict", [np.median(r) for r in py], np.concatenate(py)),
                ("smelt, Rust (smelt run)", [c[0] for c in cli], None),
                ("onnxruntime, Python run", [np.median(r) for r in ort_t], np.concatenate(ort_t)),
            ]
            for name, meds, calls in rows:
                pct = f"{np.percentile(calls, 10):.1f}-{np.percentile(calls, 90):.1f}" if calls is not None else "-"
                print(f"{label:<18}{name:<30}{np.median(meds):>10.1f}"
                      f"{f'{min(meds):.1f}-{max(meds):.1f}':>18}{pct:>20}")
            rust = np.median(rows[1][1])
            over = np.median(rows[0][1]) - rust
            ok = over <= 20 or over <= 0.10 * rust
            rel = f"({100 * over / rust:+.1f}%)" if rust > 0 else "(Rust under 1 µs)"
            print(f"{label:<18}{'Python over Rust':<30}{over:>10.1f}{rel:>18}"
                  f"{'within 10% or 20 µs' if ok else 'OVER 10% and 20 µs':>20}")


if __name__ == "__main__":
    main()
