"""cotsim circuit JSON: the DESIGN.md schema, exact round trips (names and tags too),
strict validation with file:line messages, and fuzzing."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import CircuitBuilder, CotsimInputError, Kind, ParseError, load
from circuits.jsonfmt import dump, parse
from circuits.strategies import circuits
from conftest import EPFL_AIG, ISCAS
from cotsim.cli import main
from oracles.gates import reference_evaluate

EXAMPLE = """{"format": "cotsim-circuit", "version": 1,
 "inputs": ["a", "b", "c"],
 "gates": [
  {"id": 3, "op": "MAJ", "in": [0, 1, 2]},
  {"id": 4, "op": "THR", "in": [0, 1, 2], "weights": [2, -1, 1], "threshold": 2},
  {"id": 5, "op": "NOT", "in": [3], "name": "not_maj", "tag": "demo"}
 ],
 "outputs": [{"name": "maj", "id": 3}, {"name": "thr", "id": 4}, {"name": "nmaj", "id": 5}]}
"""


def test_example_of_the_docs():
    c = parse(EXAMPLE.encode(), "ex.json").circuit
    X = np.array([[(r >> i) & 1 for i in range(3)] for r in range(8)], dtype=bool)
    got = reference_evaluate(c, X).astype(int)
    a, b, cc = X.T.astype(int)
    assert got[:, 0].tolist() == (a + b + cc >= 2).astype(int).tolist()
    assert got[:, 1].tolist() == (2 * a - b + cc >= 2).astype(int).tolist()
    assert got[:, 2].tolist() == (a + b + cc < 2).astype(int).tolist()
    assert c.node_names[5] == "not_maj" and c.tag_of(5) == "demo" and c.tag_of(3) is None


def test_docs_show_the_same_example():
    from conftest import REPO

    doc = (REPO / "docs" / "file-formats.md").read_text()
    assert EXAMPLE.strip() in doc


@given(circuits(basis="general", max_inputs=6, max_gates=15, max_fanin=5))
def test_round_trip_is_exact(c):
    back = parse(dump(c), "x.json").circuit
    assert back == c  # same structure and interface (the IR's digest)
    assert json.loads(dump(c))["format"] == "cotsim-circuit"


def test_round_trip_keeps_names_and_tags():
    b = CircuitBuilder(strash=False, fold=False)
    x, y = b.inputs(["x", "y"])
    b.set_tag("layer 0/attn")
    g = b.gate(Kind.AND, [x, y], name="g")
    b.set_tag(None)
    h = b.THR([g, x, y], [3, -2, 1], -1)
    k = b.const(1, name="one")
    b.output("h", h)
    b.output("g", g)
    b.output("k", k)
    c = b.build()
    back = parse(dump(c), "x.json").circuit
    assert back == c
    assert back.node_names == c.node_names
    assert [back.tag_of(v) for v in range(back.num_nodes)] == \
        [c.tag_of(v) for v in range(c.num_nodes)]


def test_file_is_one_gate_per_line():
    path = next(p for p in ISCAS if p.stem == "c17")
    text = dump(load(path)).decode()
    assert len(text.splitlines()) == 6 + 5  # 6 gates, header, inputs, "gates": [, ], outputs
    doc = json.loads(text)
    assert [g["id"] for g in doc["gates"]] == list(range(5, 11))


def gates_doc(*gates, inputs=("a", "b"), outputs=None):
    return {"format": "cotsim-circuit", "version": 1, "inputs": list(inputs),
            "gates": list(gates), "outputs": outputs if outputs is not None else []}


def as_lines(doc) -> str:
    """The document with one gate per line, as the writer lays it out."""
    if not isinstance(doc.get("gates"), list):
        return json.dumps(doc)
    head = {k: v for k, v in doc.items() if k != "gates"}
    gates = ",\n".join(json.dumps(g) for g in doc.get("gates", []))
    text = json.dumps(head)
    return text[:-1] + ', "gates": [\n' + gates + "\n]}"


AND = {"id": 2, "op": "AND", "in": [0, 1]}
BAD = [
    # (document, line, fragment); gate k sits on line 2 + k
    (gates_doc({"id": 2, "op": "FOO", "in": [0, 1]}), 2, "unknown op 'FOO'"),
    (gates_doc({"id": 2, "op": "INPUT", "in": []}), 2, "unknown op 'INPUT'"),
    (gates_doc({"id": 3, "op": "AND", "in": [0, 1]}), 2, "expected id 2, found 3"),
    (gates_doc(AND, {"id": 2, "op": "OR", "in": [0, 1]}), 3, "duplicate id 2"),
    (gates_doc({"id": 2, "op": "AND", "in": [0, 3]}, {"id": 3, "op": "NOT", "in": [0]}), 2,
     "not in topological order"),
    (gates_doc({"id": 2, "op": "AND", "in": [0, 2]}), 2, "not in topological order"),
    (gates_doc({"id": 2, "op": "AND", "in": [0, 7]}), 2, "no input or gate id"),
    (gates_doc({"id": "2", "op": "AND", "in": [0, 1]}), 2, "must be an integer"),
    (gates_doc({"id": True, "op": "AND", "in": [0, 1]}), 2, "must be an integer"),
    (gates_doc({"id": 2, "op": "AND", "in": [0, 1.0]}), 2, "list of ids"),
    (gates_doc({"id": 2, "op": "AND"}), 2, "missing key 'in'"),
    (gates_doc({"id": 2, "op": "AND", "in": [0, 1], "inputs": []}), 2, "unknown key 'inputs'"),
    (gates_doc({"id": 2, "op": "NOT", "in": [0, 1]}), 2, "exactly one fan-in"),
    (gates_doc({"id": 2, "op": "AND", "in": []}), 2, "at least one fan-in"),
    (gates_doc({"id": 2, "op": "CONST1", "in": [0]}), 2, "takes no fan-in"),
    (gates_doc({"id": 2, "op": "AND", "in": [0, 1], "weights": [1, 1]}), 2, "THR gates only"),
    (gates_doc({"id": 2, "op": "MAJ", "in": [0, 1], "threshold": 1}), 2, "THR gates only"),
    (gates_doc({"id": 2, "op": "THR", "in": [0, 1], "weights": [1]}), 2, "needs 'threshold'"),
    (gates_doc({"id": 2, "op": "THR", "in": [0, 1], "threshold": 1}), 2, "needs 'weights'"),
    (gates_doc({"id": 2, "op": "THR", "in": [0, 1], "weights": [1], "threshold": 1}), 2,
     "list of 2 integers"),
    (gates_doc({"id": 2, "op": "THR", "in": [0, 1], "weights": [1, 2 ** 70], "threshold": 1}),
     2, f"= {2 ** 70 + 2} is over the limit of 2^61"),
    (gates_doc({"id": 2, "op": "THR", "in": [0, 1], "weights": [1, 1], "threshold": "1"}), 2,
     "must be an integer"),
    (gates_doc({"id": 2, "op": "AND", "in": [0, 1], "tag": 5}), 2, "'tag' must be"),
    (gates_doc(AND, outputs=[{"name": "y", "id": 9}]), 1, "no input or gate id"),
    (gates_doc(AND, outputs=[{"name": "y"}]), 1, "missing key 'id'"),
    (gates_doc(AND, outputs=[{"name": 3, "id": 2}]), 1, "must be a non-empty string"),
    (gates_doc(AND, inputs=("a", "a")), 1, "both named 'a'"),
    (gates_doc(AND, inputs=("a", 7)), 1, "non-empty string"),
    ({**gates_doc(AND), "version": 2}, 1, "unsupported version 2"),
    ({**gates_doc(AND), "version": "1"}, 1, "unsupported version"),
    ({**gates_doc(AND), "format": "other"}, 1, "not a cotsim circuit"),
    ({k: v for k, v in gates_doc(AND).items() if k != "outputs"}, 1, "missing key 'outputs'"),
    ({**gates_doc(AND), "extra": 1}, 1, "unknown key 'extra'"),
    ({**gates_doc(AND), "gates": {}}, 1, "must be a list"),
]


@pytest.mark.parametrize("doc,line,fragment", BAD)
def test_bad_documents_name_the_line(doc, line, fragment):
    with pytest.raises(ParseError) as err:
        parse(as_lines(doc).encode(), "bad.json")
    assert fragment in err.value.message
    assert err.value.line == line
    assert str(err.value).startswith(f"bad.json:{line}: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("text,line,fragment", [
    ('{"format": "cotsim-circuit",\n "version": 1,,\n}', 2, "invalid JSON"),
    ('{"format": "cotsim-circuit", "version": 1,\n "inputs": [], "inputs": [],\n'
     ' "gates": [], "outputs": []}', 1, "appears twice"),
    ('{"format": "cotsim-circuit", "version": 1, "inputs": [],\n "gates": [\n'
     '{"id": 0, "op": "CONST0", "in": [], "in": []}], "outputs": []}', 3, "appears twice"),
    ('[1, 2]', 1, "must be a JSON object"),
    ('', 1, "invalid JSON"),
])
def test_bad_json_text_names_the_line(text, line, fragment):
    with pytest.raises(ParseError) as err:
        parse(text.encode(), "bad.json")
    assert fragment in err.value.message and err.value.line == line


def test_nan_and_bad_bytes_are_input_errors():
    with pytest.raises(ParseError, match="NaN"):
        parse(as_lines(gates_doc(AND)).replace('"version": 1', '"version": NaN').encode(), "x.json")
    with pytest.raises(ParseError, match="not UTF-8"):
        parse(b'{"format": "\xff"}', "x.json")
    with pytest.raises(ParseError):
        parse(b"[" * 100000, "x.json")


def test_cli_reports_bad_json_on_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(as_lines(gates_doc(AND, {"id": 3, "op": "AND", "in": [0, 3]})))
    assert main(["stats", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:3:" in err and "topological" in err


SOURCE = next((p for p in EPFL_AIG if p.stem == "int2float"), None)


@pytest.mark.skipif(SOURCE is None, reason="EPFL benchmarks missing")
@settings(max_examples=150)
@given(st.data())
def test_mutated_json_fails_cleanly_or_round_trips(data):
    text = dump(load(SOURCE)).decode()
    edits = data.draw(st.lists(st.tuples(
        st.integers(0, len(text) - 1),
        st.sampled_from(['"', "[", "]", "{", "}", ",", ":", "0", "7", "-", "", "x", "\n",
                         "1e3", "null", "true", " ", "\\"])), min_size=1, max_size=3))
    for pos, new in edits:
        pos = min(pos, len(text))
        text = text[:pos] + new + text[pos + 1:]
    try:
        c = parse(text.encode(), "m.json").circuit
    except CotsimInputError as e:
        assert "\n" not in str(e) and str(e).startswith("m.json")
        return
    assert parse(dump(c), "again.json").circuit == c
