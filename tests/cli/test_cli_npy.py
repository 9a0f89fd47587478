# SPDX-License-Identifier: MIT
"""`denseam info` on real .npy files written by NumPy: every supported kind, every refusal.

NumPy is the independent writer here; the C++ reader must agree with it on dtype, shape and
values (checked through the min/max/NaN/Inf summary that `info --json` prints).
"""
import io
import json
import subprocess

import numpy as np
import pytest
from numpy.lib import format as npformat


def info_json(run_cli, path):
    proc = run_cli(["info", path, "--json"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def expect_error(run_cli, path, *fragments):
    return expect_command_error(run_cli, ["info", path], path, *fragments)


def expect_command_error(run_cli, args, path, *fragments, timeout=600):
    """`denseam ARGS` exits 2 within `timeout` seconds, with a one-line message naming `path`."""
    try:
        proc = run_cli(args, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"denseam {' '.join(map(str, args))} still running after {timeout} s")
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.startswith("denseam: error: "), proc.stderr
    assert str(path) in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line, no stack trace
    return proc.stderr


def check_summary(j, path, array, descr, dtype):
    """Compare the `info --json` summary with what NumPy says about `array`."""
    assert j["file"] == str(path)
    assert j["descr"] == descr
    assert j["dtype"] == dtype
    assert j["shape"] == list(array.shape)
    assert j["ndim"] == array.ndim
    assert j["size"] == array.size
    values = np.asarray(array, dtype=np.float32 if dtype == "float32" else np.float64)
    values = values.reshape(-1)
    finite = values[np.isfinite(values)]
    assert j["nan_count"] == int(np.isnan(values).sum())
    assert j["posinf_count"] == int(np.isposinf(values).sum())
    assert j["neginf_count"] == int(np.isneginf(values).sum())
    assert j["inf_count"] == j["posinf_count"] + j["neginf_count"]
    assert j["all_finite"] == bool(finite.size == values.size)
    if finite.size:
        if dtype == "float32":
            assert np.float32(j["min"]) == finite.min()
            assert np.float32(j["max"]) == finite.max()
        else:
            assert j["min"] == float(finite.min())
            assert j["max"] == float(finite.max())
    else:
        assert j["min"] is None and j["max"] is None


RNG = np.random.default_rng(20261122)

SUPPORTED = {
    # name: (array, expected descr, dtype after loading)
    "float32_2d": (RNG.standard_normal((5, 3)).astype(np.float32), "<f4", "float32"),
    "float64_2d": (RNG.standard_normal((4, 7)), "<f8", "float64"),
    "float16": (np.array([[0.5, -2.0], [65504.0, 6e-8]], dtype=np.float16), "<f2", "float32"),
    "int8": (np.array([-128, 0, 127], dtype=np.int8), "|i1", "float64"),
    "uint8": (np.arange(256, dtype=np.uint8).reshape(16, 16), "|u1", "float64"),
    "int16": (np.array([[-32768, 5], [7, 32767]], dtype=np.int16), "<i2", "float64"),
    "uint16": (np.array([0, 65535], dtype=np.uint16), "<u2", "float64"),
    "int32": (np.arange(-6, 6, dtype=np.int32).reshape(3, 4), "<i4", "float64"),
    "uint32": (np.array([4294967295, 1], dtype=np.uint32), "<u4", "float64"),
    "int64": (np.array([[-(2**40), 3]], dtype=np.int64), "<i8", "float64"),
    "uint64": (np.array([2**53, 0], dtype=np.uint64), "<u8", "float64"),
    "bool": (np.array([[True, False], [False, False]]), "|b1", "float64"),
    "big_endian_f8": (RNG.standard_normal((3, 2)).astype(">f8"), ">f8", "float64"),
    "big_endian_f4": (RNG.standard_normal((2, 2)).astype(">f4"), ">f4", "float32"),
    "big_endian_i4": (np.array([[1, -2], [3, -4]], dtype=">i4"), ">i4", "float64"),
    "fortran_f8": (np.asfortranarray(RNG.standard_normal((4, 3))), "<f8", "float64"),
    "fortran_3d": (np.asfortranarray(np.arange(24.0).reshape(2, 3, 4)), "<f8", "float64"),
    "one_d": (np.linspace(-1.0, 1.0, 9), "<f8", "float64"),
    "three_d": (RNG.standard_normal((2, 3, 4)).astype(np.float32), "<f4", "float32"),
    "zero_d": (np.array(3.5), "<f8", "float64"),
    "empty_rows": (np.zeros((0, 3)), "<f8", "float64"),
    "nan_inf_f8": (np.array([[np.nan, 1.0], [np.inf, -np.inf], [-3.0, np.nan]]), "<f8", "float64"),
    "nan_inf_f4": (np.array([np.nan, np.inf], dtype=np.float32), "<f4", "float32"),
}


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_info_supported_kinds(run_cli, tmp_path, name):
    array, descr, dtype = SUPPORTED[name]
    path = tmp_path / f"{name}.npy"
    np.save(path, array)
    with open(path, "rb") as f:
        assert npformat.read_magic(f) == (1, 0)
    check_summary(info_json(run_cli, path), path, array, descr, dtype)


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_info_format_versions(run_cli, tmp_path, version):
    array = RNG.standard_normal((6, 2))
    path = tmp_path / f"v{version[0]}.npy"
    with open(path, "wb") as f:
        npformat.write_array(f, array, version=version)
    with open(path, "rb") as f:
        assert npformat.read_magic(f) == version
    check_summary(info_json(run_cli, path), path, array, "<f8", "float64")


def test_info_human_readable(run_cli, tmp_path):
    path = tmp_path / "m.npy"
    np.save(path, np.array([[1.0, np.nan], [np.inf, -0.25]], dtype=np.float32))
    proc = run_cli(["info", path])
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(":", 1) for line in proc.stdout.strip().splitlines())
    lines = {k.strip(): v.strip() for k, v in lines.items()}
    assert lines["file"] == str(path)
    assert lines["descr"] == "<f4"
    assert lines["dtype"] == "float32"
    assert lines["shape"] == "(2, 2)"
    assert lines["elements"] == "4"
    assert lines["nan"] == "1"
    assert lines["inf"].startswith("1")
    assert lines["all finite"] == "no"
    assert lines["min"] == "-0.25"
    assert lines["max"] == "1"


def test_info_shape_spelling(run_cli, tmp_path):
    cases = [(np.zeros(5), "(5,)"), (np.array(1.0), "()"), (np.zeros((0, 2)), "(0, 2)")]
    for array, shape in cases:
        path = tmp_path / "s.npy"
        np.save(path, array)
        proc = run_cli(["info", path])
        assert proc.returncode == 0, proc.stderr
        assert f"shape:      {shape}\n" in proc.stdout
    proc = run_cli(["info", path])
    assert "min:        -" in proc.stdout  # no finite entry in an empty array


def test_info_float32_values_print_short(run_cli, tmp_path):
    path = tmp_path / "tenth.npy"
    np.save(path, np.array([0.1, 0.7], dtype=np.float32))
    j = info_json(run_cli, path)
    assert j["min"] == 0.1 and j["max"] == 0.7  # shortest float32 text, not 0.10000000149...


def test_info_help_has_example(run_cli):
    proc = run_cli(["info", "--help"])
    assert proc.returncode == 0
    assert "Example:" in proc.stdout and "denseam info m.npy" in proc.stdout


def test_info_needs_a_file(run_cli):
    proc = run_cli(["info"])
    assert proc.returncode == 2
    assert "file" in proc.stderr


# ---- refusals: exit code 2 and a one-line message naming the file and the problem ------------


def save(tmp_path, name, array, **kwargs):
    path = tmp_path / name
    np.save(path, array, **kwargs)
    return path


@pytest.mark.parametrize(
    "array, fragment",
    [
        (np.zeros(3, dtype=np.complex128), "unsupported dtype '<c16' (complex)"),
        (np.zeros((2, 2), dtype=np.complex64), "unsupported dtype '<c8' (complex)"),
        (np.array(["ab", "c"], dtype="S2"), "unsupported dtype '|S2' (byte strings)"),
        (np.array(["ab", "c"]), "unsupported dtype '<U2' (unicode strings)"),
        (np.array(["2026-11-22"], dtype="datetime64[D]"), "unsupported dtype '<M8[D]' (datetime)"),
        (np.array([1, 2], dtype="timedelta64[s]"), "(timedelta)"),
        (np.zeros(2, dtype="V4"), "(raw void bytes)"),
        (np.zeros(2, dtype=np.longdouble), "unsupported dtype '<f16'"),
        (np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]), "unsupported dtype (structured"),
    ],
)
def test_info_unsupported_dtypes(run_cli, tmp_path, array, fragment):
    path = save(tmp_path, "bad.npy", array)
    expect_error(run_cli, path, fragment)


