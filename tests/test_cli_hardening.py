"""Issue 11, failures to fix: hostile input gets one line on stderr and exit 2, reads are
capped, nothing is allocated before sizes are checked, and a refusal or a failed write
leaves inputs and output folders exactly as they were. An unexpected exception is exit 3
with one line, the traceback only under ``--debug``.

Every test goes through the CLI (``cotsim.cli.main``, in process) and compares the folder
it worked in before and after.
"""
from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import circuits.atomic
import circuits.io
from conftest import BENCHMARKS, run_cli as cli
from cotsim.cli import EXIT_INTERNAL
from transformer_sim import npz
from transformer_sim.random_model import random_model

BENCH = BENCHMARKS / "iscas85" / "c17.bench"
MODEL = ["--vocab", "3", "--layers", "1", "--heads", "1", "--d-model", "2", "--d-ff", "2",
         "--max-len", "8", "--format", "paper:e=1,s=2", "--seed", "1"]


def snapshot(folder: Path) -> dict[str, bytes | str | None]:
    """Every path under ``folder`` (hidden temporaries included): file -> bytes,
    folder -> None, a FIFO or a link to a device -> "special" (never read)."""
    def content(p: Path) -> bytes | str | None:
        return None if p.is_dir() else p.read_bytes() if p.is_file() else "special"

    return {str(p.relative_to(folder)): content(p) for p in sorted(folder.rglob("*"))
            if not p.is_symlink() or p.exists()}


def refused(capsys, folder: Path, *argv, words: str = "") -> str:
    """Run argv, expect exit 2 with one stderr line containing ``words``, and the folder
    unchanged; return that line."""
    before = snapshot(folder)
    code, out, err = cli(capsys, *argv)
    assert code == 2, (argv, code, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and words in err, err
    assert snapshot(folder) == before
    return err.strip()


@pytest.fixture()
def work(tmp_path) -> Path:
    (tmp_path / "c17.bench").write_bytes(BENCH.read_bytes())
    model = random_model(3, 1, 1, 2, 2, 8, "paper:e=1,s=1", "exact", seed=3, check_prompts=0)
    npz.save(model, tmp_path / "m.npz")
    return tmp_path


# -- 1. devices and endless files: every reader reads with a cap -------------------------

@pytest.fixture()
def small_cap(monkeypatch):
    monkeypatch.setattr(circuits.io, "MAX_FILE_BYTES", 4096)
    return 4096


def test_devices_are_refused_unread(work, small_cap, capsys):
    """A device is no regular file: refused before a byte is read (issue 18; the cap on
    endless streams is tested on standard input below)."""
    for name in ("zero.bench", "zero.npz", "zero.txt"):
        os.symlink("/dev/zero", work / name)
    words = "is a device, not a regular file"
    refused(capsys, work, "stats", work / "zero.bench", words=words)
    refused(capsys, work, "model", "info", work / "zero.npz", words=words)
    refused(capsys, work, "model", "run", work / "zero.npz", "--tokens", "0", words=words)
    refused(capsys, work, "compile", work / "zero.npz", "--seq-len", "2", "-o",
            work / "c.json", words=words)
    refused(capsys, work, "eval", work / "c17.bench", "--inputs-file", work / "zero.txt",
            words=words)


class Endless(io.RawIOBase):
    """Standard input that never ends."""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        b[:] = b"1" * len(b)
        return len(b)


def test_stdin_read_is_capped(work, small_cap, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(Endless())))
    refused(capsys, work, "eval", work / "c17.bench", "--inputs-file", "-",
            words=f"<stdin>: more than {small_cap} bytes")


def test_regular_file_over_the_cap_is_refused_unread(work, small_cap, capsys):
    (work / "big.bench").write_bytes(b"# pad\n" * 1000)
    refused(capsys, work, "stats", work / "big.bench",
            words="file of 6000 bytes is over the limit of 4096 bytes")


# -- 2. npz members: header shapes and unpacked sizes checked before any data -----------

def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write_zip(path: Path, members: dict[str, bytes], deflate: bool = False) -> None:
    mode = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", mode) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


@pytest.fixture()
def arrays_read(monkeypatch) -> list[str]:
    """The zip members whose array data the model reader reads, in order."""
    read: list[str] = []
    real = np.lib.format.read_array

    def spy(fp, *a, **k):
        read.append(fp.name)
        return real(fp, *a, **k)

    monkeypatch.setattr(np.lib.format, "read_array", spy)
    return read


