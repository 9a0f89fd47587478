# SPDX-License-Identifier: MIT
"""Regression tests of issue 9 (trust): files that are not ours are never touched, outputs are
all or nothing, sizes are checked before memory is allocated, no NaN from finite input, and every
error is one line naming the option or value at fault."""
import json
import os
import resource
import signal
import subprocess
import time

import numpy as np
import pytest


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(9)
    np.save(tmp_path / "X.npy", rng.uniform(size=(300, 16)))
    np.save(tmp_path / "Q.npy", rng.uniform(size=(70, 16)))
    np.save(tmp_path / "Xs.npy", rng.uniform(size=(25, 8)))
    np.save(tmp_path / "Qs.npy", rng.uniform(size=(40, 8)))
    return tmp_path


def one_line_error(p, code=2, *fragments):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("denseam: error: "), p.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


ENERGY = ["energy", "-m", "X.npy", "-q", "Q.npy", "-k", "lsr", "-b", "6"]
RETRIEVE = ["retrieve", "-m", "X.npy", "-q", "Q.npy", "-k", "lsr", "-b", "6"]


# ---- 2. outputs replace regular files only -------------------------------------------------

@pytest.mark.parametrize("cmd", [ENERGY + ["--out"], RETRIEVE + ["--out"]])
def test_output_through_a_symlink_writes_its_target(run_cli, data, cmd):
    (data / "target.npy").write_bytes(b"old")
    os.symlink("target.npy", data / "link.npy")
    p = run_cli(cmd + ["link.npy"], cwd=data)
    assert p.returncode == 0, p.stderr
    assert os.path.islink(data / "link.npy")
    assert np.load(data / "target.npy").shape[0] == 70


@pytest.mark.parametrize("cmd", [ENERGY + ["--out"], RETRIEVE + ["--out"]])
def test_fifo_and_device_outputs_are_refused(run_cli, data, cmd):
    os.mkfifo(data / "pipe")
    one_line_error(run_cli(cmd + ["pipe"], cwd=data), 2, "pipe", "FIFO", "only regular files")
    assert os.path.exists(data / "pipe") and not os.path.isfile(data / "pipe")
    one_line_error(run_cli(cmd + ["/dev/null"], cwd=data), 2, "/dev/null", "character device")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


# ---- 3. foreign files and inputs are never damaged ------------------------------------------

@pytest.mark.parametrize("command", [
    ["lmin0", "--M", "5", "--d", "4", "--nbetas", "2", "--vol-samples", "10"],
    ["logl0", "--k", "2", "--d", "2", "--M", "5", "--N", "2", "--nbetas", "2", "--energy", "lsr"],
])
@pytest.mark.parametrize("fresh", [False, True])
def test_foreign_results_file_is_refused_untouched(run_cli, data, command, fresh):
    notes = data / "notes.txt"
    notes.write_text("my notes\nwith a last line and no newline")
    before = notes.read_bytes()
    p = run_cli(command + ["--out", notes] + (["--fresh"] if fresh else []), cwd=data)
    one_line_error(p, 2, "notes.txt", "line 1", "result line", "not changed")
    assert notes.read_bytes() == before


@pytest.mark.parametrize("fresh", [False, True])
def test_input_named_as_output_is_refused_untouched(run_cli, data, fresh):
    P = data / "P.npy"
    np.save(P, np.random.default_rng(1).uniform(size=(6, 3)))
    before = P.read_bytes()
    p = run_cli(["lmin0", "--patterns", P, "--out", P, "--nbetas", "2"]
                + (["--fresh"] if fresh else []), cwd=data)
    one_line_error(p, 2, "--out", "is also the input --patterns")
    assert P.read_bytes() == before
    p = run_cli(ENERGY + ["--out", "X.npy"], cwd=data)
    one_line_error(p, 2, "--out", "is also the input --memories")


# ---- 4. a failing later output never costs an earlier file -----------------------------------

def test_failed_later_output_keeps_earlier_file(run_cli, data):
    (data / "E.npy").write_bytes(b"the user's file")
    p = run_cli(ENERGY + ["--out", "E.npy", "--grad", "missing_dir/G.npy"], cwd=data)
    one_line_error(p, 2, "--grad", "missing_dir", "does not exist")
    assert (data / "E.npy").read_bytes() == b"the user's file"
    (data / "R.npy").write_bytes(b"the user's R")
    p = run_cli(RETRIEVE + ["--out", "R.npy", "--supports", "missing_dir/s.json"], cwd=data)
    one_line_error(p, 2, "--supports", "does not exist")
    assert (data / "R.npy").read_bytes() == b"the user's R"


# ---- 5. sizes are checked before memory is allocated ---------------------------------------

