"""Shared test set-up: a deterministic Hypothesis profile and paths to the benchmarks."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Derandomised and without deadlines: a Numba kernel's first call compiles.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large],
                          print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("COTSIM_SHARED", REPO.parent / "shared"))
BENCHMARKS = SHARED / "benchmarks"
ISCAS = sorted((BENCHMARKS / "iscas85").glob("*.bench"))
ISCAS_UPPER = sorted((BENCHMARKS / "iscas85" / "variant_uppercase").glob("*.bench"))
EPFL_AIG = sorted(BENCHMARKS.glob("epfl/*/*.aig"))
EPFL_BLIF = sorted(BENCHMARKS.glob("epfl/*/*.blif"))

ABC = shutil.which("berkeley-abc")
needs_abc = pytest.mark.skipif(ABC is None, reason="berkeley-abc is not installed "
                               "(make test installs it)")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
needs_benchmarks = pytest.mark.skipif(not ISCAS, reason=f"no benchmarks under {BENCHMARKS}")


def bench_id(p: Path) -> str:
    return str(p.relative_to(BENCHMARKS))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` run only with COTSIM_SLOW=1 (they take minutes each)."""
    if os.environ.get("COTSIM_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set COTSIM_SLOW=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``cotsim.cli.main`` in process: (exit status, stdout, stderr). argparse's usage
    errors exit by SystemExit; their status is returned like any other."""
    from cotsim.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
