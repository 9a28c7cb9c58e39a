"""Mutated benchmark files: the ``.bench`` and BLIF readers either refuse them with one
``file:line:`` error, or read a circuit that the writer and reader carry over unchanged
in function. No other exception may escape."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import CotsimInputError
from circuits import bench, blif
from conftest import BENCHMARKS, needs_benchmarks
from oracles.gates import reference_evaluate

SEEDS = {
    ".bench": [BENCHMARKS / "iscas85" / n for n in
               ("c17.bench", "c432.bench", "c499.bench", "c880.bench",
                "variant_uppercase/c17.bench", "variant_uppercase/c432.bench")],
    ".blif": [BENCHMARKS / "epfl" / "random_control" / n for n in
              ("ctrl.blif", "int2float.blif", "router.blif", "cavlc.blif")],
}
MODULES = {".bench": bench, ".blif": blif}
ALPHABET = [bytes([c]) for c in b"()=,#\\.-01 \t\rxyzGNANDORT:;\n"] + [b"\xff", b"\xc3\xa9",
                                                                       b"\x00"]


@st.composite
def mutated(draw, ext: str) -> bytes:
    path = draw(st.sampled_from(SEEDS[ext]))
    lines = path.read_bytes().split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        # truncation is rarer: most cuts lose the outputs or .end, and are refused
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "char", "insert"] * 2
                                  + ["truncate"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op in ("char", "insert"):
            line = lines[i]
            k = draw(st.integers(0, len(line)))
            new = draw(st.sampled_from(ALPHABET))
            lines[i] = line[:k] + new + line[k + (op == "char"):]
        elif op == "truncate":
            data = b"\n".join(lines)
            cut = draw(st.integers(0, len(data)))
            lines = data[:cut].split(b"\n")
    return b"\n".join(lines)


def check(ext: str, data: bytes, seed: int) -> None:
    mod = MODULES[ext]
    path = f"fuzz{ext}"
    try:
        loaded = mod.parse(data, path)
    except CotsimInputError as e:
        assert re.match(rf"{re.escape(path)}:\d+: \S", str(e)), str(e)
        assert "\n" not in str(e)
        return
    c = loaded.circuit
    back = mod.parse(mod.dump(c), "rt" + ext).circuit
    assert back.input_names == c.input_names and back.output_names == c.output_names
    X = np.random.default_rng(seed).random((8, c.num_inputs)) < 0.5
    assert (reference_evaluate(back, X) == reference_evaluate(c, X)).all()


@needs_benchmarks
@pytest.mark.parametrize("ext", [".bench", ".blif"])
@settings(max_examples=80)
@given(data=st.data(), seed=st.integers(0, 2 ** 32 - 1))
def test_mutated_files_are_refused_or_round_trip(ext, data, seed):
    check(ext, data.draw(mutated(ext)), seed)


@needs_benchmarks
@pytest.mark.parametrize("ext", [".bench", ".blif"])
def test_unchanged_seeds_round_trip(ext):
    for path in SEEDS[ext]:
        check(ext, Path(path).read_bytes(), 0)