def _limited_memory():
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_huge_step_limit_runs_in_bounded_memory(run_cli, data):
    # The per-step schedules no longer scale with the step limit: 2^31 steps once needed ~48 GB.
    p = run_cli(["retrieve", "-m", "Xs.npy", "-q", "Qs.npy", "-k", "lse", "-b", "40",
                 "--method", "gradient", "--steps", "2147483647", "--out", "R.npy"],
                cwd=data, preexec_fn=_limited_memory)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status_counts"]["converged"] == 40


def test_huge_logl0_depth_runs_in_bounded_memory(run_cli, data):
    p = run_cli(["logl0", "--k", "2", "--d", "2", "--M", "5", "--N", "2", "--nbetas", "2",
                 "--beta-idx", "1", "--energy", "lse", "--tol", "1e-2", "--depth", "2000000000",
                 "--out", "l.jsonl", "--no-progress"], cwd=data, preexec_fn=_limited_memory)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("args,fragments", [
    (["logl0", "--N", "2000000000", "--k", "2", "--d", "2", "--M", "5", "--nbetas", "1",
      "--out", "l.jsonl"], ["N = 2000000000", "more than this machine's"]),
    (["fig1", "--n2d", "100000", "--out", "f"], ["--n2d = 100000", "more than this machine's"]),
    (["akem", "--grid-points", "1000000000", "--out", "a"],
     ["--grid-points = 1000000000", "more than this machine's"]),
])
def test_sizes_beyond_memory_are_refused(run_cli, data, args, fragments):
    p = run_cli(args, cwd=data, preexec_fn=_limited_memory)
    one_line_error(p, 2, *fragments)


# ---- 7. no NaN from finite input -----------------------------------------------------------

def test_huge_coordinates_are_refused_with_the_limit(run_cli, data):
    np.save(data / "Xbig.npy", np.load(data / "X.npy") * 1e160)
    for cmd in (["energy", "-k", "lse"], ["retrieve", "-k", "lse", "--out", "R.npy"]):
        p = run_cli([*cmd[:1], "-m", "Xbig.npy", "-q", "Xbig.npy", *cmd[1:], "-b", "6"], cwd=data)
        line = one_line_error(p, 2, "cannot be computed in float64", "rescale")
        assert "non-finite" not in line and "Xbig.npy" not in line


def test_float32_beta_beyond_range_is_refused(run_cli, data):
    np.save(data / "X32.npy", np.load(data / "X.npy").astype(np.float32))
    np.save(data / "Q32.npy", np.load(data / "Q.npy").astype(np.float32))
    p = run_cli(["energy", "-m", "X32.npy", "-q", "Q32.npy", "-k", "lsr", "-b", "1e39"], cwd=data)
    one_line_error(p, 2, "beta = 1e+39", "float32", "float64")


# ---- 8. --print names non-finite energies exactly -------------------------------------------

def test_print_writes_infinity_as_inf(run_cli, data):
    np.save(data / "far.npy", np.stack([np.load(data / "X.npy")[0], np.full(16, 50.0)]))
    p = run_cli(["energy", "-m", "X.npy", "-q", "far.npy", "-k", "lsr", "-b", "6", "--print"],
                cwd=data)
    assert p.returncode == 0, p.stderr
    e = json.loads(p.stdout)["energy"]
    assert e[1] == "inf" and isinstance(e[0], float)


# ---- 10. silently accepted or stale ---------------------------------------------------------

def test_equal_output_paths_are_refused(run_cli, data):
    one_line_error(run_cli(ENERGY + ["-o", "E.npy", "-g", "E.npy"], cwd=data), 2, "same file")
    one_line_error(run_cli(RETRIEVE + ["--out", "R.npy", "--energy", "R.npy"], cwd=data), 2,
                   "same file")
    assert not (data / "E.npy").exists() and not (data / "R.npy").exists()


@pytest.mark.parametrize("cmd", [ENERGY, RETRIEVE + ["--out", "R.npy"],
                                 ["minima", "-m", "Xs.npy", "-b", "50"]])
def test_negative_threads_are_refused(run_cli, data, cmd):
    one_line_error(run_cli(cmd + ["--threads", "-1"], cwd=data), 2, "--threads", "-1")


def test_sweep_preset_honours_explicit_options(run_cli, data):
    p = run_cli(["logl0", "--sweep", "reduced", "--N", "2", "--nbetas", "1", "--seeds", "3",
                 "--energy", "lsr", "--out", "l.jsonl", "--no-progress"], cwd=data)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in (data / "l.jsonl").read_text().splitlines()]
    assert {(r["N"], r["k"], r["d"], r["M"], r["nbetas"]) for r in rows} == {(2, 10, 8, 25, 1)}