def test_npz_huge_header_shape_is_refused_before_allocation(work, capsys, arrays_read):
    members = _members(work / "m.npz")
    members["TE.npy"] = _npy_header((10 ** 11,)) + b"\0" * 64  # claims 800 GB
    _write_zip(work / "huge.npz", members)
    refused(capsys, work, "model", "info", work / "huge.npz",
            words="array 'TE' has shape (100000000000,), but the header declares (3, 2)")
    assert "TE.npy" not in arrays_read and "meta.npy" in arrays_read


def test_npz_member_shorter_than_its_shape_is_refused_before_allocation(work, capsys,
                                                                      arrays_read):
    # header and meta agree on 2^20 x 2 values (16 MiB), but only 16 bytes follow
    members = _members(work / "m.npz")
    meta = npz.load(work / "m.npz").meta()
    meta["max_len"] = 1 << 20
    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps(meta)))
    members["meta.npy"] = buf.getvalue()
    members["PE.npy"] = _npy_header((1 << 20, 2)) + b"\0" * 16
    _write_zip(work / "cut.npz", members)
    arrays_read.clear()  # npz.load above read the good model
    refused(capsys, work, "model", "info", work / "cut.npz",
            words=f"array 'PE' holds 16 bytes of data, but its shape (1048576, 2) needs "
                  f"{8 << 21}")
    assert "PE.npy" not in arrays_read


def test_npz_meta_claiming_a_huge_string_is_refused_unread(work, capsys, arrays_read):
    members = _members(work / "m.npz")
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<U100000000",
                                               "fortran_order": False, "shape": ()})
    members["meta.npy"] = buf.getvalue() + b"{}"  # claims 400 MB, holds 2 bytes
    _write_zip(work / "meta.npz", members)
    arrays_read.clear()
    refused(capsys, work, "model", "info", work / "meta.npz",
            words="'meta' must be a JSON string (a 0-d str array)")
    assert arrays_read == []


def test_npz_header_declaring_a_huge_model_is_refused(work, capsys):
    members = _members(work / "m.npz")
    meta = npz.load(work / "m.npz").meta()
    meta["max_len"] = 10 ** 11
    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps(meta)))
    members["meta.npy"] = buf.getvalue()
    _write_zip(work / "big.npz", members)
    refused(capsys, work, "model", "info", work / "big.npz",
            words=f"over the limit of {npz.MAX_PARAMS} (2^26) weights")


def test_npz_zip_bomb_is_refused_before_decompression(work, capsys, monkeypatch):
    members = _members(work / "m.npz")
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 2 + 400_000)))  # 9.6 MB of zeros, deflates to ~10 kB
    members["PE.npy"] = buf.getvalue()
    _write_zip(work / "bomb.npz", members, deflate=True)
    assert (work / "bomb.npz").stat().st_size < 100_000
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: (
        opened.append(getattr(name, "filename", name)) or real_open(self, name, *a, **k)))
    refused(capsys, work, "model", "info", work / "bomb.npz",
            words=f"array 'PE' unpacks to {3 * 400_002 * 8 + 128} bytes, but the header "
                  "declares shape (8, 2) (128 bytes of data)")
    assert "PE.npy" not in opened  # refused from the zip directory alone


# -- 3. model random: sizes estimated and refused before any allocation ------------------

@pytest.mark.parametrize("option, value", [("--d-model", 10 ** 9), ("--max-len", 10 ** 9),
                                           ("--vocab", 10 ** 12)])
def test_model_random_refuses_huge_sizes_first(work, capsys, monkeypatch, option, value):
    import transformer_sim.random_model as rm

    def no_draw(*a, **k):
        raise AssertionError("weights drawn before the size check")

    monkeypatch.setattr(rm, "_draw", no_draw)
    argv = list(MODEL)
    argv[argv.index(option) + 1] = str(value)
    refused(capsys, work, "model", "random", *argv, "-o", work / "big.npz",
            words=f"over the limit of {npz.MAX_PARAMS} (2^26) weights")


def test_cot_refuses_a_transformer_over_the_size_limit_before_building(work, capsys,
                                                                       monkeypatch):
    monkeypatch.setattr(npz, "MAX_PARAMS", 1 << 10)  # c17's CoT transformer has more
    line = refused(capsys, work, "cot", work / "c17.bench", "--input", "10101",
                   words="cotsim cot: error: the CoT transformer of this circuit: vocab ")
    assert line.endswith("over the limit of 1024 (2^10) weights")


