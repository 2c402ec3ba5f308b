"""The package as an editor sees it: stubs that match the runtime, docstrings, py.typed."""

import ast
import inspect
from pathlib import Path

import smelt
import smelt._smelt as native

PKG = Path(smelt.__file__).parent


def stub_names(path: Path):
    tree = ast.parse(path.read_text())
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            members = set()
            if isinstance(node, ast.ClassDef):
                members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            names[node.name] = members
    return names


def test_stubs_and_py_typed_ship_with_the_package():
    assert (PKG / "py.typed").exists()
    assert (PKG / "__init__.pyi").exists() and (PKG / "_smelt.pyi").exists()


def test_native_stub_matches_the_module():
    stubs = stub_names(PKG / "_smelt.pyi")
    for name in ("Model", "State", "Feature", "load", "available_devices", "convert_file", "compress_file"):
        assert name in stubs and hasattr(native, name), name
    for cls in ("Model", "State", "Feature"):
        runtime = {n for n in dir(getattr(native, cls)) if not n.startswith("__")}
        declared = {n for n in stubs[cls] if not n.startswith("__")}
        assert declared == runtime, (cls, declared ^ runtime)


def test_package_stub_matches_the_package():
    stubs = stub_names(PKG / "__init__.pyi")
    for name in ("convert", "compress", "compare", "CompressReport"):
        assert name in stubs
    for name in smelt.__all__:
        assert hasattr(smelt, name), name
        assert name in stubs or name in (PKG / "__init__.pyi").read_text(), name
    # the same parameters in the stub and the implementation
    tree = ast.parse((PKG / "__init__.pyi").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            args = node.args
            declared = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
            runtime = list(inspect.signature(getattr(smelt, node.name)).parameters)
            assert declared == runtime, node.name


def test_everything_public_has_a_docstring():
    for obj in (smelt, smelt.load, smelt.convert, smelt.compress, smelt.compare, smelt.Model,
                smelt.Model.predict, smelt.Model.plan, smelt.Model.new_state, smelt.State,
                smelt.Feature, smelt.CompressReport, smelt.available_devices):
        assert (obj.__doc__ or "").strip(), obj
    assert "compute_units" in smelt.load.__doc__
    assert smelt.__version__ == "0.1.0"
