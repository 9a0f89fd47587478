#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerate the seed corpus of fuzz_npy (fuzz/corpus/*.npy): one small file per kind of .npy
the reader accepts or must refuse. Deterministic; run with Debian's /usr/bin/python3 (numpy)."""
import pathlib

import numpy as np
from numpy.lib import format as npformat

out = pathlib.Path(__file__).resolve().parent / "corpus"
out.mkdir(exist_ok=True)
r = np.random.default_rng(1)
arrays = {
    "f4_2d": r.standard_normal((3, 4)).astype(np.float32),
    "f8_1d": np.array([0.0, -1.5, np.nan, np.inf]),
    "f8_0d": np.array(2.5),
    "f8_empty": np.zeros((0, 3)),
    "f2": np.array([1, -2, 65504, 6e-8], dtype=np.float16),
    "i1": np.array([-128, 0, 127], dtype=np.int8),
    "u1_2d": np.arange(12, dtype=np.uint8).reshape(3, 4),
    "i2_be": np.array([[1, -2], [3, 4]], dtype=">i2"),
    "u4": np.array([1, 4294967295], dtype=np.uint32),
    "i8": np.array([-(2**62), 2**53 + 1], dtype=np.int64),
    "u8_be": np.array([2**64 - 1], dtype=">u8"),
    "bool": np.array([[True, False], [False, True]]),
    "f8_fortran": np.asfortranarray(r.standard_normal((3, 2))),
    "f4_be_fortran_3d": np.asfortranarray(np.arange(24, dtype=">f4").reshape(2, 3, 4)),
    "c16": np.zeros(2, complex),  # refused: complex
    "structured": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),  # refused: structured
}
for name, a in arrays.items():
    np.save(out / f"{name}.npy", a)
with open(out / "f8_v2.npy", "wb") as f:
    npformat.write_array(f, np.arange(5.0), version=(2, 0))
with open(out / "f4_v3.npy", "wb") as f:
    npformat.write_array(f, np.arange(4.0, dtype=np.float32).reshape(2, 2), version=(3, 0))