# -- 4, 6, 7. outputs: folders, wrong extensions, every output checked first -------------

def test_output_that_is_a_folder(work, capsys):
    for name in ("dir.bench", "dir.npz", "dir.json"):
        (work / name).mkdir()
    refused(capsys, work, "convert", work / "c17.bench", work / "dir.bench", "--force",
            words="dir.bench: is a folder")
    refused(capsys, work, "draw", work / "c17.bench", "-o", work / "dir.bench", "--force",
            words="draw writes .svg or .dot")
    refused(capsys, work, "compile", work / "m.npz", "--seq-len", "2", "-o",
            work / "dir.json", "--force", words="dir.json: is a folder")
    refused(capsys, work, "compile", work / "m.npz", "--seq-len", "2", "-o", work,
            words="unknown file format")
    refused(capsys, work, "model", "random", *MODEL, "-o", work / "dir.npz", "--force",
            words="dir.npz: is a folder")


def test_write_atomic_into_a_folder_is_one_line(work, capsys):
    (work / "d.json").mkdir()
    with pytest.raises(circuits.io.CotsimInputError, match="is a folder"):
        circuits.atomic.write_atomic(work / "d.json", b"x")
    assert [p.name for p in work.iterdir() if p.name.startswith(".cotsim-")] == []


def test_model_random_checks_the_extension(work, capsys):
    for name in ("c17.bench", "m.json", "m"):
        refused(capsys, work, "model", "random", *MODEL, "-o", work / name, "--force",
                words="expected a .npz file")


def test_compile_checks_every_output_before_starting(work, capsys, monkeypatch):
    import transformer_sim.compile as tc

    def no_compile(*a, **k):
        raise AssertionError("compiled before the outputs were checked")

    monkeypatch.setattr(tc, "compile_model", no_compile)
    refused(capsys, work, "compile", work / "m.npz", "--seq-len", "2", "-o",
            work / "c.json", "--draw", work / "nodir" / "x.svg", words="does not exist")
    refused(capsys, work, "compile", work / "m.npz", "--seq-len", "2", "-o",
            work / "c.json", "--draw", work / "x.png", words="expected a .svg or .dot")


# -- 5. a full disk: one line, exit 2, no partial output --------------------------------

def _disk_full_after(monkeypatch, good: int) -> None:
    """Let ``good`` fsyncs succeed, then fail as a full disk does."""
    calls = [0]
    real = os.fsync

    def fsync(fd: int) -> None:
        calls[0] += 1
        if calls[0] > good:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(circuits.atomic.os, "fsync", fsync)


def test_disk_full_convert_and_model_random(work, capsys, monkeypatch):
    _disk_full_after(monkeypatch, 0)
    refused(capsys, work, "convert", work / "c17.bench", work / "c17.json",
            words="c17.json: cannot write (No space left on device)")
    refused(capsys, work, "convert", work / "c17.bench", work / "c17.bench", "--force",
            words="is the input file")
    refused(capsys, work, "model", "random", *MODEL, "-o", work / "r.npz",
            words="No space left on device")


def test_disk_full_compile_leaves_neither_file(work, capsys, monkeypatch):
    _disk_full_after(monkeypatch, 1)  # the circuit is written, its diagram is not
    refused(capsys, work, "compile", work / "m.npz", "--seq-len", "2", "-o",
            work / "c.json", "--draw", work / "c.dot", words="No space left on device")


def test_disk_full_demo_leaves_no_partial_figures(work, capsys, monkeypatch):
    import proofs

    fig = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'
    fake = [proofs.CheckResult("fake", "a claim", proofs.HOLDS, "a reason",
                               figures={"a.svg": fig, "b.svg": fig})]
    monkeypatch.setattr(proofs, "run_checks", lambda *a, **k: fake)
    monkeypatch.setattr(proofs, "names", lambda: ["fake"])
    _disk_full_after(monkeypatch, 2)  # two figures written, then the disk is full
    refused(capsys, work, "demo", "--out", work / "reports", "fake",
            words="No space left on device")
    assert not (work / "reports").exists()
    # a folder that existed keeps exactly what it had
    (work / "old").mkdir()
    (work / "old" / "index.md").write_text("old report")
    _disk_full_after(monkeypatch, 3)
    refused(capsys, work, "demo", "--out", work / "old", "fake", words="No space left")