def test_info_object_array(run_cli, tmp_path):
    path = save(tmp_path, "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    expect_error(run_cli, path, "unsupported dtype '|O' (Python objects)")


def test_info_truncated_data(run_cli, tmp_path):
    path = save(tmp_path, "t.npy", np.zeros((10, 4)))
    data = path.read_bytes()
    path.write_bytes(data[:-17])
    expect_error(run_cli, path, "data is truncated: expected 320 bytes, found 303")


def test_info_truncated_header(run_cli, tmp_path):
    path = save(tmp_path, "h.npy", np.zeros((10, 4)))
    path.write_bytes(path.read_bytes()[:40])
    expect_error(run_cli, path, "malformed header")


def test_info_trailing_garbage(run_cli, tmp_path):
    path = save(tmp_path, "g.npy", np.zeros(3, dtype=np.float32))
    path.write_bytes(path.read_bytes() + b"junk")
    expect_error(run_cli, path, "trailing garbage: 4 bytes")


def test_info_unsupported_version(run_cli, tmp_path):
    path = save(tmp_path, "v.npy", np.zeros(3))
    data = bytearray(path.read_bytes())
    data[6] = 9
    path.write_bytes(bytes(data))
    expect_error(run_cli, path, "unsupported .npy format version 9.0")


def test_info_absurd_shape(run_cli, tmp_path):
    path = tmp_path / "huge.npy"
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000), }"
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(16))
    expect_error(run_cli, path, "data is truncated: expected 8000000000000000000 bytes, found 16")
    header = header.replace(b"(1000000000, 1000000000)", b"(-1000000000, 1000000000)")
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    expect_error(run_cli, path, "negative")
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    expect_error(run_cli, path, "overflows 64 bits")


