"""smelt: convert, compress and run machine-learning models, from Python."""

import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypedDict, Union

from ._smelt import Feature as Feature
from ._smelt import Model as Model
from ._smelt import State as State
from ._smelt import __version__ as __version__
from ._smelt import available_devices as available_devices
from ._smelt import load as load

PathLike = Union[str, "os.PathLike[str]"]
Feed = Mapping[str, Any]

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
    """Converts an ``.onnx`` path, an ``onnx.ModelProto`` or a ``torch.nn.Module`` (with
    ``example_inputs``) to an ``.ingot`` package at ``output`` and loads it. ``states``:
    {input: output} pairs that become declared states; ``metadata``: user metadata."""

class WeightRecord(TypedDict):
    name: str
    op_type: str
    shape: Tuple[int, ...]
    grid: Tuple[int, ...]
    bytes_before: int
    bytes_after: int
    snr_db: float
    seconds: float
    note: str

class CompressReport(List[WeightRecord]):
    """One record per compressed weight, with the totals and the accuracy as attributes."""

    output: Path
    file_bytes: int
    skipped: List[Tuple[str, str]]
    unused_skip: List[str]
    seconds: float
    accuracy: Optional[Dict[str, Any]]
    @property
    def bytes_before(self) -> int: ...
    @property
    def bytes_after(self) -> int: ...

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
    """Compresses a model's weights into the package ``output``: ``mode="linear"`` (dtype
    int8/int4; per_tensor, per_channel or per_block) or ``mode="palettize"`` (nbits 1-8;
    per_tensor or per_grouped_channel; kmeans or uniform)."""

def compare(
    a: Union[Model, PathLike],
    b: Union[Model, PathLike],
    inputs: Union[Feed, Sequence[Feed]],
    *,
    top1: bool = False,
) -> Dict[str, Dict[str, Any]]:
    """Per output present in both models: SNR (a is the reference), cosine, max abs error,
    exact-match fraction, NaN/inf counts and top-1 agreement."""