def test_memory_error_is_exit_2_and_removes_partial_output(work, capsys, monkeypatch):
    def no_memory(fd: int) -> None:
        raise MemoryError

    monkeypatch.setattr(circuits.atomic.os, "fsync", no_memory)
    refused(capsys, work, "convert", work / "c17.bench", work / "c17.json",
            words="cotsim convert: error: out of memory")


# -- 8, 9. the one THR limit, named where the file is read -----------------------------

THR_BENCH = "INPUT(a)\nINPUT(b)\nOUTPUT(y)\ny = THR({t}; a:{w}, b:1)\n"


def _thr_json(w: int, t: int) -> str:
    return ('{"format": "cotsim-circuit", "version": 1, "inputs": ["a", "b"],\n "gates": [\n'
            f'  {{"id": 2, "op": "THR", "in": [0, 1], "weights": [{w}, 1], '
            f'"threshold": {t}}}\n ],\n "outputs": [{{"name": "y", "id": 2}}]}}\n')


@pytest.mark.parametrize("name, text, words", [
    ("t.bench", THR_BENCH.format(t=10 ** 30, w=1),
     f"t.bench:4: THR threshold {10 ** 30} is over the limit: |weights| + |threshold| of a "
     "THR gate must stay below 2^61"),
    ("w.bench", THR_BENCH.format(t=1, w=10 ** 30),
     f"w.bench:4: THR weight of 'a' {10 ** 30} is over the limit"),
    ("s.bench", THR_BENCH.format(t=2 ** 60, w=2 ** 60),
     f"s.bench:4: THR |weights| + |threshold| = {2 ** 61 + 1} is over the limit of 2^61"),
    ("w.json", _thr_json(10 ** 30, 1), f"w.json:3: gate 2: THR |weights| + |threshold| = "
     f"{10 ** 30 + 2} is over the limit of 2^61"),
    ("t.json", _thr_json(1, -10 ** 30), f"t.json:3: gate 2: THR |weights| + |threshold| = "
     f"{10 ** 30 + 2} is over the limit of 2^61"),
    # between 2^61 and 2^62: the reader once took it and evaluation refused it later
    ("e.json", _thr_json(2 ** 61, 0), f"e.json:3: gate 2: THR |weights| + |threshold| = "
     f"{2 ** 61 + 1} is over the limit of 2^61"),
])
def test_thr_limit_is_named_where_the_file_is_read(work, capsys, name, text, words):
    (work / name).write_text(text)
    for argv in (["stats", work / name], ["eval", work / name, "--input", "10"]):
        line = refused(capsys, work, *argv, words=words)
        assert "must be an integer" not in line and "signal:weight" not in line


def test_thr_at_the_limit_is_read_and_evaluated(work, capsys):
    # one below the limit on each side of the check: read, and evaluated correctly
    (work / "ok.json").write_text(_thr_json(2 ** 61 - 3, 1))  # |w| sum + |t| = 2^61 - 1
    code, out, err = cli(capsys, "eval", work / "ok.json", "--input", "10", "--input", "00")
    assert (code, out, err) == (0, "1\n0\n", "")


# -- 10, 11. messages that show what was compared, and where -------------------------

def test_aiger_header_over_the_node_limit_shows_the_count(work, capsys):
    from circuits.ir import MAX_NODES

    (work / "big.aag").write_text(f"aag {MAX_NODES} {MAX_NODES - 1} 0 1 0\n")
    refused(capsys, work, "stats", work / "big.aag",
            words=f"big.aag:1: header declares I = {MAX_NODES - 1}, O = 1, A = 0: up to "
                  f"I + O + 2A + 2 = {MAX_NODES + 2} nodes, over the limit of {MAX_NODES}")


@pytest.mark.parametrize("text, words", [
    ('{"format": "cotsim-circuit",\n "version": NaN}\n', "x.json:2: NaN is not a JSON number"),
    ('{"format": "cotsim-circuit",\n "inputs": ["NaN",\n -Infinity]}\n',
     "x.json:3: -Infinity is not a JSON number"),
    ('{"format": "cotsim-circuit",\n "gates":\n' + "[" * 5000 + "]" * 5000 + "}\n",
     "x.json:3: JSON nested more than 64 levels deep"),
    ('{"format": "cotsim-circuit",\n\n "version": ' + "7" * 5000 + "}\n",
     "x.json:3: an integer of 5000 digits, over the limit of 4300 digits"),
])
def test_json_errors_carry_a_line(work, capsys, text, words):
    (work / "x.json").write_text(text)
    refused(capsys, work, "stats", work / "x.json", words=words)


