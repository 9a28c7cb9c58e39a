"""The catch-all as a test (issue 11): a fixed corpus of hostile inputs through every
command. Mutated benchmark files (byte flips, truncations, duplicated lines, huge
numbers, CRLF, NUL bytes), mutated model ``.npz`` files (truncated, bad meta JSON, wrong
shapes, huge header shapes), JSON circuits (NaN, deep nesting, wrong types) and bit
strings go through stats, eval, convert, draw, cot, model info/run and compile.

For every run: the exit status is 0, 1 or 2, never 3 (an internal error) and nothing
else; stderr holds no traceback; exit 2 is exactly one stderr line; the input file is
unchanged; a refused output is not created and no temporary file is left.

The corpus is deterministic (``random.Random(SEED)``). Runs are in process through
``cotsim.cli.main`` (a subprocess costs a second of start-up); a sample also runs as real
processes.
"""
from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from circuits.io import dumps, load
from conftest import BENCHMARKS, needs_benchmarks, run_cli
from transformer_sim import npz
from transformer_sim.random_model import random_model

SEED = 20240211
SOURCES = [BENCHMARKS / "iscas85" / "c17.bench", BENCHMARKS / "iscas85" / "c432.bench",
           BENCHMARKS / "iscas85" / "variant_uppercase" / "c17.bench",
           BENCHMARKS / "epfl" / "random_control" / "ctrl.aig",
           BENCHMARKS / "epfl" / "random_control" / "ctrl.blif",
           BENCHMARKS / "epfl" / "random_control" / "int2float.aig"]
HUGE = [b"99999999999999999999999999999999", b"18446744073709551616", b"4611686018427387904",
        b"-9223372036854775809", b"1" + b"0" * 5000, b"50000000", b"2305843009213693952"]


class Corpus:
    """Collects the failures of all runs, so one test reports every broken case."""

    def __init__(self, folder: Path, capsys):
        self.folder, self.capsys = folder, capsys
        self.failures: list[str] = []
        self.runs = 0
        self.statuses: dict[int, int] = {}

    def run(self, case: str, argv: list, inputs: list[Path] = (), outputs: list[Path] = ()
            ) -> tuple[int, str]:
        before = {p: p.read_bytes() for p in inputs}
        for p in outputs:
            if p.exists():
                p.unlink()
        try:
            code, out, err = run_cli(self.capsys, *argv)
        except BaseException as e:  # main itself must never raise
            code, out = -1, ""
            err = f"raised {type(e).__name__}: {e}"[:300]
            self.capsys.readouterr()
        self.runs += 1
        self.statuses[code] = self.statuses.get(code, 0) + 1
        problem = None
        if code not in (0, 1, 2):
            problem = f"exit {code}" if code != -1 else err
        elif "Traceback" in err:
            problem = "traceback"
        elif code == 2 and (err.count("\n") != 1 or not err.endswith("\n")):
            problem = f"{err.count(chr(10))} stderr lines"
        elif any(p.read_bytes() != data for p, data in before.items()):
            problem = "an input changed"
        elif code == 2 and any(p.exists() for p in outputs):
            problem = "a refused output was written"
        elif any(n.startswith(".cotsim-") for n in os.listdir(self.folder)):
            problem = "a temporary file was left"
        if problem:
            self.failures.append(f"{case}: {' '.join(map(str, argv))}: {problem}: "
                                 f"{err.strip()[-300:]}")
        return code, out

    def check(self) -> None:
        assert not self.failures, (f"{len(self.failures)} of {self.runs} runs failed:\n"
                                   + "\n".join(self.failures[:30]))


# -- mutations ----------------------------------------------------------------------------

