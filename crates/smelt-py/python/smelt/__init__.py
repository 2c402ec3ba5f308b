"""smelt: convert, compress and run machine-learning models, from Python.

The coremltools workflow on smelt's portable runtime::

    import numpy as np
    import smelt

    model = smelt.convert("mnist_cnn.onnx", "mnist.ingot")   # or a torch.nn.Module
    out = model.predict({"input": np.zeros((1, 1, 28, 28), np.float32)})
    report = smelt.compress("mnist.ingot", "mnist4.ingot", mode="palettize", nbits=4)
    metrics = smelt.compare("mnist.ingot", "mnist4.ingot", {"input": digits})

`load` reads an ``.ingot`` package (weights memory-mapped) or an ``.onnx`` model. Errors
are ordinary Python exceptions: ``FileNotFoundError`` for a missing file, ``TypeError`` for a
wrong dtype, ``ValueError`` for a wrong input name or shape, a malformed file or a bad option.
"""

from __future__ import annotations

import atexit
import inspect
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _smelt
from ._smelt import Feature, Model, State, __version__, available_devices, load

__all__ = [
    "Feature",
    "Model",
    "State",
    "CompressReport",
    "__version__",
    "available_devices",
    "compare",
    "compress",
    "convert",
    "load",
]

PathLike = Union[str, "os.PathLike[str]"]
Feed = Mapping[str, Any]

_temp_root: Optional[str] = None


def _temp_dir() -> Path:
    """A fresh folder under one per-process temporary folder, removed at exit."""
    global _temp_root
    if _temp_root is None:
        _temp_root = tempfile.mkdtemp(prefix="smelt-")
        atexit.register(shutil.rmtree, _temp_root, True)
    return Path(tempfile.mkdtemp(dir=_temp_root))


def _stem(name: Optional[str], fallback: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or "").strip("._")
    return s or fallback


def _is_onnx_model(x: Any) -> bool:
    t = type(x)
    return t.__name__ == "ModelProto" and hasattr(x, "SerializeToString")


def _is_torch_module(x: Any) -> bool:
    for cls in type(x).__mro__:
        if cls.__module__.startswith("torch.nn") and cls.__name__ == "Module":
            return True
    return False


def _save_onnx(proto: Any, path: Path) -> None:
    """Writes an onnx.ModelProto; a model over protobuf's 2 GiB limit goes through
    onnx.save_model with its weights as external data (smelt reads both)."""
    try:
        data = proto.SerializeToString()
    except ValueError:
        import onnx

        onnx.save_model(proto, str(path), save_as_external_data=True, location=path.name + ".data")
        return
    path.write_bytes(data)