# -- the catch-all: exit 3, one line; the traceback only under --debug ----------------

def test_internal_error_is_exit_3_and_one_line(work, capsys, monkeypatch):
    import circuits.analysis

    def broken(circuit):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(circuits.analysis, "stats", broken)  # what `cotsim stats` calls
    before = snapshot(work)
    code, out, err = cli(capsys, "stats", work / "c17.bench")
    assert code == EXIT_INTERNAL == 3 and out == ""
    assert err == ("cotsim stats: internal error: RuntimeError: boom second line "
                   "(run with --debug for the traceback)\n")
    code, out, err = cli(capsys, "--debug", "stats", work / "c17.bench")
    assert code == 3 and err.startswith("Traceback") and "RuntimeError: boom" in err
    assert err.splitlines()[-1] == "cotsim stats: internal error: RuntimeError: boom second line"
    assert snapshot(work) == before


def test_environment_errors_are_exit_2(work, capsys, monkeypatch):
    import circuits.analysis

    for exc, words in [(MemoryError(), "cotsim stats: error: out of memory"),
                       (OSError(errno.EIO, "Input/output error", "x.bench"),
                        "cotsim stats: error: x.bench: Input/output error")]:
        def broken(circuit, exc=exc):
            raise exc

        monkeypatch.setattr(circuits.analysis, "stats", broken)
        assert refused(capsys, work, "stats", work / "c17.bench", words=words) == words


def test_every_command_module_is_registered():
    from cotsim.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)


# -- issue 18: the experiment commands, endless and hostile files, signals -----------------

@pytest.fixture()
def deadline():
    """Fail, instead of hanging, when a refusal takes more than 10 seconds (a FIFO read
    without a writer blocks for ever)."""
    import signal

    class Hung(Exception):
        pass

    def hung(signum, frame):
        raise Hung("no answer within 10 seconds")

    before = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, before)


def _config(**change):
    from experiments.train import DEFAULTS, make_config

    opts = {k: DEFAULTS[k] for k in ("d_model", "heads", "d_ff", "steps", "batch", "lr",
                                     "weight_decay", "init_scale", "eval_samples")}
    return make_config("modadd:3", "base", 2, 1, seed=0, **{**opts, **change})


TRAIN = ["experiment", "train", "--task", "modadd:3", "--setting", "base", "--n", "2",
         "--layers", "1"]
SPEC = ('tasks = ["modadd:3"]\nsettings = ["base"]\nn = [2]\nlayers = [1]\n'
        'formats = ["float32"]\nseeds = [0]\nsteps = 2\n')


def _sweep_dir(folder: Path, name: str = "sw") -> Path:
    """A sweep folder as `experiment sweep` leaves it (sweep.json, results.jsonl)."""
    import tomllib

    from experiments.sweep import SWEEP_FORMAT, SWEEP_VERSION, spec_from_dict

    d = folder / name
    d.mkdir(parents=True)
    spec = spec_from_dict(tomllib.loads(SPEC))
    (d / "sweep.json").write_text(json.dumps({"format": SWEEP_FORMAT, "version": SWEEP_VERSION,
                                              "spec": spec.as_dict()}))
    row = {"task": "modadd:3", "setting": "base", "n": 2, "layers": 1, "seed": 0,
           "format": "float32", "accuracy": 0.5, "chance": 0.33, "run": "r"}
    (d / "results.jsonl").write_text(json.dumps(row) + "\n")
    return d


def _run_dir(folder: Path) -> Path:
    d = folder / "run"
    d.mkdir()
    (d / "run.json").write_text(json.dumps(_config(), indent=1) + "\n")  # as train writes it
    return d


def test_binary_aiger_inputs_are_bounded_by_the_file(work, capsys):
    (work / "x.aig").write_bytes(b"aig 20000000 20000000 0 0 0\n")  # 28 bytes
    refused(capsys, work, "stats", work / "x.aig", words="I = 20000000 inputs")


