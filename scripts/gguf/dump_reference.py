#!/usr/bin/env python3
"""Writes gguf-py's reading of a GGUF file, for crates/smelt-gguf/tests/reference.rs to
compare with its own.

Usage: dump_reference.py MODEL.gguf OUTDIR [MAX_ELEMENTS]

OUTDIR receives:
  metadata.txt     one line per key, in file order: KEY<TAB>TYPE<TAB>VALUES, TYPE as
                   `UINT32` or `ARRAY of STRING`, VALUES space-separated: integers in decimal,
                   floats as the hex of their bits (FLOAT32 as 8 digits, FLOAT64 as 16),
                   bools as 0/1, strings as the hex of their UTF-8 bytes (`-` when empty)
  tensors.txt      one line per tensor, in file order: NAME<TAB>TYPE<TAB>DIMS (ggml order,
                   comma-separated)<TAB>ABSOLUTE DATA OFFSET<TAB>BYTES
  dequantized.txt  the tensors dequantized, one line each: NAME<TAB>ROWS, with NAME.npy
                   (f32, numpy shape) holding the first ROWS rows (ggml's innermost
                   dimension is a row): for each tensor type in the file its first two
                   tensors, whole up to MAX_ELEMENTS elements (default 1048576), else as
                   many rows as fit
"""
import os
import struct
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType as V
from gguf.quants import dequantize


def canon(t, v):
    if t == V.STRING:
        b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
        return b.hex() or "-"
    if t == V.FLOAT32:
        return struct.pack("<f", v).hex()
    if t == V.FLOAT64:
        return struct.pack("<d", v).hex()
    if t == V.BOOL:
        return "1" if v else "0"
    return str(int(v))


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    model, outdir = sys.argv[1], sys.argv[2]
    max_elems = int(sys.argv[3]) if len(sys.argv) == 4 else 1024 * 1024
    os.makedirs(outdir, exist_ok=True)
    r = GGUFReader(model)

    with open(os.path.join(outdir, "metadata.txt"), "w") as f:
        for key, field in r.fields.items():
            if key.startswith("GGUF."):
                continue  # the header, which gguf-py lists as fields
            main_t = field.types[0]
            if main_t == V.ARRAY:
                sub = field.types[-1]
                if len(field.types) > 2:
                    sys.exit(f"{key}: nested arrays are not dumped")
                tname = f"ARRAY of {sub.name}"
                vals = field.contents()
                s = " ".join(canon(sub, v) for v in vals)
            else:
                tname = main_t.name
                s = canon(main_t, field.contents())
            f.write(f"{key}\t{tname}\t{s}\n")

    with open(os.path.join(outdir, "tensors.txt"), "w") as f:
        for t in r.tensors:
            dims = ",".join(str(int(d)) for d in t.shape)
            f.write(f"{t.name}\t{t.tensor_type.name}\t{dims}\t{t.data_offset}\t{t.n_bytes}\n")

    picked, per_type = [], {}
    for t in r.tensors:
        if per_type.get(t.tensor_type, 0) == 2:
            continue
        per_type[t.tensor_type] = per_type.get(t.tensor_type, 0) + 1
        rows = t.n_elements // int(t.shape[0])
        keep = max(1, min(rows, max_elems // int(t.shape[0])))
        data = t.data.reshape(rows, -1)[:keep]
        x = np.ascontiguousarray(dequantize(data, t.tensor_type), dtype=np.float32)
        np.save(os.path.join(outdir, t.name + ".npy"), x)
        picked.append(f"{t.name}\t{keep}")
    with open(os.path.join(outdir, "dequantized.txt"), "w") as f:
        f.write("\n".join(picked) + "\n")


if __name__ == "__main__":
    main()
