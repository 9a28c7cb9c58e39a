"""Issue acceptance through the contract: ``cotsim cot FILE --inputs-file F --json`` agrees
with direct evaluation on every ISCAS-85 circuit (64 random vectors each) and on the EPFL
circuits (8 vectors each), with the same layers, heads and format throughout."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from circuits import load
from cotsim.cli import main

from conftest import BENCHMARKS, ISCAS, bench_id, needs_benchmarks

EPFL = ["random_control/ctrl", "random_control/int2float", "random_control/dec",
        "random_control/cavlc", "random_control/router", "random_control/i2c",
        "random_control/priority", "arithmetic/adder", "arithmetic/bar", "arithmetic/max",
        "arithmetic/sin"]


def run_cli_cot(path, vectors: int, seed: int, tmp_path, capsys) -> list[dict]:
    c = load(path)
    X = np.random.default_rng(seed).integers(0, 2, (vectors, c.num_inputs))
    f = tmp_path / "inputs.txt"
    f.write_text("".join("".join(map(str, row)) + "\n" for row in X))
    rc = main(["cot", str(path), "--inputs-file", str(f), "--json"])
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines()]
    assert rc == 0
    assert [r["input"] for r in lines] == ["".join(map(str, row)) for row in X]
    for r in lines:
        assert r["agrees"] is True and len(r["output"]) == c.num_outputs
        assert (r["layers"], r["heads"], r["format"]) == (1, 2, "paper:e=0,s=3")
        # d_model = 8 + 6 ceil(log2(positions)), positions = n + T
        assert r["d_model"] == 8 + 6 * max(1, math.ceil(math.log2(c.num_inputs + r["cot_steps"])))
    return lines


@needs_benchmarks
@pytest.mark.parametrize("path", ISCAS, ids=bench_id)
def test_every_iscas_circuit_64_vectors(path, tmp_path, capsys):
    run_cli_cot(path, 64, 85, tmp_path, capsys)


@needs_benchmarks
@pytest.mark.parametrize("name", EPFL)
def test_epfl_circuits_8_vectors(name, tmp_path, capsys):
    run_cli_cot(BENCHMARKS / "epfl" / f"{name}.aig", 8, 15, tmp_path, capsys)


@needs_benchmarks
def test_epfl_multiplier_8_vectors(tmp_path, capsys):
    run_cli_cot(BENCHMARKS / "epfl" / "arithmetic" / "multiplier.aig", 8, 15, tmp_path, capsys)