def _hostile_experiment_files(work: Path, make) -> list[tuple[str, list]]:
    """(case, argv) for every file the experiment commands read; ``make(path)`` turns
    each into the hostile thing (a link to /dev/zero, a FIFO, deep JSON, ...)."""
    sw = _sweep_dir(work)
    run = _run_dir(work)
    done = work / "done"
    done.mkdir()
    (done / "run.json").write_text(json.dumps(_config()))
    (done / "model.npz").write_bytes((work / "m.npz").read_bytes())
    cases = []
    spec = work / "spec.toml"
    make(spec, "toml")
    cases.append(("SPEC", ["experiment", "sweep", spec, "-o", work / "out"]))
    make(run / "run.json", "json")
    cases.append(("run.json", TRAIN + ["-o", run]))
    make(done / "metrics.json", "json")
    cases.append(("metrics.json", TRAIN + ["-o", done]))
    sw2 = _sweep_dir(work, "sw2")
    make(sw2 / "sweep.json", "json")
    cases.append(("sweep.json", ["experiment", "precision", sw2]))
    make(sw / "results.jsonl", "jsonl")
    cases.append(("results.jsonl", ["experiment", "report", sw]))
    sw3 = _sweep_dir(work, "sw3")
    make(sw3 / "precision.jsonl", "jsonl")
    cases.append(("precision.jsonl", ["experiment", "report", sw3]))
    return cases


def test_experiment_files_from_devices_are_refused(work, capsys, deadline):
    def link(path: Path, kind: str) -> None:
        if path.exists():
            path.unlink()
        os.symlink("/dev/zero", path)

    for case, argv in _hostile_experiment_files(work, link):
        err = refused(capsys, work, *argv)
        assert "is a device, not a regular file" in err, (case, err)


def test_fifos_are_refused_without_a_writer(work, capsys, deadline):
    """Every reader, not only the circuit ones: refused at once, never blocked."""
    def fifo(path: Path, kind: str = "") -> None:
        if path.exists():
            path.unlink()
        os.mkfifo(path)

    cases = _hostile_experiment_files(work, fifo)
    for name in ("p.bench", "p.aig", "p.npz", "w.txt", "bits.txt"):
        fifo(work / name)
    cases += [("bench", ["stats", work / "p.bench"]), ("aig", ["stats", work / "p.aig"]),
              ("model info", ["model", "info", work / "p.npz"]),
              ("compile", ["compile", work / "p.npz", "--seq-len", "2", "-o", work / "c.json"]),
              ("word file", ["cot", "--automaton", "parity", "--word-file", work / "w.txt"]),
              ("inputs file", ["eval", work / "c17.bench", "--inputs-file",
                               work / "bits.txt"])]
    for case, argv in cases:
        err = refused(capsys, work, *argv)
        assert "is a named pipe, not a regular file" in err, (case, err)


def test_deep_nesting_and_bad_bytes_in_experiment_files(work, capsys):
    deep = {"toml": "tasks = " + "[" * 5000 + "]" * 5000 + "\n",
            "json": "[" * 100_000 + "]" * 100_000, "jsonl": "[" * 100_000 + "]" * 100_000}
    for case, argv in _hostile_experiment_files(
            work, lambda p, kind: p.write_text(deep[kind])):
        err = refused(capsys, work, *argv)
        assert "nested too deeply" in err, (case, err)
    row = {"task": "modadd:3", "setting": "base", "n": 2, "layers": 1, "seed": 0,
           "format": "float32", "accuracy": 0.5, "run": "r"}
    bad = {"not UTF-8": b'{"task": "\xff"}\n', "a list": json.dumps({**row, "task": [1]}),
           "a dict": json.dumps({**row, "n": {}}), "NaN": json.dumps({**row, "accuracy":
                                                                       float("nan")}),
           "huge": '{"n": ' + "9" * 5000 + "}", "run": json.dumps({**row, "run": [1]}),
           "seconds": json.dumps({**row, "train_seconds": "1"}),
           "load": json.dumps({**row, "load": ["high"]})}
    for what, text in bad.items():
        for name in ("results.jsonl", "precision.jsonl"):
            sw = _sweep_dir(work, "bad")
            (sw / name).write_bytes(text if isinstance(text, bytes) else text.encode())
            refused(capsys, work, "experiment", "report", sw, words=f"{name}:1: not")
            shutil.rmtree(sw)


def test_spec_with_a_huge_integer(work, capsys):
    (work / "s.toml").write_text(SPEC.replace("steps = 2", "steps = " + "9" * 5000))
    refused(capsys, work, "experiment", "sweep", work / "s.toml", "-o", work / "out",
            words="s.toml:7: not valid TOML: an integer of more than 4300 digits")