def mutate_text(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """One or two mutations of a text or binary circuit file; (description, bytes)."""
    ops = []
    for _ in range(rng.choice((1, 1, 2))):
        op = rng.choice(["flip", "truncate", "duplicate", "huge", "crlf", "nul", "delete",
                         "swap", "insert"])
        ops.append(op)
        lines = data.split(b"\n")
        i = rng.randrange(len(lines))
        if op == "flip" and data:
            k = rng.randrange(len(data))
            data = data[:k] + bytes([data[k] ^ (1 << rng.randrange(8))]) + data[k + 1:]
        elif op == "truncate":
            data = data[:rng.randrange(len(data) + 1)]
        elif op == "duplicate":
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
            data = b"\n".join(lines)
        elif op == "huge":
            digits = [k for k, ch in enumerate(data) if 48 <= ch <= 57]
            if digits:
                k = rng.choice(digits)
                end = k
                while end < len(data) and 48 <= data[end] <= 57:
                    end += 1
                data = data[:k] + rng.choice(HUGE) + data[end:]
        elif op == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif op == "nul":
            k = rng.randrange(len(data) + 1)
            data = data[:k] + b"\0" * rng.choice((1, 3)) + data[k:]
        elif op == "delete" and len(lines) > 1:
            del lines[i]
            data = b"\n".join(lines)
        elif op == "swap":
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif op == "insert":
            k = rng.randrange(len(data) + 1)
            data = data[:k] + rng.choice([b"(", b")", b"=", b",", b"#", b":", b";", b" ",
                                          b"\xff", b"\xc3\xa9", b"THR(", b".names"]) + data[k:]
    return "+".join(ops), data


def json_circuit_cases(rng: random.Random, base: dict) -> list[tuple[str, bytes]]:
    """Hostile JSON circuits: NaN, deep nesting, wrong types, huge numbers."""
    text = json.dumps(base)
    cases = [("nan", text.replace('"threshold": 2', '"threshold": NaN').encode()),
             ("infinity", text.replace('"id": 3', '"id": Infinity', 1).encode()),
             ("deep", ('{"format": "cotsim-circuit", "gates": ' + "[" * 3000 + "]" * 3000
                       + "}").encode()),
             ("deep-object", ('{"a": ' * 2000 + "1" + "}" * 2000).encode()),
             ("huge-int", text.replace('"threshold": 2', '"threshold": ' + "9" * 5000).encode()),
             ("empty", b""), ("null", b"null"), ("list", b"[]"), ("bom", b"\xef\xbb\xbf" +
                                                                  text.encode())]
    wrong = [None, True, 1.5, -1, 2 ** 64, "x", [], {}, [1, [2]], "AND", 10 ** 30]
    for k in range(60):
        doc = json.loads(text)
        target = rng.choice(["top", "gate", "output", "input"])
        value = rng.choice(wrong)
        if target == "top":
            doc[rng.choice(list(doc))] = value
        elif target == "gate" and doc["gates"]:
            g = rng.choice(doc["gates"])
            g[rng.choice(["id", "op", "in", "weights", "threshold", "name", "tag"])] = value
        elif target == "output" and doc["outputs"]:
            rng.choice(doc["outputs"])[rng.choice(["name", "id"])] = value
        else:
            doc["inputs"].append(value)
        cases.append((f"types-{k}-{target}", json.dumps(doc).encode()))
    return cases


def npz_cases(rng: random.Random, good: bytes) -> list[tuple[str, bytes]]:
    """Hostile model files built from a good one."""
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    meta = json.loads(np.load(io.BytesIO(members["meta.npy"])).item())

    def archive(change: dict[str, bytes | None], deflate: bool = False) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if deflate else
                             zipfile.ZIP_STORED) as zf:
            for name, data in {**members, **change}.items():
                if data is not None:
                    zf.writestr(name, data)
        return buf.getvalue()

    def npy(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        return buf.getvalue()

    def header(shape: tuple, descr: str = "<f8") -> bytes:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                                   "shape": shape})
        return buf.getvalue()

    def meta_npy(m) -> bytes:
        return npy(np.array(m if isinstance(m, str) else json.dumps(m)))

    cases = [("truncated-" + str(k), good[:k]) for k in
             sorted(rng.sample(range(1, len(good)), 12))]
    cases += [("meta-not-json", archive({"meta.npy": meta_npy("{bad")})),
              ("meta-nan", archive({"meta.npy": meta_npy(json.dumps(meta).replace(
                  '"vocab": 3', '"vocab": NaN'))})),
              ("meta-deep", archive({"meta.npy": meta_npy("[" * 20000 + "]" * 20000)})),
              ("meta-huge-int", archive({"meta.npy": meta_npy('{"vocab": ' + "9" * 5000
                                                              + "}")})),
              ("meta-list", archive({"meta.npy": meta_npy([1, 2])})),
              ("meta-float-array", archive({"meta.npy": npy(np.zeros(3))})),
              ("meta-object", archive({"meta.npy": header((), "|O") + b"\0" * 8})),
              ("meta-huge-str", archive({"meta.npy": header((), "<U100000000") + b"{}"})),
              ("no-meta", archive({"meta.npy": None})),
              ("no-TE", archive({"TE.npy": None})),
              ("TE-wrong-shape", archive({"TE.npy": npy(np.zeros((2, 2)))})),
              ("TE-int", archive({"TE.npy": npy(np.zeros((3, 2), dtype=np.int64))})),
              ("TE-huge-header", archive({"TE.npy": header((10 ** 11, 2)) + b"\0" * 48})),
              ("TE-bad-header", archive({"TE.npy": b"\x93NUMPY\x01\x00\xff\xff{garbage"})),
              ("TE-short-data", archive({"TE.npy": header((3, 2)) + b"\0" * 10})),
              ("TE-nan", archive({"TE.npy": npy(np.full((3, 2), np.nan))})),
              ("TE-fortran", archive({"TE.npy": npy(np.asfortranarray(np.zeros((3, 2))))})),
              ("TE-bomb", archive({"TE.npy": npy(np.zeros((3, 300_000)))}, deflate=True)),
              ("extra-member", archive({"junk.txt": b"hello"})),
              ("not-npy-member", archive({"TE.npy": b"hello"})),
              ("empty-zip", archive({n: None for n in members})),
              ("pickle", archive({"TE.npy": npy(np.zeros(1)) and
                                  header((1,), "|O") + b"\x80\x04N."})),
              ("text", b"hello"), ("empty", b""), ("pk-only", b"PK\x03\x04")]
    for key, value in [("vocab", 10 ** 12), ("max_len", 10 ** 11), ("d_model", 0),
                       ("layers", 10 ** 9), ("layers", 2), ("heads", "2"), ("format", 7),
                       ("format", "paper:e=99,s=1"), ("sum", None), ("version", True),
                       ("d_head", 1.0), ("d_ff", -1)]:
        cases.append((f"meta-{key}-{value!r}"[:40], archive({"meta.npy": meta_npy(
            {**meta, key: value})})))
    for k in range(20):  # byte flips anywhere in the archive
        data = bytearray(good)
        for _ in range(rng.choice((1, 4))):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        cases.append((f"flip-{k}", bytes(data)))
    return cases