def _forward_names(module: Any, n: int) -> List[str]:
    """The names of the first n parameters of module.forward (the ONNX input names)."""
    try:
        params = [
            p.name
            for p in inspect.signature(module.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    if len(params) >= n:
        return params[:n]
    return ["input"] if n == 1 else [f"input_{i}" for i in range(n)]


def _export_torch(
    module: Any,
    example_inputs: Any,
    path: Path,
    input_names: Optional[Sequence[str]],
    output_names: Optional[Sequence[str]],
    dynamic_axes: Optional[Mapping[str, Any]],
    opset_version: Optional[int],
) -> None:
    import torch

    if example_inputs is None:
        raise TypeError(
            "converting a torch.nn.Module needs example_inputs: a tensor or a tuple of "
            "tensors that module.forward takes"
        )
    if isinstance(example_inputs, torch.Tensor):
        args: Tuple[Any, ...] = (example_inputs,)
    elif isinstance(example_inputs, (tuple, list)):
        args = tuple(example_inputs)
    else:
        raise TypeError(
            f"example_inputs: a tensor or a tuple of tensors, got {type(example_inputs).__name__}"
        )
    if input_names is None:
        input_names = _forward_names(module, len(args))
    if output_names is None:
        with torch.no_grad():
            out = module(*args)
        n = len(out) if isinstance(out, (tuple, list)) else 1
        output_names = ["output"] if n == 1 else [f"output_{i}" for i in range(n)]
    kwargs: Dict[str, Any] = {
        "input_names": list(input_names),
        "output_names": list(output_names),
        "opset_version": opset_version or 17,
    }
    if dynamic_axes:
        kwargs["dynamic_axes"] = dict(dynamic_axes)
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        torch.onnx.export(module, args, str(path), **kwargs)
        return
    # the TorchScript exporter first (the dynamo one, the default from torch 2.9, needs
    # onnxscript); the dynamo one where the TorchScript one fails or is gone
    try:
        torch.onnx.export(module, args, str(path), dynamo=False, **kwargs)
    except Exception as first:
        try:
            import onnxscript  # noqa: F401
        except ImportError:
            raise first from None
        try:
            torch.onnx.export(module, args, str(path), dynamo=True, **kwargs)
        except Exception:
            raise first from None


def _pairs(x: Union[None, Mapping[str, str], Iterable[Tuple[str, str]]], what: str) -> List[Tuple[str, str]]:
    if x is None:
        return []
    items = x.items() if isinstance(x, Mapping) else x
    out = []
    for kv in items:
        if not (isinstance(kv, (tuple, list)) and len(kv) == 2):
            raise TypeError(f"{what}: a dict or (key, value) pairs, got {kv!r}")
        out.append((str(kv[0]), str(kv[1])))
    return out


def convert(
    source: Any,
    output: Optional[PathLike] = None,
    *,
    example_inputs: Any = None,
    input_names: Optional[Sequence[str]] = None,
    output_names: Optional[Sequence[str]] = None,
    dynamic_axes: Optional[Mapping[str, Any]] = None,
    opset_version: Optional[int] = None,
    states: Union[None, Mapping[str, str], Iterable[Tuple[str, str]]] = None,
    metadata: Optional[Mapping[str, str]] = None,
    descriptions: Optional[Mapping[str, str]] = None,
    name: Optional[str] = None,
    version: Optional[str] = None,
    author: Optional[str] = None,
    license: Optional[str] = None,
    description: Optional[str] = None,
    keep_graph: bool = False,
    compute_units: str = "all",
) -> Model:
    """Converts a model to an ``.ingot`` package and loads it.

    ``source`` is a path to an ``.onnx`` model (or an ``.ingot`` package to re-package), an
    ``onnx.ModelProto``, or a ``torch.nn.Module`` with ``example_inputs`` (a tensor or a tuple
    of tensors), exported through ``torch.onnx.export`` (``input_names`` default to the
    names of ``forward``'s parameters, ``output_names`` to "output" or "output_0", ...;
    ``dynamic_axes`` and ``opset_version`` (17) are passed on).

    ``output``: the package to write (atomically). Default: the source path with the
    ``.ingot`` suffix, or for an in-memory model a temporary file removed when Python exits
    (``model.save(path)`` keeps a copy).

    ``states``: {input: output} pairs of graph values that become declared states (fed from
    ``state=`` and updated after every prediction). ``metadata``: user metadata (str -> str).
    ``descriptions``: {input or output name: text}. ``name``, ``version``, ``author``,
    ``license``, ``description``: the package's metadata. ``keep_graph``: save the graph as
    imported, without the portable passes (constant folding, BatchNorm into Conv, ...).

    Returns the converted package loaded with ``compute_units``.
    """
    temp: Optional[Path] = None
    try:
        if isinstance(source, (str, os.PathLike)):
            src = Path(source)
            stem = src.stem
        elif _is_onnx_model(source):
            stem = _stem(name or getattr(source.graph, "name", None), "model")
            temp = _temp_dir()
            src = temp / f"{stem}.onnx"
            _save_onnx(source, src)
        elif _is_torch_module(source):
            stem = _stem(name or type(source).__name__, "model")
            temp = _temp_dir()
            src = temp / f"{stem}.onnx"
            _export_torch(
                source, example_inputs, src, input_names, output_names, dynamic_axes, opset_version
            )
        else:
            raise TypeError(
                "convert takes a path to an .onnx model, an onnx.ModelProto or a "
                f"torch.nn.Module (with example_inputs), got {type(source).__name__}"
            )
        if output is None:
            if temp is None and src.suffix != ".ingot":
                out = src.with_suffix(".ingot")
            else:
                out = _temp_dir() / f"{stem}.ingot"
        else:
            out = Path(output)
        _smelt.convert_file(
            src,
            out,
            name=name,
            version=version,
            author=author,
            license=license,
            description=description,
            metadata=_pairs(metadata, "metadata"),
            states=_pairs(states, "states"),
            descriptions=_pairs(descriptions, "descriptions"),
            keep_graph=keep_graph,
        )
        return load(out, compute_units=compute_units)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


class CompressReport(list):
    """What ``smelt.compress`` did: a list with one record (a dict) per compressed weight —
    name, op_type, shape, grid (the parameter grid), bytes_before, bytes_after, snr_db (the
    weight's SNR), seconds, note — and, as attributes: ``output`` (the package written),
    ``file_bytes``, ``bytes_before`` / ``bytes_after`` (over the compressed weights),
    ``skipped`` ((name, why) of the float weights left alone), ``unused_skip``, ``seconds``
    and ``accuracy`` (None unless ``inputs`` or ``calibration`` was given: the compressed
    model's outputs against the original's, and the output SNR of the weights of lowest
    weight SNR compressed alone)."""

    output: Path
    file_bytes: int
    skipped: List[Tuple[str, str]]
    unused_skip: List[str]
    seconds: float
    accuracy: Optional[Dict[str, Any]]

    @property
    def bytes_before(self) -> int:
        return sum(r["bytes_before"] for r in self)

    @property
    def bytes_after(self) -> int:
        return sum(r["bytes_after"] for r in self)

    def __repr__(self) -> str:
        ratio = self.bytes_before / self.bytes_after if self.bytes_after else float("nan")
        return (
            f"CompressReport({len(self)} weights, {self.bytes_before} -> {self.bytes_after} "
            f"bytes ({ratio:.2f}x), output={str(self.output)!r})"
        )


def _model_path(m: Union[Model, PathLike], what: str) -> Path:
    if isinstance(m, Model):
        return Path(m.path)
    if isinstance(m, (str, os.PathLike)):
        return Path(m)
    raise TypeError(f"{what}: a smelt.Model or a path, got {type(m).__name__}")


def compress(
    model_or_path: Union[Model, PathLike],
    output: PathLike,
    mode: str = "linear",
    *,
    dtype: Optional[str] = None,
    granularity: Optional[str] = None,
    block_size: Optional[int] = None,
    symmetric: Optional[bool] = None,
    nbits: Optional[int] = None,
    group_size: Optional[int] = None,
    method: Optional[str] = None,
    weight_threshold: int = 2048,
    ops: Optional[Sequence[str]] = None,
    skip: Sequence[str] = (),
    calibration: Union[None, Feed, Sequence[Feed]] = None,
    inputs: Union[None, Feed, Sequence[Feed]] = None,
    probes: int = 5,
) -> CompressReport:
    """Compresses the weights of a model (``.onnx``, ``.ingot`` or a loaded ``Model``) into
    the package ``output`` (written atomically), as ``smelt compress`` does.

    ``mode="linear"``: ``dtype`` "int8" (default) or "int4"; ``granularity`` "per_channel"
    (default), "per_tensor" or "per_block" (``block_size`` input elements per scale, 32);
    ``symmetric`` (default True; False: a zero point per scale).
    ``mode="palettize"``: ``nbits`` 1-8 (default 4); ``granularity`` "per_tensor" (default)
    or "per_grouped_channel" (``group_size`` output channels per table, 16); ``method``
    "kmeans" (default) or "uniform". Options of the other mode are a ValueError.

    ``weight_threshold``: weights with fewer elements are left alone (2048). ``ops``: the
    op types whose weights are compressed (default all: Conv, ConvTranspose, MatMul, Gemm,
    Gather). ``skip``: weight or node names to leave alone.
    ``calibration``: sample inputs (a dict {name: array} or a list of them, one per run):
    MatMul and Gemm weights get codes chosen to compensate their rounding error on these
    inputs' activations (GPTQ). ``inputs`` (or else the first calibration feed): measure the
    output accuracy on them (``report.accuracy``), probing the ``probes`` weights of lowest
    SNR alone.
    """
    src = _model_path(model_or_path, "model_or_path")
    if isinstance(skip, str):
        skip = [skip]
    r = _smelt.compress_file(
        src,
        Path(output),
        mode,
        dtype=dtype,
        granularity=granularity,
        block_size=block_size,
        symmetric=symmetric,
        nbits=nbits,
        group_size=group_size,
        method=method,
        weight_threshold=weight_threshold,
        ops=list(ops) if ops is not None else None,
        skip=list(skip),
        calibration=_feeds(calibration, "calibration"),
        inputs=_feeds(inputs, "inputs"),
        probes=probes,
    )
    report = CompressReport(
        {**w, "shape": tuple(w["shape"]), "grid": tuple(w["grid"])} for w in r["weights"]
    )
    report.output = Path(output)
    report.file_bytes = r["file_bytes"]
    report.skipped = [tuple(s) for s in r["skipped"]]
    report.unused_skip = list(r["unused_skip"])
    report.seconds = r["seconds"]
    report.accuracy = r["accuracy"]
    if report.accuracy is not None:
        for o in report.accuracy["outputs"]:
            o["shape"] = tuple(o["shape"])
    return report


def _feeds(
    x: Union[None, Feed, Sequence[Feed]], what: str
) -> Union[None, Dict[str, Any], List[Any]]:
    if x is None:
        return None
    if isinstance(x, Mapping):
        return dict(x)
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{what}: a dict {{name: array}} or a list of them, got {type(x).__name__}")
    return [dict(f) if isinstance(f, Mapping) else f for f in x]


class _Sums:
    """Running sums over (reference, other) pairs of one output; the float metrics cover the
    pairs finite in both, NaN and infinities are counted apart."""

    def __init__(self) -> None:
        self.signal = self.noise = self.dot = self.bb = self.max_abs = 0.0
        self.n = self.finite = self.equal = self.nonfinite_a = self.nonfinite_b = 0
        self.agree = self.rows = 0

    def add(self, a: np.ndarray, b: np.ndarray, is_float: bool, top1: bool) -> None:
        self.n += a.size
        if a.dtype == object:
            self.equal += int(np.sum(a == b))
            return
        a64 = a.astype(np.float64).ravel()
        b64 = b.astype(np.float64).ravel()
        self.equal += int(np.sum((a64 == b64) | (np.isnan(a64) & np.isnan(b64))))
        if not is_float:
            return
        fa, fb = np.isfinite(a64), np.isfinite(b64)
        self.nonfinite_a += int(np.sum(~fa))
        self.nonfinite_b += int(np.sum(~fb))
        both = fa & fb
        x, y = a64[both], b64[both]
        self.finite += int(x.size)
        if x.size:
            d = x - y
            self.signal += float(np.dot(x, x))
            self.noise += float(np.dot(d, d))
            self.dot += float(np.dot(x, y))
            self.bb += float(np.dot(y, y))
            self.max_abs = max(self.max_abs, float(np.max(np.abs(d))))
        if top1 and a.ndim >= 1 and a.shape[-1] >= 1:
            ra = a.astype(np.float64).reshape(-1, a.shape[-1])
            rb = b.astype(np.float64).reshape(-1, b.shape[-1])
            self.agree += int(np.sum(np.argmax(ra, axis=1) == np.argmax(rb, axis=1)))
            self.rows += ra.shape[0]

    def snr_db(self) -> float:
        if self.finite == 0:
            return float("nan")
        if self.noise == 0.0:
            return float("inf")
        if self.signal == 0.0:
            return float("-inf")
        return 10.0 * float(np.log10(self.signal / self.noise))

    def cosine(self) -> float:
        if self.finite == 0:
            return float("nan")
        za, zb = self.signal == 0.0, self.bb == 0.0
        if za and zb:
            return 1.0
        if za or zb:
            return 0.0
        return self.dot / (np.sqrt(self.signal) * np.sqrt(self.bb))


def _as_model(m: Union[Model, PathLike], what: str) -> Model:
    if isinstance(m, Model):
        return m
    if isinstance(m, (str, os.PathLike)):
        return load(m)
    raise TypeError(f"{what}: a smelt.Model or a path, got {type(m).__name__}")


def _run(m: Model, feed: Feed) -> Dict[str, np.ndarray]:
    names = {f.name for f in m.inputs}
    given = {k: v for k, v in feed.items() if k in names}
    if m.states:
        return m.predict(given, state=m.new_state())
    return m.predict(given)


def compare(
    a: Union[Model, PathLike],
    b: Union[Model, PathLike],
    inputs: Union[Feed, Sequence[Feed]],
    *,
    top1: bool = False,
) -> Dict[str, Dict[str, Any]]:
    """Runs two models on the same inputs and measures how far ``b``'s outputs are from
    ``a``'s (the reference), as ``smelt compare`` does.

    ``inputs``: a dict {name: array} or a list of them (one run each; the metrics cover all
    runs); each model is fed the inputs it declares. Returns, for every output name present
    in both models, a dict: ``dtype``, ``shape`` (of the first run), ``values`` (compared),
    ``exact`` (fraction of equal elements; the measure for integer, bool and str outputs) and,
    for float outputs, ``snr_db`` (10 log10(sum a^2 / sum (a-b)^2), inf when equal),
    ``cosine``, ``max_abs``, ``finite`` (pairs finite in both: the ones these cover),
    ``nonfinite_a`` / ``nonfinite_b`` (NaN or infinite values) and ``top1`` ((agreeing rows,
    rows) of the argmax over the last axis for float ``[N, C]`` outputs with C >= 2, or every
    float output with ``top1=True``; None otherwise). Outputs whose dtype or shape differ
    between the models are a ValueError.
    """
    ma, mb = _as_model(a, "a"), _as_model(b, "b")
    feeds = [inputs] if isinstance(inputs, Mapping) else list(inputs)
    if not feeds:
        raise ValueError("compare needs at least one feed of inputs")
    sums: Dict[str, _Sums] = {}
    first: Dict[str, Tuple[np.dtype, Tuple[int, ...]]] = {}
    for feed in feeds:
        oa, ob = _run(ma, feed), _run(mb, feed)
        for name, x in oa.items():
            if name not in ob:
                continue
            y = ob[name]
            if x.dtype != y.dtype or x.shape != y.shape:
                raise ValueError(
                    f"output '{name}': {x.dtype}{list(x.shape)} in a, {y.dtype}{list(y.shape)} in b"
                )
            first.setdefault(name, (x.dtype, x.shape))
            is_float = x.dtype.kind == "f" or x.dtype.name in _LOW_FLOATS
            auto = x.ndim == 2 and x.shape[1] >= 2
            sums.setdefault(name, _Sums()).add(x, y, is_float, is_float and (top1 or auto))
    out: Dict[str, Dict[str, Any]] = {}
    for name, s in sums.items():
        dtype, shape = first[name]
        is_float = dtype.kind == "f" or dtype.name in _LOW_FLOATS
        r: Dict[str, Any] = {
            "dtype": dtype.name,
            "shape": tuple(shape),
            "values": s.n,
            "exact": s.equal / s.n if s.n else 1.0,
        }
        if is_float:
            r.update(
                snr_db=s.snr_db(),
                cosine=s.cosine(),
                max_abs=s.max_abs,
                finite=s.finite,
                nonfinite_a=s.nonfinite_a,
                nonfinite_b=s.nonfinite_b,
                top1=(s.agree, s.rows) if s.rows else None,
            )
        out[name] = r
    return out


_LOW_FLOATS = {
    "bfloat16",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
    "float4_e2m1fn",
}