def test_malformed_metrics_and_checkpoint(work, capsys):
    done = work / "done"
    done.mkdir()
    (done / "run.json").write_text(json.dumps(_config()))
    (done / "model.npz").write_bytes((work / "m.npz").read_bytes())
    (done / "metrics.json").write_text('{"accuracy": ')
    refused(capsys, work, *TRAIN, "-o", done, words="metrics.json:1: not valid JSON")
    run = _run_dir(work)
    (run / "checkpoint.npz").write_bytes(b"PK\x03\x04 not a zip")
    refused(capsys, work, *TRAIN, "-o", run, words="unreadable checkpoint")


@pytest.mark.parametrize("argv, words", [
    (["cot", "--automaton", "modp:" + "9" * 5000, "--word", "1"], "P must be an integer"),
    (["cot", "--automaton", "sqmod:" + "9" * 5000, "--word", "1"], "P must be an integer"),
    (TRAIN[:3] + ["modadd:" + "9" * 5000] + TRAIN[4:] + ["-o", "r"], "P must be an integer"),
    (["cot", "--automaton", "parity", "--word", "1", "--format", "paper:e=" + "9" * 5000
      + ",s=2"], "at most 18 digits"),
    (TRAIN + ["--steps", "100000000000000", "-o", "r"], "steps = 100000000000000 is out"),
    (TRAIN + ["--lr", "1e308", "-o", "r"], "over the float32 range"),
    (["model", "random", "--vocab", "3", "--layers", "1", "--heads", "1000000", "--d-model",
      "2", "--d-head", "1", "--d-ff", "2", "--max-len", "48", "--format", "float32",
      "--seed", "1", "-o", "h.npz"], "over the limit of 1e+09"),
])
def test_hostile_options_are_one_line(work, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(work)
    refused(capsys, work, *argv, words=words)


def test_grid_and_workers_are_capped_before_anything_runs(work, capsys):
    tasks = ", ".join(f'"modadd:{p}"' for p in range(2, 3002))
    spec = work / "big.toml"
    spec.write_text(f"tasks = [{tasks}]\nsettings = [\"base\", \"cot\", \"hint\"]\n"
                    f"n = [{', '.join(map(str, range(1, 129)))}]\n"
                    f"layers = [{', '.join(map(str, range(1, 17)))}]\n"
                    f"formats = [\"float32\"]\nseeds = [{', '.join(map(str, range(100)))}]\n")
    assert spec.stat().st_size > 30_000
    refused(capsys, work, "experiment", "sweep", spec, "-o", work / "out",
            words="the grid has 1843200000 runs")
    (work / "s.toml").write_text(SPEC)
    refused(capsys, work, "experiment", "sweep", work / "s.toml", "-o", work / "out",
            "--workers", "100000", words="--workers 100000: over the limit")


def test_lone_surrogate_name_is_refused_on_reading(work, capsys):
    (work / "s.json").write_text('{"format": "cotsim-circuit", "version": 1, "inputs": '
                                 '["\\ud800"], "gates": [], "outputs": [{"name": "y", '
                                 '"id": 0}]}')
    refused(capsys, work, "convert", work / "s.json", work / "s.bench",
            words="s.json:1: input 0: a name must be a non-empty string of Unicode")


def test_train_leaves_nothing_after_a_failed_first_write(work, capsys, monkeypatch):
    """A full disk on run.json: neither the run folder nor its missing parent stays."""
    import experiments.train

    def full(path, data, **k):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(experiments.train, "write_atomic", full)
    refused(capsys, work, *TRAIN, "--steps", "2", "-o", work / "runs" / "s5",
            words="No space left on device")


def test_experiment_alone_shows_its_own_help(capsys):
    code, out, err = cli(capsys, "experiment")
    assert code == 2 and "usage: cotsim experiment" in err and "train" in err


def test_dangling_symlink_output(work, capsys):
    os.symlink(work / "nowhere", work / "d.json")
    refused(capsys, work, "convert", work / "c17.bench", work / "d.json",
            words="exists; pass --force")
    code, _, err = cli(capsys, "convert", work / "c17.bench", work / "d.json", "--force")
    assert code == 0, err
    assert not (work / "d.json").is_symlink() and b"cotsim-circuit" in (work / "d.json"
                                                                        ).read_bytes()


def test_word_file_on_stdin_names_its_own_limit(work, monkeypatch, capsys):
    from cotsim.commands.cot import MAX_WORD_FILE_BYTES

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(Endless())))
    refused(capsys, work, "cot", "--automaton", "parity", "--word-file", "-",
            words=f"<stdin>: more than {MAX_WORD_FILE_BYTES} bytes")
    assert MAX_WORD_FILE_BYTES == 16 << 20  # the documented 16 MiB