BITS = ["", "0", "1" * 5, "10101", "1010", "101010", "10102", "1o101", "١٠١٠١", "1 0 1",
        "\x00" * 5, "-1", "0b101", "1" * 10_000, "1,0,1,0,1"]
TOKENS = ["0", "0,1,2", "", ",", "0,,1", "-1", "3", "1e3", "٣", "0," * 50 + "0", "99999" * 10,
          "0 1", "0x1", "0,1,2,1"]


# -- the tests ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_model() -> bytes:
    model = random_model(3, 1, 1, 2, 2, 4, "paper:e=1,s=1", "exact", seed=5, check_prompts=0)
    return npz.to_bytes(model)


def _circuit_cases(rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(case, extension, bytes): mutated benchmark files, and c17 in every format."""
    seeds = [(p.name, p.suffix, p.read_bytes()) for p in SOURCES]
    c17 = load(SOURCES[0])
    for ext in (".aag", ".json", ".blif"):
        seeds.append((f"c17{ext}", ext, dumps(c17, ext)))
    thr = ("INPUT(a)\nINPUT(b)\nINPUT(c)\nOUTPUT(y)\nOUTPUT(z)\n"
           "y = THR(2; a:1, b:1, c:-1)\nz = MAJ(a, b, y)\n").encode()
    seeds.append(("thr.bench", ".bench", thr))
    cases = []
    for k in range(180):
        name, ext, data = seeds[k % len(seeds)]
        what, mutated = mutate_text(rng, data)
        cases.append((f"{name}#{k}:{what}", ext, mutated))
    return cases


@needs_benchmarks
def test_mutated_circuit_files_through_every_circuit_command(tmp_path, capsys):
    rng = random.Random(SEED)
    corpus = Corpus(tmp_path, capsys)
    base = json.loads(dumps(load(SOURCES[0]), ".json"))
    base["gates"][0] = {"id": 5, "op": "THR", "in": [0, 1], "weights": [1, 1],
                        "threshold": 2}
    cases = _circuit_cases(rng) + [(f"json:{n}", ".json", d)
                                   for n, d in json_circuit_cases(rng, base)]
    for k, (case, ext, data) in enumerate(cases):
        src = tmp_path / f"in{ext}"
        src.write_bytes(data)
        code, out = corpus.run(case, ["stats", src, "--json"], [src])
        n = json.loads(out)["inputs"] if code == 0 else 5
        bits = "".join(rng.choice("01") for _ in range(n))
        corpus.run(case, ["eval", src, "--input", bits], [src])
        target = tmp_path / f"out{rng.choice(['.json', '.bench', '.aag', '.aig', '.blif'])}"
        corpus.run(case, ["convert", src, target], [src], [target])
        drawing = tmp_path / "out.dot"
        corpus.run(case, ["draw", src, "-o", drawing], [src], [drawing])
        if code == 0 and k % 4 == 0 and json.loads(out)["gates"] <= 400:  # CoT is the slow one
            corpus.run(case, ["cot", src, "--input", bits], [src])
    corpus.check()
    assert corpus.statuses.get(0, 0) >= 20 and corpus.statuses.get(2, 0) >= 100


def test_hostile_bit_strings(tmp_path, capsys):
    corpus = Corpus(tmp_path, capsys)
    src = tmp_path / "c17.json"
    src.write_bytes(dumps(load(SOURCES[0]), ".json"))
    bits_file = tmp_path / "bits.txt"
    for k, bits in enumerate(BITS):
        corpus.run(f"bits#{k}", ["eval", src, "--input", bits], [src])
        bits_file.write_text(f"# vectors\n10101\n{bits}\n", encoding="utf-8")
        corpus.run(f"bits-file#{k}", ["eval", src, "--inputs-file", bits_file],
                   [src, bits_file])
        if k % 3 == 0:
            corpus.run(f"cot-bits#{k}", ["cot", src, "--input", bits], [src])
    bits_file.write_bytes(b"10101\n\xff\xfe\n")
    corpus.run("bits-file-binary", ["eval", src, "--inputs-file", bits_file], [bits_file])
    corpus.check()


def test_hostile_models_through_model_and_compile(tmp_path, capsys, good_model):
    rng = random.Random(SEED + 1)
    corpus = Corpus(tmp_path, capsys)
    cases = npz_cases(rng, good_model)
    for k, (case, data) in enumerate(cases):
        src = tmp_path / "m.npz"
        src.write_bytes(data)
        code, _ = corpus.run(case, ["model", "info", src, "--json"], [src])
        corpus.run(case, ["model", "run", src, "--tokens", rng.choice(TOKENS)], [src])
        if code == 0 or k % 3 == 0:  # compiling a good model takes a while
            target = tmp_path / "c.json"
            corpus.run(case, ["compile", src, "--seq-len", "2", "-o", target], [src],
                       [target])
    for k, tokens in enumerate(TOKENS):
        src = tmp_path / "m.npz"
        src.write_bytes(good_model)
        corpus.run(f"tokens#{k}", ["model", "run", src, "--tokens", tokens, "--cot", "2"],
                   [src])
    corpus.check()
    assert corpus.statuses.get(2, 0) >= 60


SUBPROCESS_SAMPLE: list[tuple[str, Callable[[Path], list[str]]]] = [
    ("deep.json", lambda d: ["stats", d / "deep.json"]),
    ("nan.json", lambda d: ["eval", d / "nan.json", "--input", "10"]),
    ("bomb.npz", lambda d: ["model", "info", d / "bomb.npz"]),
    ("dir.bench", lambda d: ["convert", d / "nan.json", d / "dir.bench", "--force"]),
    ("huge model", lambda d: ["model", "random", "--vocab", "1000000000000", "--layers",
                              "1", "--heads", "1", "--d-model", "4", "--d-ff", "4",
                              "--max-len", "4", "--format", "float16", "--seed", "0",
                              "-o", d / "big.npz"]),
]


def test_subprocess_sample(tmp_path):
    """The same guarantees from real processes: status, one line, no traceback."""
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "nan.json").write_text('{"format": "cotsim-circuit", "version": NaN}')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.npy", b"")
        zf.writestr("TE.npy", b"\0" * 50_000_000)
    (tmp_path / "bomb.npz").write_bytes(buf.getvalue())
    (tmp_path / "dir.bench").mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for name, argv in SUBPROCESS_SAMPLE:
        p = subprocess.run([sys.executable, "-m", "cotsim", *map(str, argv(tmp_path))],
                           capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 2, (name, p.returncode, p.stderr)
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, (name, p.stderr)
    assert sorted(os.listdir(tmp_path)) == ["bomb.npz", "deep.json", "dir.bench",
                                            "nan.json"]
