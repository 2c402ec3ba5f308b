"""Type stubs of smelt's native module (smelt._smelt); the public names are re-exported by
the ``smelt`` package."""

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, TypedDict, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]
Dim = Union[int, str, None]

__version__: str

class Feature:
    """An input, output or state of a model."""

    @property
    def name(self) -> str: ...
    @property
    def dtype(self) -> Optional[str]:
        """numpy's name for the dtype ("float32", "int64", "bool"; "bfloat16" and the float8
        / int4 types need ml_dtypes); None when the model does not declare it."""
    @property
    def shape(self) -> Optional[Tuple[Dim, ...]]:
        """ints for fixed dims, strs for named ones ("batch"), None for unknown ones; None
        when the rank is unknown."""
    @property
    def description(self) -> str: ...

class State:
    """The values of a model's declared states between predictions (``Model.new_state``)."""

    @property
    def names(self) -> List[str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: str) -> bool: ...
    def __getitem__(self, name: str) -> np.ndarray:
        """A copy of the state's value."""
    def __setitem__(self, name: str, value: Any) -> None:
        """Replaces the value (same dtype and shape)."""

class Device(TypedDict):
    kind: str
    backend: str
    name: str

class PlanNode(TypedDict):
    node: str
    op_type: str
    device: Optional[str]
    reason: str

class Plan(TypedDict):
    compute_units: str
    devices: List[Device]
    nodes: List[PlanNode]
    transfers: int
    notes: List[str]

class Metadata(TypedDict):
    name: str
    version: str
    author: str
    license: str
    description: str
    producer: str
    source: str
    user: Dict[str, str]
    opsets: Dict[str, int]

class Model:
    """A loaded model (``smelt.load``). ``predict`` may be called from many threads at once;
    it releases the GIL while the model runs."""

    @property
    def path(self) -> Path:
        """The file the model was loaded from."""
    @property
    def compute_units(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def inputs(self) -> List[Feature]: ...
    @property
    def outputs(self) -> List[Feature]: ...
    @property
    def states(self) -> List[Feature]: ...
    @property
    def metadata(self) -> Metadata: ...
    def plan(self) -> Plan:
        """Where each node runs, and why."""
    def new_state(self, dims: Optional[Mapping[str, int]] = None) -> State:
        """Zero-filled states; ``dims`` sizes symbolic dimensions (others are 1)."""
    def predict(
        self, inputs: Mapping[str, Any], state: Optional[State] = None
    ) -> Dict[str, np.ndarray]:
        """Runs the model: {input name: array} -> {output name: array}. Arrays must have the
        declared dtype (TypeError) and shape (ValueError); C-contiguous ones are used in
        place. A model with declared states needs ``state=``, updated in place."""
    def save(self, path: PathLike) -> None:
        """Copies the package the model was loaded from to ``path``."""

def load(
    path: PathLike,
    compute_units: str = "all",
    precision: str = "fp32",
    threads: Optional[int] = None,
    verify_weights: bool = True,
) -> Model:
    """Loads an ``.ingot`` package or an ``.onnx`` model. ``compute_units``: "all",
    "cpu_only" or "cpu_and_gpu"; ``precision`` (GPU GEMM operands): "fp32", "tf32",
    "fp16" or "bf16"; ``threads``: CPU threads for this model."""

def available_devices() -> List[Device]:
    """The devices smelt can run on here (the CPU last)."""

def convert_file(
    source: PathLike,
    output: PathLike,
    name: Optional[str] = None,
    version: Optional[str] = None,
    author: Optional[str] = None,
    license: Optional[str] = None,
    description: Optional[str] = None,
    metadata: Sequence[Tuple[str, str]] = ...,
    states: Sequence[Tuple[str, str]] = ...,
    descriptions: Sequence[Tuple[str, str]] = ...,
    keep_graph: bool = False,
) -> Dict[str, Any]: ...
def compress_file(
    source: PathLike,
    output: PathLike,
    mode: str,
    dtype: Optional[str] = None,
    granularity: Optional[str] = None,
    block_size: Optional[int] = None,
    symmetric: Optional[bool] = None,
    nbits: Optional[int] = None,
    group_size: Optional[int] = None,
    method: Optional[str] = None,
    weight_threshold: int = 2048,
    ops: Optional[Sequence[str]] = None,
    skip: Sequence[str] = ...,
    calibration: Any = None,
    inputs: Any = None,
    probes: int = 5,
) -> Dict[str, Any]: ...