def test_byte_order_mark_is_accepted_in_every_text_file(work, capsys):
    bom = b"\xef\xbb\xbf"
    (work / "b.bench").write_bytes(bom + (work / "c17.bench").read_bytes())
    code, out, err = cli(capsys, "stats", work / "b.bench", "--json")
    assert code == 0 and json.loads(out)["inputs"] == 5, err
    (work / "w.txt").write_bytes(bom + b"1,0,1\n")
    code, out, err = cli(capsys, "cot", "--automaton", "parity", "--word-file",
                         work / "w.txt", "--json")
    assert code == 0 and json.loads(out)["final"] == 0, err
    (work / "bits.txt").write_bytes(bom + b"10101\n")
    code, out, err = cli(capsys, "eval", work / "b.bench", "--inputs-file", work / "bits.txt")
    assert code == 0 and out.strip() in ("00", "01", "10", "11"), err


def test_closed_or_full_stdout_is_an_error(work, capsys, monkeypatch):
    from cotsim.cli import main

    monkeypatch.setattr("sys.stdout", None)
    assert main(["stats", str(work / "c17.bench")]) == 2
    assert "<stdout>: standard output is closed" in capsys.readouterr().err
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "cotsim", "stats", str(work / "c17.bench")],
                           stdout=full, stderr=subprocess.PIPE, text=True, env=_env(),
                           timeout=60)
    assert p.returncode == 2 and p.stderr == "cotsim stats: error: <stdout>: No space " \
                                             "left on device\n", p.stderr


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


#: a cotsim run whose atomic write stops inside the temporary file (its fsync waits),
#: after writing 32 MB to it, so that a signal lands in the middle of the write
_SLOW_WRITE = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # as on a terminal, even when
# the tests run in the background (where SIGINT is ignored)
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # and under nohup, which ignores SIGHUP
real = os.fsync
def slow(fd):
    open(sys.argv[1], "w").close()
    time.sleep(60)
    real(fd)
os.fsync = slow
from cotsim.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_during_a_write_leaves_no_temporary_file(work, signame):
    import signal
    import time

    sig = getattr(signal, signame)
    out = work / "out"
    out.mkdir()
    ready = work / "ready"
    p = subprocess.Popen([sys.executable, "-c", _SLOW_WRITE, str(ready), "model", "random",
                          "--vocab", "3", "--layers", "1", "--heads", "1", "--d-model", "4",
                          "--d-ff", "2", "--max-len", "1000000", "--format", "float32",
                          "--seed", "1", "-o", str(out / "n.npz")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=_env(), start_new_session=True)
    try:
        t0 = time.monotonic()
        while not ready.exists():
            assert p.poll() is None, p.communicate()
            assert time.monotonic() - t0 < 120, "the write never started"
            time.sleep(0.05)
        assert any(n.startswith(".cotsim-") for n in os.listdir(out))  # mid-write
        p.send_signal(sig)
        _, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + sig, (p.returncode, err)
    assert err.count("\n") == 1 and "Traceback" not in err and "Exception" not in err, err
    assert os.listdir(out) == []


def test_interrupt_swallowed_by_a_finaliser_still_ends_the_command(capsys, monkeypatch):
    """Issue 18: SIGINT landing in a finaliser (Python prints "Exception ignored ...
    KeyboardInterrupt" and goes on) once let `demo` finish with exit 0. The interrupt is
    remembered: one line, exit 130."""
    import signal
    import time

    import cotsim.cli

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # the handler runs here, inside __del__

    def run(args) -> int:
        Finalised()  # collected at once
        return 0

    parser = cotsim.cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    sub.choices["stats"].set_defaults(run=run)
    monkeypatch.setattr(cotsim.cli, "_parser", lambda: parser)
    # as on a terminal: a shell's background job starts with SIGINT ignored, and cotsim
    # rightly leaves an ignored signal ignored
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, out, err = cli(capsys, "stats", "x.bench")
    finally:
        signal.signal(signal.SIGINT, before)
    assert code == 130 and err == "cotsim: interrupted\n", (code, err)