def test_lmin0_resume_follows_the_patterns_content(run_cli, data):
    P = data / "P.npy"
    np.save(P, np.random.default_rng(1).uniform(size=(6, 3)))
    args = ["lmin0", "--patterns", P, "--betas", "5,50", "--vol-samples", "0", "--out", "o.jsonl"]
    assert run_cli(args, cwd=data).returncode == 0
    p = run_cli(args, cwd=data)
    assert "0 configurations written, 2 already in" in p.stdout
    np.save(P, np.random.default_rng(2).uniform(size=(6, 3)))  # same path, new content
    p = run_cli(args, cwd=data)
    assert p.returncode == 0 and "2 configurations written" in p.stdout, p.stdout
    rows = [json.loads(line) for line in (data / "o.jsonl").read_text().splitlines()]
    assert len({r["patterns_hash"] for r in rows}) == 2


@pytest.mark.parametrize("extra,option", [
    (["--lr-end", "0.001"], "--lr-end"), (["--lr", "0.2"], "--lr"), (["--noise", "0.1"], "--noise"),
    (["--tol", "1e-3"], "--tol"), (["--precision", "single"], "--precision"),
])
def test_options_without_effect_are_refused(run_cli, data, extra, option):
    p = run_cli(RETRIEVE + ["--method", "fixed-point", "--out", "R.npy"] + extra, cwd=data)
    one_line_error(p, 2, option, "no effect")
    p = run_cli(RETRIEVE + ["--method", "gradient", "--out", "R.npy", "--supports", "s.json"],
                cwd=data)
    one_line_error(p, 2, "--supports", "no effect")


# ---- 11. messages ---------------------------------------------------------------------------

def test_value_text_is_quoted_as_given(run_cli, data):
    one_line_error(run_cli(ENERGY[:-2] + ["-b", ""], cwd=data), 2, "-b", "empty value")
    one_line_error(run_cli(ENERGY[:-2] + ["--beta="], cwd=data), 2, "--beta", "empty value")
    one_line_error(run_cli(ENERGY[:-2] + ["-b", "-1e-300"], cwd=data), 2, "got -1e-300")


def test_akem_tiny_width_names_the_width(run_cli, data):
    line = one_line_error(run_cli(["akem", "--widths", "1e-300", "--out", "a"], cwd=data), 2,
                          "--widths", "1e-300")
    assert "beta must be" not in line


def test_parser_errors_are_one_line(run_cli, data):
    one_line_error(run_cli(ENERGY + ["--bogus"], cwd=data), 2, "--bogus", "--help")
    one_line_error(run_cli(["energy", "-m", "X.npy"], cwd=data), 2, "required")


@pytest.mark.parametrize("args", [
    ["lmin0", "--M", "5", "--d", "4", "--nbetas", "2", "--out", "o.jsonl"],
    ["logl0", "--k", "2", "--d", "2", "--M", "5", "--N", "2", "--nbetas", "1", "--out", "o.jsonl"],
])
def test_plot_into_missing_folder_is_refused_before_work(run_cli, data, args):
    p = run_cli(args + ["--plot", "no_such_dir/fig.png"], cwd=data)
    one_line_error(p, 2, "--plot", "no_such_dir", "does not exist")
    assert not (data / "o.jsonl").exists()


def test_minima_stopped_early_reports_real_count_and_not_exact(run_cli, data, denseam_bin,
                                                               cli_env):
    np.save(data / "M40.npy", np.random.default_rng(3).uniform(size=(40, 2)))
    p = run_cli(["minima", "-m", "M40.npy", "-b", "10", "--no-basin", "--max-candidates", "1000"],
                cwd=data)
    j = json.loads(p.stdout)
    assert (j["status"], j["exact"], j["candidates"]) == ("candidate_limit", False, 1000)
    proc = subprocess.Popen([str(denseam_bin), "minima", "-m", "M40.npy", "-b", "10",
                             "--no-basin"], cwd=data, env=cli_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    j = json.loads(out)
    assert j["status"] == "interrupted" and j["exact"] is False and j["candidates"] > 1000


def test_progress_bar_has_no_estimate_before_work(run_cli, data):
    np.save(data / "M40.npy", np.random.default_rng(3).uniform(size=(40, 2)))
    p = run_cli(["minima", "-m", "M40.npy", "-b", "20", "--no-basin", "--progress"], cwd=data)
    assert p.returncode == 0, p.stderr
    first = [s for s in p.stderr.split("\r") if "%" in s][0]
    assert "  0.0%" in first and "eta      ?" in first, first


def test_empty_columns_name_the_file(run_cli, data):
    np.save(data / "Z.npy", np.zeros((5, 0)))
    one_line_error(run_cli(["minima", "-m", "Z.npy", "-b", "1"], cwd=data), 2, "Z.npy", "(5, 0)")
