#!/usr/bin/env python3
"""Writes the GGUF reference files that crates/smelt-gguf/tests/reference.rs reads.

Usage: make_test_files.py OUTDIR            the reference files (below)
       make_test_files.py --seeds DIR       a few tiny files, the fuzz target's seeds

Needs `gguf` (llama.cpp's gguf-py, PyPI; the tests pin the version) and numpy. Everything is
deterministic: fixed metadata values and seeded random tensors, written with gguf.GGUFWriter.

OUTDIR receives:
  metadata.gguf     one key per GGUF value type, arrays of every element type, nested
                    arrays, unicode and empty strings (the values are listed in
                    reference.rs, which checks each one)
  tensors.gguf      tensors of every type smelt-gguf dequantizes except Q8_K (gguf-py has no
                    Q8_K dequantizer): F32, F16 and BF16 with special values, the 32-element
                    types quantized from seeded normal data by gguf.quants.quantize and, for
                    every block type, blocks of seeded random bytes with finite f16 scales
                    (so every bit pattern of the packed quants is reached; the K-quants have
                    no quantizer in gguf-py). Shapes have 1 to 4 dims and odd row counts;
                    rows are several blocks (K-quant rows 256*k).
  tensors_v2.gguf   tensors.gguf with version 2 in its header (v2 and v3 share one layout)
  aligned.gguf      general.alignment = 256 with a few tensors
  tensors.txt       one line per tensor: FILE NAME TYPE SHAPE (numpy order, comma-separated)
  NAME.npy          each tensor dequantized to f32 by gguf.quants.dequantize
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.quants import quantize, dequantize

ARCH = "smelt-test"

# Byte offsets of the f16 scale fields in one block, per block type: random bytes there
# could be NaN or infinity, so they are replaced with finite values.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
LEGACY = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
KQUANTS = [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]


def metadata(w):
    """Scalars of every type, arrays of every element type, nested arrays. reference.rs
    checks these exact values."""
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 3.25)
    w.add_bool("test.bool", True)
    w.add_bool("test.bool_false", False)
    w.add_string("test.string", "h\u00e9llo, w\u00f6rld \u2713 \U0001F980")
    w.add_key_value("test.empty_string", "", V.STRING)
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62) - 7)
    w.add_float64("test.f64", 2.718281828459045)
    arrays = [
        ("u8", V.UINT8, [0, 1, 255]),
        ("i8", V.INT8, [-128, 0, 127]),
        ("u16", V.UINT16, [0, 65535, 7]),
        ("i16", V.INT16, [-32768, 32767]),
        ("u32", V.UINT32, [0, 4294967295]),
        ("i32", V.INT32, [-2147483648, 2147483647, -1]),
        ("f32", V.FLOAT32, [1.5, -0.0, float("inf"), -2.5e-38]),
        ("bool", V.BOOL, [True, False, True]),
        ("string", V.STRING, ["a", "", "\u65e5\u672c", "tab\there"]),
        ("u64", V.UINT64, [0, 2**64 - 1]),
        ("i64", V.INT64, [-(2**63), 2**63 - 1]),
        ("f64", V.FLOAT64, [0.1, -1e300]),
    ]
    for name, t, vals in arrays:
        w.add_key_value(f"test.array.{name}", vals, V.ARRAY, sub_type=t)
    # nested: inner element types are inferred (int -> INT32, str -> STRING, float -> FLOAT32)
    w.add_array("test.array.nested_i32", [[1, 2, 3], [4], [5, 6]])
    w.add_array("test.array.nested_str", [["x", "y"], ["z"]])
    w.add_array("test.array.nested3", [[[1], [2, 3]], [[4.5]]])
    rng = np.random.default_rng(7)
    w.add_key_value("test.array.many_f32", [float(x) for x in rng.standard_normal(1000).astype(np.float32)], V.ARRAY, sub_type=V.FLOAT32)


def f16_scales(rng, n):
    """n finite f16 scales, sign mixed, magnitudes over several binades, as bytes."""
    v = (rng.standard_normal(n) * 2.0 ** rng.integers(-12, 0, n)).astype(np.float16)
    v[0] = 0.0
    return v.view(np.uint8).reshape(n, 2)


def random_blocks(rng, qtype, shape):
    """Random block bytes for `shape` (numpy order, last dim in elements) of `qtype`."""
    bs, ts = gguf.GGML_QUANT_SIZES[qtype]
    rows = int(np.prod(shape[:-1]))
    nb = rows * shape[-1] // bs
    b = rng.integers(0, 256, (nb, ts), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        b[:, off:off + 2] = f16_scales(rng, nb)
    return b.reshape(*shape[:-1], shape[-1] // bs * ts)


def normal(rng, shape):
    """Normal data with a row scale, an all-zero block and a constant block."""
    x = rng.standard_normal(shape).astype(np.float32)
    x *= (10.0 ** rng.uniform(-3, 1, shape[:-1] + (1,))).astype(np.float32)
    flat = x.reshape(-1, shape[-1])
    flat[0, :32] = 0.0
    flat[-1, -32:] = 0.75
    return x


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-40, 65504.0, 6e-8, 3.4e38]


def add(w, listing, outdir, fname, name, data, qtype, expected):
    if qtype in (T.F32, T.F16):
        w.add_tensor(name, data)
    else:
        w.add_tensor(name, data, raw_dtype=qtype)
    expected = np.ascontiguousarray(expected, dtype=np.float32)
    np.save(os.path.join(outdir, name + ".npy"), expected)
    listing.append(f"{fname} {name} {qtype.name} {','.join(str(d) for d in expected.shape)}")


def tensors(outdir, listing):
    rng = np.random.default_rng(1234)
    fname = "tensors.gguf"
    w = gguf.GGUFWriter(os.path.join(outdir, fname), ARCH)
    w.add_name("reference tensors")

    # plain floats, special values included
    for shape in [(7, 13), (2, 3, 5), (17,), (2, 1, 3, 4)]:
        x = rng.standard_normal(shape).astype(np.float32)
        x.reshape(-1)[: len(SPECIAL)] = np.array(SPECIAL, dtype=np.float32)[: x.size]
        add(w, listing, outdir, fname, f"f32.{'x'.join(map(str, shape))}", x, T.F32, x)
    h = (rng.standard_normal((5, 37)) * 100).astype(np.float16)
    with np.errstate(over="ignore"):
        h.reshape(-1)[: len(SPECIAL)] = np.array(SPECIAL).astype(np.float16)
    add(w, listing, outdir, fname, "f16.5x37", h, T.F16, dequantize(h, T.F16))
    x = rng.standard_normal((3, 41)).astype(np.float32) * 1e3
    x.reshape(-1)[: len(SPECIAL)] = np.array(SPECIAL, dtype=np.float32)
    q = quantize(x, T.BF16)
    add(w, listing, outdir, fname, "bf16.3x41", q, T.BF16, dequantize(q, T.BF16))

    # 32-element blocks: quantized from normal data, and random bytes
    for t in LEGACY:
        for shape in [(7, 160), (3, 5, 96)]:
            x = normal(rng, shape)
            q = quantize(x, t)
            name = f"{t.name.lower()}.normal.{'x'.join(map(str, shape))}"
            add(w, listing, outdir, fname, name, q, t, dequantize(q, t))
        q = random_blocks(rng, t, (9, 64))
        add(w, listing, outdir, fname, f"{t.name.lower()}.bytes.9x64", q, t, dequantize(q, t))

    # K-quants: random bytes (gguf-py has no K-quant quantizer)
    for t in KQUANTS:
        for shape in [(5, 512), (3, 768), (2, 1, 256)]:
            q = random_blocks(rng, t, shape)
            name = f"{t.name.lower()}.bytes.{'x'.join(map(str, shape))}"
            add(w, listing, outdir, fname, name, q, t, dequantize(q, t))
    write(w)

    with open(os.path.join(outdir, fname), "rb") as f:
        b = bytearray(f.read())
    assert b[4:8] == (3).to_bytes(4, "little")
    b[4:8] = (2).to_bytes(4, "little")
    with open(os.path.join(outdir, "tensors_v2.gguf"), "wb") as f:
        f.write(b)


def aligned(outdir, listing):
    rng = np.random.default_rng(99)
    fname = "aligned.gguf"
    w = gguf.GGUFWriter(os.path.join(outdir, fname), ARCH)
    w.add_custom_alignment(256)
    x = rng.standard_normal((3, 7)).astype(np.float32)
    add(w, listing, outdir, fname, "aligned.f32", x, T.F32, x)
    q = quantize(normal(rng, (3, 64)), T.Q8_0)
    add(w, listing, outdir, fname, "aligned.q8_0", q, T.Q8_0, dequantize(q, T.Q8_0))
    q = random_blocks(rng, T.Q4_K, (1, 256))
    add(w, listing, outdir, fname, "aligned.q4_k", q, T.Q4_K, dequantize(q, T.Q4_K))
    write(w)


def write(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def seeds(outdir):
    """Tiny files for the fuzz target: the metadata file, and one block of each type."""
    rng = np.random.default_rng(5)
    w = gguf.GGUFWriter(os.path.join(outdir, "metadata.gguf"), ARCH)
    metadata(w)
    w.add_tensor("t", np.arange(3, dtype=np.float32))
    write(w)
    w = gguf.GGUFWriter(os.path.join(outdir, "blocks.gguf"), ARCH)
    w.add_tensor("f32", rng.standard_normal((2, 3)).astype(np.float32))
    w.add_tensor("f16", rng.standard_normal((3,)).astype(np.float16))
    w.add_tensor("bf16", quantize(rng.standard_normal((1, 2)).astype(np.float32), T.BF16), raw_dtype=T.BF16)
    for t in LEGACY:
        w.add_tensor(t.name, random_blocks(rng, t, (1, 32)), raw_dtype=t)
    write(w)
    for t in KQUANTS:
        w = gguf.GGUFWriter(os.path.join(outdir, f"{t.name.lower()}.gguf"), ARCH)
        w.add_custom_alignment(64)
        w.add_tensor(t.name, random_blocks(rng, t, (1, 256)), raw_dtype=t)
        write(w)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--seeds":
        os.makedirs(sys.argv[2], exist_ok=True)
        seeds(sys.argv[2])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    listing = []
    w = gguf.GGUFWriter(os.path.join(outdir, "metadata.gguf"), ARCH)
    metadata(w)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    add(w, listing, outdir, "metadata.gguf", "meta.f32", x, T.F32, x)
    write(w)
    tensors(outdir, listing)
    aligned(outdir, listing)
    with open(os.path.join(outdir, "tensors.txt"), "w") as f:
        f.write("\n".join(listing) + "\n")


if __name__ == "__main__":
    main()