@pytest.mark.parametrize(
    "contents",
    [b"", b"hello\n", b"\x93NUM", b"PK\x03\x04" + bytes(40), b"\x89PNG\r\n\x1a\n" + bytes(30)],
)
def test_info_not_npy(run_cli, tmp_path, contents):
    path = tmp_path / "not.npy"
    path.write_bytes(contents)
    expect_error(run_cli, path, "not a .npy file")


def test_info_npz_is_not_npy(run_cli, tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.zeros(3))
    expect_error(run_cli, path, "not a .npy file")


def test_info_missing_file(run_cli, tmp_path):
    path = tmp_path / "does_not_exist.npy"
    expect_error(run_cli, path, f"cannot open '{path}': No such file or directory")


def test_info_directory(run_cli, tmp_path):
    expect_error(run_cli, tmp_path, "directory")


def test_info_path_with_spaces(run_cli, tmp_path):
    path = save(tmp_path, "my data.npy", np.ones((2, 2)))
    assert info_json(run_cli, path)["file"] == str(path)


# ---- streams (pipes, FIFOs, devices): read piece by piece, never "until the end" -------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_info_endless_device_fails_at_once(run_cli, device):
    expect_command_error(
        run_cli,
        ["info", device],
        device,
        f"denseam: error: '{device}' is not a .npy file (it does not start with \\x93NUMPY)\n",
        timeout=10,
    )


def test_energy_memories_from_dev_zero_fails_at_once(run_cli, tmp_path):
    queries = save(tmp_path, "Q.npy", np.zeros((2, 3)))
    expect_command_error(
        run_cli,
        ["energy", "-m", "/dev/zero", "-q", queries, "-b", "1"],
        "/dev/zero",
        "'/dev/zero' is not a .npy file",
        timeout=10,
    )


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def run_info_stdin(run_cli, data, *options):
    """`denseam info /dev/stdin` fed `data` through a pipe; stdout and stderr as text."""
    proc = run_cli(["info", "/dev/stdin", *options], input=data, text=False, timeout=10)
    proc.stdout = proc.stdout.decode()
    proc.stderr = proc.stderr.decode()
    return proc


def test_info_from_a_pipe(run_cli):
    array = RNG.standard_normal((1300, 1000)).astype(np.float32)  # 5.2 MB: several read chunks
    proc = run_info_stdin(run_cli, npy_bytes(array), "--json")
    assert proc.returncode == 0, proc.stderr
    check_summary(json.loads(proc.stdout), "/dev/stdin", array, "<f4", "float32")


def test_info_pipe_declaring_more_than_memory(run_cli):
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (10000000, 10000000), }"
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(64)
    proc = run_info_stdin(run_cli, data)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith(
        "denseam: error: '/dev/stdin': the header declares shape (10000000, 10000000) of dtype "
        "'<f8' = 800000000000000 bytes (727.6 TiB), more than this machine's "
    ), proc.stderr
    assert proc.stderr.endswith(" of memory\n"), proc.stderr


def test_info_pipe_truncated_and_trailing(run_cli):
    data = npy_bytes(np.zeros((10, 4)))
    proc = run_info_stdin(run_cli, data[:-17])
    assert proc.returncode == 2
    assert "'/dev/stdin': data is truncated: expected 320 bytes, found 303" in proc.stderr
    proc = run_info_stdin(run_cli, data + b"junk")
    assert proc.returncode == 2
    assert proc.stderr == (
        "denseam: error: '/dev/stdin': trailing garbage: more bytes after the 320 bytes of data "
        "(shape (10, 4), dtype '<f8')\n"
    )
